"""A convolutional autoencoder with the DCGAN's networks: the encoder is the discriminator's
convolutions ending in a z_dim code, the decoder is the generator itself. It is the baseline
of experiment E12 (tutorial 7a and the report: autoencoder images are blurrier than GAN samples),
trained on the mean squared reconstruction error, so the comparison changes only the objective.

A plain autoencoder has no prior to sample from; the usual way to generate with one — and what
the documents' "autoencoder images" are compared as — is to decode codes drawn from a Gaussian
fitted to the training codes. ``CodeDecoder`` carries that Gaussian (mean and Cholesky factor) as
buffers and maps z ~ N(0, I) through it, so the decoder is a generator like any other: ``sample``,
``serve``, ``eval`` and grids use it unchanged."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.data.shape import DataShape


class CodeDecoder(nn.Module):
    """z (B, z_dim) ~ N(0, I) -> the code mean + L·z -> the DCGAN generator -> image (B, C, S, S)."""

    def __init__(self, shape: DataShape, z_dim: int, ngf: int):
        super().__init__()
        self.decoder = DCGANGenerator(z_dim, shape, ngf)
        self.register_buffer("code_mean", torch.zeros(z_dim))
        self.register_buffer("code_scale", torch.eye(z_dim))  # lower-triangular: cov = L Lᵀ

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.decoder(self.code_mean + z @ self.code_scale.T)

    @torch.no_grad()
    def fit_codes(self, codes: torch.Tensor) -> None:
        """Set the Gaussian to the mean and full covariance of ``codes`` (N, z_dim)."""
        codes = codes.double()
        cov = torch.cov(codes.T) + 1e-6 * torch.eye(codes.shape[1], dtype=torch.float64, device=codes.device)
        self.code_mean.copy_(codes.mean(0))
        self.code_scale.copy_(torch.linalg.cholesky(cov))


class Encoder(nn.Sequential):
    """image (B, C, S, S) in [-1, 1] -> code (B, z_dim): D's convolutions, then a 4×4 convolution."""

    def __init__(self, shape: DataShape, z_dim: int, ndf: int):
        body = DCGANDiscriminator(shape, ndf).features  # (B, widths[-1], 4, 4)
        width = body[-3].out_channels  # the last block's convolution (conv, BN, LeakyReLU)
        super().__init__(body, nn.Conv2d(width, z_dim, 4), nn.Flatten())


def build_autoencoder(cfg, shape: DataShape) -> tuple[CodeDecoder, Encoder]:
    """(decoder, encoder) of the DCGAN widths and z size of resolved ``cfg``."""
    if cfg.model != "dcgan" or shape.is_points:
        raise GankitError(f"--trainer autoencoder uses the DCGAN's networks: use --model dcgan, not {cfg.model}")
    return CodeDecoder(shape, cfg.z_dim, cfg.ngf), Encoder(shape, cfg.z_dim, cfg.ndf)
