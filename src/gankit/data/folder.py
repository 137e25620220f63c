"""``folder:PATH``: any folder of images. Sub-folders holding images become classes (as in
torchvision's ImageFolder); a flat folder is one class. Decoded once at the training size.

Its test split, which the GAN never sees: ``PATH/test`` when PATH has ``train/`` and ``test/``
sub-folders (each then holds the class folders), else a stratified share ``holdout`` of every
class, chosen by the SHA-256 of each file's path relative to PATH — not by any seed, so a resumed
run, ``gankit eval`` and ``gankit augment`` always agree on it, and adding files moves no other
file across. ``split_digest`` names the held-out list; runs record it."""
from __future__ import annotations

import hashlib
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


def path_hash(path: Path, root: Path) -> str:
    return hashlib.sha256(path.relative_to(root).as_posix().encode()).hexdigest()


def held_out(files: list[Path], labels: list[int], root: Path, share: float) -> set[int]:
    """Indices of the test split: per class, the ``round(share · n)`` files (at least one when the
    class has two or more and share > 0) first in order of their path's hash."""
    chosen: set[int] = set()
    for label in sorted(set(labels)):
        members = sorted((i for i, y in enumerate(labels) if y == label), key=lambda i: path_hash(files[i], root))
        k = round(share * len(members))
        if share > 0 and len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        chosen.update(members[:k])
    return chosen


def split_files(root: Path, split: str, holdout: float) -> tuple[list[Path], list[int], list[str], str]:
    """The files, labels and class names of ``split`` ("train" or "test"), and the digest of the
    test split's file list."""
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_files, train_labels, classes = list_images(root / "train")
        test_files, test_labels, test_classes = list_images(root / "test")
        if len(classes) == 1 and test_classes == ["test"]:  # flat train/ and test/: one class
            test_classes = classes
        extra = sorted(set(test_classes) - set(classes))
        if extra:
            raise GankitError(f"{root / 'test'} has class folder(s) {', '.join(extra)} that {root / 'train'} lacks: "
                              "give both splits the same class sub-folders")
        test_labels = [classes.index(test_classes[y]) for y in test_labels]
        test = [(f.relative_to(root).as_posix()) for f in test_files]
        picked = (train_files, train_labels) if split == "train" else (test_files, test_labels)
        return picked[0], picked[1], classes, hashlib.sha256("\n".join(test).encode()).hexdigest()[:16]
    files, labels, classes = list_images(root)
    test_index = held_out(files, labels, root, holdout)
    digest = hashlib.sha256("\n".join(sorted(files[i].relative_to(root).as_posix() for i in test_index)).encode())
    keep = [i for i in range(len(files)) if (i in test_index) == (split == "test")]
    return [files[i] for i in keep], [labels[i] for i in keep], classes, digest.hexdigest()[:16]


def load_folder(path: str, size: int = 64, on_bad_image: str = "skip", split: str = "train",
                holdout: float = 0.1) -> ImageData:
    """The images of ``split`` under ``path``, decoded to (N, C, size, size) uint8 (C = 1 if all are grey)."""
    root = Path(path).expanduser()
    files, labels, classes, digest = split_files(root, split, holdout)
    if not files:
        if split == "test":
            raise GankitError(f"folder {root} has no test images (--holdout 0 and no test/ sub-folder): "
                              "train with --holdout 0.1, or add PATH/train and PATH/test")
        raise GankitError(f"no images (.png, .jpg, ...) found under {root}")
    signature = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    source = SafeDecode(len(files), lambda i: Image.open(files[i]), size, lambda i: str(files[i]))
    images, kept = cached_decode(f"folder|{root.resolve()}|{size}|{signature}", source, on_bad_image)
    data = ImageData(f"folder:{path}", images, torch.tensor(labels, dtype=torch.long)[kept], classes)
    data.split_digest = digest
    return data


def folder_spec(path: str, holdout: float = 0.1) -> DatasetSpec:
    """A DatasetSpec for ``folder:PATH`` with a held-out share ``holdout`` (see the module)."""

    def load(roots: Sequence[Path], split: str = "train", size: int = 64, on_bad_image: str = "skip") -> ImageData:
        return load_folder(path, size, on_bad_image, split, holdout)

    def locate(roots: Sequence[Path]) -> Optional[str]:
        return path if Path(path).expanduser().is_dir() else None

    return DatasetSpec(load, locate, f"images under {path}", "give an existing folder: folder:PATH")
