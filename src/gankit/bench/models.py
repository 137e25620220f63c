"""What `gankit bench` measures, by name. No torch here: ``gankit bench --help`` lists them."""
from __future__ import annotations

from typing import Any

# name -> config fields; the example's setting is dcgan-64 (ngf = ndf = 64, batch 64, z 100).
BENCH_MODELS: dict[str, dict[str, Any]] = {
    "dcgan-64": dict(model="dcgan", image_size=64, ngf=64, ndf=64),
    "dcgan-32": dict(model="dcgan", image_size=32),
    "gan": dict(model="gan"),
    "cdcgan": dict(model="cdcgan"),
    "wgan-gp": dict(model="wgan-gp"),
}
BASELINE_MODELS = ("dcgan-64", "dcgan-32", "gan", "cdcgan")  # the example's loop has no critic steps
