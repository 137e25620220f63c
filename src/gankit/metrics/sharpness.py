"""Sharpness as the variance of the Laplacian (Pech-Pacheco et al. 2000), the focus measure
used to show that autoencoder reconstructions are blurrier than GAN samples: a blurred image
has weak second derivatives, so its Laplacian varies little."""
from __future__ import annotations

import torch
import torch.nn.functional as F

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_variance(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) images -> (N,) variance of the 3×3 Laplacian of each image's grey
    level in [0, 1] (valid pixels only, so borders add nothing)."""
    x = images.float() / 255.0
    grey = x.mean(1, keepdim=True)  # (N, 1, H, W)
    response = F.conv2d(grey, LAPLACIAN.to(grey)[None, None])  # (N, 1, H-2, W-2)
    return response.flatten(1).var(1)
