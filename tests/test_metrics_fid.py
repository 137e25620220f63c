"""FID and KID on synthetic feature vectors (no network needed): known cases, agreement with an
independent scipy formula and with torchmetrics, and the real-statistics cache."""
from __future__ import annotations

import logging
import math

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import fid_kid as fk

pytest.importorskip("torch_fidelity")


def gaussian(n: int = 600, d: int = 32, seed: int = 0, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """n samples of a fixed correlated Gaussian in d dimensions (float64)."""
    gen = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(123)) / d ** 0.5 + torch.eye(d)
    return (torch.randn(n, d, generator=gen, dtype=torch.float64) @ mix.double()) * scale + shift


class Passthrough(torch.nn.Module):
    """A torchmetrics 'feature extractor' that hands the features straight through."""

    def __init__(self, d: int):
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
    x = gaussian()
    assert abs(fk.fid(x, x)) < 1e-6
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    values = [fk.fid(x, x + s * noise) for s in (0.05, 0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in zip(values, values[1:])) and values[0] > 0


def test_fid_equals_scipy_and_torchmetrics():
    real, fake = gaussian(seed=0), gaussian(seed=1, shift=0.3, scale=1.2)
    value = fk.fid(real, fake)
    r, f = fk.feature_stats(real), fk.feature_stats(fake)
    assert value == pytest.approx(fk.frechet_distance(r.mu, r.sigma, f.mu, f.sigma), rel=1e-3)
    tm = pytest.importorskip("torchmetrics.image.fid")
    metric = tm.FrechetInceptionDistance(feature=Passthrough(real.shape[1]))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    assert value == pytest.approx(float(metric.compute()), rel=1e-3)
    assert value > 1  # a real difference, not two zeros agreeing


def test_stats_match_numpy_definitions():
    x = gaussian(n=50, d=4)
    s = fk.feature_stats(x)
    assert s.n == 50 and s.mu.dtype == torch.float64
    assert torch.allclose(s.mu, x.mean(0)) and torch.allclose(s.sigma, torch.cov(x.T))


def test_kid_unbiased_on_known_cases():
    """Same distribution: independent estimates scatter around 0, some below it (the unbiased
    MMD² estimator can be negative; the biased one cannot); shifted means: clearly positive."""
    values = torch.tensor([fk.kid(gaussian(n=150, seed=2 * i), gaussian(n=150, seed=2 * i + 1),
                                  subsets=1, subset_size=150)[0] for i in range(12)])
    assert abs(float(values.mean())) < 3 * float(values.std()) / len(values) ** 0.5
    assert bool((values < 0).any())
    real = gaussian(n=400, seed=0)
    same_mean, same_std, size = fk.kid(real, gaussian(n=400, seed=1), subsets=20, subset_size=200)
    assert size == 200 and abs(same_mean) < 3 * same_std
    shifted_mean, shifted_std, _ = fk.kid(real, gaussian(n=400, seed=1, shift=0.5), subsets=20, subset_size=200)
    assert shifted_mean > 0.05 and shifted_mean > 10 * shifted_std and shifted_mean > 10 * abs(same_mean)


def test_kid_equals_torchmetrics_on_full_subsets():
    """With subsets as large as the sets, every subset is the whole set: no sampling noise."""
    real, fake = gaussian(n=120, seed=0), gaussian(n=120, seed=1, shift=0.2)
    mean, std, _ = fk.kid(real, fake, subsets=2, subset_size=120)
    tm = pytest.importorskip("torchmetrics.image.kid")
    with pytest.warns(UserWarning):  # torchmetrics warns that it keeps all features
        metric = tm.KernelInceptionDistance(feature=Passthrough(real.shape[1]), subsets=2, subset_size=120)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    tm_mean, _ = metric.compute()
    assert mean == pytest.approx(float(tm_mean), rel=1e-6) and std < 1e-9 * abs(mean) + 1e-12


def test_fid_kid_dict_provenance_and_small_n_warning(caplog):
    real = fk.feature_stats(gaussian(n=300, seed=0), "toy", "ab" * 32)
    fake = fk.feature_stats(gaussian(n=200, seed=1, shift=0.1), "toy", "ab" * 32)
    with caplog.at_level(logging.WARNING, logger="gankit.metrics.fid_kid"):
        out = fk.fid_kid(real, fake, kid_subsets=10)
    assert "biased" in caplog.text and "fewer than 2048" in caplog.text
    assert set(out) == {"fid", "kid_mean", "kid_std", "n", "n_real", "extractor", "weights_sha256", "kid_subsets",
                        "kid_subset_size", "library", "library_version"}
    assert out["n"] == 200 and out["n_real"] == 300 and out["kid_subset_size"] == 200
    assert out["library"] == "torch-fidelity" and out["library_version"][0].isdigit()
    assert out["fid"] == pytest.approx(fk.fid(real, fake)) and out["kid_mean"] > 0
    no_features = fk.feature_stats(gaussian(n=300), "toy", "ab" * 32, keep_features=False)
    out = fk.fid_kid(no_features, fake)
    assert math.isnan(out["kid_mean"]) and math.isfinite(out["fid"]) and out["kid_subset_size"] == 0
    with pytest.raises(GankitError, match="same extractor"):
        fk.fid_kid(real, fk.feature_stats(gaussian(n=200), "other", "cd" * 32))


def test_bad_features_are_one_line_errors():
    for bad in (torch.zeros(1, 4), torch.zeros(5), torch.full((4, 3), math.nan)):
        with pytest.raises(GankitError) as err:
            fk.fid(bad, gaussian(d=4))
        assert "\n" not in str(err.value)
    with pytest.raises(GankitError, match="sizes differ"):
        fk.fid(gaussian(d=4), gaussian(d=5))


def test_stats_cache_roundtrip_key_and_recompute(caplog):
    key = fk.StatsKey("toy", "train", 32, "toy@abc", 300)
    assert key.digest() == fk.StatsKey("toy", "train", 32, "toy@abc", 300).digest()
    assert len({fk.StatsKey(*v).digest() for v in [("toy", "train", 32, "toy@abc", 300),
                                                   ("toy", "test", 32, "toy@abc", 300),
                                                   ("toy", "train", 64, "toy@abc", 300),
                                                   ("toy", "train", 32, "toy@abd", 300),
                                                   ("toy", "train", 32, "toy@abc", 301)]}) == 5
    calls = []

    def features():
        calls.append(1)
        return gaussian(n=300).float().double()  # float32-valued, as Inception features are

    first = fk.cached_stats(key, features, weights_sha256="abc")
    second = fk.cached_stats(key, features, weights_sha256="abc")
    assert len(calls) == 1 and fk.stats_path(key).is_file()
    assert torch.equal(first.mu, second.mu) and torch.equal(first.sigma, second.sigma) and second.n == 300
    assert second.features.dtype == torch.float32 and torch.equal(second.features.double(), features())
    assert (second.extractor, second.weights_sha256) == ("toy@abc", "abc")
    assert not list(fk.stats_dir().glob(".*.tmp"))
    # a file stored under another key, and a torn file, are ignored and rebuilt
    other = fk.StatsKey("toy", "test", 32, "toy@abc", 300)
    fk.stats_path(key).rename(fk.stats_path(other))
    fk.stats_path(key).write_bytes(fk.stats_path(other).read_bytes())
    fk.stats_path(other).write_bytes(b"torn")
    with caplog.at_level(logging.WARNING, logger="gankit.metrics.fid_kid"):
        assert fk.load_stats(other) is None
        fk.save_stats(first, key)
        fk.stats_path(other).write_bytes(fk.stats_path(key).read_bytes())
        assert fk.load_stats(other) is None
    assert "unreadable" in caplog.text and "another key" in caplog.text
    with pytest.raises(GankitError, match="count=301"):
        fk.save_stats(first, fk.StatsKey("toy", "train", 32, "toy@abc", 301))
