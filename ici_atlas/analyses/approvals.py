"""Regulatory approvals of PD-1/PD-L1 inhibitors (the review's "Approval of anti-PD-1/PD-L1
drugs" section and Figure 3), held as data and counted from the data.

``ici_atlas/data/approval_events.tsv`` has one row per approval event (agent, agency, date,
indication) with its source. This module loads and validates it (:func:`load_approval_events`),
filters it (:func:`query_approvals`), derives each agent's first approval
(:func:`first_approvals`, :func:`summarize_agents`) and recomputes the review's headline counts
(:func:`summarize_counts`). Nothing here is hard-coded except the review's stated values, which
are kept only as a comparison column (``REVIEW_VALUES``). Column meanings and the counting rules
are documented in ``docs/approvals.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import InputError, VocabularyError
from ..vocab import load_agents
from ..vocab.tsv import Row, read_rows

APPROVALS_FILE = "approval_events.tsv"
REVIEW_CITATION = "Cancer Drug Resist. 2026;9:18"
#: The date the review's counts are compared at: its ClinicalTrials.gov search ran "by April
#: 2025" and it states no other cut-off for approvals (docs/approvals.md).
REVIEW_AS_OF = "2025-04-30"

COLUMNS = (
    "event_id", "agent", "agency", "date", "status", "status_date", "indication", "cancer_group",
    "cancer_type",
    "line", "biomarker", "combination", "approval_type", "pivotal_trial", "nct_id", "source",
    "verified", "moalmanac_id", "notes",
)

#: Agency code -> (region used in the review's first-approval split, full name).
AGENCIES: dict[str, tuple[str, str]] = {
    "FDA": ("United States", "US Food and Drug Administration"),
    "NMPA": ("China", "National Medical Products Administration (China)"),
    "PMDA": ("Japan", "Ministry of Health, Labour and Welfare on PMDA review (Japan)"),
    "EMA": ("Europe", "European Commission on the opinion of the European Medicines Agency"),
    "MHRA": ("United Kingdom", "Medicines and Healthcare products Regulatory Agency (UK)"),
    "MoH-RU": ("Russia", "Ministry of Health of the Russian Federation"),
}
#: ``active``: on the label today; ``superseded``: replaced by a later, broader event of the same
#: agent and agency; ``withdrawn``: taken off the label.
STATUSES = ("active", "superseded", "withdrawn")
LINES = (
    "first-line", "later-line", "adjuvant", "neoadjuvant", "perioperative", "maintenance",
    "consolidation", "chemoradiotherapy", "various", "unspecified",
)
APPROVAL_TYPES = ("", "full", "accelerated", "conditional")
#: Fallback when the cancer-group vocabulary (ici_atlas.vocab.cancers) is not importable.
FALLBACK_CANCER_GROUPS = (
    "NSCLC", "SCLC", "lung-other", "melanoma", "HCC", "BTC", "ESCA", "GC", "CRC", "pancreatic",
    "HNSCC", "NPC", "UC", "RCC", "prostate", "breast", "TNBC", "CC", "UCEC", "ovarian", "MPM",
    "cSCC", "MCC", "BCC", "sarcoma", "CNS", "cHL", "lymphoma-other", "heme-other",
    "solid-tumors", "other-cancer", "non-cancer",
)

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_NCT = re.compile(r"^NCT\d{8}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")


@dataclass(frozen=True, order=True)
class PartialDate:
    """A date known to the year, month or day. Sorts by (year, month, day) with unknown parts
    as 0, so a month-only date sorts before any exact day of that month."""

    year: int
    month: int = 0
    day: int = 0

    @classmethod
    def parse(cls, text: str) -> "PartialDate":
        match = _DATE.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
        year, month, day = (int(g) if g else 0 for g in match.groups())
        date(year, month or 1, day or 1)  # raises ValueError for 2021-02-30, month 13 ...
        return cls(year, month, day)

    def first_day(self) -> date:
        """The earliest day the date can mean (2021-06 -> 2021-06-01)."""
        return date(self.year, self.month or 1, self.day or 1)

    def last_day(self) -> date:
        """The latest day the date can mean (2021-06 -> 2021-06-30, 2021 -> 2021-12-31)."""
        if self.day:
            return date(self.year, self.month, self.day)
        if self.month:
            nxt = date(self.year + self.month // 12, self.month % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
        return date(self.year, 12, 31)

    @property
    def precision(self) -> str:
        return "day" if self.day else "month" if self.month else "year"

    def __str__(self) -> str:
        if self.day:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.month:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}"


@dataclass(frozen=True)
class ApprovalEvent:
    """One approval of one agent by one agency for one indication (one cancer type)."""

    event_id: str
    agent: str
    agency: str
    date: PartialDate
    status: str
    status_date: PartialDate | None
    indication: str
    cancer_group: str
    cancer_type: str
    line: str
    biomarker: str
    combination: tuple[str, ...]
    approval_type: str
    pivotal_trial: tuple[str, ...]
    nct_ids: tuple[str, ...]
    sources: tuple[str, ...]
    verified: bool
    moalmanac_id: str
    notes: str
    line_no: int = field(default=0, compare=False)

    @property
    def region(self) -> str:
        return AGENCIES[self.agency][0]

    @property
    def year(self) -> int:
        return self.date.year

    def as_row(self) -> dict:
        """Flat dict for tables and exports (dates as text, lists joined by ';')."""
        return {
            "event_id": self.event_id, "agent": self.agent, "agency": self.agency,
            "date": str(self.date), "status": self.status,
            "status_date": str(self.status_date) if self.status_date else "",
            "indication": self.indication,
            "cancer_group": self.cancer_group, "cancer_type": self.cancer_type, "line": self.line,
            "biomarker": self.biomarker, "combination": "; ".join(self.combination),
            "approval_type": self.approval_type, "pivotal_trial": "; ".join(self.pivotal_trial),
            "nct_id": "; ".join(self.nct_ids), "source": " ; ".join(self.sources),
            "verified": self.verified, "moalmanac_id": self.moalmanac_id, "notes": self.notes,
        }


EVENT_TABLE_COLUMNS = ("event_id", "agent", "agency", "date", "status", "cancer_group",
                       "cancer_type", "line", "indication", "verified")


def known_cancer_groups() -> tuple[str, ...]:
    """Cancer group ids from the shared vocabulary (the trial classifier's groups)."""
    try:
        from ..vocab.cancers import load_cancer_groups
    except ImportError:  # vocabulary module not installed in this build
        return FALLBACK_CANCER_GROUPS
    return tuple(g.group_id for g in load_cancer_groups())


def default_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / APPROVALS_FILE


def _parse_event(row: Row, agent_ids: frozenset[str], groups: frozenset[str]) -> ApprovalEvent:
    event_id = row.text("event_id", required=True)
    if not _ID.match(event_id):
        raise row.error("event_id", event_id, "ids are lower-case letters, digits, '.' and '-'",
                        "write an id like pembrolizumab-fda-01")
    agent = row.text("agent", required=True)
    if agent_ids and agent not in agent_ids:
        raise row.error("agent", agent, "not an agent_id of ici_atlas/vocab/agents.tsv",
                        "use the agent_id from agents.tsv, or add the agent there first")
    text = row.text("date", required=True)
    try:
        when = PartialDate.parse(text)
    except ValueError as exc:
        raise row.error("date", text, str(exc), "write YYYY-MM-DD, or YYYY-MM if the day is unknown")
    status = row.choice("status", STATUSES)
    ended = row.text("status_date")
    status_date = None
    if ended:
        try:
            status_date = PartialDate.parse(ended)
        except ValueError as exc:
            raise row.error("status_date", ended, str(exc), "write YYYY-MM-DD, YYYY-MM or YYYY")
        if status == "active":
            raise row.error("status_date", ended, "an active event has no end date",
                            "empty status_date, or set status to superseded/withdrawn")
        if status_date.last_day() < when.first_day():
            raise row.error("status_date", ended, f"before the event's date {when}",
                            "check both dates")
    elif status != "active":
        raise row.error("status_date", "", f"a {status} event needs the date it stopped being "
                        "active", "give the superseding event's date or the withdrawal date")
    group = row.text("cancer_group", required=True)
    if group not in groups:
        raise row.error("cancer_group", group, "not a cancer group of the trial classifier",
                        f"use one of {sorted(groups)}")
    nct_ids = row.values("nct_id")
    for nct in nct_ids:
        if not _NCT.match(nct):
            raise row.error("nct_id", nct, "expected NCT followed by 8 digits", "fix the NCT ID")
    sources = tuple(s.strip() for s in row.text("source", required=True).split(" ; ") if s.strip())
    moalmanac = row.text("moalmanac_id")
    if moalmanac and not moalmanac.startswith("ind:"):
        raise row.error("moalmanac_id", moalmanac, "MOAlmanac indication ids start with 'ind:'",
                        "copy the indication_id from MOAlmanac, e.g. ind:fda.keytruda:0")
    return ApprovalEvent(
        event_id=event_id,
        agent=agent,
        agency=row.choice("agency", AGENCIES),
        date=when,
        status=status,
        status_date=status_date,
        indication=row.text("indication", required=True),
        cancer_group=group,
        cancer_type=row.text("cancer_type", required=True),
        line=row.choice("line", LINES),
        biomarker=row.text("biomarker"),
        combination=row.values("combination"),
        approval_type=_approval_type(row),
        pivotal_trial=row.values("pivotal_trial"),
        nct_ids=nct_ids,
        sources=sources,
        verified=row.flag("verified"),
        moalmanac_id=moalmanac,
        notes=row.text("notes"),
        line_no=row.line,
    )


def _approval_type(row: Row) -> str:
    value = row.text("approval_type")
    if value not in APPROVAL_TYPES:
        raise row.error("approval_type", value, f"expected one of {list(APPROVAL_TYPES[1:])} "
                        "or empty", "use full, accelerated, conditional, or leave it empty")
    return value


def parse_approval_events(path: Path, agent_ids: Iterable[str] | None = None,
                          cancer_groups: Iterable[str] | None = None) -> tuple[ApprovalEvent, ...]:
    """Read and validate an approval-events file (uncached).

    ``agent_ids`` defaults to the ids of :func:`ici_atlas.vocab.load_agents`, ``cancer_groups``
    to :func:`known_cancer_groups`. Raises :class:`VocabularyError` naming the file, row, field
    and value of the first problem.
    """
    ids = frozenset(a.agent_id for a in load_agents()) if agent_ids is None else frozenset(agent_ids)
    groups = frozenset(known_cancer_groups() if cancer_groups is None else cancer_groups)
    events: list[ApprovalEvent] = []
    seen: dict[str, int] = {}
    for row in read_rows(path, COLUMNS):
        event = _parse_event(row, ids, groups)
        if event.event_id in seen:
            raise row.error("event_id", event.event_id, f"duplicate of row {seen[event.event_id]}",
                            "give every event its own id")
        seen[event.event_id] = row.line
        events.append(event)
    if not events:
        raise VocabularyError(f"{path.name}: no approval events", fix=f"restore {path}")
    return tuple(events)


@lru_cache(maxsize=4)
def _cached(path: Path) -> tuple[ApprovalEvent, ...]:
    return parse_approval_events(path)


def load_approval_events(path: str | Path | None = None) -> tuple[ApprovalEvent, ...]:
    """All approval events from ``approval_events.tsv`` (or ``path``), validated; cached."""
    return _cached(Path(path) if path is not None else default_path())


# --------------------------------------------------------------------------- queries

def _agent_ids_for(name: str) -> set[str]:
    """Agent ids a user's name refers to: an agent_id, INN, code name or brand (any case)."""
    from .filters import resolve_agent

    return {resolve_agent(name)}


def query_approvals(
    events: Sequence[ApprovalEvent],
    agent: str | None = None,
    agency: str | None = None,
    cancer: str | None = None,
    since: str | None = None,
    status: str | None = None,
    verified_only: bool = False,
    as_of: str | date | None = None,
) -> list[ApprovalEvent]:
    """Events matching every given filter, in date order; with ``as_of``, the events approved
    by that date with the status they had then (:func:`events_as_of`).

    ``cancer`` matches the cancer group or the finer cancer type (case-insensitive);
    ``since`` is YYYY, YYYY-MM or YYYY-MM-DD (events on or after it; a partial event date counts
    as its earliest possible day).
    """
    out = list(events_as_of(events, as_of))
    if agent:
        ids = _agent_ids_for(agent)
        out = [e for e in out if e.agent in ids]
    if agency:
        codes = {c.lower(): c for c in AGENCIES}
        if agency.lower() not in codes:
            raise InputError(f"Invalid agency {agency!r}; expected one of {list(AGENCIES)}",
                             fix="use an agency code, e.g. --agency NMPA")
        out = [e for e in out if e.agency == codes[agency.lower()]]
    if cancer:
        key = cancer.casefold()
        out = [e for e in out if key in (e.cancer_group.casefold(), e.cancer_type.casefold())]
    if since:
        try:
            start = PartialDate.parse(since)
        except ValueError:
            raise InputError(f"Invalid --since {since!r}; expected YYYY, YYYY-MM or YYYY-MM-DD",
                             fix="e.g. --since 2021 or --since 2021-06") from None
        out = [e for e in out if e.date >= start]
    if status:
        if status not in STATUSES:
            raise InputError(f"Invalid status {status!r}; expected one of {list(STATUSES)}",
                             fix="e.g. --status active")
        out = [e for e in out if e.status == status]
    if verified_only:
        out = [e for e in out if e.verified]
    return sorted(out, key=lambda e: (e.date, e.agent, e.event_id))


def first_approvals(events: Sequence[ApprovalEvent]) -> dict[str, ApprovalEvent]:
    """Each agent's earliest event worldwide (ties: file order)."""
    first: dict[str, ApprovalEvent] = {}
    for event in events:
        best = first.get(event.agent)
        if best is None or event.date < best.date:
            first[event.agent] = event
    return first


def target_label(agent_id: str) -> str:
    """The agent's targets joined by '/', e.g. 'PD-1', 'PD-L1', 'PD-1/VEGF'."""
    agents = {a.agent_id: a for a in load_agents()}
    agent = agents.get(agent_id)
    return "/".join(agent.targets) if agent else ""


def _target_classes() -> dict[str, str]:
    return {a.agent_id: a.target_class for a in load_agents()}


def summarize_agents(events: Sequence[ApprovalEvent]) -> list[dict]:
    """One row per agent: target, first approval (agency, date, indication) and counts."""
    first = first_approvals(events)
    rows = []
    for agent_id, event in sorted(first.items(), key=lambda kv: (kv[1].date, kv[0])):
        own = [e for e in events if e.agent == agent_id]
        rows.append({
            "agent": agent_id,
            "target": target_label(agent_id),
            "first_agency": event.agency,
            "first_region": event.region,
            "first_approval_date": str(event.date),
            "first_indication": event.indication,
            "n_events": len(own),
            "n_cancer_groups": len({e.cancer_group for e in own}),
            "n_cancer_types": len({e.cancer_type for e in own}),
            "first_verified": event.verified,
        })
    return rows


# --------------------------------------------------------------------------- headline counts

@dataclass(frozen=True)
class ReviewValue:
    metric: str
    description: str
    value: int


#: The review's stated numbers (Cancer Drug Resist. 2026;9:18, section "Approval of
#: anti-PD-1/PD-L1 drugs"); used ONLY as the comparison column of :func:`summarize_counts`.
REVIEW_VALUES: tuple[ReviewValue, ...] = (
    ReviewValue("agents", "PD-1/PD-L1 inhibitors approved worldwide", 32),
    ReviewValue("agents_pd1", "... targeting PD-1", 21),
    ReviewValue("agents_pdl1", "... targeting PD-L1", 11),
    ReviewValue("first_fda", "first approved by the US FDA", 10),
    ReviewValue("first_nmpa", "first approved by China's NMPA", 19),
    ReviewValue("first_japan", "first approved in Japan", 1),
    ReviewValue("first_europe", "first approved in Europe (EU)", 1),
    ReviewValue("first_russia", "first approved in Russia", 1),
    ReviewValue("first_other", "first approved elsewhere (e.g. UK MHRA)", 0),
    ReviewValue("agents_since_2021", "agents first approved in 2021 or later", 21),
    ReviewValue("pembrolizumab_indications", "pembrolizumab: current FDA indications", 40),
    ReviewValue("pembrolizumab_cancer_types", "pembrolizumab: cancer types (FDA)", 20),
    ReviewValue("atezolizumab_indications", "atezolizumab: current FDA indications", 9),
    ReviewValue("atezolizumab_cancer_types", "atezolizumab: cancer types (FDA)", 5),
    ReviewValue("nsclc_pd1", "NSCLC: anti-PD-1 agents (monospecific)", 11),
    ReviewValue("nsclc_pdl1", "NSCLC: anti-PD-L1 agents", 4),
    ReviewValue("nsclc_pd1_vegf", "NSCLC: PD-1/VEGF bispecific agents", 1),
    ReviewValue("cancer_types", "cancer types with an approved agent", 26),
)
SINCE_YEAR = 2021


def compute_members(events: Sequence[ApprovalEvent]) -> dict[str, set[str]]:
    """What each headline count counts: agent ids, event ids or cancer types per metric
    (see docs/approvals.md for the rules)."""
    first = first_approvals(events)
    classes = _target_classes()
    region = {a: e.region for a, e in first.items()}
    members: dict[str, set[str]] = {
        "agents": set(first),
        "agents_pd1": {a for a in first if classes.get(a) == "PD-1"},
        "agents_pdl1": {a for a in first if classes.get(a) == "PD-L1"},
        "first_fda": {a for a, e in first.items() if e.agency == "FDA"},
        "first_nmpa": {a for a, e in first.items() if e.agency == "NMPA"},
        "first_japan": {a for a, r in region.items() if r == "Japan"},
        "first_europe": {a for a, r in region.items() if r == "Europe"},
        "first_russia": {a for a, r in region.items() if r == "Russia"},
        "first_other": {a for a, r in region.items()
                        if r not in ("United States", "China", "Japan", "Europe", "Russia")},
        "agents_since_2021": {a for a, e in first.items() if e.year >= SINCE_YEAR},
    }
    for agent in ("pembrolizumab", "atezolizumab"):
        label = [e for e in events if e.agent == agent and e.agency == "FDA" and e.status == "active"]
        members[f"{agent}_indications"] = {e.event_id for e in label}
        members[f"{agent}_cancer_types"] = {e.cancer_type for e in label}
    active = [e for e in events if e.status == "active"]
    nsclc = {e.agent for e in active if e.cancer_group == "NSCLC"}
    labels = {a: target_label(a) for a in nsclc}
    members["nsclc_pd1"] = {a for a, v in labels.items() if v == "PD-1"}
    members["nsclc_pdl1"] = {a for a, v in labels.items() if v == "PD-L1"}
    members["nsclc_pd1_vegf"] = {a for a, v in labels.items() if v == "PD-1/VEGF"}
    members["cancer_types"] = {e.cancer_type for e in active}
    return members


def compute_counts(events: Sequence[ApprovalEvent]) -> dict[str, int]:
    """Every headline count, derived from ``events``."""
    return {k: len(v) for k, v in compute_members(events).items()}


def parse_as_of(value: str | date | None) -> date | None:
    """An as-of date from YYYY-MM-DD, YYYY-MM (end of month) or YYYY (end of year)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return PartialDate.parse(str(value)).last_day()
    except ValueError:
        raise InputError(f"Invalid as-of date {value!r}; expected YYYY-MM-DD, YYYY-MM or YYYY",
                         fix="e.g. --as-of 2025-04-30") from None


def events_as_of(events: Sequence[ApprovalEvent], as_of: str | date | None
                 ) -> tuple[ApprovalEvent, ...]:
    """The events as they stood on ``as_of``: those approved by then (a date known only to
    the month or year counts from its first day), each with the status it had that day
    (``active`` unless it was superseded or withdrawn by then). None: every event as today."""
    when = parse_as_of(as_of)
    if when is None:
        return tuple(events)
    out = []
    for e in events:
        if e.date.first_day() > when:
            continue
        ended = e.status_date is not None and e.status_date.first_day() <= when
        out.append(e if ended or e.status == "active" else replace(e, status="active"))
    return tuple(out)


def uncertain_as_of(events: Sequence[ApprovalEvent], as_of: str | date | None) -> list[str]:
    """Events whose month- or year-only date straddles ``as_of`` (counted as approved by
    then, though they may be later)."""
    when = parse_as_of(as_of)
    if when is None:
        return []
    return [e.event_id for e in events
            if e.date.first_day() <= when < e.date.last_day()]


#: Approval events known to exist that the table does not hold, because no dated public source
#: was found (no date is guessed); shown wherever the table is summarised.
KNOWN_GAPS: tuple[str, ...] = (
    "prolgolimab: NSCLC in Russia (BIOCAD reports it without a date)",
    "camrelizumab: later-line NPC, first-line oesophageal and first-line squamous NSCLC in China "
    "(approved per sponsor lists; no dated source)",
    "socazolimab: extensive-stage SCLC; benmelstobart: renal cell carcinoma; penpulimab: "
    "third-line NPC; zimberelimab: cervical cancer (China; no dated source)",
    "tislelizumab: extensive-stage SCLC and perioperative NSCLC (China; no dated source)",
    "nivolumab, atezolizumab and durvalumab: most later Chinese indications (e.g. durvalumab "
    "limited-stage SCLC)",
    "EMA, PMDA, MHRA and other agencies: only first approvals worldwide are recorded",
)


#: Why the data as of the review's date differ from the review's number (curated; checked
#: by a test against the computed difference, so a note cannot outlive its cause).
REVIEW_NOTES: dict[str, str] = {
    "first_fda": ("Subcutaneous atezolizumab was first approved by the UK MHRA (2023-08), before "
                  "the EU (2024-01-16) and the FDA (2024-09-12); the review's 10 counts it as "
                  "FDA-first."),
    "first_other": ("Subcutaneous atezolizumab: first approved by the UK MHRA (2023-08); the "
                    "review credits it to the FDA."),
    "nsclc_pd1": ("Prolgolimab's NSCLC indication in Russia (BIOCAD reports it without a date, "
                  "after May 2022) is not recorded: no date is guessed."),
}


def summarize_counts(events: Sequence[ApprovalEvent], as_of: str | date | None = None
                     ) -> list[dict]:
    """The review's headline counts beside ours: as of the review's date
    (:data:`REVIEW_AS_OF`), as of ``as_of`` (default: today, i.e. every event), from
    verified rows only, and why they differ."""
    review_date = parse_as_of(REVIEW_AS_OF)
    then = compute_members(events_as_of(events, review_date))
    now_events = events_as_of(events, as_of)
    now = compute_members(now_events)
    verified = compute_counts([e for e in now_events if e.verified])
    label = "today" if as_of is None else f"by {parse_as_of(as_of).isoformat()}"
    rows = []
    for rv in REVIEW_VALUES:
        why = []
        if len(then[rv.metric]) != rv.value:
            why.append(REVIEW_NOTES.get(rv.metric, "Not explained yet."))
        added = sorted(now[rv.metric] - then[rv.metric])
        gone = sorted(then[rv.metric] - now[rv.metric])
        if added or gone:
            change = "; ".join(filter(None, [
                ("+ " + ", ".join(added)) if added else "",
                ("- " + ", ".join(gone)) if gone else ""]))
            if parse_as_of(as_of) is None or parse_as_of(as_of) > review_date:
                why.append(f"Since {REVIEW_AS_OF} (the review's date), {label}: {change}.")
            else:
                why.append(f"On {parse_as_of(as_of).isoformat()}, before the review's date "
                           f"({REVIEW_AS_OF}): {change}.")
        rows.append({
            "metric": rv.metric,
            "description": rv.description,
            "review": rv.value,
            "data_review_date": len(then[rv.metric]),
            "data": len(now[rv.metric]),
            "data_verified_only": verified[rv.metric],
            "difference": len(now[rv.metric]) - rv.value,
            "why": " ".join(why),
        })
    return rows


def agents_per_cancer_type(events: Sequence[ApprovalEvent]) -> list[tuple[str, int]]:
    """(cancer type, number of agents with an active approval), most agents first."""
    agents: dict[str, set[str]] = {}
    for e in events:
        if e.status == "active":
            agents.setdefault(e.cancer_type, set()).add(e.agent)
    return sorted(((t, len(a)) for t, a in agents.items()), key=lambda kv: (-kv[1], kv[0]))


def indications_per_agent(events: Sequence[ApprovalEvent]) -> list[tuple[str, int, str]]:
    """(agent, active indications, agency) per agent, most first.

    An agent's indication count is the number of its active events at the agency where it has
    the most (so the same indication approved by two agencies is not counted twice).
    """
    per: dict[str, Counter] = {}
    for e in events:
        if e.status == "active":
            per.setdefault(e.agent, Counter())[e.agency] += 1
    rows = []
    for agent, by_agency in per.items():
        agency, n = max(by_agency.items(), key=lambda kv: (kv[1], kv[0] == "FDA", kv[0]))
        rows.append((agent, n, agency))
    return sorted(rows, key=lambda r: (-r[1], r[0]))
