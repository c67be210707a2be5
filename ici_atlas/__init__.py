"""ici-atlas: a reproducible evidence base for anti-PD-1/PD-L1 cancer immunotherapy."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ici-atlas")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"
