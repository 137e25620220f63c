"""Shared fixtures: tiny seeded configs and in-memory data, and an environment that keeps every
test away from the user's real data roots and caches."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gankit import Config
from gankit.data import ImageData

# Tiny nets gain nothing from more threads, and OpenMP workers spinning against another busy
# process on a 2-core machine made single steps 50x slower: one thread keeps timings stable.
torch.set_num_threads(1)

# ../shared/data beside the checkout: real data sets that only the slow tests may read.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Point the data root and the decode cache at empty temporary folders."""
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "gankit-data"))
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "gankit-cache"))


def make_cfg(model: str = "dcgan", **overrides) -> Config:
    """A resolved config of tiny width (ngf = ndf = 8) unless ``overrides`` say otherwise."""
    values = dict(model=model, ngf=8, ndf=8, device="cpu")
    values.update(overrides)
    return Config(**values).resolved()


@pytest.fixture
def tiny_cfg():
    """Factory: ``tiny_cfg("wgan", image_size=64)`` -> a resolved tiny Config."""
    return make_cfg


def random_images(n: int = 32, channels: int = 1, size: int = 32, num_classes: int = 10,
                  seed: int = 0) -> ImageData:
    """Random uint8 images (n, channels, size, size) with random labels."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen)
    labels = torch.randint(num_classes, (n,), generator=gen)
    return ImageData("random", images, labels, [str(i) for i in range(num_classes)])


def random_points(n: int = 32, num_classes: int = 8, seed: int = 0) -> ImageData:
    """Random float 2-D points (n, 2) with random labels."""
    gen = torch.Generator().manual_seed(seed)
    return ImageData("points", torch.randn(n, 2, generator=gen), torch.randint(num_classes, (n,), generator=gen),
                     [f"mode {i}" for i in range(num_classes)])


@pytest.fixture
def tiny_images():
    """Factory for ``random_images``."""
    return random_images
