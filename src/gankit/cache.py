"""The one cache root: decoded data sets, domain classifiers, converted weights, Inception
backends and real-data statistics all live under ``$GANKIT_CACHE`` (default ``~/.cache/gankit``)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$GANKIT_CACHE, else ~/.cache/gankit."""
    return Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit"))
