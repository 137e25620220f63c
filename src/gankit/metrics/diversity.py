"""Intra-class diversity: does each class vary as much as the real one?

A conditional generator can put the right digit in every cell of a class grid and still draw the
same digit along each row; class coverage and label accuracy miss that. Per class, this compares
the mean pairwise distance between generated images of the class with the same for real images
of the class (1.0 = as varied as real, 0 = one image), in pixels in [0, 1] and in the domain
classifier's feature space, and the per-class (intra-class) FID on those features (Miyato &
Koyama 2018 report the intra-class FID of their conditional GANs). Pixel distance is fooled by
speckle noise (a visibly collapsed row still scores ~0.5): trust the feature-space form and the
intra-class FID.
"""
from __future__ import annotations

from typing import Sequence

import torch
from gankit.metrics.fid_kid import feature_stats, fid

Tensor = torch.Tensor
PER_CLASS = 100  # images per class for the pairwise distances (4,950 pairs)
MIN_FID = 10  # fewer images of a class than this: no intra-class FID (the covariance is meaningless)


def mean_pairwise_distance(x: Tensor) -> float:
    """Mean Euclidean distance between all pairs of the rows of ``x`` (N, …) flattened; NaN below 2."""
    if len(x) < 2:
        return float("nan")
    flat = x.reshape(len(x), -1).double()
    d = torch.cdist(flat, flat)
    return float(d.sum() / (len(x) * (len(x) - 1)))


def diversity_ratio(fake: Tensor, real: Tensor) -> float:
    """Mean pairwise distance of ``fake`` over that of ``real`` (NaN when either has < 2 rows)."""
    real_spread = mean_pairwise_distance(real)
    return mean_pairwise_distance(fake) / real_spread if real_spread > 0 else float("nan")


def pixels(images: Tensor) -> Tensor:
    """uint8 images as floats in [0, 1]."""
    return images.double() / 255


def intra_class(fake_classes: Tensor, fake_images: Tensor, fake_features: Tensor, real_classes: Tensor,
                real_images: Tensor, real_features: Tensor, classes: Sequence[int],
                per_class: int = PER_CLASS) -> dict:
    """Per class ``c`` of ``classes``: pixel and feature diversity ratios on the first
    ``per_class`` images of class c on each side, and the intra-class FID on the features of all
    of them. Returns the mean and the worst class of each (``*_mean``, ``*_min`` / ``*_max``) and
    which class is the least varied (its index in ``classes``' numbering). A class with fewer than
    two generated images scores diversity 0 and no FID."""
    pixel, feature, fids, kept = [], [], [], []
    for c in classes:
        f, r = fake_classes == c, real_classes == c
        if int(r.sum()) < 2:
            continue  # no real spread to compare with
        kept.append(int(c))
        if int(f.sum()) < 2:
            pixel.append(0.0), feature.append(0.0), fids.append(float("nan"))
            continue
        pixel.append(diversity_ratio(pixels(fake_images[f][:per_class]), pixels(real_images[r][:per_class])))
        feature.append(diversity_ratio(fake_features[f][:per_class], real_features[r][:per_class]))
        enough = min(int(f.sum()), int(r.sum())) >= MIN_FID
        fids.append(fid(feature_stats(real_features[r], "classifier"), feature_stats(fake_features[f], "classifier"))
                    if enough else float("nan"))
    finite = [v for v in fids if v == v]
    return dict(intra_pixel_diversity_mean=_mean(pixel), intra_pixel_diversity_min=min(pixel, default=float("nan")),
                intra_feature_diversity_mean=_mean(feature),
                intra_feature_diversity_min=min(feature, default=float("nan")),
                intra_feature_diversity_worst_class=kept[feature.index(min(feature))] if feature else None,
                intra_classifier_fid_mean=_mean(finite), intra_classifier_fid_max=max(finite, default=float("nan")))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
