"""Run bookkeeping shared by every source: one row in ``runs`` per fetch/load/search,
and the ``quarantine`` table for records that could not be used."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import orjson

from .. import __version__

TOOL_VERSION = f"ici-atlas {__version__}"


#: Runs started by this process and not yet finished (a ``running`` row not in here, found
#: when a writer opens the store, belongs to a process that stopped without recording it).
LIVE_RUNS: set[int] = set()


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def start_run(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: str,
    query: str | None,
    params: dict,
    *,
    query_key: str | None = None,
    resume_key: str | None = None,
    resumed_from: int | None = None,
) -> int:
    """Insert a ``running`` row and return its run id."""
    run_id = con.execute("SELECT nextval('run_id_seq')").fetchone()[0]
    con.execute(
        "INSERT INTO runs (run_id, kind, source, query, params, status, started_at, "
        "tool_version, resumed_from, query_key, resume_key, new_records, updated_records, "
        "unchanged_records, quarantined, stored_total) "
        "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, 0, 0, 0, 0, 0)",
        [run_id, kind, source, query, orjson.dumps(params).decode(), now_utc(), TOOL_VERSION,
         resumed_from, query_key, resume_key],
    )
    LIVE_RUNS.add(run_id)
    return run_id


def update_run(con: duckdb.DuckDBPyConnection, run_id: int, **cols) -> None:
    if not cols:
        return
    sets = ", ".join(f"{k} = ?" for k in cols)
    con.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*cols.values(), run_id])


def finish_run(con: duckdb.DuckDBPyConnection, run_id: int, status: str, message: str | None = None) -> None:
    con.execute(
        "UPDATE runs SET status = ?, message = ?, finished_at = ? WHERE run_id = ?",
        [status, message, now_utc(), run_id],
    )
    LIVE_RUNS.discard(run_id)


def mark_stale_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Mark ``running`` runs of a process that is gone as ``interrupted`` (DuckDB lets one
    process write at a time, so a writer opening the store sees only its own live runs).
    A fetch so marked is still resumed by the next identical ``ici-atlas fetch``."""
    live = sorted(LIVE_RUNS)
    stale = con.execute(
        "SELECT run_id FROM runs WHERE status = 'running' "
        "AND NOT list_contains(?::BIGINT[], run_id)", [live]).fetchall()
    for (run_id,) in stale:
        con.execute(
            "UPDATE runs SET status = 'interrupted', message = coalesce(message || '; ', '') || "
            "'the process stopped before the run finished (found when the store was next "
            "opened for writing)' WHERE run_id = ?", [run_id])
    return len(stale)


def quarantine_record(
    con: duckdb.DuckDBPyConnection, run_id: int, source: str, ref: str, field_name: str | None,
    reason: str, raw: str | None,
) -> None:
    con.execute(
        "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
        [run_id, source, ref, field_name, reason, raw, now_utc()],
    )


def fail_run(con: duckdb.DuckDBPyConnection, run_id: int, exc: BaseException) -> None:
    """Mark a run ``interrupted`` (Ctrl-C) or ``failed`` with the error, before re-raising."""
    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    try:
        finish_run(con, run_id, status, message)
    except duckdb.Error:  # the store itself failed (disk full ...): the original error wins
        LIVE_RUNS.discard(run_id)


# --- reading: the one reader of ``runs`` and ``quarantine`` -----------------------------

RUN_COLUMNS = (
    "run_id", "kind", "status", "source", "reported_total", "stored_total", "new_records",
    "updated_records", "unchanged_records", "quarantined", "resumed_from", "started_at",
    "finished_at", "tool_version", "query", "params", "message",
)


def query_runs(con: duckdb.DuckDBPyConnection, limit: int | None = None, *,
               kind: str | None = None, source: str | None = None,
               offset: int = 0) -> list[dict]:
    """Runs, newest first; ``kind`` (fetch, load, classify, lit-search ...) and ``source``
    (a substring of the source) filter them; ``params`` is decoded from JSON."""
    clauses, args = [], []
    if kind:
        clauses.append("kind = ?")
        args.append(kind)
    if source:
        clauses.append("contains(lower(source), lower(?))")
        args.append(source)
    sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY run_id DESC"
    if limit:
        sql += " LIMIT ? OFFSET ?"
        args += [int(limit), int(offset)]
    rows = [dict(zip(RUN_COLUMNS, r)) for r in con.execute(sql, args).fetchall()]
    for row in rows:
        if isinstance(row["params"], str):
            row["params"] = orjson.loads(row["params"])
    return rows


def count_runs(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> int:
    if kind:
        return con.execute("SELECT count(*) FROM runs WHERE kind = ?", [kind]).fetchone()[0]
    return con.execute("SELECT count(*) FROM runs").fetchone()[0]


QUARANTINE_COLUMNS = ("run_id", "source", "record_ref", "field", "reason", "quarantined_at", "raw")


def _rows_of_runs(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...],
                  run_id: int | None, order: str) -> list[dict]:
    """Rows of a per-run table (every run, or one), as dicts."""
    sql = f"SELECT {', '.join(columns)} FROM {table}"
    args: list = []
    if run_id is not None:
        sql += " WHERE run_id = ?"
        args.append(run_id)
    return [dict(zip(columns, r)) for r in con.execute(f"{sql} ORDER BY {order}", args).fetchall()]


def query_quarantine(con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> list[dict]:
    return _rows_of_runs(con, "quarantine", QUARANTINE_COLUMNS, run_id, "run_id, record_ref")


WARNING_COLUMNS = ("run_id", "record_ref", "field", "reason")


def query_record_warnings(con: duckdb.DuckDBPyConnection,
                          run_id: int | None = None) -> list[dict]:
    """Records that were kept with a field read one safe way (e.g. an enrolment count of
    99999999 read as unknown), one row per field."""
    return _rows_of_runs(con, "record_warnings", WARNING_COLUMNS, run_id,
                         "run_id, record_ref, field")


def query_stored_warnings(con: duckdb.DuckDBPyConnection,
                          nct_id: str | None = None) -> list[dict]:
    """The warnings of the records as stored now (those recorded by the run that stored each
    record's current copy): what the landscape was built from."""
    sql = ("SELECT w.record_ref, w.field, w.reason, w.run_id FROM record_warnings w "
           "JOIN raw_studies s ON s.nct_id = w.record_ref AND s.run_id = w.run_id")
    args: list = []
    if nct_id is not None:
        sql += " WHERE w.record_ref = ?"
        args.append(nct_id)
    sql += " ORDER BY w.record_ref, w.field"
    cols = ("record_ref", "field", "reason", "run_id")
    return [dict(zip(cols, r)) for r in con.execute(sql, args).fetchall()]
