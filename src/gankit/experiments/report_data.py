"""What a report shows, as data: the runs of a sweep folder (or one run directory) read once from
the files runs write — ``sweep.json``, ``config.json``, ``metrics.jsonl``, ``eval.json``,
``eval_history.jsonl`` and the PNGs — and the sections built from them. Nothing here writes HTML:
``report.py`` renders these values through an autoescaping template."""
from __future__ import annotations

import base64
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from gankit.errors import GankitError
from gankit.plots import read_metrics
from gankit.run_dir import RunDir, SweepDir


@dataclass
class RunView:
    """One run's files, read once."""

    name: str
    dir: Path
    changes: dict
    trainer: str = "gan"
    config: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    group: str = ""  # the variant this run is one seed of (its own name when not seeded)

    @classmethod
    def read(cls, name: str, directory: Path, changes: dict, trainer: str = "gan", group: str = "") -> "RunView":
        run = RunDir(directory)
        config = run.read_config().get("config", {}) if run.config.exists() else {}
        return cls(name, directory, changes, config.get("trainer", trainer), config, read_metrics(run.metrics),
                   run.read_evaluation(), read_metrics(run.eval_history), group or name)

    def latest_grid(self) -> Optional[Path]:
        """The last per-epoch sample grid, or the autoencoder's reconstructions."""
        grids = sorted(RunDir(self.dir).samples.glob("epoch_*.png"))
        return grids[-1] if grids else next(iter(self.files("reconstructions.png")), None)

    def files(self, name: str) -> list[Path]:
        return [self.dir / name] if (self.dir / name).exists() else []

    def final(self, key: str) -> Optional[float]:
        """Mean of ``key`` over the last tenth of the logged rows (a single row is too noisy)."""
        values = [r[key] for r in self.rows if r.get(key) is not None]
        tail = values[-max(1, len(values) // 10):]
        return sum(tail) / len(tail) if tail else None


@dataclass
class Report:
    """What the page is about and the runs it compares."""

    title: str
    about: str
    documents: str
    sections: list
    runs: list
    budget: str = ""

    @property
    def series(self) -> dict:
        return {r.name: r.rows for r in self.runs}

    def groups(self) -> dict[str, list[RunView]]:
        """Runs by variant: one per seed under ``--seeds``, else one each."""
        out: dict[str, list[RunView]] = {}
        for r in self.runs:
            out.setdefault(r.group, []).append(r)
        return out


def read_report(directory: Path, sections: list[str]) -> Report:
    """A sweep folder (``sweep.json``) or a single run directory (``config.json``, shown with
    ``sections``)."""
    sweep = SweepDir(directory)
    if sweep.spec.exists():
        doc = json.loads(sweep.spec.read_text())
        runs = [RunView.read(v["name"], directory / v["name"], v["changes"], v.get("trainer", "gan"), v.get("group", ""))
                for v in doc["variants"] if sweep.variant(v["name"]).config.exists()]
        return Report(f"{doc['id']}: {doc['title']}", doc["about"], doc["documents"], doc["sections"], runs,
                      doc.get("budget", ""))
    if RunDir(directory).config.exists():
        run = RunView.read(directory.name, directory, {})
        return Report(f"run {directory.name}", f"{run.config.get('model')} on {run.config.get('data')}", "",
                      sections, [run])
    raise GankitError(f"{directory} is neither a sweep folder (sweep.json) nor a run directory (config.json)")


# --- what a section is ------------------------------------------------------------------------
@dataclass
class Table:
    head: list[str]
    rows: list[list[str]]


@dataclass
class Picture:
    """An image inlined as a data URI (the page must open from file:// alone), with a caption."""

    caption: str
    uri: str


@dataclass
class Section:
    """One part of the page: plots side by side, then pictures with captions, then tables."""

    title: str
    note: str = ""
    plots: list[Picture] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def picture(data: bytes | Path, caption: str) -> Picture:
    """A PNG (bytes or a file) as an inlined picture."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    return Picture(caption, "data:image/png;base64," + base64.b64encode(raw).decode())


def number(value) -> str:
    """A table cell: 4 significant digits, integers as they are, "—" for nothing."""
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def seed_summary(values: list[float]) -> Optional[str]:
    """"mean ± std (n)" with the sample standard deviation; None without values."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4g} ± {std:.2g} ({len(values)})"
