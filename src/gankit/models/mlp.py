"""Fully connected GANs: the vanilla GAN of Goodfellow et al. 2014 as tutorial 7a builds it, its
conditional form (Mirza & Osindero 2014: z ⊕ one-hot(y) and x ⊕ one-hot(y)), and a small MLP GAN
for the 2-D toy mixtures."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from gankit.models.conditioning import one_hot
from gankit.models.minibatch_disc import with_minibatch_disc
from gankit.data.shape import DataShape


def hidden_stack(dims: Sequence[int], dropout: float) -> nn.Sequential:
    """Linear layers through ``dims``, each followed by LeakyReLU(0.2) (+ Dropout)."""
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims, dims[1:]):
        layers += [nn.Linear(d_in, d_out), nn.LeakyReLU(0.2)]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, z_dim) [⊕ one-hot y] -> hidden layers -> sample (B, *shape), tanh for images."""

    def __init__(self, z_dim: int, hidden: Sequence[int], shape: DataShape, num_classes: int = 0,
                 dropout: float = 0.3, tanh: bool = True):
        super().__init__()
        self.shape, self.num_classes = shape, num_classes
        self.hidden = hidden_stack([z_dim + num_classes, *hidden], dropout)
        self.out = nn.Sequential(nn.Linear(hidden[-1], shape.numel), nn.Tanh() if tanh else nn.Identity())

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat([z, one_hot(y, self.num_classes, z)], dim=1)
        return self.out(self.hidden(z)).view(-1, *self.shape.sample_shape)


class MLPDiscriminator(nn.Module):
    """sample [⊕ one-hot y] -> hidden layers [-> minibatch discrimination] -> one logit (B,)."""

    def __init__(self, hidden: Sequence[int], shape: DataShape, num_classes: int = 0,
                 dropout: float = 0.3, minibatch_disc: bool = False):
        super().__init__()
        self.num_classes = num_classes
        self.hidden = hidden_stack([shape.numel + num_classes, *hidden], dropout)
        self.mbd, width = with_minibatch_disc(hidden[-1], minibatch_disc)
        self.out = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = x.flatten(1)
        if self.num_classes:
            h = torch.cat([h, one_hot(y, self.num_classes, h)], dim=1)
        return self.out(self.mbd(self.hidden(h))).squeeze(1)

    @property
    def output_layer(self) -> nn.Module:
        """The last layer: its input is the feature f(x) that feature matching compares."""
        return self.out


def build_mlp(cfg, shape: DataShape, conditional: bool = False):
    """Tutorial 7a's widths at ngf = ndf = 32: G z→32→64→128→784, D 784→128→64→32→1."""
    k = shape.num_classes if conditional else 0
    g = MLPGenerator(cfg.z_dim, [cfg.ngf, 2 * cfg.ngf, 4 * cfg.ngf], shape, k)
    d = MLPDiscriminator([4 * cfg.ndf, 2 * cfg.ndf, cfg.ndf], shape, k, minibatch_disc=cfg.minibatch_disc)
    return g, d


def build_toy_mlp(cfg, shape: DataShape):
    """Three LeakyReLU hidden layers of ``ngf``/``ndf`` units, linear output, no dropout."""
    g = MLPGenerator(cfg.z_dim, [cfg.ngf] * 3, shape, dropout=0.0, tanh=False)
    d = MLPDiscriminator([cfg.ndf] * 3, shape, dropout=0.0, minibatch_disc=cfg.minibatch_disc)
    return g, d
