"""The report's first section: the PD-1/PD-L1 axis as cited data — the regulatory network
(the review's Figure 1), its druggable regulators and the trials that test them, and the
discovery-to-clinic timeline (Supplementary Figure 1)."""

from __future__ import annotations

from functools import partial

import duckdb

from ..analyses.regulators import query_drugged, query_edges, query_nodes
from ..analyses.timeline import query_timeline
from ..figures.regulators import plot_network, plot_timeline
from .model import ReportFigure, Section, Table, esc, n, plural


def build_biology(con: duckdb.DuckDBPyConnection | None) -> Section:
    """``con`` is a classified store (trial links) or None (no links, said so)."""
    sec = Section("biology", "The PD-1/PD-L1 axis: regulators and timeline (Figure 1)")
    nodes, edges, events = query_nodes(), query_edges(), query_timeline()
    verified = [e for e in edges if e["verified"]]
    unsourced = [r["node_id"] for r in nodes if not r["verified"]]
    drugged = query_drugged(con)
    sec.paragraphs = [
        f"The regulatory network of Figure 1 as data: {plural(len(nodes), 'regulator')} "
        f"and {plural(len(edges), 'relation')}, each relation with its primary reference; "
        f"{n(len(verified))} relations were checked against their PMID/DOI and are drawn, "
        f"{n(len(edges) - len(verified))} are listed as unverified and not drawn. "
        + (f"{plural(len(unsourced), 'regulator')} of the caption ha"
           f"{'s' if len(unsourced) == 1 else 've'} no verified relation yet: "
           f"{esc(', '.join(unsourced))}." if unsourced else ""),
    ]
    if con is not None:
        tested = [r for r in drugged if r["trials"]]
        sec.paragraphs.append(
            f"{plural(len(drugged), 'regulator')} can be drugged; "
            f"{n(len(tested))} of them are the target of a partner drug in at least one "
            "PD-(L)1 trial in the store: "
            + esc("; ".join(f"{r['node_id']} ({r['trials']})" for r in tested) or "none") + ".")
    else:
        sec.paragraphs.append(f"{plural(len(drugged), 'regulator')} can be drugged; trial "
                              "links need a classified store.")
    sec.figures.append(ReportFigure(
        "fig1_network", "Figure 1. Regulatory network of the PD-1/PD-L1 axis",
        "Tumour-cell regulators of PD-L1 (left) and T-cell regulators of PD-1 (right), one "
        "row per level; verified relations only.",
        partial(plot_network, nodes, edges)))
    sec.figures.append(ReportFigure(
        "suppfig1_timeline", "Supplementary Figure 1. From discovery to approvals",
        f"{plural(len(events), 'dated event')}: curated milestones with references and each "
        "agent's first approval from the approvals table.",
        partial(plot_timeline, events)))
    sec.tables.append(Table(
        "regulators", "Regulators (Figure 1)",
        ["node_id", "symbol", "name", "cell", "level", "druggable", "example_agents",
         "verified", "references"], nodes, max_rows=80,
        html_columns=("node_id", "symbol", "cell", "level", "druggable", "verified")))
    sec.tables.append(Table(
        "regulator_edges", "Relations between regulators",
        ["edge_id", "source", "effect", "target", "cell", "verified", "references",
         "evidence"], edges, show=False))
    sec.tables.append(Table(
        "drugged_regulators", "Druggable regulators and the PD-(L)1 trials that test them",
        ["node_id", "cell", "level", "agents", "trials", "trials_by_phase", "nct_ids"],
        drugged, html_columns=("node_id", "cell", "agents", "trials", "trials_by_phase")))
    sec.tables.append(Table(
        "timeline", "Timeline events", ["date", "kind", "event", "reference", "verified"],
        events, show=False))
    return sec
