"""Load ClinicalTrials.gov records into the store, with run bookkeeping and quarantine.

Two entry points:

* :func:`load_from_api` pages through API v2 search chunks, committing each page with its
  studies (so a killed run resumes from the last completed page), and reconciles the
  number stored with the number the API reported;
* :func:`load_files` loads local files (v2 JSON, JSON arrays, bulk ZIPs, v1 JSON, XML)
  and reconciles ``stored + quarantined + duplicates == found``.

Every run is a row in ``runs``; rejected records go to ``quarantine``. A record whose
content hash is unchanged is counted as unchanged and not rewritten, so loading the same
records twice changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb
import orjson

from .bulk import insert_rows, pause_gc, transpose, unnest_select
from .db import transaction
from ..errors import InputError, ReconciliationError, SourceError
from ..progress import Progress
from .raw_json import pack_json
from .runs import fail_run, finish_run, now_utc, quarantine_record, start_run, update_run
from ..sources.ctgov_api import CtgovClient
from ..sources.ctgov_files import (
    FoundRecord,
    SkippedFile,
    check_study,
    oversized,
    read_study_files,
    study_aliases,
    study_warnings,
    study_last_update,
    study_nct_id,
)
from ..sources.ctgov_query import StudyQuery, query_key

_BATCH = 500
_FILE_BATCH = 2_000  # studies per transaction when loading files (memory: one batch)

def content_hash(study: dict) -> str:
    """sha256 of the canonical JSON (sorted keys, compact) of a study."""
    return hashlib.sha256(orjson.dumps(study, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text and len(text) == 10 else None
    except ValueError:
        return None


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    kept_newer: int = 0  # stored copy was more recent than the loaded one: not overwritten
    warned: int = 0  # records kept with a field read one safe way (table record_warnings)

    @property
    def stored(self) -> int:
        return self.new + self.updated + self.unchanged


@dataclass
class RunResult:
    """What a load did (also in the ``runs`` row)."""

    run_id: int
    kind: str
    status: str
    reported_total: int
    stored_total: int
    counts: Counts
    duplicates: int = 0
    resumed_from: int | None = None
    notes: list[str] = field(default_factory=list)  # said with the summary (e.g. API version)
    chunks: list[dict] = field(default_factory=list)
    skipped_files: list[dict] = field(default_factory=list)
    message: str = ""
    registry: "Any" = None  # the load of other registries' files (store.registrations)

    def summary(self) -> str:
        c = self.counts
        reported = f"{self.reported_total:,}"
        if len(self.chunks) > 1:
            parts = " + ".join(f"{int(ch['reported'] or 0):,}" for ch in self.chunks)
            reported = f"{parts} in {len(self.chunks)} chunks (union stored below)"
        text = (
            f"run {self.run_id} {self.status}: reported {reported}, "
            f"stored {self.stored_total:,} (new {c.new:,}, updated {c.updated:,}, "
            f"unchanged {c.unchanged:,}), quarantined {c.quarantined:,}"
        )
        if c.warned:
            text += (f", {c.warned:,} kept with warnings (ici-atlas warnings --run "
                     f"{self.run_id})")
        if self.kind == "load":
            text += f", duplicates {self.duplicates:,}, files skipped {len(self.skipped_files):,}"
        if self.resumed_from:
            text += f", resumed from run {self.resumed_from}"
        if self.registry is not None:
            text += "\n" + self.registry.summary()
        return "; ".join([text, *self.notes])


# --- runs and quarantine (shared helpers in ici_atlas.store.runs) -------------------------------


def _update_run(con: duckdb.DuckDBPyConnection, run_id: int, counts: Counts, **cols) -> None:
    update_run(
        con, run_id, new_records=counts.new, updated_records=counts.updated,
        unchanged_records=counts.unchanged, quarantined=counts.quarantined, **cols,
    )


# --- storing studies ------------------------------------------------------------------------


@dataclass
class Prepared:
    """A study ready to store: its JSON packed (:mod:`ici_atlas.store.raw_json`) and content hash
    computed, and (when prepared by a classification worker) its classification item."""

    nct_id: str
    ref: str
    source_format: str
    packed: bytes  # the JSON as stored (Zstandard)
    has_results: bool
    digest: str
    last_update: str  # lastUpdatePostDate as text ("" when absent)
    original: str | None = None
    classified: tuple | None = None
    warnings: tuple[tuple[str, str], ...] = ()  # (field, reason): see study_warnings
    aliases: tuple[str, ...] = ()  # earlier NCT IDs of this record (nctIdAliases)


def prepare_study(study: dict, source_format: str, original: str | None = None,
                  ref: str = "") -> Prepared:
    return Prepared(study_nct_id(study), ref, source_format, pack_json(orjson.dumps(study)),
                    "resultsSection" in study, content_hash(study),
                    study_last_update(study) or "", original,
                    warnings=tuple(study_warnings(study)), aliases=tuple(study_aliases(study)))


def store_studies(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    source: str,
    records: list[tuple[dict, str, str | None]],
    counts: Counts,
) -> None:
    """Insert or update ``(study, source_format, original)`` records (call in a transaction);
    see :func:`store_prepared`."""
    store_prepared(con, run_id, source, [prepare_study(s, f, o) for s, f, o in records], counts)


def store_prepared(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    source: str,
    records: list[Prepared],
    counts: Counts,
    stored: dict[str, Prepared] | None = None,
    kept_stored: list[str] | None = None,
) -> None:
    """Insert or update prepared records (call in a transaction).

    Unchanged content is not rewritten; a stored copy with a later ``lastUpdatePostDate``
    than the incoming one is kept (counted as unchanged and in ``kept_newer``). When given,
    ``stored`` receives NCT ID → record for every record whose content is now the stored
    one, and ``kept_stored`` the NCT IDs whose older stored copy was kept.
    """
    if not records:
        return
    by_id = {r.nct_id: r for r in records}
    existing = {
        row[0]: (row[1], row[2])
        for row in con.execute(
            "SELECT nct_id, content_hash, last_update_posted FROM raw_studies "
            "WHERE nct_id IN (SELECT unnest(?::VARCHAR[]))",
            [list(by_id)],
        ).fetchall()
    }
    now = now_utc()
    inserts, updates = [], []
    kept: set[str] = set()
    for nct, r in by_id.items():
        updated_on = _date(r.last_update)
        old = existing.get(nct)
        if old is None:
            inserts.append([nct, r.packed, r.digest, source, r.source_format, updated_on, now,
                            run_id, r.original, r.has_results])
            counts.new += 1
        elif old[0] == r.digest:
            counts.unchanged += 1
        elif old[1] is not None and updated_on is not None and old[1] > updated_on:
            counts.unchanged += 1
            counts.kept_newer += 1
            kept.add(nct)
            if kept_stored is not None:
                kept_stored.append(nct)
            continue
        else:
            updates.append([r.packed, r.digest, source, r.source_format, updated_on, now, run_id,
                            r.original, r.has_results, nct])
            counts.updated += 1
        if stored is not None:
            stored[nct] = r
    _record_warnings(con, run_id, [r for nct, r in by_id.items() if nct not in kept], counts)
    aliases = [(a, nct) for nct, r in by_id.items() if nct not in kept for a in r.aliases]
    if aliases:
        con.executemany("INSERT OR REPLACE INTO nct_aliases VALUES (?, ?)", aliases)
    if inserts:
        insert_rows(con, "raw_studies", _RAW_COLUMNS, inserts)
    if updates:
        cols = [c for c, _ in _RAW_COLUMNS if c != "nct_id"]
        values = unnest_select(_RAW_COLUMNS[1:] + _RAW_COLUMNS[:1])
        con.execute(
            f"UPDATE raw_studies SET {', '.join(f'{c} = u.{c}' for c in cols)} "
            f"FROM ({values}) AS u WHERE raw_studies.nct_id = u.nct_id",
            transpose(updates),
        )


def _record_warnings(con: duckdb.DuckDBPyConnection, run_id: int, records: list[Prepared],
                     counts: Counts) -> None:
    """Keep the warnings of the records stored by this run (a record stored twice in one run,
    as a better duplicate, keeps the warnings of the copy stored last)."""
    warned = [r for r in records if r.warnings]
    if not warned and not counts.warned:
        return
    ids = [r.nct_id for r in records]
    before = con.execute(
        "SELECT count(DISTINCT record_ref) FROM record_warnings WHERE run_id = ? "
        "AND record_ref IN (SELECT unnest(?::VARCHAR[]))", [run_id, ids]).fetchone()[0]
    if before:
        con.execute("DELETE FROM record_warnings WHERE run_id = ? "
                    "AND record_ref IN (SELECT unnest(?::VARCHAR[]))", [run_id, ids])
    if warned:
        insert_rows(con, "record_warnings", _WARNING_COLUMNS,
                    [[run_id, r.nct_id, f, why] for r in warned for f, why in r.warnings])
    counts.warned += len(warned) - before


_WARNING_COLUMNS = (("run_id", "BIGINT"), ("record_ref", "VARCHAR"), ("field", "VARCHAR"),
                    ("reason", "VARCHAR"))

_RAW_COLUMNS = (
    ("nct_id", "VARCHAR"), ("json_zstd", "BLOB"), ("content_hash", "VARCHAR"),
    ("source", "VARCHAR"), ("source_format", "VARCHAR"), ("last_update_posted", "DATE"),
    ("downloaded_at", "TIMESTAMP"), ("run_id", "BIGINT"), ("original", "VARCHAR"),
    ("has_results", "BOOLEAN"),
)


def _warned(con: duckdb.DuckDBPyConnection, run_id: int) -> int:
    return con.execute("SELECT count(DISTINCT record_ref) FROM record_warnings WHERE run_id = ?",
                       [run_id]).fetchone()[0]


_RECORD_COLUMNS = (("run_id", "BIGINT"), ("chunk_index", "INTEGER"), ("nct_id", "VARCHAR"))


# --- local files --------------------------------------------------------------------------------


def _better(new: "Prepared | FoundRecord", old: "Prepared | FoundRecord | _Seen") -> bool:
    """Keep the later lastUpdatePostDate; on a tie prefer v2 JSON, then the first seen."""
    if new.last_update != old.last_update:
        return new.last_update > old.last_update
    return new.source_format == "v2-json" and old.source_format != "v2-json"


@dataclass(frozen=True)
class _Seen:
    """What is remembered of a study already stored in this run (to resolve duplicates)."""

    last_update: str
    source_format: str


OnStored = Callable[[dict[str, Prepared], list[str]], None]
Item = "FoundRecord | Prepared | SkippedFile"


def load_files(con: duckdb.DuckDBPyConnection, path: str | Path,
               on_stored: OnStored | None = None,
               items: Iterable[Item] | None = None, allow_empty: bool = False) -> RunResult:
    """Load every study record under ``path`` (see :mod:`ici_atlas.sources.ctgov_files`).

    Streams: records are stored in batches as they are read, so memory holds one batch,
    not the input. A study found again later in the input is a duplicate; the copy with the
    later ``lastUpdatePostDate`` (then v2 JSON, then the first seen) is the one kept.

    ``on_stored(records, redo)``, when given, is called after each committed batch with the
    records just stored (NCT ID → :class:`Prepared`) and the NCT IDs whose stored copy is not
    the record passed earlier (an older copy kept, or replaced by a better duplicate): a
    consumer that classifies while loading reclassifies those from the store at the end.
    ``items`` replaces reading ``path`` (records prepared elsewhere, e.g. by worker processes;
    ``path`` still names the source). ``allow_empty``: finding no ClinicalTrials.gov record
    is not an error (the caller reads other registries' files next, from ``skipped_files``).
    """
    path = Path(path)
    source = str(path.resolve())
    run_id = start_run(con, "load", source, None, {"path": source})
    counts = Counts()
    found = duplicates = 0
    seen: dict[str, _Seen] = {}  # NCT ID -> the copy stored so far in this run
    batch: dict[str, Prepared] = {}
    replacements: list[Prepared] = []
    skipped: list[dict] = []
    formats: dict[str, int] = {}
    bar = Progress(f"loading {path}")

    def flush() -> None:
        texts: dict[str, Prepared] | None = {} if on_stored else None
        redo: list[str] = []
        if batch:
            with transaction(con):
                store_prepared(con, run_id, source, list(batch.values()), counts, texts, redo)
                insert_rows(con, "run_records", _RECORD_COLUMNS,
                            [[run_id, 0, nct] for nct in batch], or_ignore=True)
            for nct, r in batch.items():
                seen[nct] = _Seen(r.last_update, r.source_format)
            batch.clear()
        if replacements:
            # a better copy of a study stored earlier in this run: overwrite it, but the
            # study was already counted (new/updated/unchanged) when first stored
            with transaction(con):
                store_prepared(con, run_id, source, replacements, Counts())
            for r in replacements:
                seen[r.nct_id] = _Seen(r.last_update, r.source_format)
                redo.append(r.nct_id)
            replacements.clear()
        if on_stored and (texts or redo):
            on_stored(texts or {}, redo)

    restore_gc = pause_gc()
    try:
        for item in (read_study_files(path) if items is None else items):
            bar.advance()
            if isinstance(item, SkippedFile):
                skipped.append({"file": item.ref, "reason": item.reason})
                continue
            found += 1
            formats[item.source_format] = formats.get(item.source_format, 0) + 1
            if isinstance(item, FoundRecord):
                if item.error:
                    counts.quarantined += 1
                    quarantine_record(con, run_id, source, item.ref, item.field, item.error, item.raw)
                    continue
                item = prepare_study(item.study, item.source_format, item.original, item.ref)
            nct = item.nct_id
            if nct in batch:
                duplicates += 1
                if _better(item, batch[nct]):
                    batch[nct] = item
            elif nct in seen:
                duplicates += 1
                if _better(item, seen[nct]):
                    replacements.append(item)
            else:
                batch[nct] = item
            if len(batch) >= _FILE_BATCH or len(replacements) >= _FILE_BATCH:
                flush()
        flush()
        bar.close()
    except BaseException as exc:
        fail_run(con, run_id, exc)
        raise
    finally:
        restore_gc()
    counts.warned = _warned(con, run_id)
    reasons: dict[str, int] = {}
    for s in skipped:
        key = s["reason"].split(":")[0] if "table" in s["reason"] else s["reason"]
        reasons[key] = reasons.get(key, 0) + 1
    params = {
        "path": source,
        "formats_found": formats,
        "duplicates": duplicates,
        "kept_newer": counts.kept_newer,
        "kept_with_warnings": counts.warned,
        "skipped_files": len(skipped),
        "skipped_reasons": reasons,
    }
    result = RunResult(
        run_id, "load", "ok", found, counts.stored, counts, duplicates=duplicates,
        skipped_files=skipped,
    )
    _update_run(
        con, run_id, counts, reported_total=found, stored_total=counts.stored,
        params=orjson.dumps(params).decode(),
    )
    if counts.stored + counts.quarantined + duplicates != found:  # pragma: no cover - invariant
        gap = found - counts.stored - counts.quarantined - duplicates
        result.status = "incomplete"
        result.message = (
            f"found {found:,} records but stored {counts.stored:,} + quarantined "
            f"{counts.quarantined:,} + duplicates {duplicates:,} (missing {gap:,})"
        )
        finish_run(con, run_id, "incomplete", result.message)
        raise ReconciliationError(result.message, reported=found, stored=counts.stored)
    if found == 0 and allow_empty:
        result.message = (f"no ClinicalTrials.gov records in {path.name}; {len(skipped):,} "
                          "files handed to the other registries' readers")
        finish_run(con, run_id, "ok", result.message)
        return result
    if found == 0:
        finish_run(con, run_id, "failed", "no study records found")
        raise InputError(
            f"No study records found in {str(path)!r} ({len(skipped)} files skipped)",
            fix="Pass a directory of v2 JSON files, a JSON array download, or a bulk ZIP.",
        )
    finish_run(con, run_id, "ok", result.summary())
    result.message = result.summary()
    return result


# --- API ---------------------------------------------------------------------------------------


def last_successful_fetch(con: duckdb.DuckDBPyConnection, key: str) -> datetime | None:
    row = con.execute(
        "SELECT max(started_at) FROM runs WHERE kind = 'fetch' AND status = 'ok' "
        "AND query_key = ?",
        [key],
    ).fetchone()
    return row[0] if row else None


def plan_update(con: duckdb.DuckDBPyConnection, key: str) -> date:
    """The LastUpdatePostDate lower bound for ``fetch --update`` of the query ``key``.

    The UTC date on which the last successful run of the same query started (inclusive,
    so records posted later that same day are fetched again, and counted unchanged).
    """
    started = last_successful_fetch(con, key)
    if started is None:
        raise InputError(
            "No successful earlier fetch of this query to update from",
            fix="Run `ici-atlas fetch` once without --update (same terms and --api-url).",
        )
    return started.date()


def _find_resumable(con, resume_key: str) -> tuple[int, str] | None:
    row = con.execute(
        "SELECT run_id, status FROM runs WHERE kind = 'fetch' AND resume_key = ? "
        "ORDER BY run_id DESC LIMIT 1",
        [resume_key],
    ).fetchone()
    if row is None or row[1] not in ("running", "interrupted", "failed"):
        return None
    pages = con.execute("SELECT count(*) FROM run_pages WHERE run_id = ?", [row[0]]).fetchone()[0]
    return (row[0], row[1]) if pages else None


def fetch_in_run(con: duckdb.DuckDBPyConnection, kind: str, source: str, query_text: str,
                 params: dict, base_key: str, resume_key: str, previous: tuple | None,
                 queries: list, fetch_chunk: Callable) -> tuple[int, "Counts"]:
    """Start a fetch run of ``kind`` (resuming ``previous``, ``(run_id, status)``, when given:
    its progress is copied and a run killed while ``running`` is marked ``interrupted``),
    then ``fetch_chunk(run_id, index, query, counts)`` for each query chunk. A failure
    records the totals the source had reported so far, fails the run and is raised.
    Returns ``(run_id, counts)`` for the caller's reconciliation. Shared by the
    ClinicalTrials.gov fetch and the registry API fetches."""
    with transaction(con):
        run_id = start_run(con, kind, source, query_text, params, query_key=base_key,
                           resume_key=resume_key, resumed_from=previous[0] if previous else None)
        counts = Counts()
        if previous:
            if previous[1] == "running":  # killed without a chance to record it
                finish_run(con, previous[0], "interrupted", f"resumed by run {run_id}")
            counts = _copy_progress(con, previous[0], run_id)
            _update_run(con, run_id, counts)
    try:
        for ci, query in enumerate(queries):
            fetch_chunk(run_id, ci, query, counts)
    except BaseException as exc:
        try:  # what the source had reported so far, so the failed run's row says it
            con.execute(
                "UPDATE runs SET reported_total = (SELECT sum(reported_total) FROM run_chunks "
                "WHERE run_id = ?) WHERE run_id = ?", [run_id, run_id])
        except duckdb.Error:
            pass
        fail_run(con, run_id, exc)
        raise
    return run_id, counts


def _copy_progress(con, old: int, new: int) -> Counts:
    for table in ("run_chunks", "run_pages", "run_records", "record_warnings"):
        con.execute(
            f"INSERT INTO {table} SELECT ? AS run_id, * EXCLUDE (run_id) FROM {table} "
            "WHERE run_id = ?",
            [new, old],
        )
    row = con.execute(
        "SELECT new_records, updated_records, unchanged_records, quarantined FROM runs "
        "WHERE run_id = ?", [old],
    ).fetchone()
    return Counts(*(int(v or 0) for v in row))


def load_from_api(
    con: duckdb.DuckDBPyConnection,
    client: CtgovClient,
    queries: list[StudyQuery],
    *,
    page_size: int = 1000,
    base_key: str | None = None,
    restart: bool = False,
    on_page: Callable[[int, int], None] | None = None,
    show_progress: bool = True,
) -> RunResult:
    """Fetch every chunk of ``queries`` into the store; resume an interrupted identical run.

    ``on_page(chunk_index, page_index)`` is called after each committed page.
    Raises :class:`ReconciliationError` when what was stored differs from what the API
    reported, :class:`SourceError` when a page stays bad after retries.
    """
    base_key = base_key or query_key(client.base_url, queries)
    resume_key = query_key(client.base_url, queries, page_size)
    previous = None if restart else _find_resumable(con, resume_key)
    version = client.fetch_version()
    params = {
        "api_url": client.base_url,
        "page_size": page_size,
        "chunks": [q.describe() for q in queries],
        "updated_since": queries[0].updated_since.isoformat() if queries[0].updated_since else None,
        "api_version": version.get("apiVersion"),
        "data_timestamp": version.get("dataTimestamp"),
        "max_rate": round(1 / client.min_interval, 4) if client.min_interval else None,
    }
    query_text = queries[0].intr_expression() if len(queries) == 1 else " || ".join(
        f"[chunk {i}] {q.intr_expression()}" for i, q in enumerate(queries)
    )
    run_id, counts = fetch_in_run(
        con, "fetch", client.base_url, query_text, params, base_key, resume_key, previous,
        queries, lambda run_id, ci, query, counts: _fetch_chunk(
            con, client, run_id, ci, query, page_size, counts, on_page, show_progress, len(queries)))
    return _reconcile_api(con, run_id, counts, previous[0] if previous else None,
                          api_version_notes(version))


#: The API major version whose record layout the classifiers read.
KNOWN_API_MAJOR = "2"


def api_version_notes(version: dict) -> list[str]:
    """A note when ``/version`` names an API other than v2: fields may have been renamed, so
    the run says so (every record is still checked field by field: quarantine, warnings)."""
    text = version.get("apiVersion") if isinstance(version, dict) else None
    if not isinstance(text, str) or text.split(".")[0] == KNOWN_API_MAJOR:
        return []
    return [f"the API reports version {text!r}, not {KNOWN_API_MAJOR}.x: fields may be "
            "renamed; check `ici-atlas quarantine` and `ici-atlas warnings` for this run"]


def _fetch_chunk(con, client, run_id, ci, query, page_size, counts, on_page, show, n_chunks):
    row = con.execute(
        "SELECT status, reported_total, pages_studies FROM run_chunks "
        "WHERE run_id = ? AND chunk_index = ?", [run_id, ci],
    ).fetchone()
    if row and row[0] == "done":
        return
    pages = con.execute(
        "SELECT page_index, page_token, next_page_token FROM run_pages "
        "WHERE run_id = ? AND chunk_index = ? ORDER BY page_index", [run_id, ci],
    ).fetchall()
    total = row[1] if row else None
    seen = int(row[2] or 0) if row else 0
    index, token = (pages[-1][0] + 1, pages[-1][2]) if pages else (0, None)
    if pages and token is None:  # last page was stored; only the mark is missing
        con.execute("UPDATE run_chunks SET status = 'done' WHERE run_id = ? AND chunk_index = ?",
                    [run_id, ci])
        return
    tokens = {p[1] for p in pages if p[1]}  # tokens already sent in this chunk
    # Studies per full page as this server sends them (it may send fewer than pageSize): the
    # longest page that was followed by another.
    length = con.execute(
        "SELECT max(n_studies) FROM run_pages WHERE run_id = ? AND chunk_index = ? "
        "AND next_page_token IS NOT NULL", [run_id, ci]).fetchone()
    length = int(length[0]) if length and length[0] else None
    idle = 0  # consecutive pages that brought no study new to this chunk
    stored_token = token  # a token from an interrupted run may have expired
    label = f"chunk {ci} " if n_chunks > 1 else ""
    bar = Progress(f"fetching {label}".strip() or "fetching", total=total) if show else None
    if bar:
        bar.done = seen
    while True:
        try:
            page = client.fetch_page(query, page_size, token, index, total, label=label,
                                     page_length=length)
        except SourceError as exc:
            if exc.status != 400 or token is None or token != stored_token:
                raise
            # The API refuses the page token the interrupted run stored (tokens expire):
            # fetch this chunk again from its first page. Studies already stored this run
            # are recognised (run_records) and not counted twice.
            if client.on_retry:
                client.on_retry(f"{label}page {index}: the stored page token was refused "
                                "(expired); fetching the chunk again from page 0", 0.0)
            with transaction(con):
                for table in ("run_pages", "run_chunks"):
                    con.execute(f"DELETE FROM {table} WHERE run_id = ? AND chunk_index = ?",
                                [run_id, ci])
            index, token, stored_token, total, seen, length, idle = 0, None, None, None, 0, None, 0
            tokens.clear()
            if bar:
                bar.done = 0
            continue
        if index == 0:
            total = page.total
            if bar:
                bar.total = total
        if page.next_token and len(page.studies) > (length or 0):
            length = len(page.studies)
        if page.next_token is not None and (page.next_token in tokens
                                            or page.next_token == token):
            raise SourceError(
                f"{label}page {index}: the API sent back the token of an earlier page, so "
                "paging would loop (nothing of this page was stored)",
                fix="Run again with --restart; if it happens again the API is misbehaving.",
            )
        with transaction(con):
            fresh = _store_page(con, client.base_url, run_id, ci, query, page_size, page, total,
                                counts)
        idle = 0 if fresh else idle + 1
        if idle >= _IDLE_PAGES and page.next_token:
            raise SourceError(
                f"{label}page {index}: {_IDLE_PAGES} pages in a row brought no study new to "
                "this listing, although the API says more pages follow; the page tokens loop",
                fix="Run again with --restart; if it happens again the API is misbehaving.",
            )
        seen += len(page.studies)
        if token:
            tokens.add(token)
        if bar:
            bar.advance(len(page.studies))
        if on_page:
            on_page(ci, index)
        if not page.next_token:
            break
        token, index = page.next_token, index + 1
    if bar:
        bar.close()
    con.execute("UPDATE run_chunks SET status = 'done' WHERE run_id = ? AND chunk_index = ?",
                [run_id, ci])


#: Pages in a row without a study new to the chunk before paging is called a loop (an empty
#: page after an exactly full last one is normal; three are not).
_IDLE_PAGES = 3


def _store_page(con, source, run_id, ci, query, page_size, page, total, counts) -> int:
    """Store one page (in the caller's transaction); returns how many of its studies are
    new to this chunk."""
    if page.index == 0:
        con.execute(
            "INSERT INTO run_chunks VALUES (?, ?, ?, ?, ?, 0, 0, 0, 'running')",
            [run_id, ci, query.intr_expression(),
             orjson.dumps(query.params(page_size)).decode(), total],
        )
    good: list[tuple[dict, str, None]] = []
    quarantined = 0
    for pos, study in enumerate(page.studies):
        problem = check_study(study) or oversized(len(orjson.dumps(study)))
        if problem:
            quarantined += 1
            counts.quarantined += 1
            quarantine_record(
                con, run_id, source, f"chunk {ci} page {page.index} item {pos}", problem[0],
                problem[1], orjson.dumps(study).decode()[:20_000],
            )
        else:
            good.append((study, "v2-json", None))
    ids = [study_nct_id(s) for s, _, _ in good]
    already = ids_in_run(con, run_id, ids)
    store_studies(con, run_id, source, [g for g in good if study_nct_id(g[0]) not in already],
                  counts)
    return record_page(con, run_id, ci, ids, page.index, page.token, page.next_token,
                       len(page.studies), quarantined, counts)


def ids_in_run(con: duckdb.DuckDBPyConnection, run_id: int, ids: list[str]) -> set[str]:
    """Which of ``ids`` this run has received already (on an earlier page or chunk)."""
    return {r[0] for r in con.execute(
        "SELECT DISTINCT nct_id FROM run_records WHERE run_id = ? "
        "AND nct_id IN (SELECT unnest(?::VARCHAR[]))", [run_id, ids]).fetchall()}


def record_page(con: duckdb.DuckDBPyConnection, run_id: int, ci: int, ids: list[str],
                page_index: int, position: str | None, next_position: str | None, n_items: int,
                quarantined: int, counts: Counts) -> int:
    """A stored page's bookkeeping (in the caller's transaction), for any paged source: the
    IDs it brought (``run_records``), the page and where the next one starts (``run_pages``,
    so a resumed run continues there), the chunk's received and quarantined counts, and the
    run's stored total. Returns how many of the page's records are new to the chunk
    (quarantined ones included)."""
    if ids:
        insert_rows(con, "run_records", _RECORD_COLUMNS, [[run_id, ci, i] for i in ids],
                    or_ignore=True)
    con.execute("INSERT INTO run_pages VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, ci, page_index, position, next_position, n_items, now_utc()])
    received = ("SELECT received FROM run_chunks WHERE run_id = ? AND chunk_index = ?",
                [run_id, ci])
    before = con.execute(*received).fetchone()[0] or 0
    con.execute(
        "UPDATE run_chunks SET pages_studies = pages_studies + ?, quarantined = quarantined + ?, "
        "received = (SELECT count(*) FROM run_records WHERE run_id = ? AND chunk_index = ?) "
        "WHERE run_id = ? AND chunk_index = ?",
        [n_items, quarantined, run_id, ci, run_id, ci])
    after = con.execute(*received).fetchone()[0] or 0
    stored = con.execute("SELECT count(DISTINCT nct_id) FROM run_records WHERE run_id = ?",
                         [run_id]).fetchone()[0]
    _update_run(con, run_id, counts, stored_total=stored)
    return after - before + quarantined


def _gap(reported: int, got: int) -> str:
    """``missing N`` or ``N more than reported`` (never a negative number missing)."""
    if got < reported:
        return f"missing {reported - got:,}"
    return f"{got - reported:,} more than reported (the registry changed while paging?)"


def _reconcile_api(con, run_id: int, counts: Counts, resumed_from: int | None,
                   notes: list[str] | None = None) -> RunResult:
    chunks = [
        dict(zip(("chunk", "query", "reported", "received", "quarantined"), r))
        for r in con.execute(
            "SELECT chunk_index, query, reported_total, received, quarantined FROM run_chunks "
            "WHERE run_id = ? ORDER BY chunk_index", [run_id],
        ).fetchall()
    ]
    union = con.execute(
        "SELECT count(DISTINCT r.nct_id), count(DISTINCT s.nct_id) FROM run_records r "
        "LEFT JOIN raw_studies s ON s.nct_id = r.nct_id WHERE r.run_id = ?", [run_id],
    ).fetchone()
    received_union, stored = int(union[0]), int(union[1])
    counts.warned = _warned(con, run_id)
    reported = sum(int(c["reported"] or 0) for c in chunks)
    gaps = []
    for c in chunks:
        got = int(c["received"] or 0) + int(c["quarantined"] or 0)
        if got != c["reported"]:
            gaps.append(
                f"chunk {c['chunk']}: reported {c['reported']:,}, received {got:,} "
                f"({_gap(int(c['reported'] or 0), got)})"
            )
    if stored != received_union:
        gaps.append(f"received {received_union:,} distinct studies but stored {stored:,}")
    result = RunResult(
        run_id, "fetch", "ok", reported, stored, counts, resumed_from=resumed_from,
        chunks=chunks, notes=list(notes or ()),
    )
    con.execute(
        "UPDATE runs SET reported_total = ?, stored_total = ?, "
        "params = json_merge_patch(params, ?) WHERE run_id = ?",
        [reported, stored,
         orjson.dumps({"chunk_totals": chunks, "union": stored,
                       "kept_newer": counts.kept_newer,
                       "kept_with_warnings": counts.warned}).decode(), run_id],
    )
    if gaps:
        missing = reported - stored if len(chunks) == 1 else None
        message = "count mismatch: " + "; ".join(gaps)
        if missing is not None:
            message = (
                f"API reported {reported:,} studies, received {received_union:,}, stored "
                f"{stored:,}, quarantined {counts.quarantined:,}: "
                f"{_gap(reported, stored + counts.quarantined)}"
            )
        result.status, result.message = "incomplete", message
        finish_run(con, run_id, "incomplete", message)
        raise ReconciliationError(
            f"run {run_id}: {message}", reported=reported, stored=stored,
            fix="Run the same command again (it re-fetches); if the gap stays, the registry "
            "changed while paging: run with --restart.",
        )
    result.message = result.summary()
    finish_run(con, run_id, "ok", result.message)
    return result
