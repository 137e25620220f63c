"""Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs", §3.2),
term by term as their released code (openai/improved-gan, ``nn.MinibatchLayer``) computes it.

Each sample's features f(x_i) ∈ R^A are multiplied by a tensor T ∈ R^{A×B×C} into a matrix
M_i ∈ R^{B×C} (B = 100 kernels of C = 5 values); per kernel b, c_b(x_i, x_j) = exp(−‖M_i,b − M_j,b‖_L1)
and o(x_i)_b = Σ_{j≠i} c_b(x_i, x_j) + bias_b; o(x_i) is appended to f(x_i) before D's last layer.
Real and fake batches go through D apart, so each is scored against its own kind.

What the released code adds to the paper, and why it matters: T is weight-normalised (each
kernel's column over the A inputs has unit norm, times a learned scale exp(log_scale)), and the
first training batch sets the scale so that the mean distance of a sample to its nearest
neighbour is 1 per kernel, and the bias so that o has zero mean. Without it the L1 distances
between 5-d projections of thousands of features are large, every exp(−d) underflows to ~0, and
the layer feeds D constants and passes G no gradient: it cannot counter collapse.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

N_KERNELS = 100  # B, as in the released code
KERNEL_DIM = 5  # C, dim_per_kernel
THETA_STD = 0.05  # lasagne.init.Normal(0.05)


class MinibatchDiscrimination(nn.Module):
    """(N, A) features -> (N, A + n_kernels): features with batch-similarity statistics appended."""

    def __init__(self, in_features: int, n_kernels: int = N_KERNELS, kernel_dim: int = KERNEL_DIM):
        super().__init__()
        self.n_kernels, self.kernel_dim = n_kernels, kernel_dim
        self.theta = nn.Parameter(torch.randn(in_features, n_kernels, kernel_dim) * THETA_STD)
        self.log_scale = nn.Parameter(torch.zeros(n_kernels, kernel_dim))
        self.bias = nn.Parameter(torch.full((n_kernels,), -1.0))
        # Whether the data-dependent initialisation has run (saved, so a resumed run does not redo it).
        self.register_buffer("initialised", torch.tensor(False))

    @property
    def out_features(self) -> int:
        return self.theta.shape[0] + self.n_kernels

    def weight(self) -> torch.Tensor:
        """T: θ with each kernel column of unit L2 norm over the inputs, times exp(log_scale)."""
        return self.theta * (self.log_scale.exp() / self.theta.square().sum(0).sqrt())

    def distances(self, h: torch.Tensor) -> torch.Tensor:
        """(B, N, N) L1 distances between the samples' kernel rows M_i,b, self-distance excluded (∞)."""
        m = torch.einsum("na,abc->bnc", h, self.weight())  # (B, N, C)
        l1 = torch.cdist(m, m, p=1)  # (B, N, N) without an (N, N, B, C) intermediate
        return l1 + torch.diag(torch.full((len(h),), float("inf"), device=h.device, dtype=h.dtype))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.initialised) and len(h) > 1:
            self.initialise(h.detach())
        o = torch.exp(-self.distances(h)).sum(2).t() + self.bias  # (N, B)
        return torch.cat([h, o], dim=1)

    @torch.no_grad()
    def initialise(self, h: torch.Tensor) -> None:
        """The released code's data-dependent init on the first batch: the mean nearest-neighbour
        distance of each kernel becomes 1 and o(x) zero-mean (averaged over DDP ranks)."""
        nearest = self.distances(h).min(2).values.mean(1)  # (B,)
        self.log_scale -= nearest.log()[:, None]
        o = torch.exp(-self.distances(h)).sum(2).mean(1)  # (B,)
        self.bias.copy_(-o)
        if dist.is_available() and dist.is_initialized():
            for p in (self.log_scale, self.bias):
                dist.all_reduce(p.data)
                p.data /= dist.get_world_size()
        self.initialised.fill_(True)


def with_minibatch_disc(in_features: int, enabled: bool) -> tuple[nn.Module, int]:
    """The optional layer before a discriminator's last linear layer, and its output width."""
    if not enabled:
        return nn.Identity(), in_features
    layer = MinibatchDiscrimination(in_features)
    return layer, layer.out_features
