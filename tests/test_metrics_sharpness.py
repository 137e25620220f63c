"""Sharpness (variance of the Laplacian) on images whose answer is known."""
from __future__ import annotations

import pytest
import torch

from gankit.metrics.sharpness import laplacian_variance


def test_flat_and_linear_images_have_zero_sharpness():
    flat = torch.full((2, 1, 8, 8), 77, dtype=torch.uint8)
    ramp = (torch.arange(8) * 30).to(torch.uint8).expand(1, 1, 8, 8)  # the Laplacian of a ramp is 0
    assert laplacian_variance(flat).tolist() == [0.0, 0.0]
    assert laplacian_variance(ramp).item() == pytest.approx(0.0, abs=1e-12)


def test_a_checkerboard_has_the_largest_laplacian():
    board = ((torch.arange(6)[:, None] + torch.arange(6)[None, :]) % 2 * 255).to(torch.uint8)[None, None]
    # Every interior response is ±4 (grey levels 0 and 1), eight of each over the 4×4 valid pixels:
    # unbiased variance 16 · 16/15.
    assert laplacian_variance(board).item() == pytest.approx(16 * 16 / 15)


def test_blurring_lowers_sharpness_and_colour_is_averaged_to_grey():
    gen = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=gen)
    blurred = torch.nn.functional.avg_pool2d(noise.float(), 3, 1, 1).round().to(torch.uint8)
    assert (laplacian_variance(blurred) < laplacian_variance(noise) / 4).all()
    grey = noise.float().mean(1, keepdim=True).round().to(torch.uint8)
    torch.testing.assert_close(laplacian_variance(noise), laplacian_variance(grey), atol=1e-3, rtol=1e-2)
