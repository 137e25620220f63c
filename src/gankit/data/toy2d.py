"""2-D Gaussian mixtures for fast, visual mode-collapse studies (Metz et al. 2017, Srivastava
et al. 2017): ``ring8`` (8 modes on a circle of radius 2) and ``grid25`` (a 5×5 grid with
spacing 2), each mode a Gaussian with σ = 0.05. The label of a point is its mode."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import torch

from gankit.data.base import DatasetSpec, ImageData

N_POINTS = 50_000
DATA_SEED = 1234  # the data set is fixed; the run's seed drives the model


def ring8_modes() -> torch.Tensor:
    angles = torch.arange(8) * (2 * math.pi / 8)
    return 2.0 * torch.stack([angles.cos(), angles.sin()], 1)


def grid25_modes() -> torch.Tensor:
    axis = torch.arange(-4.0, 5.0, 2.0)
    return torch.cartesian_prod(axis, axis)


TOY_MIXTURES = {"ring8": (ring8_modes, 0.05), "grid25": (grid25_modes, 0.05)}


def toy_modes(name: str) -> tuple[torch.Tensor, float]:
    """(K, 2) mode centres and the standard deviation of each mode."""
    make, std = TOY_MIXTURES[name]
    return make(), std


def toy_spec(name: str) -> DatasetSpec:
    def load(roots: Sequence[Path] = (), split: str = "train", **_) -> ImageData:
        centres, std = toy_modes(name)
        rng = torch.Generator().manual_seed(DATA_SEED + (split != "train"))
        labels = torch.randint(len(centres), (N_POINTS,), generator=rng)
        points = centres[labels] + std * torch.randn(N_POINTS, 2, generator=rng)
        return ImageData(name, points.float(), labels, [f"mode {i}" for i in range(len(centres))])

    def locate(roots: Sequence[Path]) -> Optional[str]:
        return "generated"

    k = len(toy_modes(name)[0])
    return DatasetSpec(load, locate, f"{k} 2-D Gaussians (σ = {TOY_MIXTURES[name][1]}), {N_POINTS:,} points; generated",
                       "always available")
