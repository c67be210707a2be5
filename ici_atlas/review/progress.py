"""How far screening has come, per stage, with the stopping rule's verdict: one table for
``ici-atlas lit status``, ``Atlas.screening_progress``, the report and the dashboard."""

from __future__ import annotations

import duckdb

from ..store.schema import table_exists
from .screening import screening_pool
from .stopping import ALPHA, RULE, TARGET_RECALL, labels_in_decision_order, stopping_status

#: Columns of :func:`query_screening_progress` and their kinds (for typed frames).
PROGRESS_TABLE = {
    "stage": "str", "pool": "int", "included": "int", "excluded": "int", "not_retrieved": "int",
    "skipped": "int", "undecided": "int", "should_stop": "bool", "p_value": "float",
    "max_missed": "int", "recall_lower_bound": "float", "target_recall": "float", "alpha": "float",
    "rule": "str",
}


def has_library(con: duckdb.DuckDBPyConnection) -> bool:
    present = [t for t in ("pubmed_records", "lit_imported") if table_exists(con, t)]
    return bool(present) and any(con.execute(f"SELECT count(*) > 0 FROM {t}").fetchone()[0]
                                 for t in present)


def query_screening_progress(con: duckdb.DuckDBPyConnection, target_recall: float = TARGET_RECALL,
                             alpha: float = ALPHA) -> list[dict]:
    """One row per screening stage (title-abstract, full-text): the pool, the decisions in
    force (latest per record), and at title-abstract the stopping rule (empty at full text,
    where every record is read). No rows when the store holds no literature library."""
    if not has_library(con):
        return []
    rows = []
    for stage in ("title-abstract", "full-text"):
        pool = {r.record_id for r in screening_pool(con, stage)}
        log = [(k, d) for k, d in con.execute(
            "SELECT record_id, decision FROM lit_decisions WHERE stage = ? ORDER BY seq", [stage]).fetchall()
            if k in pool]
        latest = dict(log)
        count = {d: sum(1 for v in latest.values() if v == d)
                 for d in ("include", "exclude", "not-retrieved", "skip")}
        decided = count["include"] + count["exclude"] + count["not-retrieved"]
        row = {"stage": stage, "pool": len(pool), "included": count["include"],
               "excluded": count["exclude"], "not_retrieved": count["not-retrieved"],
               "skipped": count["skip"], "undecided": len(pool) - decided,
               "should_stop": None, "p_value": None, "max_missed": None, "recall_lower_bound": None,
               "target_recall": None, "alpha": None, "rule": None}
        if stage == "title-abstract" and pool:
            s = stopping_status(labels_in_decision_order(log), len(pool), target_recall, alpha)
            row.update(should_stop=s.should_stop, p_value=s.p_value, max_missed=s.max_missed,
                       recall_lower_bound=s.recall_lower_bound, target_recall=target_recall,
                       alpha=alpha, rule=RULE)
        rows.append(row)
    return rows


def progress_sentence(rows: list[dict]) -> str | None:
    """One sentence on title/abstract screening and the stopping rule, or None."""
    ta = next((r for r in rows if r["stage"] == "title-abstract"), None)
    if ta is None or not ta["pool"]:
        return None
    decided = ta["included"] + ta["excluded"]
    text = (f"Title/abstract screening: {decided:,} of {ta['pool']:,} records decided "
            f"({ta['included']:,} included, {ta['excluded']:,} excluded), {ta['undecided']:,} undecided. ")
    conf = f"{1 - ta['alpha']:.0%}"
    bound = (f"with {conf} confidence at most {ta['max_missed']:,} relevant record(s) remain "
             f"unscreened (recall ≥ {ta['recall_lower_bound']:.2f})")
    if ta["undecided"] == 0:
        return text + "Screening is complete."
    if ta["should_stop"]:
        return text + (f"Stopping rule, {ta['rule']}: screening may stop — recall ≥ "
                       f"{ta['target_recall']:.2f} is shown (p = {ta['p_value']:.3g}); {bound}.")
    return text + (f"Stopping rule, {ta['rule']}: keep screening — recall ≥ {ta['target_recall']:.2f} "
                   f"is not shown yet (p = {ta['p_value']:.3g}); {bound}.")
