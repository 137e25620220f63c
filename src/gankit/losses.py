"""Adversarial losses as pure functions of discriminator outputs, looked up by name.

Each loss gives the discriminator's loss as its two halves, ``(on real, on fake)``, so the real
and fake parts can be logged apart (as the project report plots them), and the generator's loss.
All inputs are raw discriminator outputs of shape (B,): logits for BCE, scores otherwise.

- bce: Goodfellow et al. 2014. The generator minimises either the "saturating" log(1 − D(G(z)))
  of the minimax game or the "non-saturating" −log D(G(z)) the paper recommends, whose gradient
  does not vanish while D confidently rejects the early, poor samples.
- wasserstein: Arjovsky et al. 2017 (with ``clip_weights``) and Gulrajani et al. 2017 (with
  ``gradient_penalty``).
- least-squares: Mao et al. 2017, the a=0, b=c=1 coding.
- hinge: Lim & Ye 2017; Miyato et al. 2018.

Feature matching (Salimans et al. 2016, §3.1) replaces the generator's adversarial loss with a
statistic of D's last hidden layer; the other terms here add to whichever G loss is used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from gankit.registry import Registry

Tensor = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    """``d_loss(real, fake) -> (loss_real, loss_fake)``; ``g_loss(fake, form) -> loss``.

    ``probabilities``: whether sigmoid(D) is a probability worth logging as D(x), D(G(z)).
    """

    d_loss: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
    g_loss: Callable[[Tensor, str], Tensor]
    probabilities: bool


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def bce_d(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """−log D(x), −log(1 − D(G(z))) with D = sigmoid(logit), computed stably."""
    return F.softplus(-real).mean(), F.softplus(fake).mean()


def bce_g(fake: Tensor, form: str = "non-saturating") -> Tensor:
    """Non-saturating −log D(G(z)), or saturating log(1 − D(G(z))) = −softplus(logit)."""
    return F.softplus(-fake).mean() if form == "non-saturating" else -F.softplus(fake).mean()


def wasserstein_d(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """The critic maximises E[f(x)] − E[f(G(z))]: its loss halves are −E[f(x)] and E[f(G(z))]."""
    return -real.mean(), fake.mean()


def wasserstein_g(fake: Tensor, form: str = "") -> Tensor:
    """−E[f(G(z))]."""
    return -fake.mean()


def least_squares_d(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """½ E[(D(x) − 1)²] and ½ E[D(G(z))²]."""
    return 0.5 * (real - 1).pow(2).mean(), 0.5 * fake.pow(2).mean()


def least_squares_g(fake: Tensor, form: str = "") -> Tensor:
    """½ E[(D(G(z)) − 1)²]."""
    return 0.5 * (fake - 1).pow(2).mean()


def hinge_d(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """E[max(0, 1 − D(x))] and E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real).mean(), F.relu(1 + fake).mean()


LOSSES.add("bce", AdversarialLoss(bce_d, bce_g, probabilities=True))
LOSSES.add("wasserstein", AdversarialLoss(wasserstein_d, wasserstein_g, probabilities=False))
LOSSES.add("least-squares", AdversarialLoss(least_squares_d, least_squares_g, probabilities=False))
LOSSES.add("hinge", AdversarialLoss(hinge_d, wasserstein_g, probabilities=False))


def gradient_penalty(critic: Callable[[Tensor, Optional[Tensor]], Tensor], real: Tensor, fake: Tensor,
                     y: Optional[Tensor] = None, eps: Optional[Tensor] = None,
                     generator: Optional[torch.Generator] = None) -> Tensor:
    """Gulrajani et al. 2017: E[(‖∇ f(x̂)‖₂ − 1)²] at x̂ = ε x + (1 − ε) G(z), ε ~ U[0, 1] per
    sample (drawn from ``generator`` unless given as ``eps``, shape (B, 1, …)). ``critic(x, y)``
    gives (B,) scores; it may run in bf16, but ∇ f(x̂) has x̂'s dtype, so the norm and the
    penalty are computed in that of ``real`` (fp32)."""
    if eps is None:
        eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device,
                         dtype=real.dtype, generator=generator)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, y).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


@torch.no_grad()
def clip_weights(critic: nn.Module, c: float) -> None:
    """Arjovsky et al. 2017: keep every critic parameter in [−c, c] (a crude Lipschitz bound)."""
    for p in critic.parameters():
        p.clamp_(-c, c)


def r1_penalty(out_real: Tensor, real: Tensor) -> Tensor:
    """Mescheder et al. 2018: E‖∇x D(x)‖² on real images (``real`` must require grad and
    ``out_real`` be D's output on it); the caller weights it by γ/2. It keeps D flat on the data,
    where a GAN's game is locally convergent."""
    (grad,) = torch.autograd.grad(out_real.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def mode_seeking_penalty(fake: Tensor, z: Tensor, eps: float = 1e-5) -> Tensor:
    """Mao et al. 2019 (MSGAN), as their code computes it: 1 / (mean|G(z1, y) − G(z2, y)|₁ /
    mean|z1 − z2|₁ + ε) over the pairs (i, i + n/2) of a batch whose halves share labels. Small
    when two noise vectors give different images of one class: G may no longer ignore z."""
    half = len(fake) // 2
    ratio = (fake[:half] - fake[half:2 * half]).abs().mean() / (z[:half] - z[half:2 * half]).abs().mean()
    return 1 / (ratio + eps)


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Salimans et al. 2016: ‖E f(x) − E f(G(z))‖², f the input of D's last layer, averaged over
    its units as their released CIFAR code does (``T.mean(T.square(m1 - m2))``). The real
    features are a target (no gradient): G must give its batch the real batch's mean activations
    instead of fooling D's current output."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).mean()
