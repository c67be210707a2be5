"""PRISMA 2020 flow diagram (identification → screening → included) from computed counts."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ..review.prisma import PrismaCounts
from . import new_figure


def _box(ax, x, y, w, h, text, face="#FFFFFF"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.01,rounding_size=0.01",
                                linewidth=1, edgecolor="#333333", facecolor=face))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=7.5, wrap=True)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1})


def plot_prisma(c: PrismaCounts, title: str = "PRISMA 2020 flow") -> Figure:
    fig = new_figure(7.5, 8.0)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.text(0.5, 0.975, title, ha="center", va="top", fontsize=11, weight="bold")
    lx, rx, w, h = 0.12, 0.60, 0.36, 0.11
    rows = [0.80, 0.62, 0.44, 0.26, 0.08]
    for label, y0, y1 in (("Identification", rows[0], rows[0] + h), ("Screening", rows[3], rows[1] + h),
                          ("Included", rows[4], rows[4] + h)):
        ax.add_patch(FancyBboxPatch((0.01, y0), 0.07, y1 - y0, boxstyle="round,pad=0.005",
                                    facecolor="#DCE9F5", edgecolor="#DCE9F5"))
        ax.text(0.045, (y0 + y1) / 2, label, rotation=90, ha="center", va="center", fontsize=8, weight="bold")
    sources = "\n".join(f"{k}: n = {v:,}" for k, v in c.identified_by_source.items()) or "none"
    _box(ax, lx, rows[0], w, h, f"Records identified (n = {c.identified:,})\n{sources}")
    _box(ax, rx, rows[0], w, h,
         f"Records removed before screening:\nDuplicates (n = {c.duplicates_removed:,})\n"
         f"Marked ineligible by automation tools\n(n = {c.automation_excluded:,})")
    _box(ax, lx, rows[1], w, h, f"Records screened\n(n = {c.screened:,})"
         + (f"\nawaiting screening: {c.awaiting_screening:,}" if c.awaiting_screening else ""))
    _box(ax, rx, rows[1], w, h, f"Records excluded\n(n = {c.screening_excluded:,})")
    _box(ax, lx, rows[2], w, h, f"Reports sought for retrieval\n(n = {c.sought_for_retrieval:,})")
    _box(ax, rx, rows[2], w, h, f"Reports not retrieved\n(n = {c.not_retrieved:,})")
    _box(ax, lx, rows[3], w, h, f"Reports assessed for eligibility\n(n = {c.assessed_for_eligibility:,})"
         + (f"\nawaiting assessment: {c.awaiting_full_text:,}" if c.awaiting_full_text else ""))
    reasons = "\n".join(f"{k}: n = {v:,}" for k, v in list(c.full_text_excluded.items())[:6]) or "none"
    _box(ax, rx, rows[3], w, h, f"Reports excluded (n = {sum(c.full_text_excluded.values()):,})\n{reasons}")
    _box(ax, lx, rows[4], w, h, f"Studies included in review\n(n = {c.included:,})", face="#EAF4EA")
    for i in range(4):
        _arrow(ax, lx + w / 2, rows[i], lx + w / 2, rows[i + 1] + h)
    for i in range(4):
        _arrow(ax, lx + w, rows[i] + h / 2, rx, rows[i] + h / 2)
    if c.problems:
        ax.text(0.5, 0.02, "Counts do not add up: " + "; ".join(c.problems[:2]), ha="center", fontsize=7, color="#B00020")
    return fig
