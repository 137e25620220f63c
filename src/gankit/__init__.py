"""gankit: train, evaluate and compare generative adversarial networks on image data.

    >>> import gankit
    >>> run = gankit.train(gankit.Config(model="dcgan", data="mnist", epochs=1))
    >>> images = run.sample(64, label=None)       # uint8 (64, 1, 32, 32)
    >>> run = gankit.load(run.dir)                # a saved run, ready to sample
"""
from gankit._version import __version__
from gankit.config import Config
from gankit.errors import GankitError

__all__ = ["Config", "GankitError", "Run", "load", "resume", "train", "__version__"]


def __getattr__(name):
    # The API entry points import torch-heavy modules; load them on first use only.
    if name in ("train", "resume", "load", "Run"):
        from gankit import run  # deferred: `import gankit` stays torch-free

        return getattr(run, name)
    raise AttributeError(name)
