"""The run configuration: one dataclass that CLI flags, TOML files and checkpoints all map to.

A field left at ``None`` is filled from the chosen model's preset (the settings of the paper or
course document the model comes from, see ``gankit.models.presets``), then from the fallback
defaults below. ``Config.resolved()`` returns the filled-in copy; every run saves it.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from gankit import defaults
from gankit.errors import GankitError


def _f(default: Any, help: str, fallback: Any = None, **checks: Any) -> Any:
    """A dataclass field whose help text is also the CLI's ``--help`` and the TOML docs. A preset
    field (default None) names its ``fallback``: the value when neither the user nor the model's
    preset sets it."""
    meta = {"help": help, **checks}
    if fallback is not None:
        meta["fallback"] = fallback
    return field(default=default, metadata=meta)


@dataclass
class Config:
    """Everything that defines a training run."""

    model: str = _f("dcgan", "network family and preset (see `gankit models`)")
    trainer: str = _f("gan", "what trains the networks: gan (the adversarial game), or autoencoder (E12's baseline: D's "
                             "convolutions encode an image to z, G decodes it, squared reconstruction error; G then "
                             "samples by decoding z from a Gaussian fitted to the training codes)",
                      choices=("gan", "autoencoder"))
    data: str = _f("mnist", "data set name or folder:PATH (see `gankit datasets`)")
    data_dir: Optional[str] = _f(None, "root of data sets in torchvision's layout (default $GANKIT_DATA, then ~/.cache/gankit/data)")
    image_size: Optional[int] = _f(None, fallback=32, help="side of the square images the networks see: 28, 32, 64 or 128", choices=(8, 16, 28, 32, 64, 128))
    classes: Optional[list[int]] = _f(None, "keep only these labels, e.g. 3 or 0,1,2 (default: all)")
    per_class: Optional[int] = _f(None, "train on this many images of each class (a fixed draw, the same one "
                                        "`gankit augment --real-per-class` uses): the low-data regime", min=1)
    epochs: Optional[int] = _f(None, fallback=5, help="passes over the training set", min=1)
    max_steps: Optional[int] = _f(None, "stop after this many generator steps (default: no limit)", min=1)
    batch_size: Optional[int] = _f(None, fallback=64, help="real images per discriminator step", min=1, max=65_536)
    z_dim: Optional[int] = _f(None, fallback=100, help="size of the latent vector z", min=1, max=10_000)
    z_prior: Optional[str] = _f(None, fallback="normal", help="distribution of z", choices=("normal", "uniform"))
    ngf: Optional[int] = _f(None, fallback=32, help="generator width (channels of its last hidden layer)", min=1, max=1024)
    ndf: Optional[int] = _f(None, fallback=32, help="discriminator width (channels of its first hidden layer)", min=1, max=1024)
    optimizer: Optional[str] = _f(None, fallback="adam", help="optimizer of both networks")
    lr_g: Optional[float] = _f(None, fallback=0.0002, help="generator learning rate", positive=True)
    lr_d: Optional[float] = _f(None, fallback=0.0002, help="discriminator learning rate", positive=True)
    betas: Optional[tuple[float, float]] = _f(None, fallback=(0.5, 0.999), help="Adam betas, e.g. 0.5,0.999", unit_interval=True)
    loss: Optional[str] = _f(None, fallback="bce", help="adversarial loss")
    g_loss: str = _f("non-saturating", "generator objective: the BCE loss's -log D(G(z)) or log(1 - D(G(z))), or feature "
                                       "matching (Salimans et al. 2016): the mean of D's last hidden layer on fakes "
                                       "matched to that on the real batch, with any --loss for D",
                     choices=("non-saturating", "saturating", "feature-matching"))
    n_critic: Optional[int] = _f(None, fallback=1, help="discriminator steps per generator step", min=1)
    clip: Optional[float] = _f(None, fallback=0.0, help="clip critic weights to [-clip, clip] after each step (WGAN); 0 turns it off", min=0)
    gp_lambda: Optional[float] = _f(None, fallback=0.0, help="gradient penalty weight (WGAN-GP); 0 turns it off", min=0)
    lr_decay: float = _f(0.0, "share of the run over whose end both learning rates fall linearly to 0 as the run "
                              "ends, e.g. 0.5: constant for the first half, then linear decay (the schedule is a "
                              "function of the step and the run's length, so resume stays exact); 0 keeps them "
                              "constant", min=0, max=1)
    init: Optional[str] = _f(None, fallback="dcgan", help="weight init: DCGAN's N(0, 0.02) or PyTorch's default")
    sync_bn: bool = _f(False, "under DDP (torchrun, --nproc): batch-norm statistics over the global batch (SyncBatchNorm)")
    minibatch_disc: bool = _f(False, "add minibatch discrimination (Salimans 2016) to the discriminator")
    spectral_norm: bool = _f(False, "spectral normalisation (Miyato et al. 2018) of every convolution and linear layer of D")
    r1_gamma: Optional[float] = _f(None, fallback=0.0, help="R1 penalty (Mescheder et al. 2018) weight: D's step adds "
                                   "gamma/2 · E‖∇x D(x)‖² on real images; 0 turns it off", min=0)
    r1_every: Optional[int] = _f(None, fallback=1, help="with --r1-gamma: apply R1 on every N-th D step only, weighted by "
                                 "N so that its strength stays the same (lazy regularisation, Karras et al. 2020, "
                                 "StyleGAN2): R1's double backward makes a D step ~1.6x as slow here, lazily 1/N of "
                                 "that", min=1)
    diffaugment: str = _f("", "DiffAugment (Zhao et al. 2020): the same random transformations, comma-separated from "
                              "color, translation, cutout, on every image D sees, real and fake, in both steps; "
                              "the lever for small data sets; empty turns it off")
    mismatch: Optional[float] = _f(None, fallback=0.0, help="matching-aware D (Reed et al. 2016, GAN-CLS), conditional models: this share of "
                                         "D's fake loss scores real images with a wrong label; 0 turns it off", min=0, max=1)
    mode_seeking: Optional[float] = _f(None, fallback=0.0, help="mode-seeking term (Mao et al. 2019, MSGAN) weight, conditional models: pairs "
                                             "of fakes share a label, and G is penalised when two z give alike "
                                             "images; 0 turns it off", min=0)
    ema_decay: Optional[float] = _f(None, fallback=0.0, help="keep an exponential moving average of G's weights and batch-norm statistics with this "
                               "decay, e.g. 0.999 (Karras et al. 2018; Yazici et al. 2019); grids, samples and "
                               "metrics then use it (--generator raw: the trained weights); 0 turns it off",
                          min=0, max=0.99999)
    ema_rampup: float = _f(0.05, "with --ema-decay: the average's half-life is at most this share of the steps "
                                 "taken so far (StyleGAN2-ADA's ema_rampup), so that short runs do not average in "
                                 "the untrained G; 0 keeps --ema-decay from the first step", min=0, max=1)
    n_fixed: Optional[int] = _f(None, fallback=64, help="size of the fixed noise batch whose grid is saved every epoch (conditional: per class)", min=1, max=1024)
    fit: str = _f("auto", "how 28 px data meets another size: pad, resize, or auto (pad by up to 4 px, else resize)", choices=("auto", "pad", "resize"))
    holdout: float = _f(0.1, "folder:PATH without train/ and test/ sub-folders: the share of each class held out as "
                             "its test split (chosen by file path, never seen by the GAN)", min=0, max=0.9)
    on_bad_image: str = _f("skip", "an unreadable image in a folder: skip it with a warning, or stop", choices=("skip", "stop"))
    eval_every: int = _f(0, "record --eval-metrics every N epochs into eval_history.jsonl; 0 turns it off", min=0)
    eval_metrics: str = _f("classifier", "metrics recorded during training, e.g. classifier or fid,kid")
    eval_n: int = _f(2000, "samples per metric record during training", min=2, max=1_000_000)
    best_metric: str = _f("auto", "the recorded metric whose best value checkpoints/best.pt keeps (with --eval-every or "
                                  "--eval-every-steps): auto (fid when recorded, else classifier_fid), or a column "
                                  "of eval_history.jsonl such as kid or label_accuracy")
    eval_every_steps: int = _f(0, "also record --eval-metrics every N generator steps (at a log window); 0 turns it off", min=0)
    log_every: int = _f(10, "write a metrics row (mean over the window) every N generator steps", min=1)
    log_grad_norm: bool = _f(False, "also log grad_norm_g, the L2 norm of the generator's gradient at each step")
    checkpoint_every: int = _f(0, "also save checkpoints/last.pt every N generator steps (at a log window); 0: at epoch ends only", min=0)
    seed: int = _f(0, "seed of weights, data order, noise and the fixed grid", min=0)
    device: str = _f(defaults.DEVICE, "auto (cuda when available), cpu or cuda", choices=defaults.DEVICES)
    precision: str = _f("fp32", "fp32, or bf16: the forward passes of G and D under bfloat16 autocast (a GPU lever; "
                                "losses, the gradient penalty, weights, optimizer state and checkpoints stay fp32)",
                        choices=("fp32", "bf16"))
    out: Optional[str] = _f(None, "run directory (default runs/MODEL-DATA-TIME)")

    def resolved(self) -> "Config":
        """A copy with every ``None`` preset field filled from the model's preset, then fallbacks.

        Raises ``GankitError`` for an unknown model or a value out of range.
        """
        from gankit.models import MODELS  # deferred: models import this module

        preset = MODELS[self.model].preset
        values = dataclasses.asdict(self)
        # Plain preset values first; then those that depend on others (widths on image size).
        for dependent in (False, True):
            for name, value in preset.items():
                if values[name] is None and callable(value) == dependent:
                    values[name] = value(values) if dependent else value
        for f in fields(self):
            if values[f.name] is None and "fallback" in f.metadata:
                values[f.name] = f.metadata["fallback"]
        cfg = Config(**values)
        cfg.validate()
        check_registered(cfg)
        return cfg

    def sources(self, given: dict[str, str]) -> dict[str, str]:
        """Where each field of ``self.resolved()`` comes from: ``given[name]`` for the fields the
        user set (e.g. "flag", "TOML"), else "preset", "fallback" or "default"."""
        from gankit.models import MODELS  # deferred: keeps `import gankit` torch-free

        preset = MODELS[self.model].preset
        out = {}
        for f in fields(self):
            if f.name in given:
                out[f.name] = given[f.name]
            elif getattr(self, f.name) is None and f.name in preset:
                out[f.name] = "preset"
            elif getattr(self, f.name) is None and "fallback" in f.metadata:
                out[f.name] = "fallback"
            else:
                out[f.name] = "default"
        return out

    def validate(self) -> None:
        """Check every set field against its declared choices and range; one-line errors."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            meta, flag = f.metadata, "--" + f.name.replace("_", "-")
            if "choices" in meta and value not in meta["choices"]:
                raise GankitError(f"{flag} {value!r} is not one of {', '.join(map(str, meta['choices']))}")
            numbers = value if isinstance(value, (tuple, list)) else [value]
            for number in numbers if isinstance(value, (int, float, tuple, list)) and not isinstance(value, bool) else []:
                if isinstance(number, float) and not math.isfinite(number):
                    raise GankitError(f"{flag} must be a finite number, got {value}")
                if "min" in meta and number < meta["min"]:
                    raise GankitError(f"{flag} must be at least {meta['min']}, got {value}")
                if "max" in meta and number > meta["max"]:
                    raise GankitError(f"{flag} must be at most {meta['max']:,}, got {value}")
                if meta.get("positive") and number <= 0:
                    raise GankitError(f"{flag} must be greater than 0, got {value}")
                if meta.get("unit_interval") and not 0 <= number < 1:
                    raise GankitError(f"{flag} values must lie in [0, 1), got {value}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-friendly dict of all fields."""
        values = dataclasses.asdict(self)
        if values["betas"] is not None:
            values["betas"] = list(values["betas"])
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> "Config":
        """Build from a dict (TOML, JSON, checkpoint); unknown keys and bad types are errors."""
        return cls(**coerce_fields(values, source))


FIELDS = {f.name: f for f in fields(Config)}


def check_registered(cfg: Config) -> None:
    """The optimizer, loss and init named by ``cfg`` exist in their registries (the one list of
    each; torch-heavy modules, so checked here rather than as choices in the field)."""
    from gankit.losses import LOSSES  # deferred: keeps `import gankit` torch-free
    from gankit.models.init import INITS  # deferred: keeps `import gankit` torch-free
    from gankit.training.optim import OPTIMIZERS  # deferred: keeps `import gankit` torch-free

    for name, registry in (("optimizer", OPTIMIZERS), ("loss", LOSSES), ("init", INITS)):
        value = getattr(cfg, name)
        if value not in registry:
            raise GankitError(f"--{name} {value!r} is not one of {', '.join(registry.names())}")


def parse_value(name: str, raw: Any, source: str = "config") -> Any:
    """Convert a flag string or TOML value into the type of field ``name``; one-line errors."""
    if name not in FIELDS:
        close = [n for n in FIELDS if n.startswith(name[:3])]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise GankitError(f"{source}: unknown field {name!r}{hint}; see `gankit train --help`")
    if raw is None:
        return None
    kind = str(FIELDS[name].type)
    flag = "--" + name.replace("_", "-")
    try:
        if "list[int]" in kind:
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return sorted({int(str(v).strip()) for v in items if str(v).strip() != ""}) or None
        if "tuple[float, float]" in kind:
            items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
            if len(items) != 2:
                raise ValueError
            return (float(items[0]), float(items[1]))
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if "int" in kind:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw)
        if "float" in kind:
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        expected = kind.replace("Optional[", "").rstrip("]")
        raise GankitError(f"{source}: {flag} {raw!r} is not a valid {expected}") from None


def coerce_fields(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Parse every entry of ``values`` as the field it names."""
    return {name.replace("-", "_"): parse_value(name.replace("-", "_"), raw, source) for name, raw in values.items()}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a config TOML file into checked field values (only the fields it sets)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise GankitError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as err:
        raise GankitError(f"config file {path} is not valid TOML: {err}") from None
    return coerce_fields(raw, str(path))
