"""ici-atlas: a reproducible evidence base for anti-PD-1/PD-L1 cancer immunotherapy.

The library's front door::

    from ici_atlas import Atlas, pool

    atlas = Atlas()                        # the same store as the ici-atlas command
    atlas.landscape("phases", target_class="PD-1")
    pool(my_table, events="responders", total="patients", test="knha").summary()

See docs/python-api.md. ``Atlas`` and ``pool`` are imported on first use, so that
``import ici_atlas`` (and the command line) stays fast.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ici-atlas")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = ["Atlas", "pool", "Pooled", "TrialFilter", "diff", "screening_simulation", "__version__"]


def __getattr__(name: str):
    if name == "Atlas":
        from .api import Atlas

        return Atlas
    if name in ("pool", "Pooled"):
        from . import pooling

        return getattr(pooling, name)
    if name == "diff":
        from .living.diff import diff

        return diff
    if name == "TrialFilter":
        from .analyses.filters import TrialFilter

        return TrialFilter
    if name == "screening_simulation":
        from .review.simulate import screening_simulation

        return screening_simulation
    raise AttributeError(f"module 'ici_atlas' has no attribute {name!r}")
