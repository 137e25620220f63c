"""scikit-learn's 8×8 handwritten digits (UCI optdigits test set, 1,797 images): shipped inside
scikit-learn, so always available offline — the data of the demo-free tests."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from gankit.data.base import DatasetSpec, ImageData


def load_digits(roots: Sequence[Path] = (), split: str = "train", **_) -> ImageData:
    """uint8 (N, 1, 8, 8) digits scaled from 0..16 to 0..255: 'train' is the first 80 % (1,437),
    'test' the other 360, so a classifier can be scored on images it never saw."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    cut = int(0.8 * len(images))
    part = slice(0, cut) if split == "train" else slice(cut, None)
    return ImageData("digits", torch.from_numpy(images[part]), torch.from_numpy(labels[part]),
                     [str(i) for i in range(10)])


def locate_digits(roots: Sequence[Path]) -> Optional[str]:
    return "inside scikit-learn"


DIGITS = DatasetSpec(load_digits, locate_digits, "scikit-learn's 8×8 digits (1,437 train, 360 test), upscaled; always available",
                     "pip install scikit-learn", native_size=8)
