"""Mode coverage on the 2-D toy mixtures (Metz et al. 2017; Srivastava et al. 2017, VEEGAN):
a sample is of high quality when it lies within 3σ of a mode centre; a mode is covered when it
gets at least a tenth of its fair share of the samples."""
from __future__ import annotations

import torch


def mode_coverage(points: torch.Tensor, centres: torch.Tensor, std: float) -> dict[str, float]:
    """(N, 2) samples against (K, 2) centres -> modes covered, fraction of high-quality samples
    and the KL of the samples' mode histogram to uniform (over high-quality samples)."""
    dist = torch.cdist(points.float(), centres.float())  # (N, K)
    nearest, which = dist.min(1)
    good = nearest < 3 * std
    counts = torch.bincount(which[good], minlength=len(centres)).float()
    fair = len(points) / len(centres)
    p = counts / counts.sum().clamp(min=1)
    kl = float((p[p > 0] * (p[p > 0] * len(centres)).log()).sum())
    return dict(modes_covered=int((counts >= 0.1 * fair).sum()), modes_total=len(centres),
                high_quality=float(good.float().mean()), mode_kl=kl)
