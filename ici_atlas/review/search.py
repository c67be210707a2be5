"""A PubMed search run: count, split by date windows, fetch, store, reconcile, record.

The number of distinct PMIDs stored for the run must equal the count ESearch reported
for the whole query; if not, the run is marked incomplete and a
:class:`~ici_atlas.errors.ReconciliationError` names the gap. An EFetch batch that is not
well-formed XML (or is refused: entity declarations, deep nesting) fails the run with a
:class:`~ici_atlas.errors.SourceError` naming the batch and its PMIDs; the run is marked
``failed`` with that message, and the batches stored before it are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import duckdb

from ..store.db import transaction
from ..errors import IciAtlasError, InputError, ReconciliationError, SourceError
from ..progress import Progress
from ..store.runs import fail_run, finish_run, quarantine_record, start_run, update_run
from ..sources.pubmed_api import (
    EFETCH_BATCH,
    ESEARCH_LIMIT,
    DateWindow,
    EutilsClient,
    fetch_window_records,
    plan_date_windows,
)
from ..sources.pubmed_xml import ParseProblem, PubmedRecord, PubmedXmlError
from .records import load_pubmed_records, split_articles

DEFAULT_MINDATE = date(1800, 1, 1)
_BATCH_PMID = re.compile(rb"<MedlineCitation\b[^>]*>\s*<PMID\b[^>]*>\s*([^<\s]{1,40})\s*</PMID>")


def default_maxdate(today: date | None = None) -> date:
    today = today or date.today()
    return date(today.year + 2, 12, 31)  # PubMed holds records dated ahead of print


@dataclass
class SearchPlan:
    term: str
    mindate: date
    maxdate: date
    reported_total: int
    windows: list[DateWindow]
    translation: str | None = None


@dataclass
class SearchRun:
    run_id: int
    plan: SearchPlan
    stored: int = 0
    new: int = 0
    already_stored: int = 0
    problems: list[ParseProblem] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"PubMed search run {self.run_id}: reported {self.plan.reported_total:,}, "
            f"stored {self.stored:,} ({self.new:,} new, {self.already_stored:,} already in the store), "
            f"{len(self.plan.windows)} date window(s), {len(self.problems)} quarantined"
        )


def _batch_name(window: DateWindow, start: int, records: list[PubmedRecord], xml: bytes) -> str:
    """Names a batch: ``EFetch batch records 501-1000 of window 2015/01/01-2015/12/31
    (PMIDs 1, 2, ... 500 in all)``."""
    pmids = [m.decode("utf-8", "replace") for m in _BATCH_PMID.findall(xml)] or [r.pmid for r in records]
    shown = ", ".join(pmids[:5]) + (f", ... {len(pmids)} in all" if len(pmids) > 5 else "")
    return (f"EFetch batch records {start + 1}-{start + max(len(pmids), len(records), 1)} of window "
            f"{window.label()} (PMIDs {shown or 'none found'})")


def _check_batch(window: DateWindow, start: int, records: list[PubmedRecord], xml: bytes,
                 problems: list[ParseProblem]) -> None:
    """A batch whose XML is not well-formed (or refused: entity declarations, deep nesting)
    fails the run, naming the batch; an article without a valid PMID is only quarantined."""
    broken = next((p for p in problems if p.field == "xml"), None)
    if broken is not None:
        raise SourceError(f"{_batch_name(window, start, records, xml)}: {broken.reason}",
                          fix="Run the same search again (records already stored are kept); if the "
                              "batch stays broken, report it to NCBI and narrow --mindate/--maxdate around it.")


def _articles_of(window: DateWindow, start: int, records: list[PubmedRecord], xml: bytes) -> dict[str, str]:
    try:
        return split_articles(xml)
    except PubmedXmlError as exc:
        raise SourceError(f"{_batch_name(window, start, records, xml)}: {exc.message}",
                          fix="Run the same search again (records already stored are kept).") from None


def parse_date(value: str | None, what: str) -> date | None:
    if not value:
        return None
    for fmt in ("%Y/%m/%d", "%Y-%m-%d", "%Y/%m", "%Y-%m", "%Y"):
        try:
            from datetime import datetime

            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise InputError(f"Invalid {what} {value!r}; expected YYYY, YYYY/MM or YYYY/MM/DD",
                     fix=f"Use e.g. --{what} 2015/01/01.")


def plan_search(client: EutilsClient, term: str, mindate: date | None = None,
                maxdate: date | None = None, limit: int = ESEARCH_LIMIT) -> SearchPlan:
    if not term.strip():
        raise InputError("Empty PubMed query", fix='Give a query, e.g. "pembrolizumab[tiab]".')
    lo = mindate or DEFAULT_MINDATE
    hi = maxdate or default_maxdate()
    if lo > hi:
        raise InputError(f"--mindate {lo} is after --maxdate {hi}", fix="Swap the dates.")
    first = client.esearch(term, mindate=lo, maxdate=hi)
    windows = plan_date_windows(client, term, lo, hi, limit, count=first.count)
    return SearchPlan(term, lo, hi, first.count, windows, first.translation)


def run_search(
    con: duckdb.DuckDBPyConnection, client: EutilsClient, plan: SearchPlan,
    batch: int = EFETCH_BATCH, show_progress: bool = True,
) -> SearchRun:
    params = {"mindate": plan.mindate.isoformat(), "maxdate": plan.maxdate.isoformat(),
              "windows": [w.label() for w in plan.windows], "batch": batch}
    run_id = start_run(con, "lit-search", client.base_url, plan.term, params)
    update_run(con, run_id, reported_total=plan.reported_total)
    run = SearchRun(run_id, plan)
    bar = Progress("PubMed records", plan.reported_total, force=False) if show_progress else None
    try:
        for window in plan.windows:
            seen = len(run.problems)
            for start, records, xml in fetch_window_records(client, plan.term, window, run.problems, batch):
                batch_problems, seen = run.problems[seen:], len(run.problems)
                _check_batch(window, start, records, xml, batch_problems)
                with transaction(con):
                    new, old = load_pubmed_records(con, records, source=client.base_url, run_id=run_id,
                                                   xml_by_pmid=_articles_of(window, start, records, xml))
                run.new += new
                run.already_stored += old
                if bar:
                    bar.advance(len(records))
    except BaseException as exc:
        if isinstance(exc, IciAtlasError) or isinstance(exc, KeyboardInterrupt):
            fail_run(con, run_id, exc)  # the message alone, or "interrupted"
        else:
            finish_run(con, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if bar:
            bar.close()
    for problem in run.problems:
        quarantine_record(con, run_id, client.base_url, problem.record_ref, problem.field, problem.reason, None)
    run.stored = con.execute("SELECT count(*) FROM lit_search_hits WHERE run_id = ?", [run_id]).fetchone()[0]
    update_run(con, run_id, stored_total=run.stored, new_records=run.new,
               unchanged_records=run.already_stored, quarantined=len(run.problems))
    window_sum = sum(w.count for w in plan.windows)
    gap = plan.reported_total - run.stored - len(run.problems)
    if gap != 0:
        message = (f"PubMed reported {plan.reported_total:,} records for the query; the date windows held "
                   f"{window_sum:,}; {run.stored:,} were stored and {len(run.problems)} quarantined: "
                   f"{abs(gap):,} {'missing' if gap > 0 else 'more than reported'}")
        finish_run(con, run_id, "incomplete", message)
        raise ReconciliationError(message, reported=plan.reported_total, stored=run.stored,
                                  fix="Run the search again; if the gap stays, narrow --mindate/--maxdate.")
    finish_run(con, run_id, "ok", run.summary())
    return run
