"""Which device a run computes on: ``--device auto|cpu|cuda`` to a ``torch.device``."""
from __future__ import annotations

import torch

from gankit.errors import GankitError


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available, else cpu; cuda without a GPU is an error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise GankitError("--device cuda but no CUDA GPU is visible: use --device cpu or auto")
    return torch.device("cuda" if name in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
