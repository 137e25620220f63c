"""The run directory: its layout (the one place its file names are spelled, SPEC §7), its
self-description (``config.json``) and the repair of its metrics log on resume; and the sweep
folder's two files. No torch at import: the web pages and the report read runs through it."""
from __future__ import annotations

import json
import platform
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gankit._version import __version__
from gankit.errors import GankitError
from gankit.jsonl import read_jsonl
from gankit.atomic import atomic_write_text


@dataclass(frozen=True)
class RunDir:
    """Paths of one run, as SPEC §7 names them."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def losses(self) -> Path:
        return self.root / "losses.png"

    @property
    def eval_history(self) -> Path:
        return self.root / "eval_history.jsonl"

    @property
    def evaluation(self) -> Path:
        return self.root / "eval.json"

    @property
    def augment(self) -> Path:
        return self.root / "augment.json"

    @property
    def checkpoint(self) -> Path:
        return self.checkpoint_named("last")

    @property
    def best(self) -> Path:
        return self.checkpoint_named("best")

    def checkpoint_named(self, name: str) -> Path:
        """``checkpoints/NAME.pt``: ``last`` (resume) or ``best`` (the best monitored metric)."""
        return self.root / "checkpoints" / f"{name}.pt"

    @property
    def is_trained(self) -> bool:
        """A run that can sample: its config and last checkpoint are both there."""
        return self.config.is_file() and self.checkpoint.is_file()

    def read_config(self) -> dict:
        """``config.json`` as written by :func:`write_config_json` (config, data, versions)."""
        return json.loads(self.config.read_text())

    def read_evaluation(self) -> dict:
        """``eval.json``'s metrics, or {} before the run was measured."""
        return json.loads(self.evaluation.read_text()).get("metrics", {}) if self.evaluation.exists() else {}


@dataclass(frozen=True)
class SweepDir:
    """Paths of one sweep folder: its description and its report; each variant is a RunDir."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "sweep.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def variant(self, name: str) -> RunDir:
        return RunDir(self.root / name)


def default_out(model: str, data: str) -> Path:
    """runs/MODEL-DATA-YYYYmmdd-HHMMSS (a folder data set by its last path part)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(data.removeprefix("folder:")).name if data.startswith("folder:") else data)
    return Path("runs") / f"{model}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def ensure_new(out: str | Path) -> RunDir:
    """The RunDir for ``out``; an existing run there is an error, never overwritten."""
    run = RunDir(Path(out))
    if run.checkpoint.exists() or run.metrics.exists():
        raise GankitError(f"{run.root} already holds a run: `gankit resume {run.root}` continues it, "
                          "or choose another --out")
    return run


def create_run_dir(out: str | Path) -> RunDir:
    """Make a new run directory (see ``ensure_new``)."""
    run = ensure_new(out)
    try:
        run.samples.mkdir(parents=True, exist_ok=True)
        run.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GankitError(f"cannot create run directory {run.root}: {err.strerror or err}") from None
    return run


def git_commit() -> str | None:
    """The commit of the gankit source tree, when it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def write_config_json(run: RunDir, cfg_dict: dict, data_info: dict) -> None:
    """``config.json``: the resolved config, the data it saw, versions and the git commit."""
    import torch  # here, not at the top: readers of run directories (web, report) need no torch
    import torchvision

    doc = dict(config=cfg_dict, data=data_info, versions=dict(
        gankit=__version__, torch=torch.__version__, torchvision=torchvision.__version__,
        python=platform.python_version()), git_commit=git_commit())
    atomic_write_text(json.dumps(doc, indent=2) + "\n", run.config)


def truncate_metrics(path: Path, step: int) -> None:
    """Drop rows of a ``.jsonl`` log written after the checkpoint being resumed (a kill lands
    between checkpoints), so the resumed log has no duplicated steps."""
    if not path.exists():
        return
    keep = [row for row in read_jsonl(path) if isinstance(row.get("step"), int) and row["step"] <= step]
    atomic_write_text("".join(json.dumps(row) + "\n" for row in keep), path)
