"""Do a GAN's samples help a classifier? The protocol of Ravuri & Vinyals 2019 ("Classification
Accuracy Score for Conditional Generative Models"), with gankit's domain classifier and its
training recipe, fixed before any test result is seen:

- real: the classifier trained on the real training split (optionally ``real_per_class`` images
  of each class, the same fixed draw as ``gankit train --per-class``), no augmentation;
- synthetic: trained on samples only, at the real set's size and class balance — the
  Classification Accuracy Score (CAS);
- real + synthetic at ratios r (r · |real| samples added, class-balanced): the augmentation curve;
- real + classical (random ±2 px shifts) augmentation, with and without synthetic data (r = 1).

Every condition is trained once per classifier seed; the epoch kept is the one with the best
accuracy on a validation split carved (stratified, fixed) from the real training split — never
chosen on test. Reported on the real test split: accuracy mean ± std, the paired difference to
real-only with its 95 % t-interval, and per-class accuracy.
"""
from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from gankit import defaults
from gankit.atomic import atomic_write_text
from gankit.data import check_same_split, keep_per_class, load_run_data
from gankit.errors import GankitError
from gankit.metrics.classifier import train_classifier
from gankit.run_dir import RunDir

RATIOS = defaults.AUGMENT_RATIOS
GROUPS = defaults.AUGMENT_CONDITIONS  # what real-only, the baseline, is compared with
VAL_SHARE = 0.1
VAL_SEED = 1  # the validation carve: fixed, apart from the per-class draw's seed
MAX_EPOCHS = 10


@dataclass(frozen=True)
class Condition:
    """One training set recipe: real images (or none), synthetic images as a multiple of the real
    count, and whether classical augmentation is on."""

    name: str
    real: bool
    synthetic: float
    shifts: bool


def conditions(ratios: Sequence[float] = RATIOS, groups: Sequence[str] = GROUPS) -> list[Condition]:
    """The protocol's conditions, real-only first (the baseline of every paired difference), then
    those of ``groups``: ``cas`` (samples only), ``mix`` (real + samples at ``ratios``: the
    augmentation curve) and ``shifts`` (classical augmentation without and with samples)."""
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise GankitError(f"unknown augment condition {', '.join(unknown)}: choose from {', '.join(GROUPS)}")
    chosen = [Condition("real", True, 0.0, False)]
    if "cas" in groups:
        chosen.append(Condition("synthetic (CAS)", False, 1.0, False))
    if "mix" in groups:
        chosen += [Condition(f"real + synthetic ×{r:g}", True, r, False) for r in ratios]
    if "shifts" in groups:
        chosen += [Condition("real + shifts", True, 0.0, True), Condition("real + shifts + synthetic ×1", True, 1.0, True)]
    return chosen


def stratified_split(labels: torch.Tensor, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): ``share`` of each class (at least one) to validation."""
    gen = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        if len(members) < 2:
            raise GankitError(f"class {c} has {len(members)} real training image: a validation split needs at least "
                              "2 per class; raise --real-per-class")
        k = max(1, round(share * len(members)))
        val.append(members[:k])
        train.append(members[k:])
    return torch.cat(train), torch.cat(val)


class SyntheticSource:
    """Labelled samples from one or more runs: a conditional run covers its classes, a one-class
    run (as E8 trains them, one per digit) its class. Labels are class indices of ``class_ids``."""

    def __init__(self, runs: Sequence, class_ids: list[int]):
        self.class_ids = class_ids
        self.by_class: dict[int, object] = {}
        for run in runs:
            if run.conditional:
                covered = run.class_ids
            elif len(run.class_ids) == 1:
                covered = run.class_ids
            else:
                raise GankitError(f"{run.dir} is unconditional over {len(run.class_ids)} classes: its samples have no "
                                  "labels; use a conditional run (cgan, cdcgan) or one run per class (--runs A,B,…)")
            for c in covered:
                self.by_class.setdefault(c, run)
        missing = [c for c in class_ids if c not in self.by_class]
        if missing:
            raise GankitError(f"no run generates class {missing[0]} (of {', '.join(map(str, class_ids))}): "
                              "add a run trained on it with --runs A,B,…")

    def sample(self, counts: dict[int, int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``counts[class index]`` samples of each class: uint8 images and class indices."""
        images, labels = [], []
        for index, n in counts.items():
            if n == 0:
                continue
            run = self.by_class[self.class_ids[index]]
            label = self.class_ids[index] if run.conditional else None
            images.append(run.sample(n, label=label, seed=seed * 1000 + index))
            labels.append(torch.full((n,), index, dtype=torch.long))
        return torch.cat(images), torch.cat(labels)


def paired_interval(diffs: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high) of the 95 % t-interval of paired differences (NaN bounds for one seed)."""
    from scipy import stats

    n, mean = len(diffs), statistics.fmean(diffs)
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, n - 1)) * statistics.stdev(diffs) / math.sqrt(n)
    return mean, mean - half, mean + half


def per_class_accuracy(net, x: torch.Tensor, y: torch.Tensor, k: int) -> list[float]:
    with torch.no_grad():
        pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return [float((pred[y == c] == c).double().mean()) if (y == c).any() else math.nan for c in range(k)]


def run_protocol(real_x, real_y, test_x, test_y, source: SyntheticSource, num_classes: int,
                 seeds: Sequence[int] = defaults.AUGMENT_SEEDS, ratios: Sequence[float] = RATIOS,
                 say: Callable[[str], None] = lambda _: None, groups: Sequence[str] = GROUPS) -> dict:
    """Train every condition for every seed; returns the per-condition results (see the module)."""

    train_idx, val_idx = stratified_split(real_y, VAL_SHARE, VAL_SEED)
    val = (real_x[val_idx], real_y[val_idx])
    x_real, y_real = real_x[train_idx], real_y[train_idx]
    counts = torch.bincount(y_real, minlength=num_classes)
    results: dict[str, dict] = {}
    for cond in conditions(ratios, groups):
        accs, per_class, epochs = [], [], []
        for seed in seeds:
            parts_x, parts_y = ([x_real], [y_real]) if cond.real else ([], [])
            if cond.synthetic:
                want = {c: int(round(cond.synthetic * int(counts[c]))) for c in range(num_classes)}
                fx, fy = source.sample(want, seed)
                parts_x.append(fx.to(x_real.dtype))
                parts_y.append(fy)
            net = train_classifier(torch.cat(parts_x), torch.cat(parts_y), num_classes, epochs=MAX_EPOCHS, seed=seed,
                                   shifts=cond.shifts, lift=False, val=val)
            pcs = per_class_accuracy(net, test_x, test_y, num_classes)
            accs.append(float(sum(p * int((test_y == c).sum()) for c, p in enumerate(pcs) if not math.isnan(p))
                              / len(test_y)))
            per_class.append(pcs)
            epochs.append(net.chosen_epoch)
        results[cond.name] = dict(accuracy=accs, mean=statistics.fmean(accs),
                                  std=statistics.stdev(accs) if len(accs) > 1 else 0.0, epochs=epochs,
                                  n_train=len(torch.cat(parts_y)),
                                  per_class=[sum(p[c] for p in per_class) / len(per_class) for c in range(num_classes)])
        say(f"{cond.name:32s} {results[cond.name]['mean']:.4f} ± {results[cond.name]['std']:.4f}")
    base = results["real"]["accuracy"]
    for name, res in results.items():
        res["diff_mean"], res["diff_low"], res["diff_high"] = paired_interval([a - b for a, b in zip(res["accuracy"], base)])
    return results


def augment(runs: Sequence, real_per_class: Optional[int] = None, seeds: Sequence[int] = (0, 1, 2),
            ratios: Sequence[float] = RATIOS, say: Callable[[str], None] = print,
            groups: Sequence[str] = GROUPS) -> dict:
    """The protocol for ``runs`` (``gankit.Run``s of one data set); writes ``augment.json`` into the
    first run and returns its content. ``groups`` picks the conditions beside real-only (see
    ``conditions``): ``("cas",)`` is the Classification Accuracy Score alone."""
    conditions(ratios, groups)  # an unknown condition is an error before any data is loaded
    first = runs[0]
    cfg = first.config
    for run in runs[1:]:
        if (run.config.data, run.config.image_size) != (cfg.data, cfg.image_size):
            raise GankitError(f"{run.dir} was trained on {run.config.data} at {run.config.image_size} px, "
                              f"{first.dir} on {cfg.data} at {cfg.image_size} px: give runs of one data set and size")
    # the classifier's real data: the first run's data set at its size, every class the runs cover
    class_ids = sorted({c for run in runs for c in run.class_ids})
    real_cfg = dataclasses.replace(cfg, classes=class_ids if cfg.classes or len(runs) > 1 else None, per_class=None)
    real = keep_per_class(load_run_data(real_cfg, "train"), real_per_class)
    test = load_run_data(real_cfg, "test")
    for run in runs:
        check_same_split(run.data_info, test, run.dir)
        seen = run.data_info.get("num_images")
        allowed = len(real) if len(runs) == 1 or run.conditional else len(real) // len(class_ids)
        if real_per_class and seen and seen > allowed:
            raise GankitError(f"{run.dir} saw {seen} real images, more than the classifier's {allowed}: train the GAN on "
                              f"the same subset (gankit train --per-class {real_per_class})")
    source = SyntheticSource(runs, real.class_ids)
    say(f"gankit augment: {len(real)} real training images ({len(real.class_ids)} classes), {len(test)} test, "
        f"seeds {', '.join(map(str, seeds))}")
    results = run_protocol(real.images, real.labels, test.images, test.labels, source, len(real.class_ids),
                           seeds, ratios, say, groups)
    doc = dict(protocol=dict(
        reference="Ravuri & Vinyals 2019", classifier="gankit domain classifier (3 conv-BN-ReLU-pool blocks, 128 units)",
        recipe=f"Adam 2e-3, one-cycle to 4e-3, up to {MAX_EPOCHS} epochs (more for small sets), epoch chosen on validation",
        validation=f"{VAL_SHARE:g} of each class of the real training split", real_per_class=real_per_class,
        n_real=len(real), n_test=len(test), seeds=list(seeds), conditions=list(groups), runs=[str(r.dir) for r in runs],
        generators=[r.generator_kind for r in runs], checkpoints=[r.checkpoint for r in runs],
        classes=real.class_ids), conditions=results)
    atomic_write_text(json.dumps(doc, indent=2) + "\n", RunDir(first.dir).augment)
    return doc


def table(doc: dict) -> str:
    """The conditions as a text table: accuracy mean ± std and the paired difference to real-only."""
    lines = [f"{'condition':32s} {'test accuracy':>17s} {'vs real (95 % CI)':>30s}"]
    for name, res in doc["conditions"].items():
        diff = "—" if name == "real" else f"{res['diff_mean']:+.4f} [{res['diff_low']:+.4f}, {res['diff_high']:+.4f}]"
        lines.append(f"{name:32s} {res['mean']:.4f} ± {res['std']:.4f} {diff:>30s}")
    return "\n".join(lines)
