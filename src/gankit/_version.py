"""gankit's version: the installed distribution's (pyproject.toml), read without importing torch."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gankit")
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0.0.0+unknown"
