"""A PubMed search run: count, split by date windows, fetch, store, reconcile, record.

The number of distinct PMIDs stored for the run must equal the count ESearch reported
for the whole query; if not, the run is marked incomplete and a
:class:`~ici_atlas.errors.ReconciliationError` names the gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from ..store.db import transaction
from ..errors import InputError, ReconciliationError
from ..progress import Progress
from ..store.runs import finish_run, quarantine_record, start_run, update_run
from ..sources.pubmed_api import (
    EFETCH_BATCH,
    ESEARCH_LIMIT,
    DateWindow,
    EutilsClient,
    fetch_window_records,
    plan_date_windows,
)
from ..sources.pubmed_xml import ParseProblem
from .records import load_pubmed_records, split_articles

DEFAULT_MINDATE = date(1800, 1, 1)


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
            for _start, records, xml in fetch_window_records(client, plan.term, window, run.problems, batch):
                with transaction(con):
                    new, old = load_pubmed_records(con, records, source=client.base_url, run_id=run_id,
                                                   xml_by_pmid=split_articles(xml))
                run.new += new
                run.already_stored += old
                if bar:
                    bar.advance(len(records))
    except BaseException as exc:
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
