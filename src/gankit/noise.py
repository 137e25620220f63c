"""The latent prior p(z), shared by training and sampling so both draw z the same way."""
from __future__ import annotations

import torch


def sample_noise(n: int, z_dim: int, prior: str, generator: torch.Generator) -> torch.Tensor:
    """(n, z_dim) latent vectors on ``generator``'s device: N(0, I), or U[-1, 1] for "uniform"."""
    shape = (n, z_dim)
    if prior == "uniform":
        return torch.rand(shape, generator=generator, device=generator.device) * 2 - 1
    return torch.randn(shape, generator=generator, device=generator.device)
