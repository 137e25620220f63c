"""Memorisation check: the nearest training images of generated samples, in pixel space and in a
feature space, as a picture; and the mean nearest-neighbour distance of samples to the training
set beside that of held-out real images (a generator that copies its training set has samples
much closer to it than fresh real images are)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from gankit.plots import save_image_grid


def nearest(queries: torch.Tensor, bank: torch.Tensor, k: int = 1, chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean k nearest rows of ``bank`` (M, D) for each row of ``queries`` (N, D):
    (distances (N, k), indices (N, k)), computed in chunks to bound memory."""
    dists, idx = [], []
    bank = bank.float()
    for i in range(0, len(queries), chunk):
        d = torch.cdist(queries[i:i + chunk].float(), bank)
        values, where = d.topk(k, dim=1, largest=False)
        dists.append(values)
        idx.append(where)
    return torch.cat(dists), torch.cat(idx)


def flat_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (N, C·H·W) in [0, 1]."""
    return images.flatten(1).float() / 255


def memorisation(samples: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor,
                 embed: Callable[[torch.Tensor], torch.Tensor] = flat_pixels, prefix: str = "nn_pixel",
                 train_embedding: Optional[torch.Tensor] = None) -> dict[str, float]:
    """Mean distance to the nearest training image of the samples and of held-out real images,
    and their ratio (≪ 1 suggests copying; ≈ 1 or above is what a non-memorising model gives).
    ``train_embedding``: ``embed(train)`` when already computed."""
    bank = train_embedding if train_embedding is not None else embed(train)
    d_fake = nearest(embed(samples), bank)[0].mean().item()
    d_real = nearest(embed(held_out), bank)[0].mean().item()
    return {f"{prefix}_samples": d_fake, f"{prefix}_held_out": d_real, f"{prefix}_ratio": d_fake / max(d_real, 1e-12)}


def save_neighbour_grid(samples: torch.Tensor, train: torch.Tensor, path: Path, k: int = 5,
                        embed: Callable[[torch.Tensor], torch.Tensor] = flat_pixels,
                        train_embedding: Optional[torch.Tensor] = None) -> None:
    """A PNG with one row per sample: the sample, then its ``k`` nearest training images."""
    save_image_grid(neighbour_rows(samples, train, k, embed, train_embedding), path, nrow=k + 1)


def neighbour_rows(samples: torch.Tensor, train: torch.Tensor, k: int = 5,
                   embed: Callable[[torch.Tensor], torch.Tensor] = flat_pixels,
                   train_embedding: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(n · (1 + k), C, H, W): each sample followed by its ``k`` nearest training images."""
    bank = train_embedding if train_embedding is not None else embed(train)
    _, idx = nearest(embed(samples), bank, k)
    return torch.cat([torch.cat([s[None], train[i]]) for s, i in zip(samples, idx)])
