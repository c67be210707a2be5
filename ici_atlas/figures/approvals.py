"""Figure 3 of the review: the approval timeline of PD-1/PD-L1 inhibitors.

``plot_approvals`` draws three panels from the approval events
(:mod:`ici_atlas.analyses.approvals`): (A) each agent's first approval worldwide on a timeline, coloured
by the approving agency and marked by target; (B) the number of active indications per agent;
(C) the number of agents with an active approval per cancer type, split by target class. The
review draws B and C as pie charts; bars are used here because 32 slices are not readable.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..analyses import approvals as ap
from ..vocab import load_agents
from . import TARGET_COLOURS, new_figure, save_figure

FIGURE_NAME = "fig3_approvals"

#: Okabe-Ito colours per agency (colour-blind safe).
AGENCY_COLOURS = {
    "FDA": "#0072B2", "NMPA": "#D55E00", "PMDA": "#009E73", "EMA": "#CC79A7",
    "MoH-RU": "#E69F00", "MHRA": "#56B4E9",
}
#: Marker per target family of the agent.
TARGET_MARKERS = {"PD-1": "o", "PD-L1": "s", "bispecific": "D"}


def _label(agent_id: str, agents: dict) -> str:
    agent = agents.get(agent_id)
    if agent is None:
        return agent_id
    if agent.modality == "subcutaneous formulation":
        return f"{agent.components[0]} SC" if agent.components else agent.label
    return agent.label.replace(" and ", " / ")


def _family(agent_id: str, agents: dict) -> str:
    agent = agents.get(agent_id)
    if agent is None:
        return "PD-1"
    return "bispecific" if agent.bispecific else agent.target_class


def _timeline(ax, events: Sequence[ap.ApprovalEvent], agents: dict) -> None:
    """One row per year (earliest at the top); the agents first approved that year, in date
    order, left to right."""
    first = ap.first_approvals(events)
    by_year: dict[int, list[ap.ApprovalEvent]] = defaultdict(list)
    for event in sorted(first.values(), key=lambda e: (e.date, e.agent)):
        by_year[event.year].append(event)
    if not by_year:
        ax.text(0.5, 0.5, "No approvals", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    years = list(range(min(by_year), max(by_year) + 1))
    slots = max(len(v) for v in by_year.values())
    for year, items in by_year.items():
        for i, event in enumerate(items):
            colour = AGENCY_COLOURS.get(event.agency, "#777777")
            ax.plot([i], [year], marker=TARGET_MARKERS[_family(event.agent, agents)], color=colour,
                    markersize=6, linestyle="none", markeredgecolor="white", markeredgewidth=0.5)
            text = _label(event.agent, agents)
            if len(text) > 16:  # two lines, so long combined names stay in their slot
                text = text.replace(" / ", " /\n", 1)
            ax.text(i + 0.09, year, text, va="center", ha="left", fontsize=7, color=colour,
                    linespacing=0.9)
    ax.set_yticks(years, [str(y) for y in years], fontsize=8)
    ax.set_ylim(years[-1] + 0.6, years[0] - 0.6)
    ax.set_xlim(-0.3, slots + 0.2)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    ax.axhline(ap.SINCE_YEAR - 0.5, color="#BBBBBB", linewidth=0.8, linestyle="--")
    since = sum(e.year >= ap.SINCE_YEAR for e in first.values())
    ax.text(slots + 0.15, ap.SINCE_YEAR - 0.45, f"{since} agents first approved since {ap.SINCE_YEAR}",
            fontsize=7, color="#555555", va="top", ha="right")
    ax.set_title(f"A  First approval worldwide of {len(first)} PD-1/PD-L1 inhibitors",
                 loc="left", fontsize=10, fontweight="bold")
    used = sorted({e.agency for e in first.values()}, key=list(AGENCY_COLOURS).index)
    counts = {a: sum(e.agency == a for e in first.values()) for a in used}
    handles = [Patch(color=AGENCY_COLOURS[a], label=f"{a} ({counts[a]})") for a in used]
    handles += [Line2D([], [], marker=m, color="#555555", linestyle="none", label=f)
                for f, m in TARGET_MARKERS.items()]
    ax.legend(handles=handles, loc="upper right", fontsize=7, frameon=False, ncol=3,
              title="First approving agency (agents) / target", title_fontsize=7)


def _indications(ax, events: Sequence[ap.ApprovalEvent], agents: dict) -> None:
    rows = ap.indications_per_agent(events)
    labels = [_label(a, agents) for a, _, _ in rows]
    values = [n for _, n, _ in rows]
    colours = [TARGET_COLOURS.get(agents[a].target_class if a in agents else "PD-1", "#777777")
               for a, _, _ in rows]
    y = range(len(rows))
    ax.barh(list(y), values, color=colours)
    ax.set_yticks(list(y), labels, fontsize=6.5)
    ax.invert_yaxis()
    for i, (value, (_, _, agency)) in enumerate(zip(values, rows)):
        ax.text(value + 0.3, i, f"{value} ({agency})", va="center", fontsize=6)
    ax.set_xlabel("active indications recorded (agency with the most)", fontsize=8)
    ax.set_xlim(0, max(values, default=1) * 1.25)
    ax.set_title("B  Indications per agent", loc="left", fontsize=10, fontweight="bold")


def _cancer_types(ax, events: Sequence[ap.ApprovalEvent], agents: dict) -> None:
    per: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for e in events:
        if e.status == "active":
            cls = agents[e.agent].target_class if e.agent in agents else "PD-1"
            per[e.cancer_type][cls].add(e.agent)
    order = [t for t, _ in ap.agents_per_cancer_type(events)]
    y = list(range(len(order)))
    left = [0] * len(order)
    for cls in ("PD-1", "PD-L1"):
        values = [len(per[t][cls]) for t in order]
        ax.barh(y, values, left=left, color=TARGET_COLOURS[cls], label=f"anti-{cls}")
        left = [a + b for a, b in zip(left, values)]
    for i, total in enumerate(left):
        ax.text(total + 0.2, i, str(total), va="center", fontsize=6)
    ax.set_yticks(y, order, fontsize=6.5)
    ax.invert_yaxis()
    ax.set_xlabel("agents with an active approval", fontsize=8)
    ax.set_xlim(0, max(left, default=1) * 1.15)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_title(f"C  Agents per cancer type ({len(order)} types)", loc="left", fontsize=10,
                 fontweight="bold")


def plot_approvals(events: Sequence[ap.ApprovalEvent]) -> Figure:
    """Figure 3: first-approval timeline (A), indications per agent (B), agents per cancer
    type (C), all computed from ``events``."""
    agents = {a.agent_id: a for a in load_agents()}
    fig = new_figure(11, 11)
    grid = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.25], hspace=0.22, wspace=0.45)
    _timeline(fig.add_subplot(grid[0, :]), events, agents)
    _indications(fig.add_subplot(grid[1, 0]), events, agents)
    _cancer_types(fig.add_subplot(grid[1, 1]), events, agents)
    verified = sum(e.verified for e in events)
    fig.text(0.01, 0.045, f"Data: {len(events)} approval events in ici-atlas approval_events.tsv "
             f"({verified} verified), each with its source. After {ap.REVIEW_CITATION}, Figure 3.",
             fontsize=7, color="#555555", ha="left")
    return fig


def render_approval_figures(events: Sequence[ap.ApprovalEvent], out_dir: str | Path) -> list[Path]:
    """Write Figure 3 as PNG and SVG into ``out_dir``; returns the paths."""
    return save_figure(plot_approvals(events), out_dir, FIGURE_NAME)
