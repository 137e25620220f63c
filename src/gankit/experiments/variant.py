"""One variant of a sweep: train (or resume, or skip when finished) its run directory, then
measure it and draw its report pictures. The sweep runs these one after another or, through
``parallel``, one per device; neither imports the other."""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from gankit.errors import GankitError
from gankit.experiments.artefacts import draw_artefacts, evaluate_variant
from gankit.experiments.spec import SweepSpec, Variant
from gankit.run import resume, train
from gankit.run_dir import RunDir
from gankit.training.loop import NonFiniteLoss

log = logging.getLogger(__name__)
IGNORED_FIELDS = ("out", "device", "data_dir")  # may differ between machines without changing the run
# Checkpoint this often inside an epoch, so a stopped quick variant resumes rather than restarts.
CHECKPOINT_EVERY = 200


@dataclass
class VariantResult:
    """What happened to one variant in this invocation."""

    name: str
    status: str  # trained, resumed, skipped (finished before), or the signal that stopped it


def stopped(result: VariantResult) -> bool:
    """Whether a signal stopped this variant (the sweep stops too)."""
    return result.status in ("SIGINT", "SIGTERM")


def train_and_finish(spec: SweepSpec, budget: str, variant: Variant, folder: Path, progress: bool) -> VariantResult:
    """Train, resume or skip one variant, then measure it and draw its pictures; a diverging
    variant (a learning rate too high) is a result, not a crash."""
    try:
        status = run_variant(variant, folder, progress)
    except NonFiniteLoss as err:
        return VariantResult(variant.name, f"diverged: {err}")
    if status in ("trained", "resumed", "skipped"):
        finish_variant(spec, variant, folder, budget)
    return VariantResult(variant.name, status)


def prepared_config(variant: Variant, folder: Path):
    """The variant's resolved config, writing into ``folder``."""
    cfg = variant.config.resolved()
    cfg.out = str(folder)
    if not cfg.checkpoint_every:
        cfg.checkpoint_every = CHECKPOINT_EVERY
    return cfg


def saved_state(folder: Path) -> Optional[dict]:
    """The variant's checkpoint, or None when it has none; without one the folder is only the
    start of a run killed before its first checkpoint, and is cleared."""
    run = RunDir(folder)
    if not run.checkpoint.exists():
        if folder.exists():
            shutil.rmtree(folder)
        return None
    import torch

    try:
        return torch.load(run.checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
        raise GankitError(f"{run.checkpoint} is unreadable ({type(err).__name__}); move {folder} away to retrain it") from None


def check_same_config(state: dict, cfg, folder: Path) -> None:
    """A folder trained with other settings (an edited sweep file) is an error, not overwritten."""
    saved = {k: v for k, v in state["config"].items() if k not in IGNORED_FIELDS}
    wanted = {k: v for k, v in cfg.to_dict().items() if k not in IGNORED_FIELDS}
    wanted = json.loads(json.dumps(wanted))  # tuples -> lists, as saved
    diff = [k for k in wanted if saved.get(k) != wanted[k]]
    if diff:
        k = diff[0]
        raise GankitError(f"{folder} was trained with {k}={saved.get(k)!r}, the sweep now asks {wanted[k]!r}: "
                          "use another --out for the changed sweep")


def finished(state: dict, cfg) -> bool:
    """Whether a GAN run has reached its ``max_steps`` or ``epochs``."""
    return bool(cfg.max_steps and state["step"] >= cfg.max_steps) or state["epoch"] >= cfg.epochs


def run_variant(variant: Variant, folder: Path, progress: bool) -> str:
    """Train, resume or skip one variant; returns "trained", "resumed", "skipped" or a signal."""
    cfg = prepared_config(variant, folder)
    state = saved_state(folder)
    if state is not None:
        check_same_config(state, cfg, folder)

    if state is None:
        ended = train(cfg, progress=progress).stopped
        return "trained" if ended in ("done", "max_steps") else ended
    if finished(state, cfg):
        return "skipped"
    ended = resume(folder, progress=progress).stopped
    return "resumed" if ended in ("done", "max_steps") else ended


def finish_variant(spec: SweepSpec, variant: Variant, folder: Path, budget: str) -> None:
    """Measure the variant (``eval.json``) and draw its report pictures, unless already done."""

    metrics = spec.metrics.get(budget, [])
    if metrics and not RunDir(folder).evaluation.exists():
        evaluate_variant(variant, folder, metrics, spec.eval_n[budget], spec.reference)
    draw_artefacts(spec.sections, variant, folder)
