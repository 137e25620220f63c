"""Data sets by name (``DATASETS``), loaded into memory as one tensor by ``load_data``."""
from __future__ import annotations

import logging
from typing import Optional

from gankit.data.base import DatasetSpec, ImageData, data_roots, fit_images, keep_classes, keep_per_class
from gankit.data.digits import DIGITS
from gankit.data.folder import folder_spec
from gankit.data.idx import FASHION_MNIST, KMNIST, MNIST
from gankit.data.toy2d import toy_modes, toy_spec
from gankit.data.torchvision_sets import CELEBA, CIFAR10, FLOWERS102, SVHN
from gankit.errors import GankitError
from gankit.registry import Registry

__all__ = ["DATASETS", "ImageData", "check_same_split", "dataset_spec", "load_data", "load_run_data", "data_roots",
           "toy_modes"]
log = logging.getLogger(__name__)

DATASETS: Registry[DatasetSpec] = Registry("data set")
DATASETS.add("mnist", MNIST.spec("MNIST (LeCun et al. 1998): 60,000 28×28 handwritten digits"))
DATASETS.add("fashion-mnist", FASHION_MNIST.spec("Fashion-MNIST (Xiao et al. 2017): 60,000 28×28 clothing images, 10 classes"))
DATASETS.add("kmnist", KMNIST.spec("Kuzushiji-MNIST (Clanuwat et al. 2018): 60,000 28×28 cursive Japanese characters"))
DATASETS.add("cifar10", CIFAR10)
DATASETS.add("svhn", SVHN)
DATASETS.add("celeba", CELEBA)
DATASETS.add("flowers102", FLOWERS102)
DATASETS.add("digits", DIGITS)
DATASETS.add("ring8", toy_spec("ring8"))
DATASETS.add("grid25", toy_spec("grid25"))


def dataset_spec(name: str, holdout: float = 0.1) -> DatasetSpec:
    """The spec of a registered name or of ``folder:PATH`` (holding out ``holdout`` of each class)."""
    if name.startswith("folder:"):
        return folder_spec(name[len("folder:"):], holdout)
    return DATASETS[name]


def load_data(name: str, data_dir: Optional[str] = None, image_size: int = 32, classes=None,
              fit: str = "auto", on_bad_image: str = "skip", split: str = "train", holdout: float = 0.1) -> ImageData:
    """The data set ``name`` in memory at ``image_size`` px, restricted to ``classes``.

    In-memory sets (MNIST-like, CIFAR-10, SVHN, digits) are loaded at their own size and then
    padded or resized (``fit``); sets of image files are decoded straight at ``image_size``.
    """
    spec = dataset_spec(name, holdout)
    data = spec.load(data_roots(data_dir), split=split, size=image_size, on_bad_image=on_bad_image)
    if not data.is_points:
        data.images = fit_images(data.images, image_size, fit)
    return keep_classes(data, classes)


def load_run_data(cfg, split: str = "train") -> ImageData:
    """``split`` of a run's data set, as its (resolved) config says: size, classes, fit, bad images,
    and for the training split the ``per_class`` subset."""
    data = load_data(cfg.data, cfg.data_dir, cfg.image_size, cfg.classes, cfg.fit, cfg.on_bad_image, split=split,
                     holdout=cfg.holdout)
    return keep_per_class(data, cfg.per_class) if split == "train" else data


def check_same_split(recorded: dict, data: ImageData, where) -> None:
    """A folder's held-out test split must be the one the run started with (``recorded``: the run's
    data info): else test images may have entered training, or training images the test split."""
    before, now = recorded.get("split_digest"), data.split_digest
    if before and now != before:
        raise GankitError(f"{data.name}'s train/test split differs from the one {where} was trained with (its files or "
                          "--holdout changed): restore the folder as it was, or start a new run")
