"""Weight initialisation: DCGAN's N(0, 0.02) (Radford et al. 2016, §4) or PyTorch's default."""
from __future__ import annotations

from torch import nn

from gankit.registry import Registry

INITS: Registry = Registry("weight init")


@INITS.register("dcgan")
def dcgan_init(module: nn.Module) -> None:
    """Conv and linear weights ~ N(0, 0.02); batch-norm scale ~ N(1, 0.02); biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@INITS.register("default")
def default_init(module: nn.Module) -> None:
    """Keep the initialisation each PyTorch layer draws when it is built."""
