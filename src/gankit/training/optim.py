"""Optimizers by name, built with separate learning rates for G and D."""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from gankit.registry import Registry

# name -> (params, lr, betas) -> optimizer. Only Adam takes betas; the others use PyTorch's
# defaults (SGD without momentum, as the project report compares it).
OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")
OPTIMIZERS.add("adam", lambda params, lr, betas: torch.optim.Adam(params, lr, betas=betas))
OPTIMIZERS.add("rmsprop", lambda params, lr, betas: torch.optim.RMSprop(params, lr))
OPTIMIZERS.add("sgd", lambda params, lr, betas: torch.optim.SGD(params, lr))
OPTIMIZERS.add("adadelta", lambda params, lr, betas: torch.optim.Adadelta(params, lr))
OPTIMIZERS.add("adagrad", lambda params, lr, betas: torch.optim.Adagrad(params, lr))


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float,
                   betas: tuple[float, float]) -> torch.optim.Optimizer:
    """The optimizer ``name`` over ``params``."""
    return OPTIMIZERS[name](params, lr, tuple(betas))
