"""Run under torchrun by tests/test_distributed.py: trains each named tiny config of
``CONFIGS`` as one rank of the job, into OUT/NAME (rank 0 writes). In float64, so that the
comparison with one process is tight: in float32 a batch-normed discriminator turns summation-
order noise into ~1e-2 relative differences within a few steps (ill-conditioned channels),
which would hide a real error."""
from __future__ import annotations

import sys

import gankit
from gankit import Config

COMMON = dict(max_steps=6, log_every=3, device="cpu", ngf=8, ndf=8, seed=3)
# name -> (config fields, per-rank batch). No batch norm; batch norm synced; the gradient
# penalty (WGAN-GP critic has no batch norm, its generator does); weight clipping.
CONFIGS = {
    "gan2d": (dict(model="gan2d", data="ring8"), 16),
    "dcgan-sync-bn": (dict(model="dcgan", data="digits", sync_bn=True), 8),
    "wgan-gp-sync-bn": (dict(model="wgan-gp", data="digits", sync_bn=True), 8),
    "wgan-clip-sync-bn": (dict(model="wgan", data="digits", sync_bn=True), 8),
}
# The control: batch norm with each rank's own statistics is not the 2B run.
CONTROLS = {"dcgan-per-rank-bn": (dict(model="dcgan", data="digits"), 8)}


def config(name: str, out: str, batch_size: int) -> Config:
    fields, _ = {**CONFIGS, **CONTROLS}[name]
    return Config(out=out, batch_size=batch_size, **COMMON, **fields)


if __name__ == "__main__":
    import torch

    torch.set_default_dtype(torch.float64)
    root = sys.argv[1]
    for name, (_, batch) in {**CONFIGS, **CONTROLS}.items():
        gankit.train(config(name, f"{root}/{name}", batch))
