"""Helpers for class-conditional networks (Mirza & Osindero 2014): labels as one-hot inputs."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def one_hot(y: torch.Tensor, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    """(B,) int labels -> (B, K) one-hot of ``like``'s dtype and device."""
    return F.one_hot(y, num_classes).to(like.dtype)


def one_hot_maps(y: torch.Tensor, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    """(B,) labels -> (B, K, H, W) one-hot planes the size of the image batch ``like``."""
    h, w = like.shape[-2:]
    return one_hot(y, num_classes, like)[:, :, None, None].expand(-1, -1, h, w)
