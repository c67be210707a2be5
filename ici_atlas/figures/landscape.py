"""Trial-landscape figures (review Figure 2A–C and 5A–B, plus start year, sponsor class
and country). Each ``plot_*`` takes the rows of the matching ``ici_atlas.analyses.landscape``
query and returns a matplotlib Figure. ``render_landscape_figures`` runs the queries
and writes every figure (PNG + SVG) to a folder.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Sequence

import duckdb
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..analyses import landscape as ls
from ..errors import InputError
from ..analyses.landscape import NO_LOCATION, NO_PARTNER, NOT_CLASSIFIED, OTHERS, PHASE_LABELS
from . import FORMATS, PALETTE, TARGET_COLOURS, new_figure, save_figure

GREY = "#999999"
LIGHT_GREY = "#BBBBBB"
SOURCE_NOTE = "Data: ClinicalTrials.gov records in the local store, classified by ici-atlas."


def _title(fig: Figure, panel: str, text: str) -> None:
    """Bold title at the top left of the figure (space kept free by :func:`_layout`)."""
    fig.text(0.01, 1 - 0.06 / fig.get_figheight(), f"{panel}  {text}" if panel else text,
             ha="left", va="top", fontsize=11, fontweight="bold")


def _note(fig: Figure, text: str) -> None:
    """A footnote under the plot, then the layout that keeps everything inside the figure."""
    wrapped = textwrap.fill(text, int(fig.get_figwidth() * 17))
    lines = wrapped.count("\n") + 1
    bottom = (0.06 + 0.125 * lines) / fig.get_figheight()
    top = 1 - 0.4 / fig.get_figheight()
    fig.set_layout_engine("constrained", rect=(0, bottom, 1, top - bottom))
    fig.text(0.01, 0.02 / fig.get_figheight(), wrapped, ha="left", va="bottom", fontsize=7,
             color="#555555")
    # Lay out once and freeze, so every format (and every run) gets the same positions.
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


def _empty(ax, message: str = "No PD-1/PD-L1 trials match") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def _hbars(
    ax,
    labels: Sequence[str],
    values: Sequence[int],
    colours: Sequence[str],
    total: int,
    xlabel: str = "Number of trials",
) -> None:
    """Horizontal bars, first label at the top, each annotated ``n (p %)``."""
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, color=colours, height=0.7)
    ax.set_yticks(ys, labels)
    ax.set_xlabel(xlabel)
    vmax = max(values) if values else 1
    for y, v in zip(ys, values):
        pct = f" ({100.0 * v / total:.1f}%)" if total else ""
        ax.text(v + vmax * 0.01, y, f"{v}{pct}", va="center", fontsize=8)
    ax.set_xlim(0, vmax * 1.25 if vmax else 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="y", length=0)


def plot_phases(rows: Sequence[dict], subtitle: str = "") -> Figure:
    """Figure 2A: number of PD-1/PD-L1 trials in each phase (vertical bars)."""
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    total = sum(r["trials"] for r in rows)
    by_phase = {r["phase"]: r["trials"] for r in rows}
    values = [by_phase.get(p, 0) for p in PHASE_LABELS]
    colours = [PALETTE[0]] * (len(PHASE_LABELS) - 1) + [GREY]
    xs = range(len(PHASE_LABELS))
    ax.bar(xs, values, color=colours, width=0.7)
    ax.set_xticks(list(xs), PHASE_LABELS, rotation=30, ha="right")
    ax.set_ylabel("Number of trials")
    vmax = max(values) if any(values) else 1
    for x, v in zip(xs, values):
        label = f"{v}\n{100.0 * v / total:.1f}%" if total else "0"
        ax.text(x, v + vmax * 0.02, label, ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, vmax * 1.25)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _title(fig, "A", f"PD-1/PD-L1 inhibitor trials by phase (n = {total:,})")
    _note(fig, (subtitle + ". " if subtitle else "") + "NA: not applicable (no phase). "
          + SOURCE_NOTE)
    return fig


def plot_cancers(
    rows: Sequence[dict], total: int, target_class: str, panel: str = "", subtitle: str = ""
) -> Figure:
    """Figures 2B/2C: cancer groups in anti-PD-1 or anti-PD-L1 trials (ranked bars)."""
    height = 1.6 + 0.28 * max(len(rows), 3)
    fig = new_figure(7.0, height)
    ax = fig.add_subplot(1, 1, 1)
    _title(fig, panel, f"Cancer types in anti-{target_class} trials (n = {total:,} trials)")
    if not rows:
        _empty(ax)
        return fig
    colour = TARGET_COLOURS.get(target_class, PALETTE[0])
    labels = [r["cancer_group"] for r in rows]
    labels_shown = [r.get("label") or r["cancer_group"] for r in rows]
    colours = [GREY if lab in (OTHERS, NOT_CLASSIFIED) else colour for lab in labels]
    _hbars(ax, labels_shown, [r["trials"] for r in rows], colours, total)
    _note(fig, (subtitle + ". " if subtitle else "")
          + "A trial enrolling several cancer types counts once in each; percentages are of "
          + f"the {total:,} anti-{target_class} trials. " + SOURCE_NOTE)
    return fig


def plot_partners(rows: Sequence[dict], total: int, subtitle: str = "") -> Figure:
    """Figure 5A: combination partners of PD-1/PD-L1 inhibitors, ranked by trials.

    Molecular targets are coloured and ranked; modalities and procedures (chemotherapy,
    ADCs, radiotherapy ...) are grey, below a dashed line. The no-partner row is not drawn.
    """
    drawn = [r for r in rows if r["partner_class"] != NO_PARTNER]
    height = 1.6 + 0.28 * max(len(drawn), 3)
    fig = new_figure(7.0, height)
    ax = fig.add_subplot(1, 1, 1)
    _title(fig, "A", f"Combination partners of PD-1/PD-L1 inhibitors (n = {total:,} trials)")
    if not drawn:
        _empty(ax, "No combination partners in the matching trials")
        return fig
    colours = [PALETTE[0] if r["kind"] == "target" else LIGHT_GREY for r in drawn]
    _hbars(ax, [r["partner_class"] for r in drawn], [r["trials"] for r in drawn], colours, total)
    n_targets = sum(1 for r in drawn if r["kind"] == "target")
    if 0 < n_targets < len(drawn):
        ax.axhline(len(drawn) - n_targets - 0.5, color=GREY, linestyle="--", linewidth=0.8)
        ax.legend(
            handles=[Patch(color=PALETTE[0], label="molecular target"),
                     Patch(color=LIGHT_GREY, label="modality or procedure")],
            loc="lower right", frameon=False, fontsize=8,
        )
    _note(fig, (subtitle + ". " if subtitle else "")
          + "Number of PD-1/PD-L1 trials giving a drug of each partner class; a trial with "
          + "several partner classes counts in each. " + SOURCE_NOTE)
    return fig


_PIPELINE = ("Phase 1", "Phase 2", "Phase 3", "Approved")
_PIPELINE_POS = {
    "Early phase 1": 0.5, "Phase 1": 1.0, "Phase 1/2": 1.5, "Phase 2": 2.0, "Phase 2/3": 2.5,
    "Phase 3": 3.0, "Phase 4": 3.5, "Approved": 4.0, "NA": 0.25,
}


def plot_bispecifics(rows: Sequence[dict], subtitle: str = "") -> Figure:
    """Figure 5B: bispecific / bifunctional PD-(L)1 agents as a development pipeline:
    one bar per agent reaching its highest phase (or Approved when the curated approvals
    data says so), coloured by the other target, labelled with its number of trials."""
    height = 1.6 + 0.3 * max(len(rows), 3)
    fig = new_figure(7.5, height)
    ax = fig.add_subplot(1, 1, 1)
    _title(fig, "B", f"Bispecific and bifunctional PD-1/PD-L1 agents ({len(rows)} agents)")
    if not rows:
        _empty(ax, "No bispecific PD-1/PD-L1 agents in the matching trials")
        return fig
    others = sorted({r["other_target"] for r in rows})
    colour_of = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(others)}
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        stage = "Approved" if r.get("approved") else r["highest_phase"]
        ax.barh(y, _PIPELINE_POS[stage], color=colour_of[r["other_target"]], height=0.65,
                edgecolor="black" if stage == "Approved" else "none", linewidth=0.8)
        n = r["trials"]
        ax.text(_PIPELINE_POS[stage] + 0.05, y, f"{n} trial{'s' if n != 1 else ''}",
                va="center", fontsize=8)
    ax.set_yticks(ys, [f"{r['agent']} ({r['target_class']}×{r['other_target']})" for r in rows])
    ax.set_xticks([1, 2, 3, 4], list(_PIPELINE))
    ax.set_xlim(0, 4.8)
    ax.tick_params(axis="y", length=0)
    for x in (1, 2, 3, 4):
        ax.axvline(x, color="#DDDDDD", linewidth=0.6, zorder=0)
    ax.legend(handles=[Patch(color=colour_of[t], label=t) for t in others],
              title="Other target", loc="lower right", frameon=False, fontsize=8)
    approvals_known = any(r.get("approved") is not None for r in rows)
    _note(fig, (subtitle + ". " if subtitle else "")
          + "Bar length: highest phase among the agent's trials (half steps are Phase 1/2 and "
          + "2/3). "
          + ("Approved (black outline): listed in the curated approvals data. "
             if approvals_known else "Approval status not shown (no approvals data). ")
          + SOURCE_NOTE)
    return fig


def plot_years(rows: Sequence[dict], subtitle: str = "") -> Figure:
    """PD-1/PD-L1 trials by start year, split into anti-PD-1, anti-PD-L1 and both."""
    fig = new_figure(7.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    dated = [r for r in rows if r["start_year"] is not None]
    undated = sum(r["trials"] for r in rows if r["start_year"] is None)
    total = sum(r["trials"] for r in rows)
    _title(fig, "", f"PD-1/PD-L1 inhibitor trials by start year (n = {total:,})")
    if not dated:
        _empty(ax)
        return fig
    years = [r["start_year"] for r in dated]
    both = [r["pd1"] + r["pdl1"] - r["trials"] for r in dated]
    pd1_only = [r["pd1"] - b for r, b in zip(dated, both)]
    pdl1_only = [r["pdl1"] - b for r, b in zip(dated, both)]
    ax.bar(years, pd1_only, color=TARGET_COLOURS["PD-1"], label="anti-PD-1 only")
    ax.bar(years, pdl1_only, bottom=pd1_only, color=TARGET_COLOURS["PD-L1"],
           label="anti-PD-L1 only")
    if any(both):
        ax.bar(years, both, bottom=[a + b for a, b in zip(pd1_only, pdl1_only)],
               color=TARGET_COLOURS["PD-1;PD-L1"], label="both kinds")
    ax.set_xlabel("Start year")
    ax.set_ylabel("Number of trials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    span = range(min(years), max(years) + 1)
    step = 1 if len(span) <= 15 else 2
    ax.set_xticks([y for y in span if (y - span[0]) % step == 0])
    ax.legend(frameon=False, loc="upper left")
    _note(fig, (subtitle + ". " if subtitle else "")
          + (f"{undated} trial(s) without a start date not shown. " if undated else "")
          + SOURCE_NOTE)
    return fig


# ClinicalTrials.gov lead-sponsor classes (API v2 AgencyClass) in words, for the figure.
SPONSOR_CLASS_LABELS = {
    "INDUSTRY": "Industry", "OTHER": "Other (academic, hospital ...)", "NIH": "NIH",
    "FED": "US federal", "OTHER_GOV": "Other government", "NETWORK": "Network",
    "INDIV": "Individual", "AMBIG": "Ambiguous", "UNKNOWN": "Unknown",
}


def plot_sponsors(rows: Sequence[dict], subtitle: str = "") -> Figure:
    """PD-1/PD-L1 trials by lead-sponsor class (or name)."""
    total = sum(r["trials"] for r in rows)
    fig = new_figure(6.5, 1.6 + 0.3 * max(len(rows), 3))
    ax = fig.add_subplot(1, 1, 1)
    _title(fig, "", f"PD-1/PD-L1 inhibitor trials by lead sponsor (n = {total:,})")
    if not rows:
        _empty(ax)
        return fig
    colours = [GREY if r["sponsor"] == OTHERS else PALETTE[2] for r in rows]
    labels = [SPONSOR_CLASS_LABELS.get(r["sponsor"], r["sponsor"]) for r in rows]
    _hbars(ax, labels, [r["trials"] for r in rows], colours, total)
    _note(fig, (subtitle + ". " if subtitle else "") + SOURCE_NOTE)
    return fig


def plot_countries(rows: Sequence[dict], total: int, subtitle: str = "") -> Figure:
    """PD-1/PD-L1 trials by location country (ranked bars)."""
    fig = new_figure(6.5, 1.6 + 0.28 * max(len(rows), 3))
    ax = fig.add_subplot(1, 1, 1)
    _title(fig, "", f"PD-1/PD-L1 inhibitor trials by country (n = {total:,} trials)")
    if not rows:
        _empty(ax)
        return fig
    colours = [GREY if r["country"] in (OTHERS, NO_LOCATION) else PALETTE[4] for r in rows]
    labels = [
        f"{OTHERS} ({r['countries']} countries)" if r["country"] == OTHERS else r["country"]
        for r in rows
    ]
    _hbars(ax, labels, [r["trials"] for r in rows], colours, total)
    _note(fig, (subtitle + ". " if subtitle else "")
          + "A multinational trial counts once in each country with a site. " + SOURCE_NOTE)
    return fig


# File names of the landscape figures, in the order they are written.
FIGURE_NAMES: tuple[str, ...] = (
    "fig2a_phases", "fig2b_cancers_pd1", "fig2c_cancers_pdl1", "fig5a_partners",
    "fig5b_bispecifics", "landscape_years", "landscape_sponsors", "landscape_countries",
)


def build_landscape_figure(
    con: duckdb.DuckDBPyConnection,
    name: str,
    flt: ls.LandscapeFilter = ls.LandscapeFilter(),
    top: int = 12,
) -> Figure:
    """Query the store and draw the figure called ``name`` (one of FIGURE_NAMES)."""
    sub = flt.describe()
    if name == "fig2a_phases":
        return plot_phases(ls.query_phases(con, flt), sub)
    if name in ("fig2b_cancers_pd1", "fig2c_cancers_pdl1"):
        target = "PD-1" if name == "fig2b_cancers_pd1" else "PD-L1"
        f = flt.replace(target_class=target)
        panel = "B" if target == "PD-1" else "C"
        return plot_cancers(ls.query_cancers(con, f, top=top), ls.query_total(con, f),
                            target, panel, sub)
    if name == "fig5a_partners":
        return plot_partners(ls.query_partners(con, flt, top=top), ls.query_total(con, flt), sub)
    if name == "fig5b_bispecifics":
        return plot_bispecifics(ls.query_bispecifics(con, flt), sub)
    if name == "landscape_years":
        return plot_years(ls.query_years(con, flt), sub)
    if name == "landscape_sponsors":
        return plot_sponsors(ls.query_sponsors(con, flt), sub)
    if name == "landscape_countries":
        return plot_countries(ls.query_countries(con, flt, top=top), ls.query_total(con, flt),
                              sub)
    raise InputError(
        f"Invalid landscape figure {name!r}; expected one of {list(FIGURE_NAMES)}",
        fix="Pick a name from the list.",
    )


def render_landscape_figures(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | Path,
    flt: ls.LandscapeFilter = ls.LandscapeFilter(),
    names: Sequence[str] = FIGURE_NAMES,
    top: int = 12,
    on_done: Callable[[str], None] | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write the landscape figures ``names`` (PNG and SVG by default) into ``out_dir``."""
    flt = ls.check_filter(con, flt)
    paths: list[Path] = []
    for name in names:
        fig = build_landscape_figure(con, name, flt, top)
        paths += save_figure(fig, out_dir, name, formats)
        if on_done:
            on_done(name)
    return paths
