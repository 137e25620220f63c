"""Optimizers by name (SPEC §3: Adam, RMSprop, SGD, Adadelta, Adagrad) with separate G and D
learning rates; only Adam takes the betas."""
from __future__ import annotations

import pytest
import torch

from conftest import make_cfg, random_images
from gankit import GankitError
from gankit.training.optim import OPTIMIZERS, make_optimizer
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
