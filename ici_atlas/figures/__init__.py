"""Figures: one ``plot_*`` function per figure (in ``figures/<area>.py``), each returning a
matplotlib Figure built from data rows; ``save_figure`` writes it reproducibly.

Rendering is deterministic: the same data gives byte-identical SVG files (fixed SVG ids,
no timestamps in metadata), so figure files do not change between runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FORMATS = ("png", "svg")

# Colour-blind safe palette (Okabe & Ito, 2008).
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
    "#D55E00", "#F0E442", "#000000", "#999999",
)

TARGET_COLOURS = {"PD-1": "#0072B2", "PD-L1": "#D55E00", "PD-1;PD-L1": "#009E73"}


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    """A figure with the house style (used by every ``plot_*``)."""
    plt.rcParams.update(
        {
            "font.family": "DejaVu Sans",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "ici-atlas",
            "svg.fonttype": "none",
        }
    )
    return plt.figure(figsize=(width, height), dpi=100)


def save_figure(
    fig: Figure, out_dir: str | Path, name: str, formats: Iterable[str] = FORMATS
) -> list[Path]:
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        metadata = {
            "svg": {"Date": None, "Creator": None},
            "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
        }.get(fmt, {"Software": None})
        fig.savefig(path, format=fmt, bbox_inches="tight", dpi=200, metadata=metadata)
        paths.append(path)
    plt.close(fig)
    return paths
