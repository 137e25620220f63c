"""Spectral norm, R1 and DiffAugment (off by default): each does what its paper says on known
inputs, and a seeded step with it trains and differs from one without."""
import pytest
import torch
from torch import nn

from gankit import Config, GankitError
from gankit.diffaugment import color, cutout, diff_augment, parse_policy, translation
from gankit.losses import r1_penalty
from gankit.models import build_models
from gankit.training.runner import prepare

TINY = dict(data="digits", ngf=8, ndf=8, batch_size=32, device="cpu")


def step_stats(step: int = 0, **extra):
    """The statistics of one seeded training step, taken as the run's step ``step``."""
    trainer, _ = prepare(Config(model=extra.pop("model", "dcgan"), **TINY, **extra).resolved())
    trainer.step = step
    stats = trainer.train_step(next(trainer.epoch_batches()))
    assert torch.isfinite(stats).all()
    for net in (trainer.G, trainer.D):
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in net.parameters())
    return stats


@pytest.mark.parametrize("extra", [dict(spectral_norm=True), dict(r1_gamma=10.0),
                                   dict(diffaugment="color,translation,cutout"),
                                   dict(model="cdcgan", spectral_norm=True, r1_gamma=1.0, diffaugment="translation")])
def test_each_stabiliser_changes_a_seeded_step(extra):
    model = extra.get("model", "dcgan")
    assert not torch.equal(step_stats(**extra), step_stats(model=model))


def test_lazy_r1_is_due_every_nth_d_step_at_n_times_the_weight():
    """StyleGAN2's lazy regularisation: with --r1-every 4 the penalty comes on D steps 0, 4, 8, …
    weighted 4·γ, so step 0 is the eager step at 4·γ and step 1 has no penalty at all."""
    trainer, _ = prepare(Config(model="dcgan", r1_gamma=1.0, r1_every=4, **TINY).resolved())
    assert [trainer.r1_due(k) for k in range(9)] == [True, False, False, False] * 2 + [True]
    assert torch.equal(step_stats(r1_gamma=1.0, r1_every=4), step_stats(r1_gamma=4.0))
    assert torch.equal(step_stats(1, r1_gamma=1.0, r1_every=4), step_stats(1))
    assert not torch.equal(step_stats(1, r1_gamma=1.0), step_stats(1))


def test_r1_on_a_linear_critic_is_its_weights_squared_norm():
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    real = torch.randn(5, 1, 2, 2, requires_grad=True)
    out = (real.flatten(1) @ w.flatten()).flatten()
    assert float(r1_penalty(out, real)) == pytest.approx(float(w.pow(2).sum()))


@pytest.mark.parametrize("model", ["dcgan", "cdcgan", "gan"])
def test_spectral_norm_brings_every_layer_to_unit_norm(model):
    size = 28 if model == "gan" else 32
    cfg = Config(model=model, image_size=size, spectral_norm=True, **TINY).resolved()
    from gankit.data.shape import DataShape

    _, d = build_models(cfg, DataShape(channels=1, size=size, num_classes=10))
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    x, y = torch.randn(8, 1, size, size), torch.arange(8) % 10
    for _ in range(30):  # power iterations, one per training forward pass
        d(x, y)
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), 2)
        assert float(sigma) == pytest.approx(1.0, abs=0.02)


def test_translation_shifts_by_whole_pixels_within_an_eighth():
    x = torch.arange(2 * 16 * 16, dtype=torch.float).reshape(2, 1, 16, 16) + 1
    out = translation(x, torch.Generator().manual_seed(3))
    padded = nn.functional.pad(x, [2, 2, 2, 2])
    for i in range(2):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(out[i, 0], padded[i, 0, 2 + dy:18 + dy, 2 + dx:18 + dx])]
        assert len(matches) == 1, matches


def test_cutout_zeroes_one_square_of_half_the_side():
    x = torch.ones(64, 1, 16, 16)
    out = cutout(x, torch.Generator().manual_seed(0))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert int(zeros.max()) == 64 and int(zeros.min()) > 0  # 8 × 8 at most, clipped at the border
    for image in out[:, 0]:
        rows, cols = (image == 0).any(1), (image == 0).any(0)
        assert int(rows.sum()) * int(cols.sum()) == int((image == 0).sum())  # a rectangle
    assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_color_draws_per_image_and_passes_gradients():
    x = torch.rand(16, 3, 8, 8, requires_grad=True)
    out = color(x, torch.Generator().manual_seed(0))
    assert (out - x).flatten(1).mean(1).unique().numel() == 16  # another brightness per image
    full = diff_augment(x, parse_policy("color,translation,cutout"), torch.Generator().manual_seed(1))
    full.square().sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


def test_an_unknown_policy_is_a_one_line_error():
    with pytest.raises(GankitError, match="--diffaugment 'flip' is not one of color, translation, cutout"):
        parse_policy("color,flip")
    with pytest.raises(GankitError, match="2-D points"):
        prepare(Config(model="gan2d", data="ring8", diffaugment="color", device="cpu").resolved())
