"""Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
for Assessing Generative Models"), which separate sample quality from diversity.

Each set of feature vectors approximates its manifold by a union of balls: one around every
sample, of radius the distance to its k-th nearest other sample (k = 3 in the paper). Precision is
the fraction of generated samples inside the real manifold; recall the fraction of real samples
inside the generated one. Distances are computed in chunks so that memory stays bounded.
"""
from __future__ import annotations

import torch

from gankit.errors import GankitError

K = 3  # the paper's neighbourhood size
MAX_ELEMENTS = 1 << 24  # distances held at once (128 MiB of float64)


def _rows_per_chunk(n_cols: int, max_elements: int) -> int:
    return max(1, max_elements // max(1, n_cols))


def knn_radii(x: torch.Tensor, k: int = K, max_elements: int = MAX_ELEMENTS) -> torch.Tensor:
    """(N, D) -> (N,) distance of each row to its k-th nearest other row (the row itself, at
    distance 0, is the first of the k + 1 smallest)."""
    if not 1 <= k < len(x):
        raise GankitError(f"precision/recall with k={k} needs more than {k} samples per set, got {len(x)}")
    step = _rows_per_chunk(len(x), max_elements)
    return torch.cat([torch.cdist(x[i:i + step], x).kthvalue(k + 1, dim=1).values for i in range(0, len(x), step)])


def inside_manifold(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                    max_elements: int = MAX_ELEMENTS) -> torch.Tensor:
    """(M,) bool: whether each point lies in at least one ball (centre, radius), boundary included."""
    step = _rows_per_chunk(len(centres), max_elements)
    return torch.cat([(torch.cdist(points[i:i + step], centres) <= radii).any(dim=1)
                      for i in range(0, len(points), step)])


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = K,
                     max_elements: int = MAX_ELEMENTS) -> dict[str, float | int]:
    """Precision (fake inside the real manifold) and recall (real inside the fake manifold) of two
    (N, D) feature sets, in float64; a flat dict with ``precision``, ``recall``, ``k``, ``n``
    (generated) and ``n_real``."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise GankitError(f"precision/recall needs two (N, D) feature sets of equal D, got "
                          f"{tuple(real.shape)} and {tuple(fake.shape)}")
    real, fake = real.detach().double(), fake.to(real.device).detach().double()
    if not (bool(torch.isfinite(real).all()) and bool(torch.isfinite(fake).all())):
        raise GankitError("precision/recall features contain NaN or infinite values")
    precision = inside_manifold(fake, real, knn_radii(real, k, max_elements), max_elements).double().mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k, max_elements), max_elements).double().mean()
    return dict(precision=float(precision), recall=float(recall), k=k, n=len(fake), n_real=len(real))
