"""What a registered model is: a network builder plus the settings of the paper it comes from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from torch import nn

from gankit.data.shape import DataShape

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
