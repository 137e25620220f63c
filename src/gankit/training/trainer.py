"""The GAN training step (Goodfellow et al. 2014, Algorithm 1, with the per-model choices of
loss, critic steps, clipping and gradient penalty), and the state it needs to continue exactly.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator, Optional

import torch

from gankit.data import ImageData
from gankit.errors import GankitError
from gankit.diffaugment import diff_augment, parse_policy
from gankit.losses import LOSSES, clip_weights, feature_matching_loss, gradient_penalty, mode_seeking_penalty, r1_penalty
from gankit.models import MODELS, build_models
from gankit.models.features import LastHiddenLayer
from gankit.noise import sample_noise
from gankit.training.distributed import World
from gankit.training.ema import generator_ema
from gankit.training.optim import make_optimizer
from gankit.training.checkpoint import load_weights

log = logging.getLogger(__name__)
# CPU vector ISAs (torch.backends.cpu.get_cpu_capability()) with no bfloat16 arithmetic: autocast emulates
# it there, and gankit bench measured bf16 at 0.09x fp32's images/s (dcgan-32, AVX2 AMD EPYC, 2026-12-07).
CPU_WITHOUT_BF16 = ("DEFAULT", "AVX2")

Tensor = torch.Tensor
STAT_NAMES = ("loss_d", "loss_g", "loss_d_real", "loss_d_fake", "d_real", "d_fake")
GRAD_NORM = "grad_norm_g"  # logged after STAT_NAMES when cfg.log_grad_norm


def no_gradient_sync(net: torch.nn.Module):
    """DDP's ``no_sync`` for a wrapped network (gradients stay local); nothing otherwise."""
    return net.no_sync() if isinstance(net, torch.nn.parallel.DistributedDataParallel) else nullcontext()


@contextmanager
def frozen(net: torch.nn.Module):
    """``net``'s trainable parameters without gradients inside the block, as StyleGAN2-ADA freezes
    the network a phase does not update: G's step back-propagates through D to G's weights only,
    and skipping D's weight gradients there saves 13 % of a ``dcgan-plus`` G step on this CPU."""
    params = [p for p in net.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The shuffled order of ``n`` examples in ``epoch``: a function of (seed, epoch) only, so a
    resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


class GANTrainer:
    """Networks, optimizers, the data on the device, RNGs and progress of one run.

    Progress: ``epoch`` counts completed epochs, ``batch`` the real (global) batches already used
    in the current one, ``step`` the generator updates so far. Under DDP (``world``) each rank
    trains on its slice of every global batch of ``batch_size × world.size`` images.
    """

    def __init__(self, cfg, data: ImageData, device: torch.device, world: World = World()):
        self.cfg, self.device, self.world = cfg, device, world
        self.spec = MODELS[cfg.model]
        self.shape = data.shape
        for name in ("mismatch", "mode_seeking"):
            if getattr(cfg, name) and not self.spec.conditional:
                raise GankitError(f"--{name.replace('_', '-')} needs a conditional model (cgan, cdcgan), not {cfg.model}")
        self.augment_policy = parse_policy(cfg.diffaugment)
        if self.augment_policy and self.shape.is_points:
            raise GankitError("--diffaugment transforms images; 2-D points have nothing to translate or cut out")
        torch.manual_seed(cfg.seed)
        g, d = build_models(cfg, self.shape)
        # Channels-last (NHWC) convolutions: +15-28 % images/s for the 32 px DCGAN on this CPU's oneDNN.
        self.memory_format = torch.contiguous_format if self.shape.is_points else torch.channels_last
        self.G, self.D = g.to(device, memory_format=self.memory_format), d.to(device, memory_format=self.memory_format)
        # What the training step calls: the networks themselves, or under DDP their wrappers
        # (same parameters, gradients averaged over the ranks). Saving and sampling use G and D.
        self.G_ema = generator_ema(self.G, cfg.ema_decay, cfg.ema_rampup) if cfg.ema_decay else None
        self.G_train = world.wrap(self.G, device, cfg.sync_bn)
        self.D_train = world.wrap(self.D, device, cfg.sync_bn)
        lr_g, lr_d = self.base_learning_rates()
        self.opt_g = make_optimizer(cfg.optimizer, self.G.parameters(), lr_g, cfg.betas)
        self.opt_d = make_optimizer(cfg.optimizer, self.D.parameters(), lr_d, cfg.betas)
        self.loss = LOSSES[cfg.loss]
        self.hidden = LastHiddenLayer(self.D) if cfg.g_loss == "feature-matching" else None
        self.bf16 = cfg.precision == "bf16"
        if self.bf16 and device.type == "cpu" and world.is_main:
            self.warn_if_bf16_is_emulated()
        self.images, self.labels = data.images.to(device), data.labels.to(device)
        self.noise = torch.Generator(device).manual_seed(cfg.seed + 1)
        self.fixed_z, self.fixed_y = self.fixed_batch()
        self.epoch = self.batch = self.step = 0
        self.train_seconds = 0.0
        self.stat_names = STAT_NAMES + ((GRAD_NORM,) if cfg.log_grad_norm else ())

    @staticmethod
    def warn_if_bf16_is_emulated() -> None:
        """One warning line when this CPU has no bfloat16 arithmetic (rank 0 only: one line per job)."""
        capability = torch.backends.cpu.get_cpu_capability()
        if capability in CPU_WITHOUT_BF16:
            log.warning("--precision bf16 on a CPU without AVX-512 (%s): bfloat16 is emulated here, about 10x "
                        "slower than fp32; use --precision fp32", capability)

    # --- noise -----------------------------------------------------------------------------
    def sample_z(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """(n, z_dim) latent vectors from the configured prior: N(0, I) or U[-1, 1]."""
        return sample_noise(n, self.cfg.z_dim, self.cfg.z_prior, generator or self.noise)

    def sample_labels(self, n: int) -> Optional[Tensor]:
        """(n,) uniform random class labels for a conditional generator, else None."""
        if not self.spec.conditional:
            return None
        return torch.randint(self.shape.num_classes, (n,), generator=self.noise, device=self.device)

    def fixed_batch(self) -> tuple[Tensor, Optional[Tensor]]:
        """The noise batch drawn once per run for the per-epoch grids; the same for every run
        with the same seed and z size. Conditional: the same ``n_fixed`` z for every class."""
        gen = torch.Generator().manual_seed(self.cfg.seed)
        z = self.sample_z(self.cfg.n_fixed, gen)
        if not self.spec.conditional:
            return z.to(self.device), None
        k = self.shape.num_classes
        y = torch.arange(k).repeat_interleave(self.cfg.n_fixed)  # a row per class
        return z.repeat(k, 1).to(self.device), y.to(self.device)

    def fake_inputs(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        """This rank's ``n`` latent vectors (and labels) for a training step: its slice of the
        global draw that every rank makes alike (the whole draw in a single process)."""
        z, y = self.sample_z(n * self.world.size), self.sample_labels(n * self.world.size)
        z, y = self.world.rank_slice(z), None if y is None else self.world.rank_slice(y)
        if self.cfg.mode_seeking and y is not None:  # MSGAN's pairs: sample i and i + n/2 share a label
            y = torch.cat([y[:n // 2], y[:n - n // 2]])
        return z, y

    def wrong_labels(self, y: Tensor) -> Tensor:
        """A label other than ``y`` for each image, uniform over the other classes."""
        shift = torch.randint(1, self.shape.num_classes, y.shape, generator=self.noise, device=y.device)
        return (y + shift) % self.shape.num_classes

    def penalty_weights(self, real: Tensor) -> Tensor:
        """WGAN-GP's ε ~ U[0, 1], one per real image: this rank's slice of the global draw."""
        shape = (len(real) * self.world.size,) + (1,) * (real.dim() - 1)
        return self.world.rank_slice(torch.rand(shape, device=real.device, dtype=real.dtype, generator=self.noise))

    # --- data --------------------------------------------------------------------------------
    @property
    def global_batch(self) -> int:
        """Real images per discriminator step over all ranks."""
        return self.cfg.batch_size * self.world.size

    @property
    def batches_per_epoch(self) -> int:
        """Whole groups of ``n_critic`` global batches that fit in one pass (the rest is dropped)."""
        return len(self.images) // (self.global_batch * self.cfg.n_critic) * self.cfg.n_critic

    @property
    def total_steps(self) -> int:
        """Generator steps in the whole run: ``epochs`` passes, or ``max_steps`` if that comes first."""
        steps = self.cfg.epochs * (self.batches_per_epoch // self.cfg.n_critic)
        return min(steps, self.cfg.max_steps) if self.cfg.max_steps else steps

    def learning_rate_factor(self) -> float:
        """The share of the configured learning rates that step ``step + 1`` uses: 1 until the last
        ``lr_decay`` share of the run, then falling linearly, to 0 as the run ends (the
        schedule of CycleGAN, Zhu et al. 2017: a constant rate, then linear decay to zero)."""
        total = self.total_steps
        decay_steps = self.cfg.lr_decay * total
        if decay_steps <= 0:
            return 1.0
        return max(0.0, min(1.0, (total - self.step) / decay_steps))

    def base_learning_rates(self) -> tuple[float, float]:
        """The configured (G, D) learning rates that the ``lr_decay`` schedule scales."""
        return self.cfg.lr_g, self.cfg.lr_d

    def set_learning_rates(self) -> None:
        """Both optimizers' learning rates at this step of the schedule (``lr_decay``)."""
        factor = self.learning_rate_factor()
        for opt, lr in zip((self.opt_g, self.opt_d), self.base_learning_rates()):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def epoch_batches(self) -> Iterator[list[tuple[Tensor, Tensor]]]:
        """The rest of the current epoch as groups of ``n_critic`` (real, label) batches, this
        rank's slice of each global batch. The order is a function of (seed, epoch) only, so a
        resumed run sees the same batches."""
        order = epoch_order(len(self.images), self.cfg.seed, self.epoch).to(self.device)
        bs, group = self.global_batch, self.cfg.n_critic
        for start in range(self.batch, self.batches_per_epoch, group):
            picks = [self.world.rank_slice(order[(start + i) * bs:(start + i + 1) * bs]) for i in range(group)]
            yield [(self.to_model_input(self.images[idx]), self.labels[idx]) for idx in picks]

    def to_model_input(self, x: Tensor) -> Tensor:
        """uint8 images -> floats in [-1, 1]; toy points as they are (both in the default dtype)."""
        if x.dtype != torch.uint8:
            return x.to(torch.get_default_dtype())
        return (x.to(torch.get_default_dtype()) / 127.5 - 1).contiguous(memory_format=self.memory_format)

    # --- the networks at the run's precision ---------------------------------------------------
    def autocast(self):
        """bf16: bfloat16 autocast for a forward pass (weights stay fp32; no loss scaling, which
        bf16's fp32-sized exponent does not need). fp32: nothing, so the ops are exactly as without it."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else nullcontext()

    def generate(self, z: Tensor, y: Optional[Tensor]) -> Tensor:
        """G(z, y) as the training step calls it (the DDP wrapper, if any), in full precision."""
        with self.autocast():
            fake = self.G_train(z, y)
        return self.full_precision(fake)

    def critic(self, x: Tensor, y: Optional[Tensor]) -> Tensor:
        """D(x, y), shape (B,), as the training step calls it (on DiffAugment's T(x) when the run
        uses it), in full precision so that the losses and the gradient penalty's norm are
        computed in fp32."""
        if self.augment_policy:
            x = diff_augment(x, self.augment_policy, self.noise).contiguous(memory_format=self.memory_format)
        with self.autocast():
            out = self.D_train(x, y)
        return self.full_precision(out)

    def full_precision(self, x: Tensor) -> Tensor:
        """An autocast output back in the weights' dtype (fp32, or fp64 where a test runs so);
        without autocast, the tensor itself."""
        return x.to(torch.get_default_dtype()) if self.bf16 else x

    # --- the algorithm ------------------------------------------------------------------------
    def train_step(self, batches: list[tuple[Tensor, Tensor]]) -> Tensor:
        """One generator update after ``len(batches)`` discriminator updates. Returns the
        detached statistics ``stat_names`` of the last D step and the G step, without a host sync."""
        if self.cfg.lr_decay:
            self.set_learning_rates()
        for i, (real, y_real) in enumerate(batches):
            z, y_fake = self.fake_inputs(len(real))
            with torch.set_grad_enabled(i == len(batches) - 1):  # keep G's graph for step (2) only
                fake = self.generate(z, y_fake)
            d_stats = self.update_d(real, y_real, fake.detach(), y_fake, r1=self.r1_due(self.step * len(batches) + i))
        loss_g, g_stats = self.update_g(fake, y_fake, z, real, y_real)
        return torch.stack([d_stats[0], loss_g, *d_stats[1:], *g_stats]).detach()

    def r1_due(self, d_step: int) -> bool:
        """Whether D step ``d_step`` (counted from 0 over the run) adds the R1 penalty: every
        ``r1_every``-th one (lazy regularisation). A function of the step, so resume stays exact."""
        return bool(self.cfg.r1_gamma) and d_step % self.cfg.r1_every == 0

    def update_d(self, real: Tensor, y_real, fake: Tensor, y_fake, r1: bool = False) -> tuple[Tensor, ...]:
        """(1) Update D: minimise its loss on real and fake, e.g. −log D(x) − log(1 − D(G(z))),
        and where ``r1`` is due γ·N/2 · E‖∇x D(x)‖² (N = ``r1_every``, Mescheder et al. 2018)."""
        if r1:  # R1 differentiates D's output with respect to the real images
            real = real.detach().requires_grad_(True)
        out_real, out_fake = self.critic(real, y_real), self.critic(fake, y_fake)
        loss_real, loss_fake = self.loss.d_loss(out_real, out_fake)
        if self.cfg.mismatch:  # GAN-CLS: a real image with the wrong label is fake too
            _, loss_wrong = self.loss.d_loss(out_real, self.critic(real, self.wrong_labels(y_real)))
            loss_fake = (1 - self.cfg.mismatch) * loss_fake + self.cfg.mismatch * loss_wrong
        loss_d = loss_real + loss_fake
        if self.cfg.gp_lambda:
            eps = self.penalty_weights(real)
            loss_d = loss_d + self.cfg.gp_lambda * gradient_penalty(self.critic, real, fake, y_real, eps)
        if r1:
            loss_d = loss_d + self.cfg.r1_gamma * self.cfg.r1_every / 2 * r1_penalty(out_real, real)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        if self.cfg.clip:
            clip_weights(self.D, self.cfg.clip)
        return loss_d, loss_real, loss_fake, self.score(out_real), self.score(out_fake)

    def update_g(self, fake: Tensor, y_fake, z: Tensor, real: Tensor, y_real) -> tuple[Tensor, tuple[Tensor, ...]]:
        """(2) Update G: minimise its loss on D(G(z)), e.g. the non-saturating −log D(G(z)), or
        with feature matching the distance of D's mean hidden features on the fakes to those on
        the last real batch. Returns the loss and, with ``log_grad_norm``, the L2 norm of G's
        whole gradient: the signal that saturates early with the minimax form log(1 − D(G(z)))."""
        # Only G learns from this loss: D is frozen, and under DDP its wrapper must not wait for gradients to average.
        with no_gradient_sync(self.D_train), frozen(self.D):
            out_fake = self.critic(fake, y_fake)
            if self.hidden is None:
                loss_g = self.loss.g_loss(out_fake, self.cfg.g_loss)
            else:
                fake_features = self.full_precision(self.hidden.value)
                with torch.no_grad():
                    self.critic(real, y_real)
                loss_g = feature_matching_loss(self.full_precision(self.hidden.value), fake_features)
            if self.cfg.mode_seeking:
                loss_g = loss_g + self.cfg.mode_seeking * mode_seeking_penalty(fake, z)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        extra = (self.grad_norm(self.G),) if self.cfg.log_grad_norm else ()
        self.opt_g.step()
        if self.G_ema is not None:
            self.G_ema.update_parameters(self.G)
        return loss_g, extra

    @staticmethod
    def grad_norm(net: torch.nn.Module) -> Tensor:
        """L2 norm of all of ``net``'s parameter gradients together, on the device."""
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))

    def score(self, out: Tensor) -> Tensor:
        """Mean D output as logged: a probability for BCE, the raw critic score otherwise."""
        return (torch.sigmoid(out) if self.loss.probabilities else out).mean().detach()

    # --- outputs and state -------------------------------------------------------------------
    @property
    def sampler(self) -> torch.nn.Module:
        """The generator that grids, samples and metrics use: the moving average when the run
        keeps one, else G itself."""
        return self.G if self.G_ema is None else self.G_ema.module

    @torch.no_grad()
    def fixed_samples(self) -> Tensor:
        """The sampler's G(fixed z) in eval mode (running batch-norm statistics, no dropout)."""
        net = self.sampler
        net.eval()
        try:
            return net(self.fixed_z, self.fixed_y)
        finally:
            if net is self.G:
                net.train()

    def weights_finite(self) -> bool:
        """Whether every parameter and float buffer (batch-norm statistics) of both networks is
        finite (checked before an epoch's checkpoint)."""
        nets = (self.G, self.D) + (() if self.G_ema is None else (self.G_ema,))
        tensors = [t for net in nets for t in (*net.parameters(), *net.buffers()) if t.is_floating_point()]
        return bool(torch.stack([t.isfinite().all() for t in tensors]).all())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly, in types a weights-only load accepts."""
        state = dict(generator=self.G.state_dict(), discriminator=self.D.state_dict(),
                     opt_g=self.opt_g.state_dict(), opt_d=self.opt_d.state_dict(),
                     epoch=self.epoch, batch=self.batch, step=self.step, train_seconds=self.train_seconds,
                     world_size=self.world.size,
                     rng_cpu=torch.get_rng_state(), rng_noise=self.noise.get_state(),
                     fixed_z=self.fixed_z.cpu(), fixed_y=None if self.fixed_y is None else self.fixed_y.cpu())
        if self.G_ema is not None:
            state["generator_ema"] = self.G_ema.module.state_dict()
            state["ema_updates"] = int(self.G_ema.n_averaged)
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict[str, Any], path: Any = "checkpoint") -> None:
        """Restore a ``state_dict``; a checkpoint of another architecture is a one-line error."""
        load_weights(self.G, state["generator"], "generator", path)
        load_weights(self.D, state["discriminator"], "discriminator", path)
        if self.G_ema is not None:
            if "generator_ema" not in state:
                raise GankitError(f"{path} has no moving average of G (it was trained without --ema-decay)")
            load_weights(self.G_ema.module, state["generator_ema"], "generator average", path)
            self.G_ema.n_averaged.fill_(state["ema_updates"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.epoch, self.batch, self.step = state["epoch"], state["batch"], state["step"]
        saved_world = state.get("world_size", 1)
        if saved_world != self.world.size:  # resumed with another world size: the same place in the epoch,
            # rounded up to a whole group of this world's global batches
            used = self.batch * self.cfg.batch_size * saved_world
            group = self.global_batch * self.cfg.n_critic
            self.batch = -(-used // group) * self.cfg.n_critic
        self.train_seconds = state["train_seconds"]
        torch.set_rng_state(state["rng_cpu"])
        self.noise.set_state(state["rng_noise"])
        if "rng_cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"], self.device)
        self.fixed_z = state["fixed_z"].to(self.device)
        self.fixed_y = None if state["fixed_y"] is None else state["fixed_y"].to(self.device)
