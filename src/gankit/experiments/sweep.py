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
from pathlib import Path
from typing import Callable, Optional, Sequence

from gankit.experiments.parallel import run_on_devices
from gankit.experiments.spec import SweepSpec, Variant
from gankit.experiments.variant import VariantResult, stopped, train_and_finish
from gankit.atomic import atomic_write_text
from gankit.run_dir import SweepDir
from gankit.experiments.report import write_report

log = logging.getLogger(__name__)


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
        results = run_on_devices(spec, budget, root, variants, devices, say)
    else:
        results = []
        for i, variant in enumerate(variants, 1):
            say(f"[{i}/{len(variants)}] {variant.name}")
            results.append(train_and_finish(spec, budget, variant, root / variant.name, progress))
            if stopped(results[-1]):
                break
    if not any(stopped(r) for r in results):
        write_report(root)
    return root, results


def write_sweep_json(root: Path, spec: SweepSpec, budget: str, variants: list[Variant]) -> None:
    """``sweep.json``: what the experiment is and which variants it has (the report reads it)."""
    doc = dict(id=spec.id, title=spec.title, about=spec.about, documents=spec.documents, sections=spec.sections,
               metrics=spec.metrics.get(budget, []), budget=budget,
               variants=[dict(name=v.name, changes=v.changes, trainer=v.trainer, group=v.group,
                              seed=v.config.seed) for v in variants])
    atomic_write_text(json.dumps(doc, indent=2, default=str) + "\n", SweepDir(root).spec)


