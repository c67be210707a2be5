"""The evidence map: resistance strategies (review Figure 6) placed by strength of
preclinical support against the furthest clinical stage they have reached, with the
'translation gap' (promising preclinical work, no clinical data, no PD-(L)1 trial in the
store) shaded. The review argues for this view but does not draw it."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Sequence

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from ..analyses.evidence import CATEGORIES, MAP_STAGES, SUPPORT_LEVELS
from . import new_figure

#: Okabe-Ito colours without the yellow, which is unreadable as a hollow marker.
CATEGORY_COLOURS = dict(zip(CATEGORIES, ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")))
_GAP_COLOUR = "#F4CCCC"


def _cell_offsets(n: int) -> list[tuple[float, float]]:
    """Deterministic positions for ``n`` points inside one cell (row-major grid)."""
    cols = max(1, math.ceil(math.sqrt(n * 1.8)))
    rows = math.ceil(n / cols)
    dx = 0.78 / cols
    dy = 0.70 / max(rows, 1)
    out = []
    for i in range(n):
        r, c = divmod(i, cols)
        out.append((-0.39 + dx * (c + 0.5), 0.35 - dy * (r + 0.5)))
    return out


def plot_evidence_map(rows: Sequence[dict[str, Any]], trials_known: bool = True) -> Figure:
    """Rows from :func:`ici_atlas.analyses.evidence.query_evidence_map`. ``trials_known`` is False
    when the store had no classified trials (markers then ignore trial counts)."""
    fig = new_figure(11.0, 6.4)
    ax = fig.add_axes([0.07, 0.1, 0.6, 0.8])
    xs = {s: i for i, s in enumerate(SUPPORT_LEVELS)}
    ys = {s: i for i, s in enumerate(MAP_STAGES)}

    gap_x0 = xs["moderate"] - 0.5
    ax.add_patch(Rectangle((gap_x0, -0.5), len(SUPPORT_LEVELS) - 0.5 - gap_x0, 1.0,
                           facecolor=_GAP_COLOUR, edgecolor="none", zorder=0))
    ax.text(len(SUPPORT_LEVELS) - 0.52, -0.46, "translation gap", ha="right", va="bottom",
            fontsize=8, color="#990000", style="italic", zorder=1)

    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        cells[(r["preclinical_support"], r["clinical_stage"])].append(r)
    px, py, sizes, faces, edges = [], [], [], [], []
    for (support, stage), items in sorted(cells.items()):
        items = sorted(items, key=lambda r: (CATEGORIES.index(r["category"]), r["id"]))
        for r, (ox, oy) in zip(items, _cell_offsets(len(items))):
            n = r.get("trials") or 0
            colour = CATEGORY_COLOURS[r["category"]]
            filled = trials_known and n > 0
            x, y = xs[support] + ox, ys[stage] + oy
            px.append(x)
            py.append(y)
            sizes.append(22 + (min(n, 40) * 6 if filled else 0))
            faces.append(colour if filled else "white")
            edges.append(colour)
            if filled:
                ax.text(x, y, str(n), ha="center", va="center", fontsize=6, color="white",
                        zorder=4, fontweight="bold")
    ax.scatter(px, py, s=sizes, facecolors=faces, edgecolors=edges, linewidths=1.3, zorder=3)

    ax.set_xticks(range(len(SUPPORT_LEVELS)), [s.capitalize() for s in SUPPORT_LEVELS])
    ax.set_yticks(range(len(MAP_STAGES)), [s.capitalize() for s in MAP_STAGES])
    ax.set_xlim(-0.5, len(SUPPORT_LEVELS) - 0.5)
    ax.set_ylim(-0.5, len(MAP_STAGES) - 0.5)
    for i in range(len(SUPPORT_LEVELS) - 1):
        ax.axvline(i + 0.5, color="#DDDDDD", linewidth=0.6, zorder=0)
    for i in range(len(MAP_STAGES) - 1):
        ax.axhline(i + 0.5, color="#DDDDDD", linewidth=0.6, zorder=0)
    ax.set_xlabel("Preclinical support cited in the review")
    ax.set_ylabel("Furthest clinical stage (review or linked PD-(L)1 trials)")
    ax.set_title("Strategies against anti-PD-1/PD-L1 resistance: preclinical promise vs clinical stage",
                 loc="left", fontsize=10)

    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor=CATEGORY_COLOURS[c],
                      markeredgecolor=CATEGORY_COLOURS[c], label=c) for c in CATEGORIES]
    handles += [
        Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="#555555",
               label="no linked PD-(L)1 trial in store" if trials_known else "trial counts not available"),
    ]
    if trials_known:
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor="#555555",
                              markeredgecolor="#555555", label="linked PD-(L)1 trials (number in marker)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8,
              title="Figure 6 category", title_fontsize=8, alignment="left")

    gap = sorted(r["id"] for r in rows if r.get("translation_gap"))
    text = (
        f"Translation gap ({len(gap)}): moderate or strong\npreclinical support, no clinical data\n"
        "and no linked PD-(L)1 trial\n\n" + "\n".join(gap)
    ) if gap else "Translation gap: none"
    fig.text(0.70, 0.1, text, fontsize=7.5, va="bottom", ha="left", color="#990000")
    fig.text(0.07, 0.015, f"{len(rows)} strategies from Li et al., Cancer Drug Resist 2026;9:18. "
             "Research evidence, not treatment advice.", fontsize=7, color="#555555")
    return fig
