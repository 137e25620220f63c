"""Generator/discriminator pairs, chosen by name from ``MODELS``."""
from __future__ import annotations

from torch import nn

from gankit.errors import GankitError
from gankit.models.autoencoder import build_autoencoder  # E12's baseline, not one of MODELS
from gankit.models.init import INITS
from gankit.models.presets import MODELS
from gankit.data.shape import DataShape
from gankit.models.spec import ModelSpec

__all__ = ["MODELS", "ModelSpec", "build_models"]


def build_models(cfg, shape: DataShape) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator of resolved config ``cfg`` for data of ``shape``,
    initialised with ``cfg.init`` (seed the RNG first for reproducible weights). For
    ``trainer = "autoencoder"``: the decoder (a generator) and the encoder in their place."""
    spec = MODELS[cfg.model]
    if (spec.data_kind == "points") != shape.is_points:
        wanted = "gan2d" if shape.is_points else "an image model such as dcgan"
        raise GankitError(f"model {cfg.model} needs {spec.data_kind} data but {cfg.data} is "
                          f"{'2-D points' if shape.is_points else 'images'}: use --model {wanted}")
    if spec.sizes and shape.size not in spec.sizes:
        raise GankitError(f"model {cfg.model} needs --image-size in {', '.join(map(str, spec.sizes))}, got {shape.size}")
    if spec.conditional and shape.num_classes < 2:
        raise GankitError(f"model {cfg.model} is conditional but {cfg.data} has {shape.num_classes} class: "
                          "use a labelled data set or keep at least two --classes")
    if cfg.trainer == "autoencoder":
        g, d = build_autoencoder(cfg, shape)
    else:
        g, d = spec.build(cfg, shape)
    for net in (g, d):
        INITS[cfg.init](net)
    if cfg.spectral_norm:
        with_spectral_norm(d)
    return g, d


def with_spectral_norm(net: nn.Module) -> nn.Module:
    """Miyato et al. 2018: every convolution and linear layer's weight divided by its largest
    singular value, estimated by one power iteration per training forward pass (torch's
    parametrization; the initialised weights are its starting point)."""
    for module in list(net.modules()):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(module)
    return net
