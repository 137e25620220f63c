"""What a data set gives the networks to produce and read: images (C, H, W) or points (dim,),
and how many classes. The data sets report it; the model builders are built for it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


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
