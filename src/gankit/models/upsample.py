"""The STAT3007 tutorial's DCGAN variant: the generator upsamples by nearest-neighbour
interpolation followed by a 3×3 convolution instead of transposed convolutions (which avoids
their checkerboard artefacts, Odena et al. 2016); the discriminator is Radford's."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from gankit.models.dcgan import DCGANDiscriminator, n_blocks
from gankit.data.shape import DataShape


def upsample_conv(c_in: int, c_out: int, size: int, last: bool = False) -> list[nn.Module]:
    """Nearest interpolation to ``size`` × ``size``, Conv 3×3 p1, then BN + ReLU (tanh if last)."""
    conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=last)
    tail = [nn.Tanh()] if last else [nn.BatchNorm2d(c_out), nn.ReLU(True)]
    return [nn.Upsample(size=size, mode="nearest"), conv, *tail]


class UpsampleGenerator(nn.Module):
    """z viewed as (B, z_dim, 1, 1) -> 4 -> 8 -> ... -> size; at 64 px and ngf = 64 the
    channels go 100 -> 512 -> 256 -> 128 -> 64 -> C."""

    def __init__(self, z_dim: int, shape: DataShape, ngf: int):
        super().__init__()
        n_hidden = n_blocks(shape.size, "dcgan-upsample")  # 64 px: 4 hidden layers
        widths = [z_dim] + [ngf * 2**i for i in reversed(range(n_hidden))]
        sizes = [4 * 2**i for i in range(n_hidden + 1)]  # 4, 8, ..., size
        layers: list[nn.Module] = []
        for c_in, c_out, size in zip(widths, widths[1:], sizes):
            layers += upsample_conv(c_in, c_out, size)
        layers += upsample_conv(widths[-1], shape.channels, sizes[-1], last=True)
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.net(z[:, :, None, None])


def build_upsample(cfg, shape: DataShape):
    """Upsampling generator; 4 strided convs 64-128-256-512 (BN except the first) + Conv k4."""
    return UpsampleGenerator(cfg.z_dim, shape, cfg.ngf), DCGANDiscriminator(
        shape, cfg.ndf, bn_first=False, minibatch_disc=cfg.minibatch_disc)
