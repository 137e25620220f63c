"""Small pieces that hang off the loop: the metrics log, the progress bar, the per-epoch sample
grid, the loss plot and the checkpoint. Each reads the trainer; none changes training."""
from __future__ import annotations

import json
import math
from pathlib import Path

from gankit.errors import GankitError
from gankit.metrics.evaluate import evaluate
from gankit.plots import plot_losses, save_image_grid, save_points
from gankit.run_dir import RunDir
from gankit.sampling import Run
from gankit.training.checkpoint import read_checkpoint, save_checkpoint


class Hook:
    """Called by ``run_loop``; override what you need."""

    def on_train_start(self, trainer) -> None: ...
    def on_epoch_start(self, trainer) -> None: ...
    def on_log(self, trainer, row: dict) -> None: ...
    def on_epoch_end(self, trainer) -> None: ...
    def on_train_end(self, trainer, ended: str) -> None: ...


def crossed(previous: int, step: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in (previous, step]: the schedules below fire at the
    first log window at or after each multiple, whatever ``log_every`` is."""
    return bool(every) and step // every > previous // every


def epoch_label(trainer) -> int:
    """The 1-based number of the epoch just finished or under way."""
    return trainer.epoch + (1 if trainer.batch else 0)


class MetricsLog(Hook):
    """Appends each window's row to ``metrics.jsonl`` (flushed, so a kill loses at most a row)."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, trainer, row: dict) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


class ProgressBar(Hook):
    """A tqdm bar per epoch: epoch, step, losses and images/s."""

    def __init__(self):
        self.bar = None

    def on_epoch_start(self, trainer) -> None:
        from tqdm.auto import tqdm

        total = trainer.batches_per_epoch // trainer.cfg.n_critic
        self.bar = tqdm(total=total, initial=trainer.batch // trainer.cfg.n_critic, unit="step", leave=True,
                        desc=f"epoch {trainer.epoch + 1}/{trainer.cfg.epochs}", dynamic_ncols=True)
        self.shown = trainer.step

    def on_log(self, trainer, row: dict) -> None:
        losses = {name: f"{row[name]:.3f}" for name in trainer.stat_names[:2]}  # loss_d, loss_g (or loss_recon)
        self.bar.set_postfix(step=trainer.step, **losses, img_s=f"{row['images_per_s']:.0f}", refresh=False)
        self.bar.update(trainer.step - self.shown)  # redraws, with the postfix just set
        self.shown = trainer.step

    def on_epoch_end(self, trainer) -> None:
        self.bar.update(trainer.step - self.shown)
        self.bar.close()


class SampleGrid(Hook):
    """``samples/epoch_NNN.png``: the fixed noise batch through G (a row per class when
    conditional; a scatter over the data for 2-D points)."""

    def __init__(self, folder: Path, real_points=None):
        self.folder, self.real_points = folder, real_points

    def on_epoch_end(self, trainer) -> None:
        path = self.folder / f"epoch_{epoch_label(trainer):03d}.png"
        samples = trainer.fixed_samples().float().cpu()
        if trainer.shape.is_points:
            save_points(samples, self.real_points, path, title=f"step {trainer.step}")
        else:
            n = trainer.cfg.n_fixed
            save_image_grid(samples, path, nrow=n if trainer.fixed_y is not None else math.ceil(math.sqrt(n)))


class LossPlot(Hook):
    """``losses.png`` from ``metrics.jsonl``, redrawn at the end of each epoch."""

    def __init__(self, metrics: Path, path: Path):
        self.metrics, self.path = metrics, path

    def on_epoch_end(self, trainer) -> None:
        plot_losses(self.metrics, self.path)


class Checkpointer(Hook):
    """``checkpoints/last.pt`` at the end of every epoch, when the run stops, and every
    ``checkpoint_every`` steps (at a log window, after its metrics row is written). An epoch end
    less than ``MIN_STEPS`` steps after the last save is skipped, so that tiny sets (1,000 images,
    20 steps an epoch: 50 rewrites of a 68 MB state in 1,000 steps) do not spend their time
    writing; the run's last step is always saved."""

    MIN_STEPS = 40

    def __init__(self, path: Path, extra: dict):
        self.path, self.extra = path, extra
        self.last_step = self.saved_step = None

    def on_train_start(self, trainer) -> None:
        self.last_step = self.saved_step = trainer.step

    def on_log(self, trainer, row: dict) -> None:
        if crossed(self.last_step, trainer.step, trainer.cfg.checkpoint_every):
            self.save(trainer)
        self.last_step = trainer.step

    def on_epoch_end(self, trainer) -> None:
        if trainer.step - self.saved_step >= self.MIN_STEPS:
            self.save(trainer)

    def on_train_end(self, trainer, ended: str) -> None:
        if trainer.step != self.saved_step or not self.path.exists():
            self.save(trainer)

    def save(self, trainer) -> None:
        save_checkpoint({**trainer.state_dict(), **self.extra}, self.path)
        self.saved_step = trainer.step


class EvalMonitor(Hook):
    """Every ``eval_every`` whole epochs (and every ``eval_every_steps`` steps), the chosen
    metrics of the current generator appended to ``eval_history.jsonl`` (the same exact fp32
    Inception as ``gankit eval``, on its fastest backend). The global RNG is restored
    afterwards, so training continues exactly."""

    def __init__(self, root: Path, data_info: dict, best: "BestCheckpoint | None" = None):
        self.root, self.info, self.best = root, data_info, best
        self.last_step = self.recorded = -1

    def on_train_start(self, trainer) -> None:
        self.last_step = trainer.step
        if self.best is not None:
            self.best.on_train_start(trainer)

    def on_log(self, trainer, row: dict) -> None:
        if crossed(self.last_step, trainer.step, trainer.cfg.eval_every_steps):
            self.record(trainer)
        self.last_step = trainer.step

    def on_epoch_end(self, trainer) -> None:
        cfg = trainer.cfg
        if cfg.eval_every and not trainer.batch and trainer.epoch % cfg.eval_every == 0:
            self.record(trainer)

    def record(self, trainer) -> None:
        """Measure the generator now and append a row (once per step)."""
        if trainer.step == self.recorded:
            return
        self.recorded = trainer.step
        cfg = trainer.cfg
        import torch


        metrics = [m.strip() for m in cfg.eval_metrics.split(",") if m.strip()]
        with torch.random.fork_rng(devices=[]):
            run = Run.from_trainer(self.root, trainer, self.info)  # the sampler, in eval mode
            try:
                doc = evaluate(run, metrics, cfg.eval_n, out_name=None)
            finally:
                trainer.G.train()
        numbers = {k: v for k, v in doc["metrics"].items() if isinstance(v, (int, float)) or v is None}
        row = dict(epoch=trainer.epoch, step=trainer.step, **numbers, seconds=sum(doc["seconds"].values()))
        with RunDir(self.root).eval_history.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.best is not None:
            self.best.consider(trainer, row)


# Metrics where more is better; every other recorded metric (FID, KID, class KL, …) is a distance.
HIGHER_IS_BETTER = {"inception_score", "precision", "recall", "label_accuracy", "classes_covered", "modes_covered",
                    "high_quality", "intra_pixel_diversity_mean", "intra_pixel_diversity_min",
                    "intra_feature_diversity_mean", "intra_feature_diversity_min", "sharpness"}


def monitored_metric(choice: str, row: dict) -> str | None:
    """The column of an eval-history row that ``--best-metric`` names; "auto": fid when recorded,
    else classifier_fid (None when neither is)."""
    if choice != "auto":
        return choice
    return next((name for name in ("fid", "classifier_fid") if row.get(name) is not None), None)


class BestCheckpoint:
    """``checkpoints/best.pt``: the whole state (raw G, its moving average, D, optimizers) at the
    best value so far of the monitored metric, so that a late collapse does not cost the good
    generator. Fed by ``EvalMonitor`` after each record; on resume it continues from the saved best."""

    def __init__(self, path: Path, extra: dict):
        self.path, self.extra = path, extra
        self.value: float | None = None

    def on_train_start(self, trainer) -> None:
        if self.path.exists():
            self.value = read_checkpoint(self.path)["best"]["value"]

    def consider(self, trainer, row: dict) -> None:
        metric = monitored_metric(trainer.cfg.best_metric, row)
        if metric is None:
            return
        if metric not in row:
            raise GankitError(f"--best-metric {metric} is not recorded by --eval-metrics {trainer.cfg.eval_metrics}: "
                              f"choose one of {', '.join(k for k in row if k not in ('epoch', 'step', 'seconds'))}")
        value = row[metric]
        if value is None:
            return
        higher = metric in HIGHER_IS_BETTER
        if self.value is None or (value > self.value if higher else value < self.value):
            self.value = value
            best = dict(metric=metric, value=value, step=trainer.step, epoch=trainer.epoch)
            save_checkpoint({**trainer.state_dict(), **self.extra, "best": best}, self.path)
