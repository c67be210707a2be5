"""The report sections that need no registry data: approvals (Figure 3), monotherapy
efficacy (Figure 4, pooled ORR, PRISMA of the literature when the store has one) and
resistance strategies (Figure 6 evidence map, combination findings). Each builder returns
a :class:`~.model.Section` whose prose is computed from the same data as its figures."""

from __future__ import annotations

from functools import partial

import warnings
from collections import Counter
from typing import Any

import duckdb

from ..analyses import approvals as ap
from ..analyses import evidence as ev
from ..store.db import table_exists
from ..analyses.efficacy import load_orr_arms, pool_orr, query_orr_arms
from ..errors import StatisticalWarning
from ..figures.approvals import plot_approvals
from ..figures.efficacy import plot_orr_figure4
from ..figures.evidence import plot_evidence_map
from .pooled_plot import plot_pooled_summary
from .model import Bar, Chart, ReportFigure, Section, Table, esc, n, plural

#: Pooling settings of the efficacy section (the defaults of ``ici-atlas pool``).
POOL_BY = ("tumor", "line")
POOL_METHOD, POOL_TEST, POOL_MEASURE = "REML", "knha", "PLO"


# ----------------------------------------------------------------------------- approvals

def build_approvals() -> Section:
    sec = Section("approvals", "Approvals (Figure 3)")
    events = ap.load_approval_events()
    counts = ap.summarize_counts(events)
    by_metric = {r["metric"]: r for r in counts}
    verified = sum(e.verified for e in events)
    agents = by_metric["agents"]
    sec.paragraphs = [
        f"The curated approvals data hold {n(len(events))} approval events "
        f"({n(verified)} verified against a label or agency source) for "
        f"{plural(agents['data'], 'agent')}: {n(by_metric['agents_pd1']['data'])} targeting "
        f"PD-1 and {n(by_metric['agents_pdl1']['data'])} targeting PD-L1 "
        f"(the review states {agents['review']}, {by_metric['agents_pd1']['review']} and "
        f"{by_metric['agents_pdl1']['review']}).",
        f"{n(by_metric['first_fda']['data'])} agents were first approved by the US FDA and "
        f"{n(by_metric['first_nmpa']['data'])} by China's NMPA; "
        f"{n(by_metric['agents_since_2021']['data'])} were first approved in "
        f"{ap.SINCE_YEAR} or later. Agents with an active approval cover "
        f"{plural(by_metric['cancer_types']['data'], 'cancer type')}.",
    ]
    same_then = [r for r in counts if r["data_review_date"] == r["review"]]
    differ = [r for r in counts if r["difference"] != 0]
    sec.paragraphs.append(
        f"As of the review's date ({ap.REVIEW_AS_OF}), {len(same_then)} of the review's "
        f"{len(counts)} headline counts are reproduced exactly from the data; today "
        f"{len(counts) - len(differ)} equal the review's value. The table gives the review's "
        "value, ours on its date, ours today, from verified rows only, and why they differ."
    )
    sec.paragraphs.append(
        "Not yet covered (events known to exist without a dated public source; no date is "
        "guessed): " + "; ".join(ap.KNOWN_GAPS) + ".")
    sec.figures.append(ReportFigure(
        ap_figure_name(), "Figure 3. Approvals of PD-1/PD-L1 inhibitors",
        f"(A) first approval of each of the {n(agents['data'])} agents; (B) active indications "
        "per agent; (C) agents with an active approval per cancer type (the dashboard's "
        "approvals page lists the agents behind each bar).",
        partial(plot_approvals, events)))
    then = ap.events_as_of(events, ap.REVIEW_AS_OF)
    sec.figures.append(ReportFigure(
        ap_figure_name() + "_review_date",
        f"Figure 3 as of the review's date ({ap.REVIEW_AS_OF})",
        f"The same panels computed from the {n(len(then))} events approved by "
        f"{ap.REVIEW_AS_OF}, each with the status it had then.",
        partial(plot_approvals, then)))
    sec.tables.append(Table("approvals_headline_counts", "Headline counts: data vs the review",
                            ["metric", "description", "review", "data_review_date", "data",
                             "data_verified_only", "difference", "why"], counts))
    sec.tables.append(Table("approvals_agents", "Approved agents and their first approval",
                            list(ap.summarize_agents(events)[0].keys()) if events else ["agent"],
                            ap.summarize_agents(events), show=False))
    rows = [e.as_row() for e in events]
    sec.tables.append(Table("approval_events", "Approval events (with sources)",
                            list(rows[0].keys()) if rows else ["event_id"], rows, show=False))
    return sec


def ap_figure_name() -> str:
    return "fig3_approvals"


# ----------------------------------------------------------------------------- efficacy

def _fmt_ci(row: dict) -> str:
    if row.get("ci_lb") is None:
        return ""
    return f"{100 * row['ci_lb']:.1f}–{100 * row['ci_ub']:.1f}"


def _pool(arms):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticalWarning)
        pooled = pool_orr(arms, by=POOL_BY, method=POOL_METHOD, test=POOL_TEST,
                          measure=POOL_MEASURE)
    return pooled, sorted({str(w.message) for w in caught
                           if issubclass(w.category, StatisticalWarning)})


def _pooled_rows(pooled) -> list[dict]:
    rows = []
    for r in pooled:
        out = {k: r.get(k) for k in ("tumor", "line", "k", "patients", "responders")}
        for k in ("orr", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
            out[f"{k}_percent"] = None if r.get(k) is None else round(100 * r[k], 1)
        out["i2_percent"] = None if r.get("i2") is None else round(r["i2"], 1)
        out["tau2"] = None if r.get("tau2") is None else round(r["tau2"], 4)
        out["method"], out["trials"] = r["method"], r["trials"]
        out["note"] = r.get("note") or ""
        rows.append(out)
    return rows


_POOLED_HTML = ("tumor", "line", "k", "patients", "responders", "orr_percent", "ci_lb_percent",
                "ci_ub_percent", "pi_lb_percent", "pi_ub_percent", "i2_percent", "note")


def build_efficacy(con: duckdb.DuckDBPyConnection | None) -> Section:
    from ..analyses.efficacy import compare_with_review, left_out_counts

    sec = Section("efficacy", "Monotherapy efficacy (Figure 4)")
    all_arms = load_orr_arms()
    arms = query_orr_arms(all_arms)
    heme = [a for a in query_orr_arms(all_arms, include_haematological=True) if a.haematological]
    pooled, stat_warnings = _pool(arms)
    left = left_out_counts(all_arms)
    multi = [r for r in pooled if r["k"] >= 2]
    small = [r for r in pooled if r["small_k"]]
    patients = sum(a.n_evaluable or 0 for a in arms)
    sec.paragraphs = [
        f"The curated dataset holds {plural(len(all_arms), 'row')} (monotherapy arms and their "
        f"published data cuts) of PD-1/PD-L1 inhibitors. The pooled analysis keeps the "
        f"review's scope — verified rows, objective response, advanced solid tumours "
        f"(maintenance as its own line), each trial's primary population, one data cut per "
        f"arm: {plural(len(arms), 'arm')} from {plural(len({a.trial for a in arms}), 'trial')} "
        f"({n(patients)} evaluable patients; the review: 118 trials, 22,433 patients).",
        f"Left out ({n(sum(left.values()))} rows): "
        + "; ".join(f"{reason} {n(count)}" for reason, count in left.items())
        + ". Every row, pooled or not, is in the arms table with the reason "
          "(`left_out_because`).",
        f"Pooling by tumour type and line of therapy gives {plural(len(pooled), 'subgroup')}, "
        f"{n(len(multi))} of them with two or more arms (random effects, {POOL_METHOD} τ², "
        "logit-transformed proportions, Hartung–Knapp–Sidik–Jonkman 95% CI; a single arm is "
        f"shown with its exact Clopper–Pearson interval). {n(len(small))} subgroups have k ≤ 2 "
        "and are flagged: their intervals tell little, read the arms.",
    ]
    stable = [r for r in pooled if not r["small_k"]]
    if stable:
        best = max(stable, key=lambda r: (r["orr"], r["k"]))
        worst = min(stable, key=lambda r: (r["orr"], -r["k"]))
        sec.paragraphs.append(
            f"Among subgroups with three or more arms, the highest pooled ORR is "
            f"{100 * best['orr']:.1f}% ({esc(best['tumor'])}, {esc(best['line'])}; "
            f"k = {best['k']}, 95% CI {_fmt_ci(best)}%) and the lowest "
            f"{100 * worst['orr']:.1f}% ({esc(worst['tumor'])}, {esc(worst['line'])}; "
            f"k = {worst['k']}, 95% CI {_fmt_ci(worst)}%)."
        )
    if stat_warnings:
        sec.paragraphs.append("Statistical warnings while pooling: "
                              + "; ".join(esc(w) for w in stat_warnings) + ".")
    sec.figures.append(ReportFigure(
        "fig4_orr", "Figure 4. ORR of PD-1/PD-L1 monotherapy by tumour type and line",
        f"One circle per pooled arm ({n(len(arms))}, advanced solid tumours), sized by evaluable "
        "patients and coloured by line of therapy; * marks MSI-H/dMMR-selected arms.",
        partial(plot_orr_figure4, arms)))
    sec.figures.append(ReportFigure(
        "fig4b_orr_pooled", "Pooled ORR by tumour type and line",
        f"The {n(len(multi))} subgroups with two or more arms; per-subgroup forest "
        "plots with every arm: `ici-atlas figures efficacy`.",
        partial(plot_pooled_summary, pooled)))
    review = compare_with_review(pooled, arms)
    sec.tables.append(Table("orr_review_statements", "The review's stated ORRs beside ours",
                            ["statement", "line", "review", "ours", "agrees"], review))
    sec.tables.append(Table("orr_pooled", "Pooled ORR by tumour type and line (solid tumours)",
                            list(_pooled_rows(pooled)[0].keys()) if pooled else ["tumor"],
                            _pooled_rows(pooled), html_columns=_POOLED_HTML))
    if heme:
        heme_pooled, _ = _pool(heme)
        sec.paragraphs.append(
            f"Haematological malignancies are reported apart (the review's Figure 4 is solid "
            f"tumours): {plural(len(heme), 'arm')} from {plural(len({a.trial for a in heme}), 'trial')}, "
            f"{n(sum(a.n_evaluable for a in heme))} patients (table and figure below; pooled with "
            "the solid tumours only with `ici-atlas orr --include-haematological`).")
        sec.figures.append(ReportFigure(
            "fig4h_orr_haematological", "ORR of PD-1/PD-L1 monotherapy in haematological malignancies",
            f"One circle per arm ({n(len(heme))}); not part of the review's Figure 4.",
            partial(plot_orr_figure4, heme,
                    f"Haematological malignancies ({len(heme)} arms, "
                    f"{sum(a.n_evaluable for a in heme):,} patients)")))
        sec.tables.append(Table("orr_pooled_haematological",
                                "Pooled ORR in haematological malignancies",
                                list(_pooled_rows(heme_pooled)[0].keys()),
                                _pooled_rows(heme_pooled), html_columns=_POOLED_HTML))
    arm_rows = [a.to_row() for a in all_arms]
    sec.tables.append(Table("orr_arms", "Monotherapy arms and data cuts (all, with sources)",
                            list(arm_rows[0].keys()) if arm_rows else ["trial"], arm_rows,
                            show=False, link_columns=("nct_id",)))
    return sec


def build_literature(con: duckdb.DuckDBPyConnection | None) -> Section | None:
    """The systematic literature search: PRISMA 2020 flow and every excluded record with the
    reason (downloadable). None when the store holds no literature library (the methods
    section then says how to build one)."""
    prisma = query_prisma(con)
    if prisma is None:
        return None
    sec = Section("literature", "Literature search and screening (PRISMA 2020)")
    _add_prisma(sec, prisma)
    _add_screening_progress(sec, con)
    excluded = query_excluded_records(con)
    sec.paragraphs.append(
        f"{plural(len(excluded), 'record')} excluded, each with the stage and the reason "
        "recorded in the screening log (the latest decision per record and stage).")
    sec.tables.append(Table("excluded_records", "Excluded records with reasons",
                            ["record_id", "pmid", "doi", "year", "title", "stage", "reason"],
                            excluded, max_rows=40,
                            html_columns=("pmid", "year", "title", "stage", "reason")))
    return sec


def _add_screening_progress(sec: Section, con: duckdb.DuckDBPyConnection) -> None:
    """Screening progress per stage and the stopping rule's verdict (``lit status``)."""
    from ..review.progress import progress_sentence, query_screening_progress

    rows = query_screening_progress(con)
    sentence = progress_sentence(rows)
    if sentence:
        sec.paragraphs.append(sentence)
    if rows:
        sec.tables.append(Table("screening_progress", "Screening progress and the stopping rule",
                                list(rows[0].keys()), rows))


def query_excluded_records(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every record whose latest decision at a stage is ``exclude``, with that reason."""
    from ..review.export import render_library_csv_rows

    out = []
    for r in render_library_csv_rows(con):
        for stage, column in (("automation", "automation"), ("title-abstract", "title_abstract"),
                              ("full-text", "full_text")):
            decision, _, reason = (r[column] or "").partition("/")
            if decision == "exclude":
                out.append({"record_id": r["record_id"], "pmid": r["pmid"], "doi": r["doi"],
                            "year": r["year"], "title": r["title"], "stage": stage,
                            "reason": reason})
    return out




def query_prisma(con: duckdb.DuckDBPyConnection | None):
    """PRISMA counts of the store's literature library, or None when it has none
    (read-only: the literature tables are part of the store's one schema)."""
    if con is None or not any(table_exists(con, t) for t in ("pubmed_records", "lit_imported")):
        return None
    present = [t for t in ("pubmed_records", "lit_imported") if table_exists(con, t)]
    if not sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in present):
        return None
    from ..review.prisma import compute_prisma

    return compute_prisma(con)


def _add_prisma(sec: Section, c) -> None:
    from ..figures.prisma import plot_prisma

    sec.paragraphs.append(
        f"Literature: {n(c.identified)} records identified, {n(c.duplicates_removed)} duplicates "
        f"removed, {n(c.screened)} screened, {n(c.screening_excluded)} excluded at title/abstract, "
        f"{n(c.assessed_for_eligibility)} full texts assessed and {n(c.included)} studies "
        "included" + ("" if c.complete else
                      f" (screening not finished: {n(c.awaiting_screening)} records await "
                      f"screening, {n(c.awaiting_full_text)} await full-text review)") + "."
    )
    sec.figures.append(ReportFigure("prisma_flow", "PRISMA 2020 flow of the literature search",
                                    "Counts computed from the store's screening log.",
                                    partial(plot_prisma, c)))
    rows = [{"box": k, "count": v} for k, v in c.to_dict().items()
            if isinstance(v, int) and not isinstance(v, bool)]
    rows += [{"box": f"identified: {k}", "count": v} for k, v in c.identified_by_source.items()]
    rows += [{"box": f"full text excluded: {k}", "count": v}
             for k, v in c.full_text_excluded.items()]
    sec.tables.append(Table("prisma_counts", "PRISMA counts", ["box", "count"], rows))


# ----------------------------------------------------------------------------- strategies

def build_strategies(con: duckdb.DuckDBPyConnection | None, trials_known: bool) -> Section:
    sec = Section("strategies", "Resistance strategies and evidence map (Figure 6)")
    kb = ev.load_strategies()
    findings = ev.load_combination_findings()
    link = con if trials_known else None
    rows = ev.query_strategy_table(link, kb.strategies)
    map_rows = ev.query_evidence_map(rows)
    categories = Counter(s.category for s in kb.strategies)
    gaps = [r for r in map_rows if r["translation_gap"]]
    outcome = Counter(f.outcome for f in findings)
    sec.paragraphs = [
        f"The knowledge base holds {plural(len(kb.strategies), 'resistance strategy', 'resistance strategies')} "
        f"in {plural(len(categories), 'Figure 6 category', 'Figure 6 categories')}, each with its "
        "mechanism, evidence level and the review's references. "
        f"{esc(ev.RESEARCH_NOTE)}",
        f"{plural(len(gaps), 'strategy', 'strategies')} "
        f"{'is a' if len(gaps) == 1 else 'are'} translation "
        f"{'gap' if len(gaps) == 1 else 'gaps'}: at least moderate preclinical support, no "
        "clinical data in the review"
        + (" and no PD-(L)1 trial in the store giving its drugs." if trials_known
           else " (trial links not checked: the store has no classified trials)."),
        f"The review's combination findings: {n(len(findings))} combinations, "
        + ", ".join(f"{n(outcome[o])} {esc(o)}" for o in ev.OUTCOMES if outcome[o]) + ".",
    ]
    if trials_known:
        linked = [r for r in rows if r.get("trials")]
        sec.paragraphs[1] += (f" {n(len(linked))} of the {n(len(rows))} strategies are linked to "
                              "at least one PD-(L)1 trial in the store.")
    by_cat = [Bar(cat, categories[cat], str(categories[cat]), "#009E73",
                  tuple(s.id for s in kb.strategies if s.category == cat), "strategies")
              for cat in ev.CATEGORIES if categories[cat]]
    sec.figures.append(ReportFigure(
        "fig6_evidence_map", "Figure 6. Evidence map of resistance strategies",
        "Each strategy placed by strength of preclinical support (x) and furthest clinical "
        "stage (y), from the review or from linked trials; the shaded band is the translation "
        "gap. The interactive chart lists the strategies per Figure 6 category.",
        partial(plot_evidence_map, map_rows, trials_known=trials_known),
        Chart(by_cat, axis_label="Strategies"), chart_is_twin=False))
    columns = ["id", "category", "target", "intervention", "direction", "evidence_level",
               "preclinical_support", "trials", "highest_phase", "references", "finding"]
    sec.tables.append(Table("strategies", "Resistance strategies", columns,
                            [{c: r.get(c) for c in columns} for r in rows], max_rows=200,
                            html_columns=("id", "category", "target", "evidence_level",
                                          "preclinical_support", "trials", "highest_phase")))
    sec.tables.append(Table("evidence_map", "Evidence map rows",
                            list(map_rows[0].keys()) if map_rows else ["id"], map_rows,
                            show=False))
    f_rows = [_finding_row(f) for f in findings]
    sec.tables.append(Table("combination_findings", "Combination findings",
                            ["combination", "partner_target", "outcome", "phase", "trials",
                             "tumour_types", "finding", "references"], f_rows,
                            html_columns=("combination", "outcome", "phase", "trials",
                                          "finding")))
    if trials_known:
        links = [{"strategy": r["id"], "nct_id": t} for r in rows for t in (r.get("trial_ids") or [])]
        sec.tables.append(Table("strategy_trials", "PD-(L)1 trials linked to each strategy",
                                ["strategy", "nct_id"], links, show=False,
                                link_columns=("nct_id",)))
    return sec


def _finding_row(f) -> dict[str, Any]:
    row = f.as_row()
    return {k: row[k] for k in ("combination", "partner_target", "outcome", "phase", "trials",
                                "tumour_types", "finding", "references")}
