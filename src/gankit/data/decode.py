"""Decode a set of image files once into a uint8 tensor at the training size, in parallel
worker processes, skipping (or stopping at) unreadable files, and cache the result on disk."""
from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from gankit.cache import cache_root
from gankit.errors import GankitError
from gankit.atomic import atomic_torch_save

log = logging.getLogger(__name__)

# What a broken, truncated or hostile file raises in PIL and torchvision's loaders.
BAD_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError, IndexError)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB; 16-bit and 32-bit grey are scaled down, not clipped."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        hi = 65535 if img.mode.startswith("I;16") else max(img.getextrema()[1], 1)
        img = img.convert("I").point(lambda v: v * (255 / hi)).convert("L")
    elif img.mode == "F":
        img = img.convert("L")
    return img.convert("RGB")


class SafeDecode(Dataset):
    """Item i -> (uint8 (3, size, size), i, ""), or (None, i, reason) when the file is unreadable."""

    def __init__(self, n: int, open_item: Callable[[int], Image.Image], size: int,
                 describe: Callable[[int], str]):
        self.n, self.open_item, self.describe = n, open_item, describe
        self.transform = v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size), v2.PILToTensor()])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = self.open_item(i)
                img.load()  # decode now, so a truncated file fails here, not later
                return self.transform(to_rgb(img)), i, ""
        except BAD_IMAGE_ERRORS + (Image.DecompressionBombWarning,) as err:
            return None, i, f"{self.describe(i)}: {type(err).__name__}: {err}"


def _collate(batch):
    return batch


def decode_all(source: SafeDecode, on_bad_image: str = "skip") -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 (N, C, size, size), int64 indices of the items kept); C = 1 when all are grey."""
    workers = min(4, os.cpu_count() or 1) if len(source) > 256 else 0
    loader = DataLoader(source, batch_size=64, num_workers=workers, collate_fn=_collate)
    images, kept, bad = [], [], []
    for batch in loader:
        for img, i, reason in batch:
            if img is None:
                if on_bad_image == "stop":
                    raise GankitError(f"unreadable image {reason}; remove it or pass --on-bad-image skip")
                bad.append(reason)
            else:
                images.append(img)
                kept.append(i)
    if bad:
        log.warning("skipped %d unreadable image(s), e.g. %s", len(bad), bad[0])
    if not images:
        raise GankitError(f"no readable images among {len(source)} files" + (f", e.g. {bad[0]}" if bad else ""))
    x = torch.stack(images)
    if torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]):
        x = x[:, :1].contiguous()  # a grey data set stays one channel
    return x, torch.tensor(kept, dtype=torch.long)


def cache_dir() -> Path:
    """Where decoded sets are kept: $GANKIT_CACHE or ~/.cache/gankit/prepared."""
    return cache_root() / "prepared"


def cached_decode(key: str, source: SafeDecode, on_bad_image: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``decode_all`` through a cache file named by a hash of ``key`` (which must change when
    the files, the size or the bad-image policy change)."""
    path = cache_dir() / (hashlib.sha1(f"{key}|{on_bad_image}".encode()).hexdigest()[:16] + ".pt")
    if path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            return saved["images"], saved["kept"]
        except Exception:  # a stale or torn cache is rebuilt, never trusted
            log.warning("rebuilding unreadable cache %s", path)
    images, kept = decode_all(source, on_bad_image)
    try:
        atomic_torch_save({"images": images, "kept": kept}, path)
    except OSError as err:  # a cache is an optimisation: a read-only home must not stop training
        log.warning("could not cache decoded images in %s: %s", path, err)
    return images, kept


def decode_dataset(ds, size: int, key: str, on_bad_image: str = "skip") -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a torchvision data set whose items are (PIL image, target)."""
    source = SafeDecode(len(ds), lambda i: ds[i][0], size, lambda i: f"item {i} of {key}")
    return cached_decode(f"{key}|{len(ds)}|{size}", source, on_bad_image)
