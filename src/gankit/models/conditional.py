"""Conditional DCGAN as the practical work builds it: the label enters both networks through a
branch of its own (one-hot through a transposed convolution in G, one-hot planes through a
convolution in D) whose features are concatenated with the image/noise branch."""
from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.conditioning import one_hot, one_hot_maps
from gankit.models.dcgan import down_block, n_blocks, up_block
from gankit.data.shape import DataShape


class ConditionalDCGANGenerator(nn.Module):
    """(z, y) -> image. At 32 px, ngf = 128: z -> 256 and y -> 256 at 4×4, concat 512, then
    256 (8×8), 128 (16×16), C (32×32)."""

    def __init__(self, z_dim: int, shape: DataShape, ngf: int):
        super().__init__()
        self.num_classes = shape.num_classes
        widths = [ngf * 2**i for i in reversed(range(n_blocks(shape.size, "cdcgan")))]  # 512, 256, 128
        self.z_branch = nn.Sequential(*up_block(z_dim, widths[0] // 2, first=True))
        self.y_branch = nn.Sequential(*up_block(shape.num_classes, widths[0] // 2, first=True))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths, widths[1:]):
            layers += up_block(c_in, c_out)
        layers += [nn.ConvTranspose2d(widths[-1], shape.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.trunk = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_vec = one_hot(y, self.num_classes, z)[:, :, None, None]
        h = torch.cat([self.z_branch(z[:, :, None, None]), self.y_branch(y_vec)], dim=1)  # (B, 4ngf, 4, 4)
        return self.trunk(h)


class ConditionalDCGANDiscriminator(nn.Module):
    """(x, y) -> logit (B,). At 32 px, ndf = 64: x -> 64 and y planes -> 64 at 16×16, concat 128,
    then 256 (8×8), 512 (4×4), Conv k4 -> 1."""

    def __init__(self, shape: DataShape, ndf: int):
        super().__init__()
        self.num_classes = shape.num_classes
        widths = [ndf * 2**i for i in range(1, n_blocks(shape.size, "cdcgan") + 1)]  # 128, 256, 512
        self.x_branch = nn.Sequential(*down_block(shape.channels, ndf, norm=None))
        self.y_branch = nn.Sequential(*down_block(shape.num_classes, ndf, norm=None))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths, widths[1:]):
            layers += down_block(c_in, c_out, norm="batch")
        self.trunk = nn.Sequential(*layers, nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.x_branch(x), self.y_branch(one_hot_maps(y, self.num_classes, x))], dim=1)
        return self.trunk(h).flatten()

    @property
    def output_layer(self) -> nn.Module:
        """The last layer (the k4 conv): its input is the feature f(x, y) that feature matching compares."""
        return self.trunk[-1]


def build_cdcgan(cfg, shape: DataShape):
    """The conditional DCGAN pair."""
    if cfg.minibatch_disc:
        raise GankitError("cdcgan has no minibatch discrimination option: use it with gan, cgan, dcgan or its presets")
    return ConditionalDCGANGenerator(cfg.z_dim, shape, cfg.ngf), ConditionalDCGANDiscriminator(shape, cfg.ndf)
