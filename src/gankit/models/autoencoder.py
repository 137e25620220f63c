"""A convolutional autoencoder with the DCGAN's networks: the encoder is the discriminator's
convolutions ending in a z_dim code, the decoder is the generator itself. It is the baseline
of experiment E12 (tutorial 7a and the report: autoencoder images are blurrier than GAN samples),
trained on the mean squared reconstruction error, so the comparison changes only the objective."""
from __future__ import annotations

import torch
from torch import nn

from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.spec import DataShape


class ConvAutoencoder(nn.Module):
    """image (B, C, S, S) in [-1, 1] -> code (B, z_dim) -> reconstruction (B, C, S, S)."""

    def __init__(self, shape: DataShape, z_dim: int, ngf: int, ndf: int):
        super().__init__()
        body = DCGANDiscriminator(shape, ndf).features  # (B, widths[-1], 4, 4)
        width = body[-3].out_channels  # the last block's convolution (conv, BN, LeakyReLU)
        self.encoder = nn.Sequential(body, nn.Conv2d(width, z_dim, 4), nn.Flatten())  # (B, z_dim)
        self.decoder = DCGANGenerator(z_dim, shape, ngf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
