"""What a registered model is: a network builder plus the settings of the paper it comes from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from torch import nn


@dataclass(frozen=True)
class DataShape:
    """What the networks must produce and read: images (C, H, W) or points (dim,)."""

    channels: int = 1
    size: int = 32
    num_classes: int = 10
    point_dim: Optional[int] = None  # set for 2-D toy data; then channels/size are unused

    @property
    def is_points(self) -> bool:
        return self.point_dim is not None

    @property
    def numel(self) -> int:
        """Values per sample."""
        return self.point_dim if self.is_points else self.channels * self.size * self.size

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.point_dim,) if self.is_points else (self.channels, self.size, self.size)


# build(cfg, shape) -> (generator, discriminator)
Builder = Callable[[Any, DataShape], tuple[nn.Module, nn.Module]]


@dataclass(frozen=True)
class ModelSpec:
    """A model name's networks and defaults.

    ``preset`` holds the config values the source document uses; a value may be a function of
    the other resolved values (e.g. the width as a function of the image size).
    """

    build: Builder
    preset: dict[str, Any]
    source: str
    conditional: bool = False
    data_kind: str = "image"  # "image" or "points"
    sizes: Optional[tuple[int, ...]] = None  # allowed image sizes; None = any
    description: str = ""
