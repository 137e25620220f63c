"""Sets that torchvision reads and downloads: CIFAR-10 and SVHN (kept as arrays), CelebA and
Oxford Flowers-102 (JPEG files, decoded once at the training size by ``decode``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from gankit.data.base import DatasetSpec, ImageData
from gankit.data.decode import decode_dataset
from gankit.errors import GankitError, first_line


class TorchvisionSet:
    """A torchvision data set found under a root by a marker file, or downloaded there."""

    def __init__(self, name: str, tv_class: str, marker: str, split_kwargs: Callable[[str], dict],
                 how: str):
        self.name, self.tv_class, self.marker = name, tv_class, marker
        self.split_kwargs, self.how = split_kwargs, how

    def locate(self, roots: Sequence[Path]) -> Optional[str]:
        """The first root holding the marker file, or None."""
        for root in roots:
            if (root / self.marker).exists():
                return str(root)
        return None

    def open(self, roots: Sequence[Path], split: str, **tv_kwargs):
        """The torchvision dataset object; downloads into the first root when not found."""
        import torchvision.datasets as tvd

        found = self.locate(roots)
        root = found or str(roots[0])
        try:
            return getattr(tvd, self.tv_class)(root, download=found is None, **self.split_kwargs(split), **tv_kwargs)
        except Exception as err:  # network failure, missing or corrupt files
            raise GankitError(f"{self.name} not usable under {root} ({first_line(err)}): "
                              f"{self.how}") from None


def _cifar_arrays(ds) -> tuple[np.ndarray, np.ndarray]:
    return ds.data.transpose(0, 3, 1, 2), np.asarray(ds.targets)  # (N, 32, 32, 3) -> NCHW


def _svhn_arrays(ds) -> tuple[np.ndarray, np.ndarray]:
    return ds.data, np.asarray(ds.labels)  # already NCHW


def array_set(tv: TorchvisionSet, to_arrays, classes: list[str], description: str) -> DatasetSpec:
    """A DatasetSpec for a set torchvision holds as one array."""

    def load(roots: Sequence[Path], split: str = "train", **_) -> ImageData:
        images, labels = to_arrays(tv.open(roots, split))
        return ImageData(tv.name, torch.from_numpy(np.ascontiguousarray(images)),
                         torch.from_numpy(labels.astype(np.int64)), classes)

    return DatasetSpec(load, tv.locate, description, tv.how, native_size=32)


def decoded_set(tv: TorchvisionSet, splits: Callable[[str], list[str]], labels_of, description: str,
                classes: Callable[[object], list[str]]) -> DatasetSpec:
    """A DatasetSpec for a set of image files: decoded once at the requested size, then cached."""

    def load(roots: Sequence[Path], split: str = "train", size: int = 64, **kw) -> ImageData:
        parts = [tv.open(roots, s) for s in splits(split)]
        images, labels = [], []
        for ds in parts:
            x, keep = decode_dataset(ds, size, key=f"{tv.name}-{split}-{ds.root}", **kw)
            images.append(x)
            labels.append(labels_of(ds)[keep])
        return ImageData(tv.name, torch.cat(images), torch.cat(labels), classes(parts[0]))

    return DatasetSpec(load, tv.locate, description, tv.how)


CIFAR10 = array_set(
    TorchvisionSet("cifar10", "CIFAR10", "cifar-10-batches-py/batches.meta",
                   lambda split: dict(train=split == "train"),
                   "online: downloaded by torchvision; offline: unpack cifar-10-python.tar.gz in ROOT "
                   "(ROOT/cifar-10-batches-py) and pass --data-dir ROOT"),
    _cifar_arrays,
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "CIFAR-10 (Krizhevsky 2009): 50,000 32×32 colour photos, 10 classes")

SVHN = array_set(
    TorchvisionSet("svhn", "SVHN", "train_32x32.mat", lambda split: dict(split=split),
                   "online: downloaded by torchvision; offline: put train_32x32.mat and test_32x32.mat "
                   "in ROOT and pass --data-dir ROOT"),
    _svhn_arrays, [str(i) for i in range(10)],
    "SVHN (Netzer et al. 2011): 73,257 32×32 house-number digits, 10 classes")

CELEBA = decoded_set(
    TorchvisionSet("celeba", "CelebA", "celeba/img_align_celeba", lambda split: dict(split=split),
                   "online: torchvision downloads it (Google Drive, often rate-limited); offline: put "
                   "img_align_celeba/ and list_eval_partition.txt etc. in ROOT/celeba and pass --data-dir ROOT"),
    splits=lambda split: [split], labels_of=lambda ds: torch.zeros(len(ds), dtype=torch.long),
    classes=lambda ds: ["face"],
    description="CelebA (Liu et al. 2015): 162,770 aligned celebrity faces, center-cropped")

FLOWERS102 = decoded_set(
    TorchvisionSet("flowers102", "Flowers102", "flowers-102/jpg", lambda split: dict(split=split),
                   "online: downloaded by torchvision; offline: put jpg/, imagelabels.mat and setid.mat in "
                   "ROOT/flowers-102 and pass --data-dir ROOT"),
    # The GAN learns from train and val (2,040 images); the test split (6,149) stays unseen, to compare.
    splits=lambda split: ["train", "val"] if split == "train" else ["test"],
    labels_of=lambda ds: torch.as_tensor(ds._labels, dtype=torch.long),
    classes=lambda ds: [str(i) for i in range(102)],
    description="Oxford Flowers-102 (Nilsback & Zisserman 2008): 8,189 flower photos, 102 classes")
