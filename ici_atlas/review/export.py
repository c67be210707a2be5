"""Exports of the screening library: CSV and RIS with the latest decisions, and a template of
efficacy (ORR) rows for the included studies, each with its PMID as source."""

from __future__ import annotations

import duckdb

from ..sources.bibfiles import format_ris_record
from .decisions import latest_decisions
from .library import LibraryRecord, query_canonical
from .prescreen import agents_named

ORR_TEMPLATE_COLUMNS = (
    "trial", "nct_id", "pmid", "doi", "agent", "target_class", "tumor_group", "line",
    "n_evaluable", "responders", "orr_percent", "verified", "source", "where_read", "title",
)


def _records(con: duckdb.DuckDBPyConnection, stage: str) -> list[LibraryRecord]:
    records = query_canonical(con)
    if stage == "included":
        ft = latest_decisions(con, "full-text")
        records = [r for r in records if ft.get(r.record_id, ("", ""))[0] == "include"]
    return records


def render_library_csv_rows(con: duckdb.DuckDBPyConnection, stage: str = "all") -> list[dict]:
    auto = latest_decisions(con, "automation")
    ta = latest_decisions(con, "title-abstract")
    ft = latest_decisions(con, "full-text")
    rows = []
    for r in _records(con, stage):
        rows.append({
            "record_id": r.record_id, "pmid": r.pmid, "doi": r.doi, "year": r.year, "journal": r.journal,
            "title": r.title, "nct_ids": ";".join(r.nct_ids),
            "automation": "/".join(auto.get(r.record_id, ("", ""))).strip("/"),
            "title_abstract": "/".join(ta.get(r.record_id, ("", ""))).strip("/"),
            "full_text": "/".join(ft.get(r.record_id, ("", ""))).strip("/"),
        })
    return rows


def render_ris(con: duckdb.DuckDBPyConnection, stage: str = "all") -> str:
    return "\n".join(
        format_ris_record([("TY", "JOUR"), ("TI", r.title), ("T2", r.journal), ("PY", r.year),
                           ("DO", r.doi), ("AN", r.pmid), ("AB", r.abstract)])
        for r in _records(con, stage)
    )


def render_orr_template_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """One row per included study, numbers left empty for the curator to read from the
    paper; ``verified`` stays ``no`` until someone checks them."""
    rows = []
    for r in _records(con, "included"):
        named = agents_named(f"{r.title} {r.abstract}")
        agents = sorted({a.agent_id for a in named})
        classes = sorted({a.target_class for a in named})
        rows.append({
            "trial": "", "nct_id": ";".join(r.nct_ids), "pmid": r.pmid, "doi": r.doi,
            "agent": ";".join(agents), "target_class": ";".join(classes), "tumor_group": "", "line": "",
            "n_evaluable": "", "responders": "", "orr_percent": "", "verified": "no",
            "source": f"PMID:{r.pmid}" if r.pmid else (f"doi:{r.doi}" if r.doi else r.record_id),
            "where_read": "", "title": r.title,
        })
    return rows
