"""The discovery-to-clinic timeline of the PD-1/PD-L1 axis (the review's Supplementary
Figure 1) as dated, cited events.

Two sources, merged and sorted by date:

* ``ici_atlas/data/timeline_events.tsv`` — curated discoveries, preclinical and clinical
  milestones and awards (PD-1 cloned in 1992 ... the 2018 Nobel Prize), each with its
  reference (PMID, DOI or the awarding body's page) and whether it was ``verified``;
* the approvals table — each agent's first approval anywhere (agency, date and the
  agency source of that event), so the timeline grows with the curated approvals.

A curated row of kind ``approval`` that the approvals table also holds (same agent, same date)
takes that event's source and verification (the table, with agency sources, wins); a first
approval already in the curated rows is not listed twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

from .approvals import PartialDate, first_approvals, load_approval_events
from ..vocab.tsv import Row, read_rows

EVENTS_FILE = Path(__file__).resolve().parent.parent / "data" / "timeline_events.tsv"
KINDS = ("discovery", "preclinical", "clinical", "approval", "award")
_REFERENCE = re.compile(r"^(PMID:\d{1,9}|DOI:10\.\d{4,9}/\S+|https?://\S+)$")


@dataclass(frozen=True)
class TimelineEvent:
    event_id: str
    date: PartialDate
    event: str
    kind: str
    reference: str
    review_ref: tuple[str, ...]
    verified: bool
    note: str
    source: str  # "curated" or "approvals table"


def _event(row: Row) -> TimelineEvent:
    text = row.text("date", required=True)
    try:
        when = PartialDate.parse(text)
    except ValueError as exc:
        raise row.error("date", text, str(exc), "write YYYY, YYYY-MM or YYYY-MM-DD") from None
    reference = row.text("reference", required=True)
    verified = row.flag("verified")
    if verified and not _REFERENCE.match(reference):
        raise row.error("reference", reference, "a verified event cites PMID:n, DOI:10.x/... "
                        "or the page of the body that records it", "write the identifier, "
                        "or set verified to no")
    return TimelineEvent(row.text("event_id", required=True), when,
                         row.text("event", required=True), row.choice("kind", KINDS), reference,
                         row.values("review_ref"), verified, row.text("note"), "curated")


@lru_cache(maxsize=2)
def load_curated_events(path: Path = EVENTS_FILE) -> tuple[TimelineEvent, ...]:
    return tuple(_event(r) for r in read_rows(path, (
        "event_id", "date", "event", "kind", "reference", "review_ref", "verified", "note")))


def first_approval_events() -> list[TimelineEvent]:
    """Each agent's first approval anywhere, from the approvals table."""
    out = []
    for agent, e in sorted(first_approvals(load_approval_events()).items(),
                           key=lambda kv: (kv[1].date, kv[0])):
        out.append(TimelineEvent(
            f"A-{e.event_id}", e.date,
            f"First approval of {agent}: {e.agency}, {e.cancer_type or e.cancer_group}",
            "approval", e.sources[0] if e.sources else "", (), e.verified, e.notes,
            "approvals table"))
    return out


def query_timeline(kinds: tuple[str, ...] | None = None, until: date | None = None,
                   verified_only: bool = False) -> list[dict]:
    """The dated events, oldest first: curated milestones and first approvals."""
    all_events = load_approval_events()
    events: list[TimelineEvent] = []
    replaced: set[str] = set()
    for e in load_curated_events():
        match = next((a for a in all_events if e.kind == "approval" and a.date == e.date
                      and a.agent.replace("-", " ") in e.event.lower()), None)
        if match is not None:
            replaced.add(match.event_id)
            e = replace(e, reference=match.sources[0] if match.sources else e.reference,
                        verified=match.verified, source="approvals table")
        events.append(e)
    events += [e for e in first_approval_events() if e.event_id[2:] not in replaced]
    rows = []
    for e in sorted(events, key=lambda e: (e.date, e.event_id)):
        if kinds and e.kind not in kinds:
            continue
        if until and e.date.first_day() > until:
            continue
        if verified_only and not e.verified:
            continue
        rows.append({"event_id": e.event_id, "date": str(e.date), "year": e.date.year,
                     "kind": e.kind, "event": e.event, "reference": e.reference,
                     "review_ref": list(e.review_ref), "verified": e.verified,
                     "source": e.source, "note": e.note})
    return rows
