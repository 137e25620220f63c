"""The in-memory form every data set takes, and the few operations on it.

Images are one uint8 tensor (N, C, H, W), sliced into batches on the training device, so a
training step does no per-image Python work; 2-D toy data is a float tensor (N, 2).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.data.shape import DataShape


@dataclass
class ImageData:
    """A labelled data set held in memory.

    images: uint8 (N, C, H, W), or float32 (N, 2) for toy points.
    labels: int64 (N,) in 0..K-1.
    class_ids: the original label of each class index (differs after a ``classes`` subset).
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    class_ids: Optional[list[int]] = None
    split_digest: Optional[str] = None  # names the test split's file list where it is drawn from the files (folders)

    def __post_init__(self) -> None:
        if self.class_ids is None:
            self.class_ids = list(range(len(self.class_names)))

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def is_points(self) -> bool:
        return self.images.dtype != torch.uint8

    @property
    def shape(self) -> DataShape:
        """What the networks must produce and read."""
        k = len(self.class_names)
        if self.is_points:
            return DataShape(num_classes=k, point_dim=self.images.shape[1])
        return DataShape(channels=self.images.shape[1], size=self.images.shape[-1], num_classes=k)


@dataclass(frozen=True)
class DatasetSpec:
    """A named data set: ``load(roots, split, size, cfg) -> ImageData`` and ``locate(roots)``,
    which says where its files are offline (a path) or returns None."""

    load: Callable[..., ImageData]
    locate: Callable[[Sequence[Path]], Optional[str]]
    description: str
    how_to_get: str
    native_size: Optional[int] = None  # None: decoded straight to the requested size


def data_roots(data_dir: Optional[str]) -> list[Path]:
    """Where to look for data sets, first match wins: --data-dir, $GANKIT_DATA, ~/.cache/gankit/data.
    The first is also where online downloads go."""
    roots = [data_dir, os.environ.get("GANKIT_DATA"), Path.home() / ".cache" / "gankit" / "data"]
    return [Path(r).expanduser() for r in roots if r]


def keep_classes(data: ImageData, classes: Optional[Sequence[int]]) -> ImageData:
    """The subset with the given original labels, relabelled 0..k-1 in the order given."""
    if not classes:
        return data
    unknown = [c for c in classes if c not in data.class_ids]
    if unknown:
        raise GankitError(f"--classes {','.join(map(str, unknown))} not in {data.name}, whose labels are "
                          f"{data.class_ids[0]}..{data.class_ids[-1]}")
    index = [data.class_ids.index(c) for c in classes]
    keep = torch.isin(data.labels, torch.tensor(index))
    remap = torch.full((len(data.class_names),), -1, dtype=torch.long)
    remap[torch.tensor(index)] = torch.arange(len(index))
    return replace(data, images=data.images[keep], labels=remap[data.labels[keep]],
                   class_names=[data.class_names[i] for i in index], class_ids=list(classes))


SUBSET_SEED = 0  # the draw of --per-class images: fixed, so every run and `gankit augment` use the same images


def keep_per_class(data: ImageData, k: Optional[int]) -> ImageData:
    """The first ``k`` images of each class in a fixed random order (not the run's seed: GAN runs
    and ``gankit augment --real-per-class k`` then see the same images); every image if ``k`` is None."""
    if not k:
        return data
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(SUBSET_SEED))
    counts = torch.bincount(data.labels, minlength=len(data.class_names))
    short = [data.class_names[c] for c in range(len(counts)) if counts[c] < k]
    if short:
        raise GankitError(f"--per-class {k}: class {short[0]} of {data.name} has only {int(counts.min())} images")
    ranked = data.labels[order]
    keep = torch.cat([order[ranked == c][:k] for c in range(len(data.class_names))]).sort().values
    return replace(data, images=data.images[keep], labels=data.labels[keep])


def fit_images(images: torch.Tensor, size: int, mode: str = "auto") -> torch.Tensor:
    """uint8 (N, C, h, h) -> (N, C, size, size): zero-pad (28 -> 32, as the practical work does)
    or resize with antialiasing. ``auto`` pads when the difference is at most 4 px."""
    h = images.shape[-1]
    if h == size:
        return images
    pad = mode == "pad" or (mode == "auto" and 0 < size - h <= 4)
    if pad:
        if size < h or (size - h) % 2:
            raise GankitError(f"cannot pad {h} px images to {size} px: use --fit resize")
        p = (size - h) // 2
        return F.pad(images, (p, p, p, p))  # 0 is the background of MNIST-like sets
    out = torch.empty(images.shape[0], images.shape[1], size, size, dtype=torch.uint8)
    for i in range(0, len(images), 4096):  # chunks keep the float copy small
        chunk = F.interpolate(images[i:i + 4096].float(), size=(size, size), mode="bilinear",
                              antialias=True, align_corners=False)
        out[i:i + 4096] = chunk.round().clamp(0, 255).to(torch.uint8)
    return out
