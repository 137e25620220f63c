"""The epoch loop around ``GANTrainer.train_step``: metric windows, hooks, and clean stops.

Statistics stay on the device until a window of ``log_every`` steps closes; then one transfer
gives the window's mean row, checks it for NaN/inf (naming the first bad step), and times it.
The time between window starts and syncs is the honest training time: hooks (grids, plots,
checkpoints) run outside it.
"""
from __future__ import annotations

import time
from typing import Optional, Sequence

import torch

from gankit.errors import GankitError
from gankit.training.hooks import Hook
from gankit.training.signals import StopFlag
from gankit.training.trainer import GANTrainer


class NonFiniteLoss(GankitError):
    """A loss became NaN or infinite; the run stopped without saving the bad state."""


class MetricWindow:
    """Per-step statistics of the current window, kept on the device."""

    def __init__(self, trainer: GANTrainer):
        self.trainer = trainer
        self.rows: list[torch.Tensor] = []
        self.started = time.perf_counter()

    def add(self, stats: torch.Tensor) -> None:
        self.rows.append(stats)

    def close(self) -> Optional[dict]:
        """The mean row of the window (or None if empty); raises NonFiniteLoss naming the step."""
        if not self.rows:
            return None
        t = self.trainer
        # the one host sync of the window (under DDP the mean over the ranks: one all-reduce)
        values = t.world.mean(torch.stack(self.rows).float()).cpu()
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        bad = (~values.isfinite().all(1)).nonzero()
        if len(bad):
            step = t.step - len(self.rows) + int(bad[0]) + 1
            names = [n for n, v in zip(t.stat_names, values[int(bad[0])]) if not v.isfinite()]
            raise NonFiniteLoss(f"{', '.join(names)} became {values[int(bad[0])][t.stat_names.index(names[0])].item()} "
                                f"at step {step} (epoch {t.epoch + 1}); the last good checkpoint is kept: "
                                "lower --lr-d/--lr-g or change the loss, then train again or resume")
        if not t.weights_finite():  # losses can stay finite while weights overflow (a saturated BCE)
            raise NonFiniteLoss(f"the weights became NaN or infinite in steps {t.step - len(self.rows) + 1}–{t.step} "
                                f"(epoch {t.epoch + 1}); the last good checkpoint is kept: lower --lr-d/--lr-g, "
                                "then train again or resume")
        t.train_seconds += elapsed
        images = len(self.rows) * t.global_batch * t.cfg.n_critic
        row = dict(epoch=t.epoch + (1 if t.batch else 0), step=t.step,
                   **{name: float(v) for name, v in zip(t.stat_names, values.mean(0))},
                   time=round(t.train_seconds, 3), images_per_s=round(images / elapsed, 1))
        self.rows = []
        return row

    def restart_clock(self) -> None:
        self.started = time.perf_counter()


STOP_REASONS = (None, "SIGINT", "SIGTERM")  # codes the ranks agree on; any other reason counts as the last


def stop_agreed(trainer: GANTrainer, stop: StopFlag) -> bool:
    """Whether to stop after this step. A single process stops at once; under DDP every rank
    must stop after the same step (a collective waits for all), so the ranks agree at each log
    window, one all-reduce, and take the most urgent reason any of them saw."""
    world = trainer.world
    if not world.distributed:
        return bool(stop)
    if trainer.step % trainer.cfg.log_every:
        return False
    code = world.max(STOP_REASONS.index(stop.reason) if stop.reason in STOP_REASONS else len(STOP_REASONS))
    if code and not stop:
        stop.reason = STOP_REASONS[code] if code < len(STOP_REASONS) else "stopped by rank 0"
    return bool(code)


def run_loop(trainer: GANTrainer, hooks: Sequence[Hook], stop: StopFlag) -> str:
    """Train until ``epochs`` or ``max_steps`` is reached, or a stop is requested.

    Returns why it ended: "done", "max_steps" or the signal name.
    """
    cfg = trainer.cfg
    window = MetricWindow(trainer)

    def flush() -> None:
        row = window.close()
        if row is not None:
            for hook in hooks:
                hook.on_log(trainer, row)
        window.restart_clock()

    for hook in hooks:
        hook.on_train_start(trainer)
    window.restart_clock()
    ended = "done"
    while trainer.epoch < cfg.epochs:
        for hook in hooks:
            hook.on_epoch_start(trainer)
        window.restart_clock()
        for batches in trainer.epoch_batches():
            window.add(trainer.train_step(batches))
            trainer.batch += len(batches)
            trainer.step += 1
            if trainer.step % cfg.log_every == 0:
                flush()
            if stop_agreed(trainer, stop) or (cfg.max_steps and trainer.step >= cfg.max_steps):
                ended = stop.reason or "max_steps"
                break
        else:
            trainer.epoch, trainer.batch = trainer.epoch + 1, 0
        flush()
        for hook in hooks:
            hook.on_epoch_end(trainer)
        if ended != "done":
            break
    for hook in hooks:
        hook.on_train_end(trainer, ended)
    return ended
