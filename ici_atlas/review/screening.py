"""Screening over the store: de-duplicate + pre-screen the library, and give the next
records to screen in prioritised order (the model retrains on the decisions so far)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from .decisions import Decision, latest_decisions, record_decisions
from .library import LibraryRecord, deduplicate, query_canonical
from .prescreen import prescreen_record
from .prioritise import Prioritiser, ScreeningText


@dataclass
class PrescreenSummary:
    identified: int
    merged: dict[str, int]
    canonical: int
    excluded_by_rule: dict[str, int]
    passed: int
    new_decisions: int


def prescreen_library(con: duckdb.DuckDBPyConnection) -> PrescreenSummary:
    """De-duplicate, then apply the rules to every canonical record. Idempotent: a rule
    decision is logged again only when it changes."""
    merged = deduplicate(con)
    records = query_canonical(con)
    previous = latest_decisions(con, "automation")
    new: list[Decision] = []
    by_rule: dict[str, int] = {}
    passed = 0
    for r in records:
        decision, rule, reason = prescreen_record(r)
        if decision == "exclude":
            by_rule[rule] = by_rule.get(rule, 0) + 1
        else:
            passed += 1
        if previous.get(r.record_id) != (decision, reason):
            new.append(Decision(r.record_id, "automation", decision, reason, f"rule:{rule}"))
    record_decisions(con, new)
    identified = len(records) + sum(merged.values())
    return PrescreenSummary(identified, merged, len(records), by_rule, passed, len(new))


def screening_pool(con: duckdb.DuckDBPyConnection, stage: str = "title-abstract") -> list[LibraryRecord]:
    """Canonical records eligible for ``stage``: past automation (title-abstract) or
    included at title-abstract (full-text)."""
    records = query_canonical(con)
    if stage == "title-abstract":
        auto = latest_decisions(con, "automation")
        return [r for r in records if auto.get(r.record_id, ("include", ""))[0] != "exclude"]
    ta = latest_decisions(con, "title-abstract")
    return [r for r in records if ta.get(r.record_id, ("", ""))[0] == "include"]


def next_to_screen(con: duckdb.DuckDBPyConnection, stage: str = "title-abstract", seed: int = 0) -> list[LibraryRecord]:
    """Undecided records of ``stage`` (skips count as undecided), most likely relevant first."""
    pool = screening_pool(con, stage)
    done = latest_decisions(con, stage)
    decided = {k for k, (d, _) in done.items() if d not in ("skip", "undone")}
    model = Prioritiser([ScreeningText(r.title, r.abstract) for r in pool], seed=seed)
    index = {r.record_id: i for i, r in enumerate(pool)}
    labelled = [(index[k], 1 if d == "include" else 0) for k, (d, _) in done.items()
                if k in index and d in ("include", "exclude")]
    if labelled:
        model.fit([i for i, _ in labelled], [y for _, y in labelled])
    remaining = [i for i, r in enumerate(pool) if r.record_id not in decided]
    return [pool[i] for i in model.rank(remaining)]
