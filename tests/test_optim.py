"""Optimizers by name (SPEC §3: Adam, RMSprop, SGD, Adadelta, Adagrad) with separate G and D
learning rates; only Adam takes the betas."""
from __future__ import annotations

import pytest
import torch

from conftest import make_cfg, random_images
from gankit import GankitError
from gankit.training.optim import OPTIMIZERS, make_optimizer
from gankit.training.autoencoder_trainer import AutoencoderTrainer
from gankit.training.distributed import World
from gankit.training.trainer import GANTrainer

KINDS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD,
         "adadelta": torch.optim.Adadelta, "adagrad": torch.optim.Adagrad}


def test_registry_matches_the_spec():
    assert set(OPTIMIZERS.names()) == set(KINDS)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_make_optimizer(name):
    p = torch.nn.Parameter(torch.ones(3))
    opt = make_optimizer(name, [p], 0.125, (0.25, 0.75))
    assert type(opt) is KINDS[name]
    assert opt.param_groups[0]["lr"] == 0.125
    if name == "adam":
        assert opt.param_groups[0]["betas"] == (0.25, 0.75)
    if name == "sgd":
        assert opt.param_groups[0]["momentum"] == 0  # plain SGD, as the project report compares it


def test_unknown_optimizer():
    with pytest.raises(GankitError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", [torch.nn.Parameter(torch.ones(1))], 0.1, (0.5, 0.9))


@pytest.mark.parametrize("name", sorted(KINDS))
def test_trainer_uses_separate_learning_rates(name):
    cfg = make_cfg("dcgan", optimizer=name, lr_g=1e-3, lr_d=3e-4, batch_size=4)
    trainer = GANTrainer(cfg, random_images(8, 1, 32), torch.device("cpu"))
    assert type(trainer.opt_g) is KINDS[name] and type(trainer.opt_d) is KINDS[name]
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-3
    assert trainer.opt_d.param_groups[0]["lr"] == 3e-4
    g_params = {id(p) for g in trainer.opt_g.param_groups for p in g["params"]}
    assert g_params == {id(p) for p in trainer.G.parameters()}
    stats = trainer.train_step(next(trainer.epoch_batches()))
    assert torch.isfinite(stats).all()


def test_lr_decay_is_constant_then_linear_to_zero_at_the_last_step():
    cfg = make_cfg("dcgan", lr_g=1e-3, lr_d=4e-4, batch_size=4, max_steps=8, lr_decay=0.5)
    trainer = GANTrainer(cfg, random_images(64, 1, 32), torch.device("cpu"))
    assert trainer.total_steps == 8  # 16 batches per epoch, stopped by max_steps
    seen = []
    for batches in trainer.epoch_batches():
        trainer.train_step(batches)
        seen.append((trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]))
        trainer.step += 1
        if trainer.step == 8:
            break
    # the last half (4 steps) falls linearly: step k + 1 uses (8 - k) / 4 of the rate, capped at 1,
    # so steps 1-5 run at full rate, steps 6-8 at 3/4, 1/2, 1/4, and the rate reaches 0 as the run ends
    factors = [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert [lr_g for lr_g, _ in seen] == pytest.approx([1e-3 * f for f in factors])
    assert [lr_d for _, lr_d in seen] == pytest.approx([4e-4 * f for f in factors])


def test_without_lr_decay_the_rates_stay_as_configured():
    cfg = make_cfg("dcgan", lr_g=1e-3, lr_d=4e-4, batch_size=4, epochs=1)
    trainer = GANTrainer(cfg, random_images(16, 1, 32), torch.device("cpu"))
    assert trainer.learning_rate_factor() == 1.0 and trainer.total_steps == 4
    for batches in trainer.epoch_batches():
        trainer.train_step(batches)
        trainer.step += 1
    assert (trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]) == (1e-3, 4e-4)


def test_lr_decay_counts_generator_steps_with_several_critic_steps():
    cfg = make_cfg("wgan-gp", batch_size=4, epochs=3, lr_decay=1.0)
    trainer = GANTrainer(cfg, random_images(40, 1, 32), torch.device("cpu"))
    assert trainer.batches_per_epoch == 10 and trainer.total_steps == 6  # 2 G steps of 5 critic steps per epoch
    trainer.step = 3
    assert trainer.learning_rate_factor() == pytest.approx(0.5)


def test_lr_decay_out_of_range_is_a_one_line_error():
    with pytest.raises(GankitError, match="--lr-decay must be at most 1"):
        make_cfg("dcgan", lr_decay=1.5)


def test_the_autoencoder_follows_lr_decay_with_both_networks_at_lr_g():
    """E12's baseline has no lr_d of its own: with --lr-decay both its networks fall from lr_g."""
    cfg = make_cfg("dcgan", trainer="autoencoder", lr_g=1e-3, lr_d=4e-4, batch_size=4, max_steps=4, lr_decay=0.5,
                   ngf=8, ndf=8)
    trainer = AutoencoderTrainer(cfg, random_images(16, 1, 32), torch.device("cpu"), World())
    seen = []
    for batches in trainer.epoch_batches():
        assert torch.isfinite(trainer.train_step(batches)).all()
        seen += [trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]]
        trainer.step += 1
    assert seen == pytest.approx([1e-3] * 6 + [5e-4] * 2)  # the last of 4 steps at half rate, both networks
