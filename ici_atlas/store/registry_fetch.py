"""Fetch CTIS or ISRCTN search results into the store: paging, resume, count reconciliation.

The same guarantees as the ClinicalTrials.gov fetch (:mod:`ici_atlas.store.ingest`):

* every page is committed with its records (``run_chunks``, ``run_pages``, ``run_records``
  of a run of kind ``fetch-registry``), so a killed or failed run is resumed by the next
  identical fetch (same registry, address, terms and page size) from the page after the
  last committed one; a trial already received by the run is never counted twice;
* the records are read by the same parsers as the registry's files
  (:func:`~ici_atlas.sources.registries.ctis.registration_from_ctis`,
  :func:`~ici_atlas.sources.registries.isrctn.registration_from_isrctn`) and stored in
  ``registrations`` exactly as a file load stores them; a record that cannot be read is
  quarantined naming the field;
* at the end the number the registry reported for each chunk is compared with the number
  received (stored + quarantined): a shortfall finishes the run ``incomplete`` with
  "reported N, received M, stored K ... missing X" and why, and raises
  :class:`~ici_atlas.errors.ReconciliationError` (exit code 4).

:func:`plan_registry_fetch` turns the ``fetch`` options into the exact requests
(:meth:`RegistryFetchPlan.rows`, no network), the registry's counts
(:meth:`RegistryFetchPlan.counts`) or a run (:meth:`RegistryFetchPlan.run`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb
import orjson

from .. import config
from ..errors import InputError, ReconciliationError, SourceError
from ..progress import Progress
from ..sources.ctgov_query import DEFAULT_MAX_URL_LENGTH, dedupe_terms, query_terms_from_vocab
from ..sources.ctis_api import CtisClient, build_ctis_queries
from ..sources.http import RetryPolicy
from ..sources.isrctn_api import IsrctnClient, build_isrctn_queries
from ..sources.registries.model import BadRecord
from .db import transaction
from .ingest import Counts, RunResult, _gap, fetch_in_run, ids_in_run, record_page
from .registrations import write_registration
from .runs import finish_run, quarantine_record

KIND = "fetch-registry"
REGISTRIES = ("ctis", "isrctn")
DEFAULT_PAGE_SIZE = 100
#: Pages in a row that bring no trial new to the chunk before the paging is called broken.
_IDLE_PAGES = 2


@dataclass
class RegistryFetchPlan:
    registry: str  # ctis | isrctn
    base_url: str
    terms: list[str]
    page_size: int
    max_url_length: int
    timeout: float
    max_rate: float
    retries: int
    backoff: float
    queries: list
    key: str
    on_retry: Callable[[str, float], None] | None = field(default=None, repr=False)

    def client(self) -> CtisClient | IsrctnClient:
        cls = CtisClient if self.registry == "ctis" else IsrctnClient
        return cls(self.base_url, timeout=self.timeout, max_rate=self.max_rate,
                   retry=RetryPolicy(max_retries=self.retries, backoff=self.backoff),
                   on_retry=self.on_retry)

    def rows(self) -> list[dict[str, Any]]:
        """Each chunk's query and the exact request of its first page (nothing is sent)."""
        with self.client() as client:
            return [{"chunk": i, "query": q.describe(),
                     "request": client.request_text(q, self.page_size)}
                    for i, q in enumerate(self.queries)]

    def counts(self) -> list[dict[str, Any]]:
        """Each chunk's count as the registry reports it (one short request each)."""
        with self.client() as client:
            return [{"chunk": i, "count": client.count(q),
                     "request": client.request_text(q, self.page_size)}
                    for i, q in enumerate(self.queries)]

    def run(self, con: duckdb.DuckDBPyConnection, restart: bool = False,
            on_page: Callable[[int, int], None] | None = None,
            show_progress: bool = True) -> RunResult:
        with self.client() as client:
            return fetch_registry(con, client, self.queries, page_size=self.page_size,
                                  base_key=self.key, restart=restart, on_page=on_page,
                                  show_progress=show_progress)


def _terms(value) -> list[str]:
    if value is None:
        return list(query_terms_from_vocab())
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return list(dedupe_terms([t.strip() for t in items if t.strip()]))


def registry_key(registry: str, base_url: str, queries: list,
                 page_size: int | None = None) -> str:
    """A short hash of what a fetch asks for; ``page_size`` is included for resuming."""
    payload: dict = {"registry": registry, "base": base_url.rstrip("/"),
                     "chunks": [q.describe() for q in queries]}
    if page_size is not None:
        payload["page_size"] = page_size
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def plan_registry_fetch(registry: str, terms: str | list[str] | None = None,
                        page_size: int | None = None, max_rate: float = 1.0,
                        timeout: float = 60.0, retries: int = 5, backoff: float = 2.0,
                        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
                        api_url: str | None = None,
                        on_retry: Callable[[str, float], None] | None = None,
                        ) -> RegistryFetchPlan:
    """The CTIS or ISRCTN fetch these options describe (terms default to every name of
    every PD-1/PD-L1 agent, as the ClinicalTrials.gov fetch uses)."""
    registry = (registry or "").lower()
    if registry not in REGISTRIES:
        raise InputError(f"Unknown registry {registry!r}; expected one of ctgov, "
                         f"{', '.join(REGISTRIES)}", fix="Use --registry ctis or isrctn.")
    page_size = DEFAULT_PAGE_SIZE if page_size is None else int(page_size)
    if not 1 <= page_size <= 1000:
        raise InputError(f"Invalid page size {page_size!r}; expected 1 to 1000",
                         fix=f"Use --page-size {DEFAULT_PAGE_SIZE}.")
    env = config.ENV_CTIS_API if registry == "ctis" else config.ENV_ISRCTN_API
    base = config.registry_api_url(registry, api_url)
    from ..sources.http import check_base_url

    base = check_base_url(base, f"--api-url (or ${env})")
    term_list = _terms(terms)
    if not term_list:
        raise InputError("No search terms given",
                         fix="Give --terms NAME[,NAME...] or leave it out.")
    if registry == "ctis":
        queries = build_ctis_queries(term_list, max_url_length)
    else:
        queries = build_isrctn_queries(term_list, base, page_size, max_url_length)
    return RegistryFetchPlan(registry=registry, base_url=base, terms=term_list,
                             page_size=page_size, max_url_length=max_url_length,
                             timeout=timeout, max_rate=max_rate, retries=retries,
                             backoff=backoff, queries=queries,
                             key=registry_key(registry, base, queries), on_retry=on_retry)


# --- running -------------------------------------------------------------------------------

def _find_resumable(con, resume_key: str) -> tuple[int, str] | None:
    row = con.execute(
        "SELECT run_id, status FROM runs WHERE kind = ? AND resume_key = ? "
        "ORDER BY run_id DESC LIMIT 1", [KIND, resume_key]).fetchone()
    if row is None or row[1] not in ("running", "interrupted", "failed"):
        return None
    pages = con.execute("SELECT count(*) FROM run_pages WHERE run_id = ?", [row[0]]).fetchone()[0]
    return (row[0], row[1]) if pages else None


def fetch_registry(con: duckdb.DuckDBPyConnection, client: CtisClient | IsrctnClient,
                   queries: list, *, page_size: int = DEFAULT_PAGE_SIZE,
                   base_key: str | None = None, restart: bool = False,
                   on_page: Callable[[int, int], None] | None = None,
                   show_progress: bool = True) -> RunResult:
    """Page every chunk of ``queries`` into ``registrations``; resume an interrupted
    identical run; reconcile reported and stored counts (see the module docstring).
    ``on_page(chunk_index, page_index)`` is called after each committed page."""
    registry = client.registry
    base_key = base_key or registry_key(registry.lower(), client.base_url, queries)
    resume_key = registry_key(registry.lower(), client.base_url, queries, page_size)
    previous = None if restart else _find_resumable(con, resume_key)
    params = {"registry": registry, "api_url": client.base_url, "page_size": page_size,
              "chunks": [q.describe() for q in queries],
              "max_rate": round(1 / client.min_interval, 4) if client.min_interval else None}
    query_text = queries[0].describe() if len(queries) == 1 else " || ".join(
        f"[chunk {i}] {q.describe()}" for i, q in enumerate(queries))
    run_id, counts = fetch_in_run(
        con, KIND, client.base_url, query_text, params, base_key, resume_key, previous, queries,
        lambda run_id, ci, query, counts: _fetch_chunk(
            con, client, run_id, ci, query, page_size, counts, on_page, show_progress, len(queries)))
    return _reconcile(con, run_id, registry, counts, previous[0] if previous else None)


def _fetch_chunk(con, client, run_id: int, ci: int, query, page_size: int, counts: Counts,
                 on_page, show: bool, n_chunks: int) -> None:
    row = con.execute("SELECT status, reported_total FROM run_chunks WHERE run_id = ? "
                      "AND chunk_index = ?", [run_id, ci]).fetchone()
    if row and row[0] == "done":
        return
    pages = con.execute(
        "SELECT page_index, next_page_token, n_studies FROM run_pages WHERE run_id = ? "
        "AND chunk_index = ? ORDER BY page_index", [run_id, ci]).fetchall()
    if pages and pages[-1][1] is None:  # the last page was stored; only the mark is missing
        con.execute("UPDATE run_chunks SET status = 'done' WHERE run_id = ? AND chunk_index = ?",
                    [run_id, ci])
        return
    index = pages[-1][0] + 1 if pages else 0
    before = sum(int(p[2]) for p in pages)
    # records per full page as this server sends them: the first page's length
    length = int(pages[0][2]) if pages and pages[0][2] else None
    total = row[1] if row else None
    label = f"chunk {ci} " if n_chunks > 1 else ""
    bar = Progress(f"fetching {client.registry} {label}".strip(), total=total) if show else None
    if bar:
        bar.done = before
    idle = 0
    while True:
        page = client.page(query, index, before, page_size, length, label=label)
        if index == 0:
            total = page.total
            length = len(page.items) or None
            if bar:
                bar.total = total
        records = client.records(page, label=label)
        with transaction(con):
            fresh = _store_page(con, client, run_id, ci, query, page_size, page, records,
                                total, counts)
        idle = 0 if fresh or not page.items else idle + 1
        if idle >= _IDLE_PAGES and not page.last:
            raise SourceError(
                f"{client.registry} {label}page {index}: {_IDLE_PAGES} pages in a row brought "
                "no trial new to this listing although the reported total is not reached; "
                "the registry seems to ignore the paging parameter",
                fix="Run again with a --page-size at least as large as the reported count "
                    "(`ici-atlas fetch --count`), and --restart.")
        before = page.consumed
        if bar:
            bar.advance(len(page.items))
        if on_page:
            on_page(ci, index)
        if page.last:
            break
        index += 1
    if bar:
        bar.close()
    con.execute("UPDATE run_chunks SET status = 'done' WHERE run_id = ? AND chunk_index = ?",
                [run_id, ci])


def _store_page(con, client, run_id: int, ci: int, query, page_size: int, page, records,
                total: int, counts: Counts) -> int:
    """Store one page (in the caller's transaction); returns how many of its records are
    new to this chunk (quarantined ones included)."""
    source = client.base_url
    if page.index == 0:
        con.execute("INSERT INTO run_chunks VALUES (?, ?, ?, ?, ?, 0, 0, 0, 'running')",
                    [run_id, ci, query.describe(),
                     orjson.dumps({"request": client.request_text(query, page_size)}).decode(),
                     total])
    ids = [r.display_id for r in records if not isinstance(r, BadRecord)]
    already = ids_in_run(con, run_id, ids)
    quarantined = 0
    for rec in records:
        if isinstance(rec, BadRecord):
            quarantined += 1
            counts.quarantined += 1
            quarantine_record(con, run_id, source, rec.ref, rec.field, rec.reason,
                              rec.raw[:20_000] if rec.raw else None)
            continue
        if rec.display_id in already:  # received earlier in this run: counted then
            continue
        already.add(rec.display_id)
        outcome = write_registration(con, rec, source, run_id)
        setattr(counts, outcome, getattr(counts, outcome) + 1)
    return record_page(con, run_id, ci, ids, page.index, str(page.position),
                       None if page.last else str(page.consumed), len(page.items), quarantined,
                       counts)


def _reconcile(con, run_id: int, registry: str, counts: Counts,
               resumed_from: int | None) -> RunResult:
    chunks = [dict(zip(("chunk", "query", "reported", "received", "quarantined",
                        "listed"), r)) for r in con.execute(
        "SELECT chunk_index, query, reported_total, received, quarantined, pages_studies "
        "FROM run_chunks WHERE run_id = ? ORDER BY chunk_index", [run_id]).fetchall()]
    union = con.execute(
        "SELECT count(DISTINCT r.nct_id), count(DISTINCT s.display_id) FROM run_records r "
        "LEFT JOIN registrations s ON s.display_id = r.nct_id WHERE r.run_id = ?",
        [run_id]).fetchone()
    received_union, stored = int(union[0]), int(union[1])
    reported = sum(int(c["reported"] or 0) for c in chunks)
    gaps = []
    for c in chunks:
        got = int(c["received"] or 0) + int(c["quarantined"] or 0)
        rep = int(c["reported"] or 0)
        if got != rep:
            listed = int(c["listed"] or 0)
            why = (f"the pages listed {listed:,} records in all (the last page ended early "
                   "and stayed short after the retries): the registry reported more than "
                   "it delivered" if listed < rep else
                   f"the pages listed {listed:,} records, {listed - got:,} of them repeats "
                   "(the registry changed while paging?)")
            gaps.append(f"chunk {c['chunk']}: reported {rep:,}, received {got:,} "
                        f"({_gap(rep, got)}); {why}")
    if stored != received_union:
        gaps.append(f"received {received_union:,} distinct trials but stored {stored:,}")
    result = RunResult(run_id, KIND, "ok", reported, stored, counts,
                       resumed_from=resumed_from, chunks=chunks,
                       notes=[f"{registry} API"])
    con.execute(
        "UPDATE runs SET reported_total = ?, stored_total = ?, "
        "params = json_merge_patch(params, ?) WHERE run_id = ?",
        [reported, stored, orjson.dumps({"chunk_totals": chunks, "union": stored}).decode(),
         run_id])
    if gaps:
        message = (f"{registry} reported {reported:,} trials, received {received_union:,}, "
                   f"stored {stored:,}, quarantined {counts.quarantined:,}: "
                   + "; ".join(gaps))
        result.status, result.message = "incomplete", message
        finish_run(con, run_id, "incomplete", message)
        raise ReconciliationError(
            f"run {run_id}: {message}", reported=reported, stored=stored,
            fix="Run the same command again with --restart (it re-fetches); if the gap "
                "stays, the registry's count and its listing disagree.")
    result.message = result.summary()
    finish_run(con, run_id, "ok", result.message)
    return result
