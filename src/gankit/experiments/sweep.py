"""`gankit sweep`: run an experiment's variants under one folder — one after another, or one
per device at a time with ``devices`` (e.g. every GPU) — measure each, draw the pictures its
report needs, and write ``report.html``.

Every variant is an ordinary run directory (``DIR/VARIANT``), with the same seed — so the same
fixed noise wherever the latent size agrees — or, with ``--seeds 0,1,2``, one per seed
(``DIR/VARIANT-seed1``), which the report summarises as mean ± std. Running the same command again skips finished
variants and resumes an unfinished one from its last checkpoint.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from gankit.errors import GankitError
from gankit.experiments.spec import SweepSpec, Variant
from gankit.training.atomic import atomic_write_text
from gankit.training.loop import NonFiniteLoss
from gankit.training.run_dir import RunDir

log = logging.getLogger(__name__)
IGNORED_FIELDS = ("out", "device", "data_dir")  # may differ between machines without changing the run
# Checkpoint this often inside an epoch, so a stopped quick variant resumes rather than restarts.
CHECKPOINT_EVERY = 200


@dataclass
class VariantResult:
    """What happened to one variant in this invocation."""

    name: str
    status: str  # trained, resumed, skipped (finished before), or the signal that stopped it


def default_out(spec: SweepSpec, budget: str, data: Optional[str]) -> Path:
    """``runs/E3-mnist-quick``: stable, so the same command finds and continues its sweep."""
    name = (data or spec.base.get("data", "data")).removeprefix("folder:").replace("/", "-")
    return Path("runs") / f"{spec.id}-{name}-{budget}"


def run_sweep(spec: SweepSpec, budget: str = "quick", data: Optional[str] = None, out: Optional[str] = None,
              progress: bool = False, say: Callable[[str], None] = log.info,
              devices: Sequence[str] = (), seeds: Optional[list[int]] = None) -> tuple[Path, list[VariantResult]]:
    """Run (or continue) every variant of ``spec`` (once per seed of ``seeds``, if given); returns
    the sweep folder and what each did.
    With two or more ``devices`` ("cuda:0", "cuda:1", or "cpu" more than once) each trains one
    variant at a time in its own process. A variant stopped by a signal ends the sweep there (its
    checkpoint is saved)."""
    variants = spec.expand(budget, data, seeds)
    root = Path(out) if out else default_out(spec, budget, data)
    root.mkdir(parents=True, exist_ok=True)
    write_sweep_json(root, spec, budget, variants)
    if len(devices) > 1:
        from gankit.experiments.parallel import run_on_devices

        results = run_on_devices(spec, budget, root, variants, devices, say)
    else:
        results = []
        for i, variant in enumerate(variants, 1):
            say(f"[{i}/{len(variants)}] {variant.name}")
            results.append(train_and_finish(spec, budget, variant, root / variant.name, progress))
            if stopped(results[-1]):
                break
    if not any(stopped(r) for r in results):
        from gankit.experiments.report import write_report

        write_report(root)
    return root, results


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


def write_sweep_json(root: Path, spec: SweepSpec, budget: str, variants: list[Variant]) -> None:
    """``sweep.json``: what the experiment is and which variants it has (the report reads it)."""
    doc = dict(id=spec.id, title=spec.title, about=spec.about, documents=spec.documents, sections=spec.sections,
               metrics=spec.metrics.get(budget, []), budget=budget,
               variants=[dict(name=v.name, changes=v.changes, trainer=v.trainer, group=v.group,
                              seed=v.config.seed) for v in variants])
    atomic_write_text(json.dumps(doc, indent=2, default=str) + "\n", root / "sweep.json")


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
    if variant.trainer == "autoencoder":
        from gankit.experiments.autoencoder import train_autoencoder

        if state is not None and state["step"] >= state["last_step"]:
            return "skipped"
        ended = train_autoencoder(cfg, folder)
        return ("resumed" if state is not None else "trained") if ended == "done" else ended
    from gankit.run import resume, train

    if state is None:
        ended = train(cfg, progress=progress).stopped
        return "trained" if ended in ("done", "max_steps") else ended
    if finished(state, cfg):
        return "skipped"
    ended = resume(folder, progress=progress).stopped
    return "resumed" if ended in ("done", "max_steps") else ended


def finish_variant(spec: SweepSpec, variant: Variant, folder: Path, budget: str) -> None:
    """Measure the variant (``eval.json``) and draw its report pictures, unless already done."""
    from gankit.experiments.artefacts import draw_artefacts, evaluate_variant

    metrics = spec.metrics.get(budget, [])
    if metrics and not (folder / "eval.json").exists():
        evaluate_variant(variant, folder, metrics, spec.eval_n[budget])
    draw_artefacts(spec.sections, variant, folder)
