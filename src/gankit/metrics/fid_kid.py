"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium") and Kernel Inception Distance (Bińkowski et al. 2018,
"Demystifying MMD GANs"), computed by torch-fidelity from feature vectors: the Inception pool
features of ``gankit.metrics.inception`` for numbers that compare with papers, or any other
features (a domain classifier's, say).

Real-data statistics (mean, covariance and, for KID, the features themselves) are cached on disk,
keyed by data set, split, resolution, extractor and count (``StatsKey``); the file is named by a
hash of the key and written atomically.

FID is biased upwards at small n (and the covariance of fewer samples than dimensions is
singular): use at least 2,048 samples, 10k or 50k for reporting, and say which reference split.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
from numpy.typing import ArrayLike
import torch

from gankit.errors import GankitError
from gankit.cache import cache_root
from gankit.metrics.inception import package_version
from gankit.atomic import atomic_torch_save

log = logging.getLogger(__name__)

MIN_SAMPLES = 2048  # below this FID is biased and its covariance estimate poor (Heusel et al. 2017 use 50k)
KID_SUBSETS = 100  # Bińkowski et al. 2018 / torch-fidelity defaults
KID_SUBSET_SIZE = 1000
SEED = 2020  # torch-fidelity's default rng_seed for the KID subsets
LIBRARY = "torch-fidelity"


@dataclass(frozen=True)
class StatsKey:
    """What real-data statistics depend on. ``extractor`` should name the weights too
    (``InceptionFeatures.key`` does); ``count`` is the number of images used."""

    dataset: str
    split: str
    resolution: int
    extractor: str
    count: int

    def digest(self) -> str:
        """A short hash of the key: the cache file's name."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:20]


@dataclass
class FeatureStats:
    """Mean (d,) and covariance (d, d), float64, of n feature vectors; the features themselves
    when kept (KID and precision/recall need them); and where they came from."""

    mu: torch.Tensor
    sigma: torch.Tensor
    n: int
    extractor: str = "features"
    weights_sha256: str = ""
    features: Optional[torch.Tensor] = None


def _check_features(features: torch.Tensor, what: str) -> torch.Tensor:
    if not isinstance(features, torch.Tensor) or features.dim() != 2:
        raise GankitError(f"{what} features must be a 2-D tensor (N, D), got "
                          f"{tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__}")
    if len(features) < 2:
        raise GankitError(f"{what} features: need at least 2 samples, got {len(features)}")
    features = features.detach().cpu().double()
    if not bool(torch.isfinite(features).all()):
        raise GankitError(f"{what} features contain NaN or infinite values")
    return features


def feature_stats(features: torch.Tensor, extractor: str = "features", weights_sha256: str = "",
                  keep_features: bool = True) -> FeatureStats:
    """(N, D) features -> FeatureStats, mean and covariance by torch-fidelity's
    ``fid_features_to_statistics`` (float64, unbiased covariance as in pytorch-fid)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    features = _check_features(features, extractor)
    stat = fid_features_to_statistics(features)
    kept = None
    if keep_features:  # Inception features are float32 values: store them as such when lossless
        kept = features.float() if torch.equal(features.float().double(), features) else features
    return FeatureStats(torch.from_numpy(np.asarray(stat["mu"], dtype=np.float64)),
                        torch.from_numpy(np.atleast_2d(np.asarray(stat["sigma"], dtype=np.float64))),
                        len(features), extractor, weights_sha256, kept)


def stats_dir() -> Path:
    """Where real-data statistics are cached: ``$GANKIT_CACHE/fid-stats``."""
    return cache_root() / "fid-stats"


def stats_path(key: StatsKey) -> Path:
    """The cache file of ``key``."""
    return stats_dir() / f"{key.digest()}.pt"


def save_stats(stats: FeatureStats, key: StatsKey) -> Path:
    """Write ``stats`` under ``key`` atomically; returns the file."""
    if key.count > 0 and stats.n != key.count:
        raise GankitError(f"statistics of {stats.n} samples cannot be stored under count={key.count}")
    path = stats_path(key)
    atomic_torch_save(dict(key=asdict(key), mu=stats.mu, sigma=stats.sigma, n=stats.n, extractor=stats.extractor,
                           weights_sha256=stats.weights_sha256, features=stats.features), path)
    return path


def load_stats(key: StatsKey) -> Optional[FeatureStats]:
    """The cached statistics of ``key``, or None when absent, unreadable or stored under another key."""
    path = stats_path(key)
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved["key"] != asdict(key):
            log.warning("ignoring %s: stored for another key %s", path, saved["key"])
            return None
        return FeatureStats(saved["mu"], saved["sigma"], int(saved["n"]), saved["extractor"],
                            saved["weights_sha256"], saved["features"])
    except Exception as err:  # noqa: BLE001 - a torn or stale cache is rebuilt, never trusted
        log.warning("ignoring unreadable statistics %s: %s", path, type(err).__name__)
        return None


def cached_stats(key: StatsKey, features_fn: Callable[[], torch.Tensor], weights_sha256: str = "",
                 keep_features: bool = True) -> FeatureStats:
    """Statistics of ``key`` from the cache, else ``feature_stats(features_fn())`` stored under it."""
    stats = load_stats(key)
    if stats is not None and (stats.features is not None or not keep_features):
        log.debug("real statistics from %s", stats_path(key))
        return stats
    stats = feature_stats(features_fn(), key.extractor, weights_sha256, keep_features)
    try:
        save_stats(stats, key)
    except OSError as err:  # a cache is an optimisation: a read-only home must not stop evaluation
        log.warning("could not cache statistics in %s: %s", stats_path(key), err)
    return stats


def _as_stats(x: Union[FeatureStats, torch.Tensor], what: str) -> FeatureStats:
    return x if isinstance(x, FeatureStats) else feature_stats(x, what)


def fid(real: Union[FeatureStats, torch.Tensor], fake: Union[FeatureStats, torch.Tensor]) -> float:
    """FID between two sets of statistics (or features), by torch-fidelity's ``fid_statistics_to_metric``."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    real, fake = _as_stats(real, "real"), _as_stats(fake, "fake")
    if real.mu.shape != fake.mu.shape:
        raise GankitError(f"feature sizes differ: real {real.mu.shape[0]}, fake {fake.mu.shape[0]}")
    value = fid_statistics_to_metric(dict(mu=fake.mu.numpy(), sigma=fake.sigma.numpy()),
                                     dict(mu=real.mu.numpy(), sigma=real.sigma.numpy()), verbose=False)
    return float(value[KEY_METRIC_FID])


def kid(real_features: torch.Tensor, fake_features: torch.Tensor, subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE, seed: int = SEED) -> tuple[float, float, int]:
    """KID (unbiased MMD², cubic polynomial kernel) mean and std over ``subsets`` random subsets,
    by torch-fidelity's ``kid_features_to_metric``; the subset size shrinks to the smaller set when
    that has fewer samples. Returns (mean, std, subset size used)."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    real_features = _check_features(real_features, "real")
    fake_features = _check_features(fake_features, "fake")
    if real_features.shape[1] != fake_features.shape[1]:
        raise GankitError(f"feature sizes differ: real {real_features.shape[1]}, fake {fake_features.shape[1]}")
    size = min(subset_size, len(real_features), len(fake_features))
    if size < subset_size:
        log.warning("KID subsets of %d samples instead of %d: fewer samples than that", size, subset_size)
    out = kid_features_to_metric(fake_features, real_features, kid_subsets=subsets, kid_subset_size=size,
                                 rng_seed=seed, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD]), size


def fid_kid(real: FeatureStats, fake: Union[FeatureStats, torch.Tensor], kid_subsets: int = KID_SUBSETS,
            kid_subset_size: int = KID_SUBSET_SIZE, seed: int = SEED) -> dict[str, Union[float, int, str]]:
    """FID and KID of generated samples against real statistics, as one flat dict:
    ``fid``, ``kid_mean``, ``kid_std`` (NaN when either side has no kept features), and provenance
    ``n``, ``n_real``, ``extractor``, ``weights_sha256``, ``kid_subsets``, ``kid_subset_size``,
    ``library``, ``library_version``."""
    if not isinstance(fake, FeatureStats):
        fake = feature_stats(fake, real.extractor, real.weights_sha256)
    if (real.extractor, real.weights_sha256) != (fake.extractor, fake.weights_sha256):
        raise GankitError(f"real statistics come from {real.extractor} {real.weights_sha256[:12]}, fake from "
                          f"{fake.extractor} {fake.weights_sha256[:12]}: compute both with the same extractor")
    if min(real.n, fake.n) < MIN_SAMPLES:
        log.warning("FID from %d real / %d generated samples is biased upwards (fewer than %d): "
                    "use 10k or 50k for reporting", real.n, fake.n, MIN_SAMPLES)
    out: dict[str, Union[float, int, str]] = dict(fid=fid(real, fake), kid_mean=math.nan, kid_std=math.nan)
    size = 0
    if real.features is not None and fake.features is not None:
        out["kid_mean"], out["kid_std"], size = kid(real.features, fake.features, kid_subsets, kid_subset_size, seed)
    else:
        log.warning("no KID: the %s statistics were stored without their features",
                    "real" if real.features is None else "generated")
    out.update(n=fake.n, n_real=real.n, extractor=real.extractor, weights_sha256=real.weights_sha256,
               kid_subsets=kid_subsets if size else 0, kid_subset_size=size, library=LIBRARY,
               library_version=package_version(LIBRARY))
    return out


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) with scipy's ``sqrtm``, as pytorch-fid writes it: an
    independent cross-check for the tests, not the library path."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # near-singular product: offset the diagonals (pytorch-fid)
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
