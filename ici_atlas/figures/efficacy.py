"""Figure 4 (ORR of PD-1/PD-L1 monotherapy per tumour type, by line) and forest plots.

``plot_orr_figure4`` draws one circle per arm at its ORR, on a row per tumour type, sized
by the number of evaluable patients and coloured by line of therapy as the review does
(purple first-line, pink later-line, yellow any line). ``plot_orr_forest`` draws one
subgroup's arms with their exact 95% intervals and the pooled estimate (diamond) with its
prediction interval.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from matplotlib.lines import Line2D

from ..analyses.efficacy import OrrArm, pool_orr
from ..meta.exact import exact_ci
from . import new_figure, save_figure

#: Colours of the review's Figure 4 legend.
LINE_COLOURS = {"first-line": "#7B3FA0", "later-line": "#E7298A", "any": "#F2C230",
                "maintenance": "#1B9E77", "neoadjuvant": "#666666", "adjuvant": "#999999"}
LINE_LABELS = {"first-line": "First-line", "later-line": "Later-line", "any": "Any line",
               "maintenance": "Maintenance", "neoadjuvant": "Neoadjuvant", "adjuvant": "Adjuvant"}

#: Row labels; a trailing * marks MSI-H/dMMR-selected arms as in the review.
TUMOR_LABELS = {
    "NSCLC": "NSCLC", "SCLC": "SCLC", "lung-other": "Lung (other)", "melanoma": "Melanoma",
    "HCC": "Hepatocellular", "BTC": "Biliary tract", "ESCA": "Oesophageal", "GC": "Gastric/GEJ",
    "CRC": "Colorectal", "pancreatic": "Pancreatic", "HNSCC": "Head and neck SCC",
    "NPC": "Nasopharyngeal", "UC": "Urothelial", "RCC": "Renal cell", "prostate": "Prostate",
    "breast": "Breast", "TNBC": "Triple-negative breast", "CC": "Cervical",
    "UCEC": "Endometrial", "ovarian": "Ovarian", "MPM": "Mesothelioma",
    "cSCC": "Cutaneous SCC", "MCC": "Merkel cell", "BCC": "Basal cell", "sarcoma": "Sarcoma",
    "CNS": "CNS", "cHL": "Classical Hodgkin", "lymphoma-other": "Lymphoma (other)",
    "heme-other": "Haematological (other)", "solid-tumors": "Solid tumours",
    "other-cancer": "Other cancer", "non-cancer": "Non-cancer",
}

def row_label(arm: OrrArm) -> str:
    """Figure 4 row of an arm: its tumour type, with * when MSI-H/dMMR-selected."""
    label = TUMOR_LABELS.get(arm.tumor_group, arm.tumor_group)
    return label + ("*" if arm.msi_selected else "")


def _size(n: int) -> float:
    return 12 + 0.45 * n  # marker area in points², proportional to patients


def plot_orr_figure4(arms: Sequence[OrrArm], title: str | None = None):
    """Figure 4: ORR (%) per tumour type, one circle per arm sized by patients, coloured by line."""
    arms = [a for a in arms if a.orr is not None]
    rows: dict[str, list[OrrArm]] = {}
    for arm in arms:
        rows.setdefault(row_label(arm), []).append(arm)
    # highest median ORR at the top
    def median(vals):
        vals = sorted(vals)
        mid = len(vals) // 2
        return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
    order = sorted(rows, key=lambda lab: (median([a.orr for a in rows[lab]]), lab))
    height = max(3.0, 0.32 * len(order) + 1.6)
    fig = new_figure(7.0, height)
    ax = fig.add_subplot(1, 1, 1)
    offsets = {"first-line": -0.18, "later-line": 0.18, "any": 0.0, "maintenance": 0.09,
               "neoadjuvant": -0.09, "adjuvant": -0.09}
    for y, label in enumerate(order):
        ax.axhline(y, color="#DDDDDD", lw=0.6, zorder=0)
        for arm in sorted(rows[label], key=lambda a: (a.line, a.trial, a.arm)):
            ax.scatter(100 * arm.orr, y + offsets[arm.line], s=_size(arm.n_evaluable),
                       color=LINE_COLOURS[arm.line], alpha=0.8, edgecolor="white", linewidth=0.6,
                       zorder=3)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels(order)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Objective response rate (%)")
    ax.grid(axis="x", color="#EEEEEE", lw=0.6)
    ax.set_axisbelow(True)
    present = {a.line for a in arms}
    line_handles = [Line2D([], [], marker="o", ls="", color=c, markersize=7, label=LINE_LABELS[k])
                    for k, c in LINE_COLOURS.items() if k in present or k in ("first-line",
                                                                             "later-line", "any")]
    size_handles = [ax.scatter([], [], s=_size(n), color="#999999", alpha=0.6, label=f"{n} patients")
                    for n in (50, 200, 400)]
    leg = ax.legend(handles=line_handles, loc="lower right", frameon=False, title="Line")
    ax.add_artist(leg)
    ax.legend(handles=size_handles, loc="lower right", bbox_to_anchor=(0.78, 0.0), frameon=False,
              labelspacing=1.3, title="Arm size")
    n_arms, n_pat = len(arms), sum(a.n_evaluable for a in arms)
    ax.set_title(title or f"ORR of PD-1/PD-L1 monotherapy ({n_arms} arms, {n_pat:,} patients)",
                 loc="left", fontsize=10)
    ax.annotate("* MSI-H or dMMR tumours", xy=(0, 0), xycoords="axes fraction",
                xytext=(0, -30), textcoords="offset points", fontsize=7, va="top",
                color="#555555")
    return fig


def plot_orr_forest(arms: Sequence[OrrArm], pooled: dict, title: str):
    """Forest plot of one subgroup: each arm's ORR with its exact 95% CI, then the pooled
    ORR (diamond) with its confidence and prediction intervals."""
    arms = sorted([a for a in arms if a.orr is not None], key=lambda a: (-a.orr, a.trial, a.arm))
    n = len(arms)
    fig = new_figure(7.0, max(2.2, 0.34 * (n + 3) + 0.8))
    ax = fig.add_subplot(1, 1, 1)
    labels = []
    for i, arm in enumerate(arms):
        y = n + 1 - i
        lo, hi = exact_ci(arm.responders, arm.n_evaluable, 0.95)
        ax.plot([100 * lo, 100 * hi], [y, y], color="#444444", lw=1)
        ax.scatter(100 * arm.orr, y, marker="s", s=_size(arm.n_evaluable) * 0.6,
                   color=LINE_COLOURS[arm.line], zorder=3)
        name = arm.trial[:40] + (f", {arm.arm.split(' (')[0][:24]}" if arm.arm else "")
        labels.append((y, f"{name}  {arm.responders}/{arm.n_evaluable}"))
    est, lo, hi = pooled.get("orr"), pooled.get("ci_lb"), pooled.get("ci_ub")
    if est is not None and lo is not None and hi is not None:
        ax.fill([100 * lo, 100 * est, 100 * hi, 100 * est], [0, 0.3, 0, -0.3], color="#333333")
        if pooled.get("pi_lb") is not None and pooled.get("pi_ub") is not None:
            ax.plot([100 * pooled["pi_lb"], 100 * pooled["pi_ub"]], [0, 0], color="#333333", lw=1,
                    ls=":")
        ax.axvline(100 * est, color="#999999", lw=0.6, ls="--", zorder=0)
        i2 = pooled.get("i2")
        labels.append((0, f"Pooled (k={pooled['k']}, I²={'NA' if i2 is None else f'{i2:.0f}%'}) "
                          f"{100 * est:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"))
    ax.set_yticks([y for y, _ in labels])
    ax.set_yticklabels([t for _, t in labels], fontsize=8)
    ax.set_ylim(-1, n + 2)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Objective response rate (%)  —  squares: arms (exact 95% CI); diamond: pooled "
                  "95% CI; dotted: 95% PI", fontsize=8)
    ax.set_title(title, loc="left", fontsize=10)
    return fig


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def render_efficacy_figures(
    arms: Sequence[OrrArm], out_dir: str | Path, *, by: Sequence[str] = ("tumor", "line"),
    method: str = "REML", test: str = "knha", min_k: int = 2,
) -> list[Path]:
    """Write Figure 4 (``figure4_orr``) and one forest plot per subgroup with at least
    ``min_k`` arms (``forest_<group>``) as PNG and SVG; returns the paths written."""
    paths = save_figure(plot_orr_figure4(arms), out_dir, "figure4_orr")
    pooled = pool_orr(arms, by=by, method=method, test=test)
    keys = list(by)
    from ..analyses.efficacy import GROUP_KEYS

    for row in pooled:
        if row["k"] < min_k:
            continue
        members = [a for a in arms if a.orr is not None
                   and all(getattr(a, GROUP_KEYS[b]) == row[b] for b in keys)]
        title = " / ".join(str(row[b]) for b in keys)
        fig = plot_orr_forest(members, row, f"ORR forest plot: {title}")
        paths += save_figure(fig, out_dir, "forest_" + _slug("_".join(str(row[b]) for b in keys)))
    return paths


__all__ = ["LINE_COLOURS", "plot_orr_figure4", "plot_orr_forest", "render_efficacy_figures",
           "row_label"]
