"""The run directory: its layout, its self-description (``config.json``) and the repair of its
metrics log on resume."""
from __future__ import annotations

import json
import platform
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit._version import __version__
from gankit.errors import GankitError
from gankit.jsonl import read_jsonl
from gankit.training.atomic import atomic_write_text


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
    def checkpoint(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    @property
    def best(self) -> Path:
        return self.root / "checkpoints" / "best.pt"


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
