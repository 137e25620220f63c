"""The Python API: ``train``, ``resume`` and ``load`` give a ``Run`` whose generator samples
images (of a chosen class, too) and latent interpolations. The CLI is a thin layer over this."""
from __future__ import annotations

from gankit.sampling import CHECKPOINTS, GENERATORS, Run, load, to_uint8
from gankit.training.runner import resume, train

__all__ = ["CHECKPOINTS", "GENERATORS", "Run", "load", "resume", "to_uint8", "train"]
