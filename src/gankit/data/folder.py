"""``folder:PATH``: any folder of images. Sub-folders holding images become classes (as in
torchvision's ImageFolder); a flat folder is one class. Decoded once at the training size."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import torch
from PIL import Image

from gankit.data.base import DatasetSpec, ImageData
from gankit.data.decode import SafeDecode, cached_decode
from gankit.errors import GankitError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def list_images(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """Image files under ``root`` with their class index and the class names."""
    if not root.is_dir():
        raise GankitError(f"folder {root} does not exist: give folder:PATH with PATH a folder of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if len(files) > len(images):
        log.warning("ignored %d non-image file(s) in %s", len(files) - len(images), root)
    class_dirs = sorted({p.relative_to(root).parts[0] for p in images if len(p.relative_to(root).parts) > 1})
    if not class_dirs:
        return images, [0] * len(images), [root.name]
    in_class = [p for p in images if len(p.relative_to(root).parts) > 1]
    if len(in_class) < len(images):
        log.warning("ignored %d image(s) directly in %s: with class sub-folders, images belong in them",
                    len(images) - len(in_class), root)
    return in_class, [class_dirs.index(p.relative_to(root).parts[0]) for p in in_class], class_dirs


def load_folder(path: str, size: int = 64, on_bad_image: str = "skip") -> ImageData:
    """Every image under ``path``, decoded to (N, C, size, size) uint8 (C = 1 if all are grey)."""
    root = Path(path).expanduser()
    files, labels, classes = list_images(root)
    if not files:
        raise GankitError(f"no images (.png, .jpg, ...) found under {root}")
    signature = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    source = SafeDecode(len(files), lambda i: Image.open(files[i]), size, lambda i: str(files[i]))
    images, kept = cached_decode(f"folder|{root.resolve()}|{size}|{signature}", source, on_bad_image)
    return ImageData(f"folder:{path}", images, torch.tensor(labels, dtype=torch.long)[kept], classes)


def folder_spec(path: str) -> DatasetSpec:
    """A DatasetSpec for ``folder:PATH``."""

    def load(roots: Sequence[Path], split: str = "train", size: int = 64, on_bad_image: str = "skip") -> ImageData:
        return load_folder(path, size, on_bad_image)

    def locate(roots: Sequence[Path]) -> Optional[str]:
        return path if Path(path).expanduser().is_dir() else None

    return DatasetSpec(load, locate, f"images under {path}", "give an existing folder: folder:PATH")
