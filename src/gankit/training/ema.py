"""The exponential moving average of the generator's weights (Karras et al. 2018; Yazici et al.
2019, "The Unusual Effectiveness of Averaging in GAN Training"): G_ema ← β·G_ema + (1 − β)·G
after every generator step, batch-norm statistics included. The average smooths the oscillation
of the adversarial game, so it usually gives better samples than the last weights.

β ramps up as in StyleGAN2-ADA (Karras et al. 2020, ``ema_rampup``): the average's half-life is
the one ``decay`` gives, but never more than ``rampup`` × the steps taken so far. Without it a
0.999 average still holds 37 % of the first step's weights at step 1,000 — the untrained
generator — which ruins every short run; with it the average follows G closely early on and
settles to ``decay`` after ``half_life / rampup`` steps (13,900 for 0.999 and 0.05)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def ramped_decay(decay: float, rampup: float, steps: int) -> float:
    """β for the ``steps``-th weights folded in: ``decay``, or a shorter half-life of
    ``rampup · steps`` steps while that is shorter; ``rampup`` 0 keeps ``decay`` throughout."""
    half_life = math.log(0.5) / math.log(decay)
    if rampup:
        half_life = min(half_life, rampup * steps)
    return 0.5 ** (1.0 / half_life)


def generator_ema(generator: nn.Module, decay: float, rampup: float = 0.0) -> AveragedModel:
    """A copy of ``generator`` whose ``update_parameters(generator)`` folds in the current weights
    and buffers (the first call copies them), with β from :func:`ramped_decay`. Its ``module`` is a
    generator like any other, kept in eval mode. The step count lives in the model's
    ``n_averaged`` buffer, so a resumed run continues the same ramp."""

    @torch.no_grad()
    def fold_in(averaged: list, current: list, n_averaged: torch.Tensor) -> None:
        beta = ramped_decay(decay, rampup, int(n_averaged) + 1)
        for avg, now in zip(averaged, current):
            if avg.is_floating_point():
                avg.lerp_(now, 1.0 - beta)
            else:  # integer buffers (batch norm's num_batches_tracked) are counts, not averages
                avg.copy_(now)

    ema = AveragedModel(generator, multi_avg_fn=fold_in, use_buffers=True)
    ema.module.eval()
    return ema
