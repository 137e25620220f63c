"""Improved precision and recall (Kynkäänniemi et al. 2019) on point clouds with known answers,
and agreement with torch-fidelity's ``prc`` (which way round its two values come, too)."""
from __future__ import annotations

import math

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.precision_recall import knn_radii, precision_recall

MODES = 8


def mixture(n: int, modes: list[int], seed: int = 0, std: float = 0.1) -> torch.Tensor:
    """n 2-D points spread evenly over the given modes of MODES Gaussians on a ring of radius 10
    (neighbouring centres 7.7 apart: well separated at std 0.1)."""
    gen = torch.Generator().manual_seed(seed)
    angle = torch.arange(MODES, dtype=torch.float64) * 2 * math.pi / MODES
    centres = 10 * torch.stack([angle.cos(), angle.sin()], dim=1)
    which = torch.tensor(modes).repeat(n // len(modes) + 1)[:n]
    return centres[which] + std * torch.randn(n, 2, generator=gen, dtype=torch.float64)


ALL = list(range(MODES))


def test_identical_clouds_are_perfect():
    x = mixture(400, ALL)
    out = precision_recall(x, x.clone())
    assert out["precision"] == 1.0 and out["recall"] == 1.0
    assert (out["k"], out["n"], out["n_real"]) == (3, 400, 400)


def test_same_distribution_is_near_perfect():
    out = precision_recall(mixture(400, ALL, seed=0), mixture(400, ALL, seed=1))
    assert out["precision"] > 0.9 and out["recall"] > 0.9


def test_far_shift_is_zero():
    x = mixture(400, ALL)
    out = precision_recall(x, x + 100.0)
    assert out["precision"] == 0.0 and out["recall"] == 0.0


def test_mode_collapse_keeps_precision_and_loses_recall():
    real = mixture(800, ALL, seed=0)
    fake = mixture(400, [0, 3], seed=1)  # 2 of the 8 modes
    out = precision_recall(real, fake)
    assert out["precision"] > 0.93
    assert out["recall"] == pytest.approx(2 / MODES, abs=0.03)
    # the reverse (fake covers more than real) swaps the roles
    swapped = precision_recall(fake, real)
    assert swapped["recall"] > 0.93 and swapped["precision"] == pytest.approx(2 / MODES, abs=0.03)


def test_chunking_does_not_change_the_answer():
    real, fake = mixture(300, ALL, seed=0, std=2.0), mixture(200, [1, 2, 5], seed=1, std=2.0)
    assert precision_recall(real, fake) == precision_recall(real, fake, max_elements=7 * 300)
    assert torch.allclose(knn_radii(real), knn_radii(real, max_elements=1), rtol=1e-12, atol=0)


def test_radii_are_kth_neighbour_excluding_self():
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0]], dtype=torch.float64)
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 3.0, 4.0]
    assert knn_radii(x, k=3).tolist() == [6.0, 5.0, 3.0, 5.0, 9.0]


def test_agrees_with_torch_fidelity_and_finds_its_orientation():
    """torch-fidelity's ``prc_features_to_metric(features_1, features_2)`` takes generated first,
    real second; some versions returned precision and recall swapped. With mode collapse, a
    correct precision is high and recall low, so this test says which way round it is."""
    prc = pytest.importorskip("torch_fidelity.metric_prc")
    real, fake = mixture(600, ALL, seed=0, std=0.5), mixture(300, [0, 3, 6], seed=1, std=0.5)
    ours = precision_recall(real, fake)
    theirs = prc.prc_features_to_metric(fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False,
                                        verbose=False)
    assert ours["precision"] > 0.9 and ours["recall"] == pytest.approx(3 / MODES, abs=0.05)
    assert theirs["precision"] == pytest.approx(ours["precision"], abs=1e-6), "torch-fidelity's values are swapped"
    assert theirs["recall"] == pytest.approx(ours["recall"], abs=1e-6)  # its means are float32


def test_errors_are_one_line():
    x = mixture(10, ALL)
    for real, fake in ((x[:3], x), (x, x[:, :1]), (x, torch.full_like(x, float("nan")))):
        with pytest.raises(GankitError) as err:
            precision_recall(real, fake)
        assert "\n" not in str(err.value)
