"""The landscape section of the report (review Figures 2 and 5, plus start years, sponsors
and countries): one query per chart (:mod:`ici_atlas.analyses.landscape`), drawn for print by
:mod:`ici_atlas.figures.landscape` and for the browser by :mod:`.interactive`, from the
same rows; the trials behind each bar come from :mod:`.members`."""

from __future__ import annotations

from functools import partial

from typing import Sequence

import duckdb

from ..analyses import landscape as ls
from ..figures import PALETTE, TARGET_COLOURS
from ..figures import landscape as fl
from ..analyses.landscape import NO_LOCATION, NO_PARTNER, NOT_CLASSIFIED, OTHERS, LandscapeFilter
from .members import landscape_members
from .model import Bar, Chart, ReportFigure, Section, Table, esc, n, pct, plural

#: Charts show the 12 largest cancer groups, partner targets and countries (+ Others).
TOP = 12
GREY = "#999999"
LIGHT_GREY = "#BBBBBB"
_STAGE_POS = {
    "Early phase 1": 0.5, "Phase 1": 1.0, "Phase 1/2": 1.5, "Phase 2": 2.0, "Phase 2/3": 2.5,
    "Phase 3": 3.0, "Phase 4": 3.5, "Approved": 4.0, "NA": 0.25,
}


def _bar(label: str, value: int, total: int, colour: str, members: Sequence[str]) -> Bar:
    return Bar(label, value, f"{value:,} ({pct(value, total)})", colour, tuple(members))


def _charts(tables: dict[str, list[dict]], members: dict[str, dict],
            totals: dict[str, int]) -> list[ReportFigure]:
    total = totals["all"]
    figs: list[ReportFigure] = []

    phases = tables["phases"]
    bars = [_bar(r["phase"], r["trials"], total, GREY if r["phase"] == "NA" else PALETTE[0],
                 members["phases"].get(r["phase"], [])) for r in phases]
    figs.append(ReportFigure(
        "fig2a_phases", "Figure 2A. PD-1/PD-L1 inhibitor trials by phase",
        f"{n(total)} PD-(L)1 trials, each counted once in its phase; NA: no phase "
        "(observational or not applicable).",
        partial(fl.plot_phases, phases), Chart(bars, "v")))

    for name, target, panel in (("cancers_pd1", "PD-1", "B"), ("cancers_pdl1", "PD-L1", "C")):
        rows = tables[name]
        t_total = totals[target]
        colour = TARGET_COLOURS[target]
        bars = [_bar(r.get("label") or r["cancer_group"], r["trials"], t_total,
                     GREY if r["cancer_group"] in (OTHERS, NOT_CLASSIFIED) else colour,
                     members[name].get(r["cancer_group"], [])) for r in rows]
        figs.append(ReportFigure(
            f"fig2{panel.lower()}_{name}",
            f"Figure 2{panel}. Cancer types in anti-{target} trials",
            f"{n(t_total)} anti-{target} trials; a trial enrolling several cancer types counts "
            f"in each, so bars add up to more than {n(t_total)}. The {TOP} largest groups are "
            "shown; Others counts the trials in any other group.",
            partial(fl.plot_cancers, rows, t_total, target, panel), Chart(bars)))

    partners = tables["partners"]
    drawn = [r for r in partners if r["partner_class"] != NO_PARTNER]
    bars = [_bar(r["partner_class"], r["trials"], total,
                 PALETTE[0] if r["kind"] == "target" else LIGHT_GREY,
                 members["partners"].get(r["partner_class"], [])) for r in drawn]
    n_targets = sum(r["kind"] == "target" for r in drawn)
    figs.append(ReportFigure(
        "fig5a_partners", "Figure 5A. Combination partners of PD-1/PD-L1 inhibitors",
        f"Trials giving a drug of each partner class with the PD-(L)1 agent; the {n_targets} "
        "molecular-target classes shown (blue) come first, then modalities and procedures "
        "(grey). A trial with several partner classes counts in each.",
        partial(fl.plot_partners, partners, total), Chart(bars)))

    bisp = tables["bispecifics"]
    others = sorted({r["other_target"] for r in bisp})
    colour_of = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(others)}
    bars = []
    for r in bisp:
        stage = "Approved" if r.get("approved") else r["highest_phase"]
        bars.append(Bar(f"{r['agent']} ({r['target_class']}×{r['other_target']})",
                        _STAGE_POS[stage], f"{stage}; {plural(r['trials'], 'trial')}",
                        colour_of[r["other_target"]],
                        tuple(members["bispecifics"].get(r["agent"], []))))
    figs.append(ReportFigure(
        "fig5b_bispecifics", "Figure 5B. Bispecific and bifunctional PD-1/PD-L1 agents",
        f"{plural(len(bisp), 'agent')}; bar length is the highest phase among the agent's "
        "trials (Approved when the curated approvals data list it).",
        partial(fl.plot_bispecifics, bisp),
        Chart(bars, ticks=[(1, "Phase 1"), (2, "Phase 2"), (3, "Phase 3"), (4, "Approved")],
              vmax=4.4, axis_label="Highest stage reached")))

    years = tables["years"]
    dated = [r for r in years if r["start_year"] is not None]
    undated = sum(r["trials"] for r in years if r["start_year"] is None)
    bars = [Bar(str(r["start_year"]), r["trials"], f"{r['trials']:,}", PALETTE[0],
                tuple(members["years"].get(r["start_year"], []))) for r in dated]
    figs.append(ReportFigure(
        "landscape_years", "PD-1/PD-L1 inhibitor trials by start year",
        f"{n(total - undated)} trials with a start date"
        + (f"; {n(undated)} without one are not shown." if undated else "."),
        partial(fl.plot_years, years), Chart(bars, "v")))

    sponsors = tables["sponsors"]
    bars = [_bar(r["sponsor"], r["trials"], total, GREY if r["sponsor"] == OTHERS else PALETTE[2],
                 members["sponsors"].get(r["sponsor"], [])) for r in sponsors]
    figs.append(ReportFigure(
        "landscape_sponsors", "PD-1/PD-L1 inhibitor trials by lead-sponsor class",
        "Each trial has one lead sponsor; classes as the registry gives them.",
        partial(fl.plot_sponsors, sponsors), Chart(bars)))

    countries = tables["countries"]
    bars = [_bar(f"{OTHERS} ({r['countries']} countries)" if r["country"] == OTHERS
                 else r["country"], r["trials"], total,
                 GREY if r["country"] in (OTHERS, NO_LOCATION) else PALETTE[4],
                 members["countries"].get(r["country"], [])) for r in countries]
    figs.append(ReportFigure(
        "landscape_countries", "PD-1/PD-L1 inhibitor trials by country",
        f"A multinational trial counts once in each country with a site; the {TOP} countries "
        "with most trials are shown.",
        partial(fl.plot_countries, countries, total), Chart(bars)))
    return figs


def _prose(tables: dict[str, list[dict]], totals: dict[str, int], classified: int) -> list[str]:
    total = totals["all"]
    out = [
        f"The store holds {n(classified)} classified studies; {n(total)} ({pct(total, classified)}) "
        f"give a PD-1 or PD-L1 inhibitor in at least one arm: {n(totals['PD-1'])} an anti-PD-1 "
        f"agent and {n(totals['PD-L1'])} an anti-PD-L1 agent (a trial giving both counts in both)."
    ]
    phases = [r for r in tables["phases"] if r["phase"] != "NA"]
    if total and phases:
        top = max(phases, key=lambda r: (r["trials"], -ls.PHASE_LABELS.index(r["phase"])))
        p3 = next(r for r in tables["phases"] if r["phase"] == "Phase 3")
        out.append(
            f"By phase, {esc(top['phase'])} trials are the most numerous ({n(top['trials'])}, "
            f"{pct(top['trials'], total)}); {n(p3['trials'])} ({pct(p3['trials'], total)}) "
            "are in Phase 3."
        )
    for name, target in (("cancers_pd1", "PD-1"), ("cancers_pdl1", "PD-L1")):
        named = [r for r in tables[name] if r["cancer_group"] not in (OTHERS, NOT_CLASSIFIED)]
        if named:
            lead = ", ".join(f"{esc(r['label'])} ({n(r['trials'])})" for r in named[:3])
            out.append(f"The cancer types most often studied with an anti-{target} agent are "
                       f"{lead}, of {n(totals[target])} anti-{target} trials.")
    targets = [r for r in tables["partners"] if r["kind"] == "target"]
    none = next((r for r in tables["partners"] if r["partner_class"] == NO_PARTNER), None)
    if targets:
        lead = ", ".join(f"{esc(r['partner_class'])} ({n(r['trials'])})" for r in targets[:3])
        text = f"The molecular targets most often combined with PD-(L)1 blockade are {lead}."
        if none is not None:
            text += (f" {n(none['trials'])} trials ({pct(none['trials'], total)}) give the "
                     "PD-(L)1 agent with no partner drug.")
        out.append(text)
    bisp = tables["bispecifics"]
    if bisp:
        approved = [r["agent"] for r in bisp if r.get("approved")]
        text = (f"{plural(len(bisp), 'bispecific or bifunctional PD-(L)1 agent')} "
                f"{'appears' if len(bisp) == 1 else 'appear'} in the trials")
        if approved:
            text += f"; {len(approved)} of them approved ({esc(', '.join(approved))})"
        out.append(text + ".")
    return out


def build_landscape(con: duckdb.DuckDBPyConnection | None, reason: str,
                    classified: int) -> Section:
    """The landscape section; not built (with ``reason``) when the store has no trials."""
    sec = Section("landscape", "Trial landscape (Figures 2 and 5)")
    if con is None or reason:
        sec.built = False
        sec.reason = reason
        return sec
    tables = ls.query_landscape_tables(con, top=TOP)
    totals = {
        "all": ls.query_total(con),
        "PD-1": ls.query_total(con, LandscapeFilter(target_class="PD-1")),
        "PD-L1": ls.query_total(con, LandscapeFilter(target_class="PD-L1")),
    }
    members = landscape_members(con, tables)
    sec.paragraphs = _prose(tables, totals, classified)
    assigned = ls.query_total(con, LandscapeFilter(exposure=("assigned",)))
    observed = ls.query_total(con, LandscapeFilter(exposure=("observed",)))
    share = ls.query_other_share(con)
    sec.paragraphs.append(
        f"Inclusion follows the review, which counted every ClinicalTrials.gov study evaluating "
        f"PD-1/PD-L1 blockade: {n(assigned)} studies assign a PD-(L)1 agent (interventional) and "
        f"{n(observed)} observe patients treated with one (observational; phase NA); a study "
        "that names its PD-(L)1 agent only in its title counts too (`ici-atlas trial` shows the "
        "rule that matched). `--exposure assigned` keeps the interventional studies only.")
    sec.paragraphs.append(
        f"Figure 5A's catch-all: {n(share['with_other_partner'])} of {n(share['trials'])} "
        f"PD-1/PD-L1 trials ({share['percent']}%) have a partner drug that maps to no partner "
        "class; `ici-atlas landscape unmapped` lists them (table below).")
    registries = tables.get("registries") or []
    if len(registries) > 2:  # more than one registry (plus the union row)
        union = registries[-1]
        sec.paragraphs.append(
            "Registries: " + "; ".join(
                f"{esc(r['registry'])} {n(r['registrations'])} PD-(L)1 registrations"
                for r in registries[:-1])
            + f". A trial registered in several registries counts once: the union holds "
            f"{n(union['trials_in_union'])} trials ({n(union['also_registered_elsewhere'])} "
            "registrations belong to a trial registered elsewhere too; how each was linked is "
            "in `ici-atlas export registrations`). Every count in this section is over the "
            "union; `--registry NAME` restricts a command to one registry.")
    unmapped = ls.query_unmapped(con)
    sec.tables.append(Table("landscape_unmapped_partners",
                            "Partner interventions mapping to no class",
                            ["intervention_name", "unknown_term", "rule", "trials", "nct_ids"],
                            unmapped, show=bool(unmapped)))
    sec.figures = _charts(tables, members, totals)
    for name, rows in tables.items():
        columns = list(rows[0].keys()) if rows else ["value"]
        sec.tables.append(Table(f"landscape_{name}", f"Landscape: {name.replace('_', ' ')}",
                                columns, rows,
                                show=name == "phases" or (name == "registries" and len(rows) > 2)))
    # The hover lists are capped; this table has every trial behind every bar.
    behind = []
    for fig in sec.figures:
        for bar in fig.chart.bars if fig.chart else []:
            behind += [{"figure": fig.name, "bar": bar.label, "nct_id": m} for m in bar.members]
    sec.tables.append(Table("landscape_trials_behind_bars", "Trials behind each bar",
                            ["figure", "bar", "nct_id"], behind, show=False,
                            link_columns=("nct_id",)))
    return sec
