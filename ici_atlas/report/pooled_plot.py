"""One summary forest plot of the pooled ORR per tumour type × line (the report's companion
to Figure 4): a diamond per subgroup with its 95% confidence interval, the dotted 95%
prediction interval, and k arms / patients. Per-subgroup forest plots with every arm are
written by ``ici-atlas figures efficacy``."""

from __future__ import annotations

from typing import Sequence

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..figures import new_figure
from ..figures.efficacy import LINE_COLOURS, LINE_LABELS


def plot_pooled_summary(rows: Sequence[dict], min_k: int = 2) -> Figure:
    """Rows from :func:`ici_atlas.analyses.efficacy.pool_orr` (by tumour and line); subgroups with
    fewer than ``min_k`` arms are left out. Highest pooled ORR at the top."""
    shown = sorted((r for r in rows if r["k"] >= min_k and r.get("orr") is not None),
                   key=lambda r: (r["orr"], str(r["tumor"]), str(r["line"])))
    fig = new_figure(7.5, max(2.4, 0.26 * len(shown) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    labels = []
    for y, r in enumerate(shown):
        colour = LINE_COLOURS.get(r["line"], "#333333")
        if r.get("pi_lb") is not None and r.get("pi_ub") is not None:
            ax.plot([100 * r["pi_lb"], 100 * r["pi_ub"]], [y, y], color=colour, lw=0.8, ls=":")
        if r.get("ci_lb") is not None:
            ax.plot([100 * r["ci_lb"], 100 * r["ci_ub"]], [y, y], color=colour, lw=2.2)
        ax.scatter(100 * r["orr"], y, marker="D", s=26, color=colour, edgecolor="white",
                   linewidth=0.5, zorder=3)
        labels.append(f"{r['tumor']} · {LINE_LABELS.get(r['line'], r['line'])}  "
                      f"(k={r['k']}, n={r['patients']:,})")
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels(labels, fontsize=7.5)
    ax.set_ylim(-0.8, max(len(shown), 1) - 0.2)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Pooled objective response rate (%): thick line 95% CI, dotted 95% PI")
    ax.grid(axis="x", color="#EEEEEE", lw=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    ax.legend(handles=[Line2D([], [], marker="D", ls="", color=c, label=LINE_LABELS[k])
                       for k, c in LINE_COLOURS.items()],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7.5,
              title="Line", title_fontsize=8)
    ax.set_title(f"Pooled ORR of PD-1/PD-L1 monotherapy ({len(shown)} subgroups with "
                 f"≥{min_k} arms)", loc="left", fontsize=10)
    return fig
