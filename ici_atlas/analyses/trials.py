"""Reading the classified trials: one table of trials (filtered, sorted, paged) and one
trial with the evidence of its classification.

The trial table has one schema wherever it is written (:data:`TRIAL_TABLE`): the API's
``Atlas.trials()``, ``ici-atlas export trials``, the report and the dashboard's CSV.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import duckdb

from ..errors import InputError, StoreError, invalid_choice
from ..store.schema import DERIVED_TABLES, tables_present
from ..vocab.phases import PHASE_LABELS
from .filters import TrialFilter

#: The trial table: column -> kind (see :mod:`ici_atlas.tables`).
TRIAL_TABLE: dict[str, str] = {
    "nct_id": "str", "brief_title": "str", "acronym": "str", "is_pd1_pdl1": "bool",
    "agents": "list", "target_class": "list", "bispecific": "bool",
    "bispecific_other_target": "list", "monotherapy_arm": "bool", "partner_classes": "list",
    "cancer_groups": "list", "oncotree_codes": "list", "phase": "str", "phases": "str",
    "overall_status": "str", "study_type": "str", "start_date": "date", "start_year": "int",
    "first_posted": "date", "last_update_posted": "date", "lead_sponsor": "str",
    "sponsor_class": "str", "enrollment": "int", "has_results": "bool", "countries": "list",
    "line_of_therapy": "str", "setting": "str", "exposure": "str", "official_title": "str",
    "registry": "str", "trial_key": "str",
}

#: Sort keys -> SQL expression (the only request text that selects SQL).
SORT_COLUMNS: dict[str, str] = {
    "nct_id": "nct_id",
    "title": "lower(brief_title)",
    "phase": "list_position([" + ", ".join(f"'{p}'" for p in PHASE_LABELS) + "], phase_label)",
    "status": "overall_status",
    "start_year": "start_date",
    "first_posted": "first_posted",
    "sponsor": "lower(lead_sponsor)",
    "sponsor_class": "sponsor_class",
    "enrollment": "enrollment",
    "last_update": "last_update_posted",
}

_SELECT = {c: c for c in TRIAL_TABLE}
_SELECT["phase"] = "coalesce(phase_label, 'NA') AS phase"


def derived_tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    return tables_present(con, DERIVED_TABLES) == set(DERIVED_TABLES)


def require_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    if not derived_tables_exist(con):
        raise StoreError(
            "The store has no classified trials (table trials is missing)",
            fix="Run `ici-atlas classify` after loading records with `ici-atlas fetch`.",
        )


def _order(sort: str, order: str) -> str:
    if sort not in SORT_COLUMNS:
        raise invalid_choice("sort", sort, list(SORT_COLUMNS), "Use one of the listed sort keys.")
    if order not in ("asc", "desc"):
        raise invalid_choice("order", order, ["asc", "desc"], "Use order asc or desc.")
    return f"{SORT_COLUMNS[sort]} {order.upper()} NULLS LAST, nct_id ASC"


def trials_sql(flt: TrialFilter, columns: Sequence[str] | None = None, sort: str = "nct_id",
               order: str = "asc") -> tuple[str, list[Any]]:
    """The SELECT of the trial table for ``flt`` (all columns unless ``columns``)."""
    columns = list(columns or TRIAL_TABLE)
    bad = [c for c in columns if c not in TRIAL_TABLE]
    if bad:
        raise invalid_choice("column", bad[0], list(TRIAL_TABLE), "Use columns of the trial table.")
    where, params = flt.where("")
    select = ", ".join(_SELECT[c] for c in columns)
    return f"SELECT {select} FROM trials WHERE {where} ORDER BY {_order(sort, order)}", params


def query_trials(con: duckdb.DuckDBPyConnection, flt: TrialFilter = TrialFilter(),
                 columns: Sequence[str] | None = None, sort: str = "nct_id", order: str = "asc",
                 limit: int | None = None, offset: int = 0) -> list[dict]:
    """Rows of the trial table for the trials passing ``flt``."""
    require_derived_tables(con)
    sql, params = trials_sql(flt, columns, sort, order)
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = params + [int(limit), int(offset)]
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def iter_trials(con: duckdb.DuckDBPyConnection, flt: TrialFilter, columns: Sequence[str],
                sort: str = "nct_id", order: str = "asc", batch: int = 2000
                ) -> Iterator[list[tuple]]:
    """The selection in batches of row tuples (for streaming downloads)."""
    require_derived_tables(con)
    sql, params = trials_sql(flt, columns, sort, order)
    cur = con.execute(sql, params)
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            return
        yield rows


def text_select(columns: Sequence[str]) -> str:
    """SELECT list writing each trial-table column as the text every ici-atlas CSV uses
    (lists joined by ';', booleans yes/no, dates ISO) — done by DuckDB, for speed."""
    parts = []
    for c in columns:
        kind, expr = TRIAL_TABLE[c], _SELECT[c].split(" AS ")[0]
        if kind == "list":
            parts.append(f"array_to_string({expr}, ';')")
        elif kind == "bool":
            parts.append(f"CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} THEN 'yes' ELSE 'no' END")
        elif kind in ("date", "int"):
            parts.append(f"CAST({expr} AS VARCHAR)")
        else:
            parts.append(expr)
    return ", ".join(parts)


def iter_trials_text(con: duckdb.DuckDBPyConnection, flt: TrialFilter, columns: Sequence[str],
                     sort: str = "nct_id", order: str = "asc", batch: int = 5000
                     ) -> Iterator[list[tuple]]:
    """The selection as text cells (see :func:`text_select`), in batches."""
    require_derived_tables(con)
    where, params = flt.where("")
    cur = con.execute(f"SELECT {text_select(columns)} FROM trials WHERE {where} "
                      f"ORDER BY {_order(sort, order)}", params)
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            return
        yield rows


def count_trials(con: duckdb.DuckDBPyConnection, flt: TrialFilter) -> int:
    require_derived_tables(con)
    where, params = flt.where("")
    return con.execute(f"SELECT count(*) FROM trials WHERE {where}", params).fetchone()[0]


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def resolve_nct_id(con: duckdb.DuckDBPyConnection, nct_id: str) -> tuple[str, str | None]:
    """``(NCT ID to read, the earlier ID asked for or None)``: an earlier (alias) NCT ID of a
    stored record resolves to the record's own ID, as the registry answers it."""
    nct = nct_id.strip().upper()
    if con.execute("SELECT count(*) FROM raw_studies WHERE nct_id = ?", [nct]).fetchone()[0]:
        return nct, None
    other = con.execute("SELECT display_id FROM registrations WHERE upper(display_id) = ?",
                        [nct]).fetchone()  # another registry's ID (ChiCTR2400084905 ...)
    if other:
        return other[0], None
    row = con.execute("SELECT nct_id FROM nct_aliases WHERE alias = ?", [nct]).fetchone()
    return (row[0], nct) if row else (nct, None)


def query_trial(con: duckdb.DuckDBPyConnection, nct_id: str) -> dict:
    """One trial's classification with what matched: the ``trials`` row plus its
    ``agents``, ``arms``, ``partners`` and ``cancers`` explanation rows (``explain``).
    An earlier NCT ID of the trial finds it too (``requested_as`` then names it)."""
    require_derived_tables(con)
    nct, alias = resolve_nct_id(con, nct_id)
    rows = _dicts(con, "SELECT * FROM trials WHERE nct_id = ?", [nct])
    if not rows:
        stored = con.execute("SELECT count(*) FROM raw_studies WHERE nct_id = ?", [nct]).fetchone()[0]
        if stored:
            reason = con.execute(
                "SELECT field, reason FROM quarantine WHERE record_ref = ? ORDER BY quarantined_at DESC "
                "LIMIT 1", [nct]).fetchone()
            detail = f" (quarantined: {reason[0]}: {reason[1]})" if reason else ""
            raise InputError(
                f"Trial {nct!r} is stored but has no classification{detail}",
                fix="Run `ici-atlas classify`; if it is quarantined, re-fetch the record.",
            )
        raise InputError(f"Trial {nct!r} is not in the store",
                         fix="Check the NCT ID, or load it with `ici-atlas fetch`.")
    out = rows[0]
    if alias:
        out["requested_as"] = alias
    out["explain"] = {
        "agents": _dicts(con, "SELECT agent_id, target_class, bispecific, other_target, "
                              "intervention_name, matched_term, matched_field FROM trial_agents "
                              "WHERE nct_id = ? ORDER BY agent_id", [nct]),
        "arms": _dicts(con, "SELECT arm_label, arm_type, pd1_agents, partner_classes, other_drugs, "
                            "is_pd1_monotherapy FROM trial_arms WHERE nct_id = ?", [nct]),
        "partners": _dicts(con, "SELECT arm_label, intervention_name, partner_drug, partner_class, "
                                "matched_term, rule FROM trial_partners WHERE nct_id = ?", [nct]),
        "cancers": _dicts(con, "SELECT cancer_group, oncotree_code, matched_text, rule "
                               "FROM trial_cancers WHERE nct_id = ?", [nct]),
    }
    return out
