"""The exponential moving average of the generator's weights (Karras et al. 2018; Yazici et al.
2019, "The Unusual Effectiveness of Averaging in GAN Training"): G_ema ← decay·G_ema + (1 − decay)·G
after every generator step, batch-norm statistics included. The average smooths the oscillation
of the adversarial game, so it usually gives better samples than the last weights."""
from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def generator_ema(generator: nn.Module, decay: float) -> AveragedModel:
    """A copy of ``generator`` whose ``update_parameters(generator)`` folds in the current weights
    and buffers (the first call copies them). Its ``module`` is a generator like any other, kept in
    eval mode."""
    ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    ema.module.eval()
    return ema
