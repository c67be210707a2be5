"""The screening log: every decision with stage, reason, who/what made it and when.

Nothing is overwritten: a new decision on the same record and stage is appended, and the
latest one counts. Stages: ``automation`` (rule-based pre-screening), ``title-abstract``,
``full-text``. Decisions: ``include``, ``exclude``, ``skip`` (seen, undecided), for full
texts ``not-retrieved``, and ``undone`` (the screener withdrew their previous decision on
the record: it is undecided again; written by undo on the screening page). An exclusion
needs a reason at the full-text stage (PRISMA 2020 reports them there); at title/abstract
screening the reason is an optional note.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import InputError
from ..store.runs import now_utc

STAGES = ("automation", "title-abstract", "full-text")
DECISIONS = ("include", "exclude", "skip", "not-retrieved", "undone")
CSV_COLUMNS = ("record_id", "stage", "decision", "reason", "reviewer", "decided_at")



@dataclass(frozen=True)
class Decision:
    record_id: str
    stage: str
    decision: str
    reason: str
    reviewer: str




def validate_decision(d: Decision, where: str = "decision") -> None:
    if d.stage not in STAGES:
        raise InputError(f"{where}: invalid stage {d.stage!r}; expected one of {list(STAGES)}",
                         fix="Use automation, title-abstract or full-text.")
    if d.decision not in DECISIONS:
        raise InputError(f"{where}: invalid decision {d.decision!r}; expected one of {list(DECISIONS)}",
                         fix="Use include, exclude, skip, not-retrieved or undone.")
    if d.decision == "exclude" and d.stage == "full-text" and not d.reason.strip():
        raise InputError(f"{where}: an exclusion needs a reason (record {d.record_id})",
                         fix="Give the reason, e.g. 'not a monotherapy arm'.")
    if not d.reviewer.strip():
        raise InputError(f"{where}: no reviewer for record {d.record_id}", fix="Name the reviewer.")


def record_decisions(con: duckdb.DuckDBPyConnection, decisions: list[Decision], decided_at=None) -> int:
    stamp = decided_at or now_utc()
    for i, d in enumerate(decisions):
        validate_decision(d, f"decision {i + 1}")
    if decisions:
        # one statement for the whole batch; seq keeps the order of the list
        con.execute(
            "INSERT INTO lit_decisions SELECT nextval('lit_decision_seq'), * FROM ("
            "SELECT unnest(?::VARCHAR[]) AS record_id, unnest(?::VARCHAR[]) AS stage, "
            "unnest(?::VARCHAR[]) AS decision, unnest(?::VARCHAR[]) AS reason, "
            "unnest(?::VARCHAR[]) AS reviewer, ?::TIMESTAMP AS decided_at)",
            [[d.record_id for d in decisions], [d.stage for d in decisions], [d.decision for d in decisions],
             [d.reason or None for d in decisions], [d.reviewer for d in decisions], stamp],
        )
    return len(decisions)


def latest_decisions(con: duckdb.DuckDBPyConnection, stage: str) -> dict[str, tuple[str, str]]:
    """record_id → (decision, reason) of the latest decision at ``stage``."""
    rows = con.execute(
        "SELECT record_id, decision, coalesce(reason, '') FROM lit_decisions WHERE stage = ? "
        "QUALIFY row_number() OVER (PARTITION BY record_id ORDER BY seq DESC) = 1",
        [stage],
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def query_decision_log(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = con.execute(
        "SELECT record_id, stage, decision, coalesce(reason, ''), reviewer, decided_at "
        "FROM lit_decisions ORDER BY seq"
    ).fetchall()
    return [dict(zip(CSV_COLUMNS, r)) for r in rows]


def export_decisions_csv(con: duckdb.DuckDBPyConnection, path: str | Path) -> int:
    rows = query_decision_log(con)
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "decided_at": row["decided_at"].isoformat(sep=" ")})
    return len(rows)


def import_decisions_csv(con: duckdb.DuckDBPyConnection, path: str | Path) -> int:
    """Append decisions from a CSV (columns as exported); the whole file is checked first."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Decisions file {str(path)!r} not found", fix="Pass a CSV exported by `lit decisions --export`.")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("record_id", "stage", "decision", "reason", "reviewer") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path.name} lacks column(s) {missing}", fix=f"Columns: {', '.join(CSV_COLUMNS)}.")
        decisions = []
        for line, row in enumerate(reader, start=2):
            d = Decision(row["record_id"].strip(), row["stage"].strip(), row["decision"].strip(),
                         (row["reason"] or "").strip(), (row["reviewer"] or "").strip())
            validate_decision(d, f"{path.name} line {line}")
            decisions.append(d)
    return record_decisions(con, decisions)
