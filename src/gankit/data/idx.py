"""MNIST-like sets stored as IDX files (LeCun & Cortes): MNIST, Fashion-MNIST, KMNIST.

Files are looked for, in order, under each data root in torchvision's layout
(``ROOT/MNIST/raw/train-images-idx3-ubyte[.gz]``) and in the path of a system package (Debian's
``dataset-fashion-mnist``); when none is found, torchvision downloads them into the first root.
"""
from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from gankit.data.base import DatasetSpec, ImageData
from gankit.errors import GankitError, first_line

log = logging.getLogger(__name__)

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as an array: magic 0 0 dtype ndim, big-endian dims, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
        dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
        dims = np.frombuffer(raw, ">i4", ndim, offset=4)
        return np.frombuffer(raw, dtype, int(np.prod(dims)), offset=4 + 4 * ndim).reshape(dims)
    except (OSError, EOFError, KeyError, IndexError, ValueError) as err:
        raise GankitError(f"{path} is not a readable IDX file ({err}): delete it and fetch it again") from None


def find_file(folder: Path, stem: str) -> Optional[Path]:
    """``stem`` or ``stem.gz`` in ``folder``, if there."""
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


class IdxDataset:
    """One IDX-format data set: its torchvision class (folder name and downloader) and classes."""

    def __init__(self, name: str, tv_class: str, classes: list[str], system_dirs: Sequence[str] = ()):
        self.name, self.tv_class, self.classes = name, tv_class, classes
        self.system_dirs = [Path(d) for d in system_dirs]

    def folders(self, roots: Sequence[Path]) -> list[Path]:
        return [r / self.tv_class / "raw" for r in roots] + self.system_dirs

    def locate(self, roots: Sequence[Path]) -> Optional[str]:
        """The first folder holding all four files, or None."""
        for folder in self.folders(roots):
            if all(find_file(folder, stem) for pair in FILES.values() for stem in pair):
                return str(folder)
        return None

    def download(self, root: Path) -> None:
        """torchvision's own download (online users); raises GankitError when it fails."""
        import torchvision.datasets as tvd

        try:
            getattr(tvd, self.tv_class)(str(root), train=True, download=True)
        except Exception as err:  # any network or file error: say what to do instead
            where = ", ".join(str(f) for f in self.folders([root]))
            raise GankitError(
                f"{self.name} not found offline (looked in {where}) and the download failed "
                f"({first_line(err)}): put {FILES['train'][0]}.gz and the other IDX files "
                f"in {root / self.tv_class / 'raw'}, or pass --data-dir ROOT") from None

    def load(self, roots: Sequence[Path], split: str = "train", **_) -> ImageData:
        """All images of ``split`` as uint8 (N, 1, 28, 28)."""
        folder = self.locate(roots)
        if folder is None:
            self.download(roots[0])
            folder = self.locate(roots)
        images_stem, labels_stem = FILES[split]
        images = read_idx(find_file(Path(folder), images_stem))
        labels = read_idx(find_file(Path(folder), labels_stem))
        if images.ndim != 3 or len(images) != len(labels):
            raise GankitError(f"{folder}: {images_stem} and {labels_stem} do not match: fetch them again")
        log.info("%s %s: %d images from %s", self.name, split, len(images), folder)
        return ImageData(self.name, torch.from_numpy(images.copy()).unsqueeze(1),
                         torch.from_numpy(labels.astype(np.int64)), list(self.classes))

    def spec(self, description: str) -> DatasetSpec:
        how = (f"online: downloaded by torchvision on first use; offline: put the IDX files in "
               f"ROOT/{self.tv_class}/raw and pass --data-dir ROOT or set GANKIT_DATA")
        if self.system_dirs:
            how += " (Debian: apt-get install dataset-fashion-mnist)"
        return DatasetSpec(self.load, self.locate, description, how, native_size=28)


DIGITS = [str(i) for i in range(10)]
MNIST = IdxDataset("mnist", "MNIST", DIGITS)
FASHION_MNIST = IdxDataset("fashion-mnist", "FashionMNIST",
                           ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                            "Sneaker", "Bag", "Ankle boot"],
                           system_dirs=["/usr/share/datasets/fashion-mnist"])
KMNIST = IdxDataset("kmnist", "KMNIST", ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"])
