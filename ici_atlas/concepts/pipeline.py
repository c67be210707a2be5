"""Load local records and classify them in one pass over the input.

``ingest.load_files`` followed by ``classify.classify_store`` parses every study twice (once
to store it, once from the store to classify it), all in one process.
:func:`load_and_classify_files` has worker processes read and parse each file, serialise
and hash its studies and classify them; the main process only de-duplicates, writes the
store and stages the derived rows, in input order. Studies whose stored copy is not the one
classified (an older copy kept, a duplicate replaced) and studies stored by earlier runs
are classified from the store at the end. The derived tables it publishes are the ones
``classify_store`` would build from the same store (a test checks this), and they replace
the old ones in one transaction at the end, so a failed run leaves the old tables in place.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import duckdb

from . import classify as cl
from .trial import Classifiers, default_classifiers
from ..store.bulk import pause_gc
from ..store.db import transaction
from ..store.schema import DERIVED_TABLES
from ..store.ingest import RunResult, load_files, prepare_study
from ..sources.ctgov_files import (
    FoundRecord,
    SkippedFile,
    Source,
    iter_study_sources,
    read_source,
)
from ..progress import Progress
from ..errors import InputError
from ..store.registrations import handed_refs, load_registrations
from ..store.runs import fail_run, quarantine_record, start_run
from .registry_trials import assign_trial_keys
from .workers import BrokenProcessPool, start_workers, worker_died


def default_workers() -> int:
    """Worker processes: one per core (they read, parse, hash and classify; the main process
    only writes the store), or ``ICI_ATLAS_WORKERS``."""
    value = os.environ.get("ICI_ATLAS_WORKERS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, os.cpu_count() or 1)


def _prepare_source(source: Source) -> list:
    """Worker: read one file (or ZIP member), and for each study its stored JSON text,
    content hash and classification. Unreadable records and skipped files pass through."""
    classifiers = cl.WORKER_CLASSIFIERS or default_classifiers()
    out: list = []
    for item in read_source(*source):
        if isinstance(item, SkippedFile) or item.error:
            out.append(item)
            continue
        prepared = prepare_study(item.study, item.source_format, item.original, item.ref)
        prepared.classified = cl.classify_record(prepared.nct_id, item.study, classifiers)
        out.append(prepared)
    return out


def load_and_classify_files(
    con: duckdb.DuckDBPyConnection, path: str | Path, workers: int | None = None,
    classifiers: Classifiers | None = None,
) -> tuple[RunResult, cl.ClassifyReport]:
    """Load every study record under ``path`` and rebuild the derived tables.

    Worker processes read and parse the files, serialise and hash each study and classify
    it; the main process de-duplicates, stores and stages the derived rows, in input order.
    Two runs are recorded, as with ``fetch --from`` then ``classify`` (the classification's
    parameters name the load run it went with).
    """
    # sent to the workers; None: they build the defaults themselves, and this process builds
    # them only if it has records to classify itself (default_classifiers is cached)
    custom = classifiers
    workers = workers or default_workers()
    report = cl.ClassifyReport(run_id=0)  # the run is recorded once the load is done
    buffers = cl.DerivedRowBuffer()
    handed: set[str] = set()  # NCT IDs classified from the record stored while loading
    from_store: set[str] = set()  # ... whose stored copy is not that record
    problems: list[tuple] = []  # (nct, field, reason, raw) of records that could not be classified
    pool = None
    run_id = None

    def take(outcome: list[tuple]) -> None:
        for item in outcome:
            if item[0] == "ok":
                buffers.add(item)
            else:
                problems.append(item[1:])
        if sum(len(rows) for rows in buffers.rows.values()) >= cl.FLUSH:
            buffers.flush(con, report.counts)

    def on_stored(stored: dict, redo: list[str]) -> None:
        from_store.update(redo)
        handed.update(stored)
        take([p.classified for p in stored.values()])

    def prepared_items():
        window: deque = deque()  # files in flight, in input order (bounded: memory)
        for source in iter_study_sources(path):
            window.append(source if isinstance(source, (SkippedFile, FoundRecord))
                          else pool.submit(_prepare_source, source))
            while window and (len(window) > 2 * workers + 2 or _ready(window[0])):
                yield from _results(window.popleft())
        while window:
            yield from _results(window.popleft())

    restore_gc = None
    try:
        cl.create_staging_tables(con)
        pool = start_workers(workers, custom)
        try:
            loaded = load_files(con, path, on_stored=on_stored, items=prepared_items(),
                                allow_empty=True)
        except BrokenProcessPool as exc:
            raise worker_died(exc) from None
        loaded.registry = load_registrations(con, path, handed_refs(loaded.skipped_files))
        if loaded.reported_total == 0 and loaded.registry is None:
            raise InputError(
                f"No study records found in {str(path)!r} ({len(loaded.skipped_files)} files "
                "skipped)", fix="Pass a directory of v2 JSON files, a JSON array download, a "
                "bulk ZIP, or another registry's export (ICTRP, EUCTR, CTIS, ISRCTN, ChiCTR).")
        params = {"vocabularies": cl.vocab_fingerprint(), "jobs": workers, "during_load": loaded.run_id}
        run_id = report.run_id = start_run(con, "classify", cl.SOURCE, None, params)
        restore_gc = pause_gc()
        buffers.flush(con, report.counts)
        from_store |= {
            row[0] for row in con.execute("SELECT nct_id FROM raw_studies").fetchall()
        } - handed
        if from_store:
            ids = sorted(from_store)
            for table in DERIVED_TABLES:
                con.execute(f"DELETE FROM _stage_{table} WHERE nct_id IN (SELECT unnest(?::VARCHAR[]))",
                            [ids])
            problems[:] = [p for p in problems if p[0] not in from_store]
            bar = Progress("classify stored records", len(ids))
            for start in range(0, len(ids), cl.BATCH):
                chunk = ids[start: start + cl.BATCH]
                rows = con.execute("SELECT nct_id, json_zstd FROM raw_studies WHERE nct_id IN "
                                   "(SELECT unnest(?::VARCHAR[])) ORDER BY nct_id", [chunk]).fetchall()
                take(cl.classify_batch(rows, custom))
                bar.advance(len(chunk))
            bar.close()
            buffers.flush(con, report.counts)
        cl.stage_other_registries(con, buffers, report, run_id, custom)
        report.trials, report.pd1_trials = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_pd1_pdl1) FROM _stage_trials").fetchone()
        for nct, field_name, reason, raw in problems:
            report.problems.append((nct, field_name, reason))
            quarantine_record(con, run_id, cl.SOURCE, nct, field_name, reason, raw)
        with transaction(con):
            cl.publish_derived_tables(con)
            report.grouping = assign_trial_keys(con)
        report.raw_records = con.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
        cl.finish_classify_run(con, report, report.raw_records)
        return loaded, report
    except BaseException as exc:
        if run_id is not None:
            fail_run(con, run_id, exc)
        raise
    finally:
        if restore_gc is not None:
            restore_gc()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _ready(entry) -> bool:
    return isinstance(entry, (SkippedFile, FoundRecord)) or entry.done()


def _results(entry) -> list:
    return [entry] if isinstance(entry, (SkippedFile, FoundRecord)) else entry.result()
