"""Sampling a run: ``Run`` (a run's directory, config and generator, which draws images, class
grids and latent interpolations) and ``load`` (a saved run from its checkpoint). Low in the
layering: training, hooks, metrics and the web page import it; it imports none of them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from gankit.config import Config
from gankit.errors import GankitError
from gankit.data.shape import DataShape
from gankit.models import MODELS, build_models
from gankit.noise import sample_noise
from gankit.training.checkpoint import load_weights, read_checkpoint
from gankit.device import resolve_device
from gankit.run_dir import RunDir
from gankit import defaults

__all__ = ["CHECKPOINTS", "GENERATORS", "Run", "load", "to_uint8"]



def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> uint8 in [0, 255]."""
    return ((images.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


@dataclass
class Run:
    """A trained (or training) run: its directory, config and generator in eval mode."""

    dir: Path
    config: Config
    generator: torch.nn.Module
    shape: DataShape
    class_names: list[str]
    class_ids: list[int]
    stopped: str = "done"
    generator_kind: str = "raw"  # which weights sample: "raw" (the trained G) or "ema" (their moving average)
    checkpoint: str = "last"  # which checkpoint they come from: "last", or "best" (at the best monitored metric)
    data_info: dict = field(default_factory=dict)  # what the networks were trained on (see ``runner.data_info``)
    step: Optional[int] = None  # the generator steps behind these weights

    @property
    def checkpoint_path(self) -> Path:
        return RunDir(self.dir).checkpoint_named(self.checkpoint)

    @classmethod
    def from_trainer(cls, directory: Path, trainer, data_info: dict, stopped: str = "done") -> "Run":
        """The run a trainer is training, sampling with its moving average when it keeps one
        (put in eval mode: the caller puts ``trainer.G`` back in train mode to go on training)."""
        net = trainer.sampler.eval()
        return cls(Path(directory), trainer.cfg, net, trainer.shape, data_info["class_names"], data_info["class_ids"],
                   stopped=stopped, generator_kind="raw" if net is trainer.G else "ema", data_info=data_info,
                   step=trainer.step)

    @property
    def conditional(self) -> bool:
        return MODELS[self.config.model].conditional

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def _z(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return sample_noise(n, self.config.z_dim, self.config.z_prior, gen).to(self.device)

    def class_index(self, label: int) -> int:
        """The generator's class index of an original data-set label (e.g. digit 3)."""
        if not self.conditional:
            raise GankitError(f"model {self.config.model} is unconditional: a class needs cgan or cdcgan")
        if label not in self.class_ids:
            raise GankitError(f"class {label} is not in this run; it knows {', '.join(map(str, self.class_ids))}")
        return self.class_ids.index(label)

    def _labels(self, n: int, label: Optional[int]) -> Optional[torch.Tensor]:
        if label is not None:
            return torch.full((n,), self.class_index(label), device=self.device)
        if not self.conditional:
            return None
        return (torch.arange(n) % self.shape.num_classes).to(self.device)  # balanced classes

    @torch.no_grad()
    def _generate(self, z: torch.Tensor, y: Optional[torch.Tensor], batch: int = 500) -> torch.Tensor:
        out = [self.generator(z[i:i + batch], None if y is None else y[i:i + batch]) for i in range(0, len(z), batch)]
        x = torch.cat(out).cpu()
        return x if self.shape.is_points else to_uint8(x)

    def _original_labels(self, y: Optional[torch.Tensor], n: int) -> torch.Tensor:
        """Data-set labels of generated samples: the class asked for, the run's only class, or -1."""
        if y is not None:
            return torch.tensor(self.class_ids)[y.cpu()]
        return torch.full((n,), self.class_ids[0] if len(self.class_ids) == 1 else -1, dtype=torch.long)

    def sample_with_labels(self, n: int, label: Optional[int] = None, seed: int = 0):
        """(n samples, their labels): uint8 (n, C, H, W) images (float (n, 2) toy points) and
        int64 (n,) data-set labels (-1 where an unconditional run of several classes has none)."""
        if n < 1:
            raise GankitError(f"--n must be at least 1, got {n}")
        gen = torch.Generator().manual_seed(seed)
        z = self._z(n, gen)
        y = self._labels(n, label)
        return self._generate(z, y), self._original_labels(y, n)

    def sample(self, n: int = defaults.SAMPLE_N, label: Optional[int] = None, seed: int = defaults.SEED) -> torch.Tensor:
        """n generated samples: uint8 (n, C, H, W) images, or float (n, 2) toy points."""
        return self.sample_with_labels(n, label, seed)[0]

    def interpolate_with_labels(self, steps: int = defaults.STRIP_STEPS, rows: int = defaults.STRIP_ROWS,
                                label: Optional[int] = None, seed: int = defaults.SEED):
        """``rows`` strips of ``steps`` samples along α·z1 + (1 − α)·z2, α from 1 to 0 (so each
        strip goes from G(z1) to G(z2)): uint8 (rows · steps, C, H, W), row-major, and labels."""
        if steps < 2 or rows < 1:
            raise GankitError(f"--steps must be at least 2 and --rows at least 1, got {steps} and {rows}")
        gen = torch.Generator().manual_seed(seed)
        z1, z2 = self._z(rows, gen), self._z(rows, gen)
        alpha = torch.linspace(1, 0, steps, device=self.device)[None, :, None]
        z = (alpha * z1[:, None] + (1 - alpha) * z2[:, None]).reshape(rows * steps, -1)
        y = None
        if label is not None or self.conditional:  # one class per strip: given, or drawn
            per_row = torch.full((rows,), self.class_index(label)) if label is not None \
                else torch.randint(self.shape.num_classes, (rows,), generator=gen)
            y = per_row.repeat_interleave(steps).to(self.device)
        return self._generate(z, y), self._original_labels(y, rows * steps)

    def blend(self, seed_a: int, seed_b: int, alpha: float, n: int = 8, label: Optional[int] = None) -> torch.Tensor:
        """n samples at (1 − α)·z_a + α·z_b, where z_a, z_b are the noise of ``sample(n, seed=…)``:
        α = 0 gives seed_a's samples, α = 1 seed_b's."""
        z_a = self._z(n, torch.Generator().manual_seed(seed_a))
        z_b = self._z(n, torch.Generator().manual_seed(seed_b))
        return self._generate((1 - alpha) * z_a + alpha * z_b, self._labels(n, label))

    def class_grid(self, rows: int = 8, seed: int = 0) -> torch.Tensor:
        """uint8 (rows · K, C, H, W), row-major: a row per noise vector z, a column per class, so
        each row shows what the label alone changes."""
        if not self.conditional:
            raise GankitError(f"model {self.config.model} is unconditional: a class grid needs cgan or cdcgan")
        k = self.shape.num_classes
        z = self._z(rows, torch.Generator().manual_seed(seed)).repeat_interleave(k, 0)
        y = torch.arange(k).repeat(rows).to(self.device)
        return self._generate(z, y)

    def interpolate(self, steps: int = defaults.STRIP_STEPS, rows: int = defaults.STRIP_ROWS,
                    label: Optional[int] = None, seed: int = defaults.SEED) -> torch.Tensor:
        """The strips of ``interpolate_with_labels``, without the labels."""
        return self.interpolate_with_labels(steps, rows, label, seed)[0]


GENERATORS, CHECKPOINTS = defaults.GENERATORS, defaults.CHECKPOINTS


def load(directory: str | Path, device: str = defaults.DEVICE, generator: Optional[str] = None,
         checkpoint: str = defaults.CHECKPOINT) -> Run:
    """A saved run, ready to sample. ``checkpoint``: "last" (``checkpoints/last.pt``) or "best"
    (``checkpoints/best.pt``, kept at the best monitored metric). ``generator``: "ema" (the moving
    average of G's weights, the default where the run kept one) or "raw" (the trained G)."""
    if generator not in (None, *GENERATORS):
        raise GankitError(f"--generator {generator!r} is not one of {', '.join(GENERATORS)}")
    if checkpoint not in CHECKPOINTS:
        raise GankitError(f"--checkpoint {checkpoint!r} is not one of {', '.join(CHECKPOINTS)}")
    run_dir = RunDir(Path(directory))
    path = run_dir.checkpoint_named(checkpoint)
    if checkpoint == "best" and not path.exists() and run_dir.checkpoint.exists():
        raise GankitError(f"{directory} has no checkpoints/best.pt: it is kept by runs trained with --eval-every N "
                          "or --eval-every-steps N; use --checkpoint last")
    state = read_checkpoint(path)
    cfg = Config.from_dict(state["config"], str(directory))
    if cfg.model not in MODELS:
        raise GankitError(f"{directory} was trained with model {cfg.model!r}, which this gankit does not know")
    info = state["data"]
    sample_shape = info["shape"]
    shape = DataShape(num_classes=len(info["class_names"]), point_dim=sample_shape[0]) if len(sample_shape) == 1 \
        else DataShape(channels=sample_shape[0], size=sample_shape[-1], num_classes=len(info["class_names"]))
    kind = generator or ("ema" if "generator_ema" in state else "raw")
    if kind == "ema" and "generator_ema" not in state:
        raise GankitError(f"{directory} keeps no moving average of G (it was trained without --ema-decay): "
                          "use --generator raw")
    net, _ = build_models(cfg, shape)
    load_weights(net, state["generator_ema" if kind == "ema" else "generator"], "generator", directory)
    net.to(resolve_device(device)).eval()
    return Run(Path(directory), cfg, net, shape, info["class_names"], info["class_ids"], generator_kind=kind,
               checkpoint=checkpoint, data_info=info, step=int(state["step"]))
