"""One screener's session over the store: the record to show next, a decision, undo.

What ``ici-atlas lit screen --web`` (and anyone screening from Python) works through. The
screening pool, its text features and the ranking model are built once when the session
opens; after that a decision costs one insert into the log, one refit of the ranking
model and one ranking of the undecided records, so the next record is ready well within a
second at the review's scale (``bench/bench_screening.py --page``).

Every decision is written to the store (``lit_decisions``, committed) before
:meth:`ScreeningSession.decide` returns, so the next record is only ever shown after the
previous decision is safe: a session killed at any point loses nothing that was decided.
The log stays append-only: :meth:`ScreeningSession.undo` appends an ``undone`` entry that
makes the record undecided again and shows it next.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Sequence

import duckdb
import numpy as np

from ..errors import InputError
from .decisions import Decision, record_decisions, validate_decision
from .library import LibraryRecord
from .prescreen import agents_named
from .prioritise import Prioritiser, ScreeningText
from .screening import screening_pool
from .stopping import ALPHA, TARGET_RECALL, StoppingStatus, stopping_status

#: Terms highlighted as speaking for inclusion when none are given: what an eligible
#: record of the review says (a PD-1/PD-L1 agent is highlighted by its names besides).
INCLUDE_TERMS = (
    "PD-1", "PD-L1", "anti-PD-1", "anti-PD-L1", "objective response", "overall response",
    "response rate", "ORR", "phase 1", "phase I", "phase 2", "phase II", "phase 3", "phase III",
    "trial", "monotherapy", "single-agent", "single agent",
)
#: Terms highlighted as speaking against inclusion when none are given.
EXCLUDE_TERMS = (
    "review", "meta-analysis", "case report", "retrospective", "real-world", "mice", "murine",
    "in vitro", "cell line", "preclinical", "in combination", "combined with", "plus",
)
#: Decisions a screener makes on the page (``undone`` is written by :meth:`undo`).
PAGE_DECISIONS = ("include", "exclude", "skip")


@dataclass(frozen=True)
class Highlight:
    """A span of text and whether it matched an inclusion term, an exclusion term or none."""

    text: str
    kind: str | None  # include | exclude | None


@dataclass(frozen=True)
class DuplicateRecord:
    """A record merged into the shown one by de-duplication (``lit prescreen``)."""

    record_id: str
    rule: str  # pmid | doi | title+year
    title: str
    origin: str


@dataclass
class Progress:
    pool: int
    included: int
    excluded: int
    other: int  # not-retrieved (full-text stage)
    skipped: int
    left: int  # undecided (skipped ones included)

    @property
    def decided(self) -> int:
        return self.included + self.excluded + self.other

    def to_dict(self) -> dict:
        return {"pool": self.pool, "decided": self.decided, "included": self.included,
                "excluded": self.excluded, "other": self.other, "skipped": self.skipped,
                "left": self.left}


@dataclass
class ScreeningView:
    """What the page shows: the next record (``None`` when nothing is left), the progress,
    the stopping rule's status and the last decision (for undo)."""

    record: LibraryRecord | None
    rank: int | None  # 1 = the model's first choice
    title_marks: list[Highlight] = field(default_factory=list)
    abstract_marks: list[Highlight] = field(default_factory=list)
    duplicates: list[DuplicateRecord] = field(default_factory=list)
    previous_note: str = ""  # the note of this record's last decision (after undo or a skip)
    progress: Progress | None = None
    stopping: StoppingStatus | None = None
    last: dict | None = None  # the decision undo would withdraw
    skipped_before: bool = False  # the record was skipped earlier (only skipped ones left)

    def to_dict(self) -> dict:
        r = self.record
        return {
            "record": None if r is None else {
                "record_id": r.record_id, "title": r.title, "abstract": r.abstract,
                "journal": r.journal, "year": r.year, "pmid": r.pmid, "doi": r.doi,
                "publication_types": list(r.publication_types), "origin": r.origin},
            "rank": self.rank,
            "highlights": {"title": [h.__dict__ for h in self.title_marks if h.kind],
                           "abstract": [h.__dict__ for h in self.abstract_marks if h.kind]},
            "duplicates": [d.__dict__ for d in self.duplicates],
            "previous_note": self.previous_note,
            "progress": self.progress.to_dict() if self.progress else None,
            "stopping": self.stopping.to_dict() if self.stopping else None,
            "stopping_text": self.stopping.text if self.stopping else None,
            "last": self.last,
            "skipped_before": self.skipped_before,
        }


def _term_pattern(terms: Sequence[str]) -> re.Pattern | None:
    terms = sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not terms:
        return None
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(t) for t in terms) + r")(?![\w])", re.I)


def highlight(text: str, include: re.Pattern | None, exclude: re.Pattern | None) -> list[Highlight]:
    """``text`` cut into spans, each marked include / exclude / None. Longer terms first; an
    inclusion match wins where both match (the spans never overlap)."""
    marks: list[tuple[int, int, str]] = []
    for kind, pattern in (("include", include), ("exclude", exclude)):
        if pattern is None:
            continue
        pos = 0
        while (m := pattern.search(text, pos)) is not None:
            if any(s < m.end() and m.start() < e for s, e, _ in marks):
                pos = m.start() + 1  # a shorter term may still fit after the overlap
                continue
            marks.append((m.start(), m.end(), kind))
            pos = m.end()
    out, pos = [], 0
    for start, end, kind in sorted(marks):
        if start > pos:
            out.append(Highlight(text[pos:start], None))
        out.append(Highlight(text[start:end], kind))
        pos = end
    if pos < len(text):
        out.append(Highlight(text[pos:], None))
    return out


class ScreeningSession:
    """A reviewer screening ``stage`` of the store's library (see the module docstring).

    ``include_terms`` / ``exclude_terms`` replace :data:`INCLUDE_TERMS` /
    :data:`EXCLUDE_TERMS` as the highlighted keywords. Thread-safe (one lock): the page's
    server may answer requests on several threads.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, reviewer: str, stage: str = "title-abstract",
                 seed: int = 0, include_terms: Sequence[str] | None = None,
                 exclude_terms: Sequence[str] | None = None, target_recall: float = TARGET_RECALL,
                 alpha: float = ALPHA):
        if stage not in ("title-abstract", "full-text"):
            raise InputError(f"Invalid stage {stage!r}; expected title-abstract or full-text",
                             fix="Use --stage title-abstract or --stage full-text.")
        if not reviewer.strip():
            raise InputError("No reviewer named", fix="Pass --reviewer with your name.")
        self.con, self.reviewer, self.stage, self.seed = con, reviewer.strip(), stage, seed
        self.target_recall, self.alpha = target_recall, alpha
        self.include_terms = list(INCLUDE_TERMS if include_terms is None else include_terms)
        self.include = _term_pattern(self.include_terms)
        self.exclude = _term_pattern(EXCLUDE_TERMS if exclude_terms is None else exclude_terms)
        self.lock = threading.RLock()
        self.pool: list[LibraryRecord] = screening_pool(con, stage)
        if not self.pool:
            raise InputError(
                f"No records to screen at the {stage} stage",
                fix=("Add records with `ici-atlas lit search` or `ici-atlas lit import FILE`, then run "
                     "`ici-atlas lit prescreen`." if stage == "title-abstract" else
                     "Include records at the title-abstract stage first."))
        self.index = {r.record_id: i for i, r in enumerate(self.pool)}
        self.model = Prioritiser([ScreeningText(r.title, r.abstract) for r in self.pool], seed=seed)
        self.pinned: str | None = None  # shown next (after undo)
        self._view: ScreeningView | None = None  # the current view, built on first ask
        self.skipped_now: set[str] = set()  # skipped in this session: shown again only at the end
        self._load()

    # -- state from the log ------------------------------------------------------------

    def _load(self) -> None:
        """Latest decision and note per record, the order of first decisions (for the
        stopping rule), then a refit."""
        rows = self.con.execute(
            "SELECT record_id, decision, coalesce(reason, ''), seq FROM lit_decisions "
            "WHERE stage = ? ORDER BY seq", [self.stage]).fetchall()
        self.latest: dict[str, tuple[str, str]] = {}
        self.first_seq: dict[str, int] = {}
        self.open = np.ones(len(self.pool), dtype=bool)  # undecided (never, skipped or undone)
        for record_id, decision, reason, seq in rows:
            if record_id in self.index:
                self._note(record_id, decision, reason, seq)
        self._refit()

    def _note(self, record_id: str, decision: str, reason: str, seq: int) -> None:
        """Take one log entry into the state (the rule of
        :func:`~ici_atlas.review.stopping.labels_in_decision_order`)."""
        if decision == "undone":  # keep the withdrawn decision's note to show again
            reason = self.latest.get(record_id, ("", ""))[1]
        self._view = None
        self.latest[record_id] = (decision, reason)
        self.open[self.index[record_id]] = decision in ("skip", "undone")
        if decision in ("include", "exclude"):
            self.first_seq.setdefault(record_id, seq)
        else:
            self.first_seq.pop(record_id, None)

    def _labelled(self) -> tuple[list[int], list[int]]:
        items = [(self.index[k], 1 if d == "include" else 0) for k, (d, _) in self.latest.items()
                 if d in ("include", "exclude")]
        return [i for i, _ in items], [y for _, y in items]

    def _refit(self) -> None:
        idx, y = self._labelled()
        self.model.fit(idx, y)
        self.ranked: list[int] = self.model.rank(np.flatnonzero(self.open))

    def _undecided(self, record_id: str) -> bool:
        return bool(self.open[self.index[record_id]])

    # -- what the page shows -------------------------------------------------------------

    def progress(self) -> Progress:
        counts = {"include": 0, "exclude": 0, "not-retrieved": 0, "skip": 0}
        for d, _ in self.latest.values():
            if d in counts:
                counts[d] += 1
        left = int(self.open.sum())
        return Progress(len(self.pool), counts["include"], counts["exclude"], counts["not-retrieved"],
                        counts["skip"], left)

    def stopping(self) -> StoppingStatus | None:
        """The stopping rule over the decisions so far (title-abstract stage only): records
        included or excluded, in the order of their first such decision, labelled by their
        latest decision."""
        if self.stage != "title-abstract":
            return None
        order = sorted((seq, k) for k, seq in self.first_seq.items()
                       if self.latest.get(k, ("", ""))[0] in ("include", "exclude"))
        labels = [1 if self.latest[k][0] == "include" else 0 for _, k in order]
        return stopping_status(labels, len(self.pool), self.target_recall, self.alpha)

    def _next(self) -> tuple[LibraryRecord | None, int | None, bool]:
        if self.pinned is not None and self._undecided(self.pinned):
            return self.pool[self.index[self.pinned]], None, False
        later = None
        for rank, i in enumerate(self.ranked, start=1):
            record = self.pool[i]
            if not self._undecided(record.record_id):
                continue
            if record.record_id in self.skipped_now:
                later = later or (record, rank)
                continue
            return record, rank, False
        return (later[0], later[1], True) if later else (None, None, False)

    def duplicates_of(self, record_id: str) -> list[DuplicateRecord]:
        rows = self.con.execute(
            """
            SELECT d.record_id, d.rule, coalesce(p.title, i.title, ''),
                   CASE WHEN p.pmid IS NOT NULL THEN 'PubMed' ELSE coalesce(i.source_file, '') END
            FROM lit_duplicates d
            LEFT JOIN pubmed_records p ON d.record_id = 'pmid:' || p.pmid
            LEFT JOIN lit_imported i ON d.record_id = i.record_id
            WHERE d.canonical_id = ? ORDER BY d.record_id
            """, [record_id]).fetchall()
        return [DuplicateRecord(*r) for r in rows]

    def last_decision(self) -> dict | None:
        """This reviewer's latest decision at this stage that is still in force (what
        :meth:`undo` withdraws), or ``None``."""
        row = self.con.execute(
            """
            SELECT record_id, decision, coalesce(reason, ''), decided_at FROM lit_decisions l
            WHERE stage = ? AND reviewer = ? AND decision IN ('include', 'exclude', 'skip', 'not-retrieved')
              AND seq = (SELECT max(seq) FROM lit_decisions m WHERE m.stage = l.stage
                         AND m.record_id = l.record_id)
            ORDER BY seq DESC LIMIT 1
            """, [self.stage, self.reviewer]).fetchone()
        if row is None or row[0] not in self.index:
            return None
        return {"record_id": row[0], "decision": row[1], "note": row[2],
                "title": self.pool[self.index[row[0]]].title, "decided_at": str(row[3])}

    def view(self) -> ScreeningView:
        """What to show now; computed once per state (a decision, an undo), so the page
        asked for after a decision reuses what the decision computed."""
        with self.lock:
            if self._view is None:
                self._view = self._build_view()
            return self._view

    def _build_view(self) -> ScreeningView:
        with self.lock:
            record, rank, skipped = self._next()
            out = ScreeningView(record=record, rank=rank, progress=self.progress(),
                                stopping=self.stopping(), last=self.last_decision(),
                                skipped_before=skipped)
            if record is not None:
                named = [name for agent in agents_named(f"{record.title} {record.abstract}")
                         for name in agent.names()]
                include = _term_pattern(self.include_terms + named) if named else self.include
                out.title_marks = highlight(record.title, include, self.exclude)
                out.abstract_marks = highlight(record.abstract, include, self.exclude)
                out.duplicates = self.duplicates_of(record.record_id)
                out.previous_note = self.latest.get(record.record_id, ("", ""))[1]
            return out

    # -- decisions ----------------------------------------------------------------------

    def decide(self, record_id: str, decision: str, note: str = "") -> ScreeningView:
        """Write the decision on ``record_id`` to the log (committed), refit, and return the
        next view. ``decision``: include, exclude, skip (and not-retrieved at the full-text
        stage)."""
        allowed = PAGE_DECISIONS + (("not-retrieved",) if self.stage == "full-text" else ())
        if decision not in allowed:
            raise InputError(f"Invalid decision {decision!r}; expected one of {list(allowed)}",
                             fix="Use include, exclude or skip.")
        with self.lock:
            if record_id not in self.index:
                raise InputError(f"Record {record_id!r} is not in the {self.stage} screening pool",
                                 fix="Reload the page: the record shown may have changed.")
            d = Decision(record_id, self.stage, decision, (note or "").strip(), self.reviewer)
            validate_decision(d, f"decision on {record_id}")
            record_decisions(self.con, [d])
            seq = self.con.execute("SELECT max(seq) FROM lit_decisions").fetchone()[0]
            self._note(record_id, decision, d.reason, seq)
            if decision == "skip":
                self.skipped_now.add(record_id)
            if self.pinned == record_id:
                self.pinned = None
            if decision != "skip":
                self.skipped_now.discard(record_id)
                self._refit()
            return self.view()

    def undo(self) -> ScreeningView:
        """Withdraw this reviewer's latest decision still in force (an ``undone`` entry in
        the log); its record is shown next, with its note. Nothing to undo is an error."""
        with self.lock:
            last = self.last_decision()
            if last is None:
                raise InputError("Nothing to undo", fix="Decide on a record first.")
            record_id = last["record_id"]
            record_decisions(self.con, [Decision(record_id, self.stage, "undone",
                                                 f"undo of {last['decision']}", self.reviewer)])
            self._note(record_id, "undone", last["note"], 0)
            self.skipped_now.discard(record_id)
            self.pinned = record_id
            self._refit()
            return self.view()

