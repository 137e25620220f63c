"""Time to quality: the wall time a training run needs until its samples cover every class with
a class histogram close to uniform, by the domain classifier — the number a user cares about.
The run is an ordinary gankit run (its own directory, eval_history.jsonl holds the curve) that a
hook stops once the criterion holds."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional

from gankit.config import Config
from gankit.training import hooks as H


class StopAtQuality(H.Hook):
    """Stops the loop at the first evaluation with every class covered and class KL ≤ ``max_kl``."""

    def __init__(self, history: Path, stop, max_kl: float, started: float):
        self.history, self.stop, self.max_kl, self.started = history, stop, max_kl, started
        self.reached: Optional[dict] = None

    def on_log(self, trainer, row: dict) -> None:
        if self.reached or not self.history.exists():
            return
        lines = self.history.read_text().splitlines()
        last = json.loads(lines[-1]) if lines else {}
        if last.get("step") == trainer.step and last.get("classes_covered") == last.get("classes_total") \
                and last.get("class_kl", 1e9) <= self.max_kl:
            self.reached = dict(last, wall_s=round(time.perf_counter() - self.started, 1),
                                train_s=round(trainer.train_seconds, 1))
            self.stop.reason = "quality reached"


def time_to_quality(out: str, data: str = "mnist", data_dir: Optional[str] = None, max_kl: float = 0.02,
                    every: int = 100, max_steps: int = 20_000, say: Callable[[str], None] = print) -> dict:
    """Train ``dcgan`` 32 px with its defaults until the criterion holds; returns the step, the wall
    time (evaluations included) and the training time at that point, and the classifier-FID curve."""
    from gankit.training.loop import run_loop
    from gankit.training.run_dir import create_run_dir, ensure_new, write_config_json
    from gankit.training.runner import data_info, flush_denormals, make_hooks, prepare
    from gankit.training.signals import StopFlag

    cfg = Config(model="dcgan", data=data, data_dir=data_dir, max_steps=max_steps, epochs=100, eval_every_steps=every,
                 eval_metrics="classifier", eval_n=2000, out=out).resolved()
    ensure_new(out)
    from gankit.metrics.classifier import domain_classifier

    domain_classifier(cfg.data, cfg.data_dir)  # trained (or loaded) before the clock starts
    trainer, loaded = prepare(cfg)
    run = create_run_dir(out)
    info = data_info(loaded, trainer)
    write_config_json(run, cfg.to_dict(), info)
    stop = StopFlag()
    watcher = StopAtQuality(run.eval_history, stop, max_kl, time.perf_counter())
    with flush_denormals(trainer.device):
        run_loop(trainer, make_hooks(run, trainer, loaded, info, progress=False) + [watcher], stop)
    curve = [json.loads(line) for line in run.eval_history.read_text().splitlines()]
    result = dict(reached=watcher.reached, curve=[(r["step"], round(r["classifier_fid"], 1), r["classes_covered"],
                                                   round(r["class_kl"], 4)) for r in curve])
    if watcher.reached:
        say(f"time to quality (10/10 classes, class KL ≤ {max_kl}): step {watcher.reached['step']}, "
            f"{watcher.reached['wall_s']} s wall ({watcher.reached['train_s']} s of training)")
    else:
        say(f"quality not reached in {trainer.step} steps")
    say("classifier-FID curve (step, cFID, classes, KL): " + ", ".join(map(str, result["curve"])))
    return result
