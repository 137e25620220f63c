"""The runs under the served folder: finding them, summarising them, and loading their
generators once. Read-only: nothing here writes into the folder."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Optional

from gankit.errors import GankitError
from gankit.plots import read_metrics
from gankit.run_dir import RunDir, SweepDir
from gankit.models import MODELS
from gankit.run import load
from gankit.data import load_run_data

MAX_DEPTH = 4  # runs/SWEEP/VARIANT is three levels; deeper folders are not searched


class NotFound(LookupError):
    """A run or file that is not under the served folder."""


def inside(root: Path, relative: str) -> Path:
    """``root / relative`` resolved (symlinks too), or NotFound when that leaves ``root``."""
    if "\x00" in relative:
        raise NotFound(relative)
    path = (root / relative).resolve()
    if path != root and root not in path.parents:
        raise NotFound(relative)
    return path


class RunIndex:
    """Runs (folders with config.json and checkpoints/last.pt) and sweeps (sweep.json) under
    ``root``; generators are loaded on first use and kept."""

    def __init__(self, root: Path, device: str = "auto", generator: Optional[str] = None, checkpoint: str = "last"):
        self.root, self.device, self.generator, self.checkpoint = root.resolve(), device, generator, checkpoint
        self.loaded: dict[str, object] = {}
        self.training_images: dict[str, object] = {}
        self.lock = threading.Lock()

    def find(self) -> tuple[list[Path], list[Path]]:
        """(run folders, sweep folders), sorted."""
        runs, sweeps = [], []

        def walk(folder: Path, depth: int) -> None:
            if SweepDir(folder).spec.is_file():
                sweeps.append(folder)
            if RunDir(folder).is_trained:
                runs.append(folder)
            if depth < MAX_DEPTH:
                # Links are not followed: a link to a folder outside would list (and serve) it.
                for child in sorted(p for p in folder.iterdir()
                                    if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")):
                    walk(child, depth + 1)

        walk(self.root, 0)
        return runs, sweeps

    def name(self, folder: Path) -> str:
        return folder.relative_to(self.root).as_posix() or "."

    def summaries(self) -> dict:
        """What the run list shows: model, data set, epochs, the latest metrics; and the sweeps."""
        runs, sweeps = self.find()
        return dict(root=str(self.root), runs=[self.summary(r) for r in runs],
                    sweeps=[dict(name=self.name(s), title=json.loads(SweepDir(s).spec.read_text()).get("title", ""),
                                 report=SweepDir(s).report.is_file()) for s in sweeps])

    def summary(self, folder: Path) -> dict:
        run = RunDir(folder)
        doc = run.read_config()
        cfg, data = doc["config"], doc.get("data", {})
        last = last_row(run.metrics)
        metrics = run.read_evaluation()
        return dict(name=self.name(folder), model=cfg["model"], data=cfg["data"], epochs=last.get("epoch", 0),
                    step=last.get("step", 0), loss_d=last.get("loss_d"), loss_g=last.get("loss_g"),
                    metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                    class_ids=data.get("class_ids", []), class_names=data.get("class_names", []),
                    points=len(data.get("shape", [0, 0])) == 1)

    def folder(self, name: str) -> Path:
        """The run folder called ``name``, or NotFound."""
        folder = inside(self.root, name)
        if not RunDir(folder).is_trained:
            raise NotFound(name)
        return folder

    def details(self, name: str) -> dict:
        """The summary plus the loss curves and the per-epoch sample grids."""
        folder = self.folder(name)
        summary = self.summary(folder)
        rows = read_metrics(RunDir(folder).metrics)
        curves = {k: [r.get(k) for r in rows] for k in ("step", "loss_d", "loss_g", "d_real", "d_fake")}
        grids = sorted(p.name for p in RunDir(folder).samples.glob("epoch_*.png"))
        model = MODELS[summary["model"]] if summary["model"] in MODELS else None
        return dict(summary, curves=curves, grids=grids, conditional=bool(model and model.conditional))

    def run(self, name: str):
        """The loaded ``Run`` (generator in eval mode) of ``name``."""
        folder = self.folder(name)
        with self.lock:
            if name not in self.loaded:
                self.loaded[name] = load(folder, self.device, self.generator, self.checkpoint)
            return self.loaded[name]

    def training_set(self, name: str):
        """The run's training images (uint8, at its size), loaded once, for nearest neighbours."""
        run = self.run(name)
        with self.lock:
            if name not in self.training_images:
                self.training_images[name] = load_run_data(run.config).images
            return self.training_images[name]


def last_row(path: Path, tail: int = 8192) -> dict:
    """The last complete row of a ``.jsonl`` log, reading only its end (the list shows every run)."""
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        fh.seek(max(0, fh.seek(0, 2) - tail))
        lines = fh.read().decode(errors="replace").splitlines()
    for line in reversed(lines):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line, or the cut-off first one
    return {}


def class_label(run, raw: Optional[str]) -> Optional[int]:
    """The ``class`` parameter as a data-set label the run knows, or None."""
    if raw in (None, ""):
        return None
    try:
        label = int(raw)
    except ValueError:
        raise GankitError(f"class must be an integer label, got {raw!r}") from None
    run.class_index(label)  # unconditional model or unknown class: a GankitError naming it
    return label
