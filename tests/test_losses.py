"""Every adversarial loss against values worked out by hand, the saturating vs non-saturating
gradients (Goodfellow et al. 2014, §3), the gradient penalty on linear critics, and clipping."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit import GankitError
from gankit.losses import LOSSES, clip_weights, gradient_penalty

t = torch.tensor


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


# (name, real outputs, fake outputs, expected D halves (real, fake), expected G loss), each by hand.
CASES = {
    # −log σ(r) = softplus(−r), −log(1 − σ(f)) = softplus(f); G: −log σ(f) = softplus(−f)
    "bce": ([1.0, 2.0], [-1.0, 3.0],
            ((softplus(-1.0) + softplus(-2.0)) / 2, (softplus(-1.0) + softplus(3.0)) / 2),
            (softplus(1.0) + softplus(-3.0)) / 2),
    # −E f(x) = −(1 + 3)/2, E f(G(z)) = (2 + 4)/2; G: −E f(G(z))
    "wasserstein": ([1.0, 3.0], [2.0, 4.0], (-2.0, 3.0), -3.0),
    # ½ E (r − 1)² = ½ (0 + 4)/2; ½ E f² = ½ (4 + 16)/2; G: ½ E (f − 1)² = ½ (1 + 9)/2
    "least-squares": ([1.0, 3.0], [2.0, 4.0], (1.0, 5.0), 2.5),
    # E max(0, 1 − r) = (0.5 + 0)/2; E max(0, 1 + f) = (0 + 1.5)/2; G: −E f = −(−2 + 0.5)/2
    "hinge": ([0.5, 2.0], [-2.0, 0.5], (0.25, 0.75), 0.75),
}


def test_every_registered_loss_has_a_case():
    assert set(LOSSES.names()) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_values(name):
    real, fake, (want_real, want_fake), want_g = CASES[name]
    loss = LOSSES[name]
    got_real, got_fake = loss.d_loss(t(real), t(fake))
    torch.testing.assert_close(got_real, t(want_real))
    torch.testing.assert_close(got_fake, t(want_fake))
    torch.testing.assert_close(loss.g_loss(t(fake), "non-saturating"), t(want_g))


def test_probabilities_only_for_bce():
    assert {name for name, l in LOSSES.items() if l.probabilities} == {"bce"}


def test_bce_at_zero_logits_is_log2_each_half():
    real_half, fake_half = LOSSES["bce"].d_loss(torch.zeros(8), torch.zeros(8))
    torch.testing.assert_close(real_half, t(math.log(2)))
    torch.testing.assert_close(fake_half, t(math.log(2)))


def test_bce_is_stable_at_extreme_logits():
    real_half, fake_half = LOSSES["bce"].d_loss(t([100.0, -100.0]), t([-100.0, 100.0]))
    torch.testing.assert_close(real_half, t(50.0))  # (0 + 100) / 2
    torch.testing.assert_close(fake_half, t(50.0))
    assert torch.isfinite(LOSSES["bce"].g_loss(t([-1000.0]), "non-saturating"))


@pytest.mark.parametrize("logit", [-2.0, 0.0, 1.5])
def test_generator_forms_at_known_logits(logit):
    bce = LOSSES["bce"]
    p = 1 / (1 + math.exp(-logit))
    torch.testing.assert_close(bce.g_loss(t([logit]), "non-saturating"), t(-math.log(p)))
    torch.testing.assert_close(bce.g_loss(t([logit]), "saturating"), t(math.log(1 - p)))


def g_grad(logit: float, form: str) -> float:
    x = t([logit], requires_grad=True)
    LOSSES["bce"].g_loss(x, form).backward()
    return x.grad.item()


def test_saturating_gradient_vanishes_where_non_saturating_does_not():
    # D confidently rejects a poor sample: σ(−20) ≈ 2e-9.
    # d/dl log(1 − σ(l)) = −σ(l) ≈ 0; d/dl −log σ(l) = −(1 − σ(l)) ≈ −1.
    sat, non_sat = g_grad(-20.0, "saturating"), g_grad(-20.0, "non-saturating")
    assert abs(sat) < 1e-8
    assert non_sat == pytest.approx(-1.0, abs=1e-6)
    # Both push the logit up (descent increases D(G(z))).
    assert sat < 0 and non_sat < 0


def test_unknown_loss_is_a_one_line_error():
    with pytest.raises(GankitError, match="unknown loss 'nope'") as info:
        LOSSES["nope"]
    assert "\n" not in str(info.value)


class LinearCritic(nn.Module):
    """f(x) = w · flatten(x): its gradient is w everywhere."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, y=None):
        return x.flatten(1) @ self.w


def test_gradient_penalty_zero_for_unit_gradient():
    w = torch.randn(16, generator=torch.Generator().manual_seed(0))
    critic = LinearCritic(w / w.norm())
    real, fake = torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4)
    gp = gradient_penalty(critic, real, fake)
    torch.testing.assert_close(gp, t(0.0), atol=1e-10, rtol=0)


@pytest.mark.parametrize("norm", [0.25, 3.0])
def test_gradient_penalty_of_linear_critic(norm):
    w = torch.randn(16, generator=torch.Generator().manual_seed(1))
    w = w / w.norm() * norm
    critic = LinearCritic(w.clone())
    real, fake = torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(gp, t((norm - 1) ** 2))
    # The penalty trains the critic (create_graph): d/dw (‖w‖ − 1)² = 2 (‖w‖ − 1) w / ‖w‖.
    gp.backward()
    torch.testing.assert_close(critic.w.grad, 2 * (norm - 1) * w / norm)


def test_gradient_penalty_is_taken_at_interpolates():
    # f(x) = ½‖x‖²: ∇f(x̂) = x̂, so with real = fake = x the penalty is E(‖x‖ − 1)².
    class Quadratic(nn.Module):
        def forward(self, x, y=None):
            return 0.5 * x.flatten(1).pow(2).sum(1)

    x = torch.randn(5, 2, 3, 3)
    gp = gradient_penalty(Quadratic(), x, x.clone())
    torch.testing.assert_close(gp, (x.flatten(1).norm(dim=1) - 1).pow(2).mean())


def test_clip_weights_clamps_every_parameter():
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).view_as(p))
    before = [p.detach().clone() for p in net.parameters()]
    clip_weights(net, 0.01)
    for old, p in zip(before, net.parameters()):
        assert p.min() >= -0.01 and p.max() <= 0.01
        torch.testing.assert_close(p, old.clamp(-0.01, 0.01), rtol=0, atol=0)
        assert p.grad is None
    assert (torch.cat([p.flatten() for p in net.parameters()]).abs() == 0.01).any()
