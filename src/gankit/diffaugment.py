"""Differentiable Augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training"), written from the paper: the same random transformation T is applied to every
image D sees, real and fake, in D's step and in G's, so D cannot memorise a small training set
while G's gradient still flows through T back to its output.

Policies (images in [−1, 1], one draw per image):
- color: brightness + U(−0.5, 0.5); saturation: (x − channel mean) · U(0, 2) + mean; contrast:
  (x − image mean) · U(0.5, 1.5) + mean.
- translation: a shift of up to 1/8 of the side in each direction, integer pixels, zero padding.
- cutout: a square of half the side, placed uniformly (partly outside the image allowed), set to 0.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from gankit.errors import GankitError

Tensor = torch.Tensor
POLICIES = ("color", "translation", "cutout")


def uniform(x: Tensor, low: float, high: float, generator: Optional[torch.Generator]) -> Tensor:
    """One U(low, high) value per image, shaped to broadcast over (B, C, H, W)."""
    u = torch.rand((x.shape[0], 1, 1, 1), device=x.device, dtype=x.dtype, generator=generator)
    return low + (high - low) * u


def color(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """Brightness, saturation and contrast, each drawn per image."""
    x = x + uniform(x, -0.5, 0.5, generator)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * uniform(x, 0.0, 2.0, generator) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * uniform(x, 0.5, 1.5, generator) + mean


def translation(x: Tensor, generator: Optional[torch.Generator] = None, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ``ratio`` of its side (integer pixels), filling with zeros."""
    b, _, h, w = x.shape
    sy, sx = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    ty = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device, generator=generator)
    tx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device, generator=generator)
    rows = torch.arange(h, device=x.device)[None, :, None] + ty + sy  # (B, H, 1) into the padded image
    cols = torch.arange(w, device=x.device)[None, None, :] + tx + sx  # (B, 1, W)
    padded = F.pad(x, [sx, sx, sy, sy])
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, generator: Optional[torch.Generator] = None, ratio: float = 0.5) -> Tensor:
    """Zero a square of ``ratio`` of the side at a uniform position in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device, generator=generator)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device, generator=generator)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    top, left = cy - ch // 2, cx - cw // 2  # the square's corner; it may lie partly outside the image
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


TRANSFORMS: dict[str, Callable[..., Tensor]] = dict(color=color, translation=translation, cutout=cutout)


def parse_policy(text: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> the policy names, checked; "" -> ()."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise GankitError(f"--diffaugment {unknown[0]!r} is not one of {', '.join(POLICIES)} (comma-separated, e.g. "
                          "color,translation,cutout)")
    return names


def diff_augment(x: Tensor, policy: tuple[str, ...], generator: Optional[torch.Generator] = None) -> Tensor:
    """``x`` through each transformation of ``policy`` in turn (each differentiable in ``x``)."""
    for name in policy:
        x = TRANSFORMS[name](x, generator)
    return x
