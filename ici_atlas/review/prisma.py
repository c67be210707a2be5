"""PRISMA 2020 flow counts computed from the screening log, with consistency checks.

Page et al., BMJ 2021;372:n71 (doi:10.1136/bmj.n71). Boxes: records identified (by source),
duplicates removed, records marked ineligible by automation tools, records screened,
records excluded, reports sought for retrieval, reports not retrieved, reports assessed
for eligibility, reports excluded (with reasons), studies included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb

from ..store.db import table_exists
from .decisions import latest_decisions
from .library import query_canonical, query_library


@dataclass
class PrismaCounts:
    identified_by_source: dict[str, int]
    identified: int
    duplicates_removed: int
    automation_excluded: int
    screened: int
    screening_excluded: int
    awaiting_screening: int
    sought_for_retrieval: int
    not_retrieved: int
    assessed_for_eligibility: int
    awaiting_full_text: int
    full_text_excluded: dict[str, int]
    included: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def complete(self) -> bool:
        return not self.awaiting_screening and not self.awaiting_full_text and not self.problems


def empty_prisma() -> PrismaCounts:
    return PrismaCounts({}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {}, 0)


def compute_prisma(con: duckdb.DuckDBPyConnection) -> PrismaCounts:
    """Counts from the store; all zero when it holds no literature library. Only reads."""
    if not table_exists(con, "lit_decisions"):
        return empty_prisma()
    library = query_library(con)
    canonical = query_canonical(con)
    ids = {r.record_id for r in canonical}
    by_source: dict[str, int] = {}
    for r in library:
        key = "PubMed" if r.origin == "pubmed" else r.origin
        by_source[key] = by_source.get(key, 0) + 1
    auto = latest_decisions(con, "automation")
    ta = latest_decisions(con, "title-abstract")
    ft = latest_decisions(con, "full-text")
    problems = []
    automation_excluded = {k for k in ids if auto.get(k, ("", ""))[0] == "exclude"}
    screened_ids = ids - automation_excluded
    ta_excluded = {k for k in screened_ids if ta.get(k, ("", ""))[0] == "exclude"}
    ta_included = {k for k in screened_ids if ta.get(k, ("", ""))[0] == "include"}
    awaiting = screened_ids - ta_excluded - ta_included
    not_retrieved = {k for k in ta_included if ft.get(k, ("", ""))[0] == "not-retrieved"}
    ft_excluded: dict[str, int] = {}
    included = 0
    assessed = 0
    for k in sorted(ta_included - not_retrieved):
        decision, reason = ft.get(k, ("", ""))
        if decision == "include":
            included += 1
            assessed += 1
        elif decision == "exclude":
            ft_excluded[reason] = ft_excluded.get(reason, 0) + 1
            assessed += 1
    awaiting_ft = len(ta_included) - len(not_retrieved) - assessed
    for k, (decision, _) in ft.items():
        if decision in ("include", "exclude") and k in ids and k not in ta_included:
            problems.append(f"{k} has a full-text decision but was not included at title/abstract screening")
    for k in set(ta) | set(ft) | set(auto):
        if k not in ids and k not in {r.record_id for r in library}:
            problems.append(f"{k} has decisions but is not in the library")
    counts = PrismaCounts(
        identified_by_source=dict(sorted(by_source.items())),
        identified=len(library),
        duplicates_removed=len(library) - len(canonical),
        automation_excluded=len(automation_excluded),
        screened=len(screened_ids),
        screening_excluded=len(ta_excluded),
        awaiting_screening=len(awaiting),
        sought_for_retrieval=len(ta_included),
        not_retrieved=len(not_retrieved),
        assessed_for_eligibility=assessed,
        awaiting_full_text=awaiting_ft,
        full_text_excluded=dict(sorted(ft_excluded.items())),
        included=included,
        problems=sorted(problems),
    )
    counts.problems += check_prisma(counts)
    return counts


def check_prisma(c: PrismaCounts) -> list[str]:
    """Every box must add up; returns the equations that do not."""
    checks = [
        ("identified = sum over sources", c.identified, sum(c.identified_by_source.values())),
        ("identified = duplicates removed + records after de-duplication",
         c.identified, c.duplicates_removed + c.automation_excluded + c.screened),
        ("screened = excluded + sought for retrieval + awaiting screening",
         c.screened, c.screening_excluded + c.sought_for_retrieval + c.awaiting_screening),
        ("sought = not retrieved + assessed + awaiting full text",
         c.sought_for_retrieval, c.not_retrieved + c.assessed_for_eligibility + c.awaiting_full_text),
        ("assessed = excluded with reasons + included",
         c.assessed_for_eligibility, sum(c.full_text_excluded.values()) + c.included),
    ]
    return [f"{name}: {left} != {right}" for name, left, right in checks if left != right]
