"""`gankit eval`: the metrics of a run, chosen by name, written to ``DIR/eval.json``.

Metrics share their expensive inputs (generated samples, real images, Inception and classifier
features), which ``Evaluation`` computes once and on demand. Each metric returns a flat dict with
stable names; ``eval.json`` adds the provenance a number needs to be compared: extractor and
weights hash, n and n_real, reference split, resize, library and version, seconds.
"""
from __future__ import annotations

import json
import logging
import math
import time
from functools import cached_property
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from gankit import defaults
from gankit.atomic import atomic_write_text
from gankit.data import check_same_split, load_run_data
from gankit.data.toy2d import TOY_MIXTURES, toy_modes
from gankit.errors import GankitError
from gankit.metrics.augmentation import augment
from gankit.metrics.classifier import class_statistics, domain_classifier, match_classifier_input
from gankit.metrics.diversity import intra_class
from gankit.metrics.fid_kid import StatsKey, cached_stats, feature_stats, fid, fid_kid
from gankit.metrics.inception import InceptionFeatures, inception_score_available, inception_weights_path
from gankit.metrics.modes import mode_coverage
from gankit.metrics.neighbours import memorisation, save_neighbour_grid
from gankit.metrics.precision_recall import precision_recall
from gankit.metrics.sharpness import laplacian_variance
from gankit.registry import Registry

log = logging.getLogger(__name__)
METRICS: Registry[Callable[["Evaluation"], dict]] = Registry("metric")
DEFAULT_METRICS = defaults.METRICS
GRID_SAMPLES = 8  # rows of the nearest-neighbour picture


class Evaluation:
    """The inputs of one run's metrics, each computed at most once.

    ``n`` generated samples against ``n_real`` real images of the ``reference`` split, at the
    run's resolution. ``fakes`` may be given instead of sampling (the real-vs-real floor).
    ``inception_backend``: where the Inception runs (``auto``: the fastest exact one installed).
    """

    def __init__(self, run, n: int = 10_000, n_real: Optional[int] = None, reference: str = "train",
                 seed: int = 0, fakes: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
                 inception_backend: str = "auto"):
        if n < 2:
            raise GankitError(f"--n must be at least 2, got {n}")
        self.run, self.cfg = run, run.config
        self.n, self.n_real, self.reference = n, n_real or n, reference
        self.seed, self.inception_backend = seed, inception_backend
        if fakes is not None:
            self.__dict__["fakes"] = fakes
        self.points = run.shape.is_points

    def require_images(self, metric: str) -> None:
        """Image metrics refuse 2-D point runs with the metric that fits them."""
        if self.points:
            raise GankitError(f"{self.cfg.data} is 2-D points: metric {metric} needs images; use --metrics modes")

    # --- images -----------------------------------------------------------------------------
    @cached_property
    def fakes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(uint8 (n, C, H, W) samples, their labels or -1)."""
        return self.run.sample_with_labels(self.n, seed=self.seed)

    def real(self, split: str, count: Optional[int] = None):
        """``count`` random images (seeded) of ``split`` at the run's resolution and classes."""

        data = load_run_data(self.cfg, split)
        check_same_split(self.run.data_info, data, self.run.dir)
        if count and count < len(data):
            keep = torch.randperm(len(data), generator=torch.Generator().manual_seed(self.seed))[:count]
            data.images, data.labels = data.images[keep], data.labels[keep]
        return data

    @cached_property
    def reals(self):
        return self.real(self.reference, self.n_real)

    # --- Inception ------------------------------------------------------------------------------
    @cached_property
    def inception(self):
        return InceptionFeatures(backend=self.inception_backend)

    def inception_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.inception.extract(images).double()

    @cached_property
    def real_inception(self):
        key = StatsKey(self.cfg.data + (f"[{','.join(map(str, self.cfg.classes))}]" if self.cfg.classes else ""),
                       self.reference, self.cfg.image_size, self.inception.key,
                       len(self.reals))
        return cached_stats(key, lambda: self.inception_features(self.reals.images), self.inception.weights_sha256)

    @cached_property
    def fake_inception(self):
        return feature_stats(self.inception_features(self.fakes[0]), self.real_inception.extractor,
                             self.inception.weights_sha256)

    @cached_property
    def fid_kid(self) -> dict:
        return fid_kid(self.real_inception, self.fake_inception)

    # --- domain classifier ----------------------------------------------------------------------
    @cached_property
    def classifier(self):
        """The domain classifier of the run's classes; for a run of one class, that of all
        classes, so its samples can be seen to mix in others (label accuracy = purity)."""

        classes = self.cfg.classes if self.cfg.classes and len(self.cfg.classes) > 1 else None
        return domain_classifier(self.cfg.data, self.cfg.data_dir, classes)

    def classifier_index(self, class_ids) -> torch.Tensor:
        """Data-set labels -> the classifier's class indices (-1 where it has no such class)."""
        known = self.classifier.class_ids
        return torch.tensor([known.index(int(c)) if int(c) in known else -1 for c in class_ids], dtype=torch.long)

    def classify(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted class index, features) of images at the run's resolution."""

        return self.classifier.run(match_classifier_input(images, self.cfg))


def inception_provenance(ev: Evaluation) -> dict:
    return dict(extractor=ev.inception.key, weights_sha256=ev.inception.weights_sha256,
                resize=f"{ev.cfg.image_size} px -> 299 px, torch-fidelity (TF1 bilinear)",
                inception_dtype="fp32", **ev.inception.backend_info)


@METRICS.register("fid")
def fid_metric(ev: Evaluation) -> dict:
    """Fréchet Inception Distance against the reference split (Heusel et al. 2017)."""
    out = ev.fid_kid
    return dict(fid=out["fid"], library=out["library"], library_version=out["library_version"],
                **inception_provenance(ev))


@METRICS.register("kid")
def kid_metric(ev: Evaluation) -> dict:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased, usable at small n."""
    out = ev.fid_kid
    return dict(kid_mean=out["kid_mean"], kid_std=out["kid_std"], kid_subset_size=out["kid_subset_size"])


@METRICS.register("pr")
def precision_recall_metric(ev: Evaluation) -> dict:
    """Improved precision and recall on Inception features (Kynkäänniemi et al. 2019, k = 3)."""

    out = precision_recall(ev.real_inception.features, ev.fake_inception.features)
    return dict(precision=out["precision"], recall=out["recall"], pr_k=out["k"])


@METRICS.register("is")
def inception_score_metric(ev: Evaluation) -> dict:
    """Inception Score (Salimans et al. 2016): only with the full network's 1008-class logits
    (the weights the libraries download online), never from a stand-in; RGB sets only."""

    available, reason = inception_score_available()
    if not available:
        return dict(inception_score=None, inception_score_unavailable=reason)
    images = ev.fakes[0]
    if images.shape[1] != 3:
        return dict(inception_score=None, inception_score_unavailable="defined for RGB images only")
    from torch_fidelity import calculate_metrics

    out = calculate_metrics(input1=ImageSet(images), isc=True, verbose=False, cuda=torch.cuda.is_available(),
                            feature_extractor_weights_path=str(inception_weights_path()))
    return dict(inception_score=out["inception_score_mean"], inception_score_std=out["inception_score_std"])


class ImageSet(torch.utils.data.Dataset):
    """uint8 images (N, 3, H, W) as the data set torch-fidelity reads."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


@METRICS.register("classifier")
def classifier_metric(ev: Evaluation) -> dict:
    """Domain-classifier numbers: label accuracy (conditional runs), classes covered, KL of the
    class histogram to the real one (mode collapse), and FID on the classifier's features."""

    images, labels = ev.fakes
    pred, feats = ev.classify(images)
    real_pred, real_feats = ev.classify(ev.reals.images)
    k = len(ev.classifier.class_ids)
    real_labels = ev.classifier_index(torch.tensor(ev.reals.class_ids)[ev.reals.labels])
    label_index = ev.classifier_index(labels)
    stats = class_statistics(pred, real_labels, k, label_index if bool((labels >= 0).all()) else None)
    stats.update(ambiguous=ambiguous_fraction(ev, feats), real_ambiguous=ambiguous_fraction(ev, real_feats),
                 classifier_fid=fid(feature_stats(real_feats, "classifier"), feature_stats(feats, "classifier")),
                 classifier_test_accuracy=ev.classifier.test_accuracy,
                 real_class_kl=class_statistics(real_pred, real_labels, k)["class_kl"])
    stats.update(intra_class_diversity(ev, images, label_index if bool((labels >= 0).all()) else pred, feats))
    return stats


def intra_class_diversity(ev: Evaluation, images: torch.Tensor, classes: torch.Tensor, feats: torch.Tensor) -> dict:
    """Per-class diversity against the real test images of the class (``metrics.diversity``):
    generated images grouped by their label (conditional runs) or the classifier's reading."""

    test = ev.real("test")
    real_classes = ev.classifier_index(torch.tensor(test.class_ids)[test.labels])
    _, real_feats = ev.classify(test.images)
    return intra_class(classes, images, feats, real_classes, test.images, real_feats,
                       range(len(ev.classifier.class_ids)))


@torch.no_grad()
def ambiguous_fraction(ev: Evaluation, features: torch.Tensor) -> float:
    """Fraction of images the classifier gives no class more than half its belief: digits that
    mix classes (STAT3007's "unrealistic digits") score high; real test images score low."""
    probs = torch.softmax(ev.classifier.net.head(features.float()), 1)
    return float((probs.max(1).values < 0.5).double().mean())


@METRICS.register("nn")
def memorisation_metric(ev: Evaluation) -> dict:
    """Nearest training images of samples, in pixels and classifier features (a memorisation
    check); writes ``neighbours.png`` and ``neighbours_features.png`` into the run."""

    count = min(ev.n, 2000)  # nearest-neighbour search over the whole training set per sample
    train = ev.real("train")
    held_out = ev.real("test", count)
    samples = ev.fakes[0][:count]
    embed = lambda x: ev.classifier.run(match_classifier_input(x, ev.cfg))[1].float()  # noqa: E731
    train_features = embed(train.images)  # once, for the distances and the picture
    out = memorisation(samples, train.images, held_out.images)
    out.update(memorisation(samples, train.images, held_out.images, embed, "nn_feature", train_features))
    save_neighbour_grid(samples[:GRID_SAMPLES], train.images, ev.run.dir / "neighbours.png")
    save_neighbour_grid(samples[:GRID_SAMPLES], train.images, ev.run.dir / "neighbours_features.png", embed=embed,
                        train_embedding=train_features)
    return dict(out, nn_count=len(samples), nn_held_out_count=len(held_out.images))


@METRICS.register("sharpness")
def sharpness_metric(ev: Evaluation) -> dict:
    """Mean variance of the Laplacian of the samples and of as many real images: blur lowers it."""

    return dict(sharpness=float(laplacian_variance(ev.fakes[0]).mean()),
                real_sharpness=float(laplacian_variance(ev.reals.images).mean()))


@METRICS.register("modes")
def mode_metric(ev: Evaluation) -> dict:
    """Modes covered, high-quality fraction and mode KL on a 2-D toy mixture (ring8, grid25)."""

    if ev.cfg.data not in TOY_MIXTURES:
        raise GankitError(f"metric modes needs a toy mixture ({', '.join(TOY_MIXTURES)}), not {ev.cfg.data}; "
                          "for images use classifier (classes covered)")
    centres, std = toy_modes(ev.cfg.data)
    return mode_coverage(ev.fakes[0], centres, std)


@METRICS.register("augment")
def augment_metric(ev: Evaluation) -> dict:
    """``gankit augment``'s protocol on this run (its ``per_class`` real images when it was trained
    on a subset), written to ``augment.json``; here the summary: real-only and CAS test accuracy
    and the gain of adding as many samples as real images."""

    doc = augment([ev.run], real_per_class=ev.run.config.per_class, seeds=(0, 1, 2), say=lambda _: None)
    conds = doc["conditions"]
    return dict(augment_real_accuracy=conds["real"]["mean"], augment_cas=conds["synthetic (CAS)"]["mean"],
                augment_gain_x1=conds["real + synthetic ×1"]["diff_mean"],
                augment_gain_x1_low=conds["real + synthetic ×1"]["diff_low"])


POINT_METRICS = ("modes",)


def floor_samples(run, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` real test images with their data-set labels, to score in place of samples."""
    test = Evaluation(run, max(n, 2), seed=seed).real("test", n)
    return test.images, torch.tensor(test.class_ids)[test.labels]


def evaluate(run, metrics: Sequence[str] = DEFAULT_METRICS, n: int = defaults.EVAL_N, n_real: Optional[int] = None,
             reference: str = defaults.REFERENCE, seed: int = defaults.SEED, fakes=None, inception_backend: str = "auto",
             out_name: Optional[str] = "eval.json") -> dict:
    """Compute ``metrics`` for ``run`` (a ``gankit.Run``) and write ``run.dir/out_name``."""
    ev = Evaluation(run, n, n_real, reference, seed, fakes, inception_backend)
    values, seconds = {}, {}
    for name in metrics:
        fn = METRICS[name]
        if name not in POINT_METRICS:
            ev.require_images(name)
        start = time.perf_counter()
        values.update(fn(ev))
        seconds[name] = round(time.perf_counter() - start, 2)
    doc = dict(metrics={k: _plain(v) for k, v in values.items()}, seconds=seconds,
               provenance=dict(n=len(ev.fakes[0]), n_real=len(ev.reals) if "reals" in vars(ev) else None,
                               reference_split=reference, data=run.config.data, image_size=run.config.image_size,
                               seed=seed, step=run.step, generator=run.generator_kind,
                               checkpoint=run.checkpoint))
    if out_name:
        atomic_write_text(json.dumps(doc, indent=2) + "\n", Path(run.dir) / out_name)
    return doc


def _plain(value):
    """JSON-safe: NaN becomes null."""
    return None if isinstance(value, float) and math.isnan(value) else value


