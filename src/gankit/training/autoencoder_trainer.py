"""The autoencoder baseline of E12 trained by the same loop, hooks and checkpoints as a GAN: the
trainer's D is the encoder, its G the decoder (``models.autoencoder``), and the step minimises
the squared reconstruction error ‖G(E(x)) − x‖² instead of playing the game. Resume, ``sample``,
``serve`` and ``eval`` then treat its run like any other."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.training.trainer import GANTrainer

Tensor = torch.Tensor
FIT_COUNT = 10_000  # training images whose codes the sampling Gaussian is fitted to


class AutoencoderTrainer(GANTrainer):
    """``G`` = ``CodeDecoder``, ``D`` = ``Encoder``; both learn at ``lr_g`` from one loss."""

    def __init__(self, cfg, data, device, world):
        unused = [flag for flag, on in (("--ema-decay", cfg.ema_decay), ("--diffaugment", cfg.diffaugment),
                                        ("--spectral-norm", cfg.spectral_norm), ("--minibatch-disc", cfg.minibatch_disc),
                                        ("--r1-gamma", cfg.r1_gamma), ("--gp-lambda", cfg.gp_lambda),
                                        ("--clip", cfg.clip), ("--n-critic", cfg.n_critic != 1),
                                        ("--g-loss feature-matching", cfg.g_loss == "feature-matching")) if on]
        if unused:
            raise GankitError(f"{unused[0]} belongs to the adversarial game; --trainer autoencoder has no discriminator")
        if cfg.z_prior != "normal":
            raise GankitError("--trainer autoencoder samples codes from a Gaussian: use --z-prior normal")
        if world.size > 1:
            raise GankitError("--trainer autoencoder trains in one process: drop --nproc / torchrun")
        super().__init__(cfg, data, device, world)
        self.stat_names = ("loss_recon",)
        self.codes_fitted_at = -1

    def train_step(self, batches: list[tuple[Tensor, Tensor]]) -> Tensor:
        """One update of encoder and decoder on min ‖G(E(x)) − x‖² (nothing adversarial)."""
        (real, _), = batches
        if self.cfg.lr_decay:
            self.set_learning_rates()
        with self.autocast():
            recon = self.G.decoder(self.D(real))
        loss = F.mse_loss(self.full_precision(recon), real)
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.opt_d.step()
        return loss.detach().reshape(1)

    def base_learning_rates(self) -> tuple[float, float]:
        """Encoder and decoder both learn at ``lr_g`` (two Adams over disjoint parameters step
        exactly as one over both), and the ``lr_decay`` schedule scales that for both."""
        return self.cfg.lr_g, self.cfg.lr_g

    @property
    def sampler(self) -> torch.nn.Module:
        """The decoder, with its code Gaussian fitted to the current encoder."""
        self.fit_codes_if_stale()
        return self.G

    def fit_codes_if_stale(self) -> None:
        """Refit the code Gaussian when the encoder has stepped since the last fit (at most once a step)."""
        if self.codes_fitted_at != self.step:
            self.fit_codes()

    @torch.no_grad()
    def fit_codes(self) -> None:
        """Fit the decoder's sampling Gaussian to the codes of the first ``FIT_COUNT`` training
        images (the same images every time: a function of the weights alone, so resume is exact)."""
        self.D.eval()
        try:
            codes = torch.cat([self.D(self.to_model_input(self.images[i:i + 500]))
                               for i in range(0, min(FIT_COUNT, len(self.images)), 500)])
        finally:
            self.D.train()
        self.G.fit_codes(codes)
        self.codes_fitted_at = self.step

    def state_dict(self) -> dict[str, Any]:
        self.fit_codes_if_stale()  # a checkpoint's decoder samples with the Gaussian of its own encoder
        return super().state_dict()
