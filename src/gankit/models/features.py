"""The discriminator's last hidden layer, read off during its forward pass: the f(x) of feature
matching (Salimans et al. 2016, §3.1), which their released code takes as the input of D's last
layer (``disc_layers[-2]``): after minibatch discrimination, where D has it."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class LastHiddenLayer:
    """Records the input of ``discriminator.output_layer``, flattened to (B, features), at every
    forward pass of the discriminator (a forward pre-hook: the networks stay as they are, and the
    same record works through a DDP wrapper)."""

    def __init__(self, discriminator: nn.Module):
        self.value: Optional[torch.Tensor] = None
        discriminator.output_layer.register_forward_pre_hook(self._record)

    def _record(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self.value = inputs[0].flatten(1)
