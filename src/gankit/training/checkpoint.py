"""Checkpoints: everything needed to continue a run exactly (networks, optimizers, progress,
RNG states, the fixed noise and the config), saved atomically and loaded with
``weights_only=True`` so that a crafted file cannot run code."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError, first_line
from gankit.atomic import atomic_torch_save
from gankit.run_dir import RunDir

FORMAT = 1  # bumped when the layout changes; a newer file is refused with a clear message
REQUIRED_KEYS = {"format", "config", "data", "generator", "discriminator", "opt_g", "opt_d", "epoch", "batch",
                 "step", "train_seconds", "rng_cpu", "rng_noise", "fixed_z", "fixed_y"}


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` (tensors, numbers, strings, dicts and lists only) atomically."""
    try:
        atomic_torch_save({"format": FORMAT, **state}, path)
    except OSError as err:
        then = (f"the previous checkpoint is intact: free disk space, then `gankit resume {path.parent.parent}`"
                if path.exists() else "no checkpoint had been saved yet: free disk space and train again")
        raise GankitError(f"could not write checkpoint {path}: {err.strerror or err}; {then}") from None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely; every way a file can be wrong is one clear ``GankitError``."""
    path = Path(path)
    if path.is_dir():
        path = RunDir(path).checkpoint
    if not path.is_file():
        raise GankitError(f"no checkpoint at {path}: give a run directory made by `gankit train`")
    try:
        # torch.load does not check the zip's CRCs: flipped bits would load as wrong weights
        damaged = zipfile.ZipFile(path).testzip() if zipfile.is_zipfile(path) else None
        if damaged:
            raise GankitError(f"{path} is corrupt ({damaged} fails its checksum): restore it from a copy or start "
                              "the run again")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise GankitError(f"{path} holds objects a safe load refuses ({first_line(err)}): "
                          "it is not a gankit checkpoint, and it was not executed") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise GankitError(f"{path} is corrupt or truncated ({first_line(err)}): "
                          "restore it from a copy or start the run again") from None
    if isinstance(state, dict) and isinstance(state.get("format"), int) and state["format"] > FORMAT:
        raise GankitError(f"{path} was written by a newer gankit (checkpoint format {state['format']}, "
                          f"this one reads up to {FORMAT}): upgrade gankit")
    missing = REQUIRED_KEYS - set(state) if isinstance(state, dict) else REQUIRED_KEYS
    if missing:
        raise GankitError(f"{path} is not a gankit checkpoint (it lacks {', '.join(sorted(missing))})")
    return state


def load_weights(module: torch.nn.Module, weights: dict, what: str, path: Any) -> None:
    """``load_state_dict`` with a one-line error when the checkpoint is of another model or shape."""
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        detail = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), "")
        raise GankitError(f"{path}: the saved {what} does not fit this model ({detail[:120]}): "
                          "it was trained with another model, size or width; use that run's settings") from None
