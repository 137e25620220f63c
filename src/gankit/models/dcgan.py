"""DCGAN (Radford, Metz & Chintala 2016): strided (transposed) convolutions, batch norm, ReLU in
G and LeakyReLU(0.2) in D, no bias before batch norm.

One builder for every size: a 32 px net has three stride-2 blocks (the practical work's
128-64-32 generator at ngf = 32); each doubling of the size adds one block, so 64 px at ngf = 64
is Radford's 512-256-128-64 net and 128 px adds one more.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.minibatch_disc import with_minibatch_disc
from gankit.data.shape import DataShape


def n_blocks(size: int, model: str = "dcgan") -> int:
    """Stride-2 blocks between 4×4 and ``size``: 32 -> 3, 64 -> 4."""
    blocks = math.log2(size) - 2
    if size < 16 or not blocks.is_integer():
        raise GankitError(f"{model} needs image_size 16, 32, 64 or 128, got {size}: set --image-size 32 (28 px data is padded)")
    return int(blocks)


def up_block(c_in: int, c_out: int, first: bool = False) -> list[nn.Module]:
    """ConvT k4 (s1 p0 from 1×1 to 4×4, else s2 p1: doubles H, W) + BN + ReLU."""
    stride, pad = (1, 0) if first else (2, 1)
    return [nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]


def down_block(c_in: int, c_out: int, norm: Optional[str], bias: bool = False) -> list[nn.Module]:
    """Conv k4 s2 p1 (halves H, W) [+ BN] + LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias)]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(c_out))
    return layers + [nn.LeakyReLU(0.2, True)]


class DCGANGenerator(nn.Module):
    """z (B, z_dim) -> image (B, C, size, size) in [-1, 1]."""

    def __init__(self, z_dim: int, shape: DataShape, ngf: int):
        super().__init__()
        widths = [ngf * 2**i for i in reversed(range(n_blocks(shape.size)))]  # 32 px: 128, 64, 32
        layers = up_block(z_dim, widths[0], first=True)  # (B, 4ngf, 4, 4)
        for c_in, c_out in zip(widths, widths[1:]):
            layers += up_block(c_in, c_out)
        layers += [nn.ConvTranspose2d(widths[-1], shape.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """image (B, C, size, size) -> one logit / critic score per image (B,).

    ``norm``: "batch", or None for a critic without batch norm (WGAN-GP). ``bn_first``: batch
    norm on the first block too (the practical work's 32 px net has it, Radford's does not).
    """

    def __init__(self, shape: DataShape, ndf: int, norm: Optional[str] = "batch",
                 bn_first: bool = False, minibatch_disc: bool = False):
        super().__init__()
        widths = [ndf * 2**i for i in range(n_blocks(shape.size))]  # 32 px: 32, 64, 128
        bias = norm is None  # DCGAN has no biases (BN cancels them); a norm-free critic needs them
        layers = down_block(shape.channels, widths[0], norm if bn_first else None, bias)
        for c_in, c_out in zip(widths, widths[1:]):
            layers += down_block(c_in, c_out, norm, bias)
        self.features = nn.Sequential(*layers)  # (B, widths[-1], 4, 4)
        self.head = discriminator_head(widths[-1], minibatch_disc)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.head(self.features(x)).flatten()

    @property
    def output_layer(self) -> nn.Module:
        """The last layer (the k4 conv, or the linear map after minibatch discrimination): its
        input is the feature f(x) that feature matching compares."""
        return self.head[-1] if isinstance(self.head, nn.Sequential) else self.head


def discriminator_head(channels: int, minibatch_disc: bool) -> nn.Module:
    """(B, channels, 4, 4) -> (B, 1): DCGAN's Conv k4 s1 p0 with no bias; with minibatch
    discrimination, the same map as a linear layer over the flattened features plus the
    batch-similarity statistics."""
    if not minibatch_disc:
        return nn.Conv2d(channels, 1, 4, 1, 0, bias=False)
    mbd, width = with_minibatch_disc(channels * 16, True)
    return nn.Sequential(nn.Flatten(), mbd, nn.Linear(width, 1))


def build_dcgan(cfg, shape: DataShape, critic_norm: Optional[str] = "batch"):
    """The DCGAN pair; the discriminator follows the practical work at 32 px (BN on its first
    block) and Radford above (none there)."""
    g = DCGANGenerator(cfg.z_dim, shape, cfg.ngf)
    d = DCGANDiscriminator(shape, cfg.ndf, norm=critic_norm, bn_first=shape.size <= 32,
                           minibatch_disc=cfg.minibatch_disc)
    return g, d
