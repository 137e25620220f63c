"""Intra-class diversity on known inputs: copies of one image score 0, the real set itself 1,
a collapsed class is the worst one, and the intra-class FID of a set with itself is 0."""
from __future__ import annotations

import math

import pytest
import torch

from gankit.metrics.diversity import diversity_ratio, intra_class, mean_pairwise_distance


def test_mean_pairwise_distance_on_known_points():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    # pairs: 5, 0, 5 -> mean 10 / 3
    assert mean_pairwise_distance(x) == pytest.approx(10 / 3)
    assert math.isnan(mean_pairwise_distance(x[:1]))


def test_ratio_is_zero_for_copies_and_one_for_the_real_set():
    real = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert diversity_ratio(real[:1].repeat(20, 1, 1, 1), real) == 0
    assert diversity_ratio(real, real) == pytest.approx(1.0)
    assert diversity_ratio(real * 0.5, real) == pytest.approx(0.5)


def test_a_collapsed_class_is_the_worst_and_scores_zero():
    gen = torch.Generator().manual_seed(1)
    real_images = torch.randint(0, 256, (60, 1, 8, 8), dtype=torch.uint8, generator=gen)
    real_classes = torch.arange(3).repeat_interleave(20)
    real_features = torch.randn(60, 4, generator=gen, dtype=torch.float64)
    fake_images, fake_features = real_images.clone(), real_features.clone()
    fake_images[20:40] = fake_images[20]  # class 1 collapses to one image
    fake_features[20:40] = fake_features[20]
    out = intra_class(real_classes, fake_images, fake_features, real_classes, real_images, real_features, range(3))
    assert out["intra_feature_diversity_min"] == 0 and out["intra_pixel_diversity_min"] == 0
    assert out["intra_feature_diversity_worst_class"] == 1
    assert out["intra_feature_diversity_mean"] == pytest.approx(2 / 3)
    # classes 0 and 2 are the real images themselves: their intra-class FID is 0; class 1's is not
    assert out["intra_classifier_fid_max"] > 1
    assert out["intra_classifier_fid_mean"] == pytest.approx(out["intra_classifier_fid_max"] / 3, abs=1e-6)


def test_a_class_the_generator_never_draws_scores_zero_without_fid():
    gen = torch.Generator().manual_seed(2)
    real_images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8, generator=gen)
    classes = torch.arange(2).repeat_interleave(20)
    feats = torch.randn(40, 4, generator=gen, dtype=torch.float64)
    only_zero = torch.zeros(40, dtype=torch.long)
    out = intra_class(only_zero, real_images, feats, classes, real_images, feats, range(2))
    assert out["intra_feature_diversity_min"] == 0 and out["intra_feature_diversity_worst_class"] == 1
