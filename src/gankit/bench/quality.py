"""Time to quality: the wall time a training run needs until its samples cover every class with
a class histogram close to uniform, by the domain classifier — the number a user cares about.
The run is an ordinary gankit run (its own directory, eval_history.jsonl holds the curve) that a
hook stops once the criterion holds."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

from gankit.config import Config
from gankit.jsonl import read_jsonl
from gankit.metrics.quality_bar import MAX_CLASS_KL, reaches_quality
from gankit.training import hooks as H
from gankit.run_dir import RunDir
from gankit.metrics.classifier import domain_classifier
from gankit.training.signals import StopFlag
from gankit.training.runner import train


class StopAtQuality(H.Hook):
    """Stops the loop at the first evaluation with every class covered and class KL ≤ ``max_kl``."""

    def __init__(self, history: Path, stop, max_kl: float, started: float):
        self.history, self.stop, self.max_kl, self.started = history, stop, max_kl, started
        self.reached: Optional[dict] = None

    def on_log(self, trainer, row: dict) -> None:
        if self.reached or not self.history.exists():
            return
        rows = read_jsonl(self.history)
        last = rows[-1] if rows else {}
        if last.get("step") == trainer.step and reaches_quality(last, self.max_kl):
            self.reached = dict(last, wall_s=round(time.perf_counter() - self.started, 1),
                                train_s=round(trainer.train_seconds, 1))
            self.stop.reason = "quality reached"


def time_to_quality(out: str, data: str = "mnist", data_dir: Optional[str] = None, max_kl: float = MAX_CLASS_KL,
                    every: int = 100, max_steps: int = 20_000, say: Callable[[str], None] = print,
                    lr: Optional[float] = None, model: str = "dcgan") -> dict:
    """Train ``model`` (32 px) with its preset (or learning rate ``lr`` for both networks) until the
    criterion holds; returns the step, the wall time (evaluations included) and the training time
    at that point, and the classifier-FID curve."""
    cfg = Config(model=model, data=data, data_dir=data_dir, max_steps=max_steps, epochs=100, eval_every_steps=every,
                 eval_metrics="classifier", eval_n=2000, lr_g=lr, lr_d=lr, out=out).resolved()
    domain_classifier(cfg.data, cfg.data_dir)  # trained (or loaded) before the clock starts
    stop = StopFlag()
    watcher = StopAtQuality(RunDir(Path(out)).eval_history, stop, max_kl, time.perf_counter())
    run = train(cfg, hooks=[watcher], stop=stop)
    curve = read_jsonl(RunDir(run.dir).eval_history)
    result = dict(reached=watcher.reached, curve=[(r["step"], round(r["classifier_fid"], 1), r["classes_covered"],
                                                   round(r["class_kl"], 4)) for r in curve])
    if watcher.reached:
        say(f"time to quality (10/10 classes, class KL ≤ {max_kl}): step {watcher.reached['step']}, "
            f"{watcher.reached['wall_s']} s wall ({watcher.reached['train_s']} s of training)")
    else:
        say(f"quality not reached by step {curve[-1]['step'] if curve else 0}")
    say("classifier-FID curve (step, cFID, classes, KL): " + ", ".join(map(str, result["curve"])))
    return result


class RecordMemory(H.Hook):
    """The process's current resident set size at each epoch's end."""

    def __init__(self):
        self.rss_mb: list[float] = []

    def on_epoch_end(self, trainer) -> None:
        import os

        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        self.rss_mb.append(pages * os.sysconf("SC_PAGE_SIZE") / 2**20)


def memory_over_epochs(out: str, data: str = "mnist", data_dir: Optional[str] = None, epochs: int = 3,
                       classes: Optional[list] = None, extra: Optional[dict] = None) -> list[float]:
    """RSS (MB) after each of ``epochs`` epochs of a ``dcgan`` 64 px run (ngf = ndf = 64) on
    ``classes`` (a subset keeps epochs short): flat numbers mean nothing accumulates."""
    values = dict(model="dcgan", image_size=64, ngf=64, ndf=64, data=data, data_dir=data_dir, classes=classes,
                  epochs=epochs, out=out)
    cfg = Config(**{**values, **(extra or {})}).resolved()
    recorder = RecordMemory()
    train(cfg, hooks=[recorder])
    return recorder.rss_mb
