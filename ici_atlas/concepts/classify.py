"""Rebuild the derived trial tables from the raw study records: ``ici-atlas classify``.

Streams every row of ``raw_studies``, parses it with orjson, runs
:func:`ici_atlas.concepts.trial.classify_study` and bulk-inserts the rows of ``trials``,
``trial_agents``, ``trial_arms``, ``trial_partners``, ``trial_cancers`` and
``trial_countries`` (docs/store.md). The tables are dropped and rebuilt in one
transaction, so the same records and vocabularies always give identical tables. A record
that cannot be parsed or lacks the v2 shape is put in ``quarantine`` (with this run's id)
and left out; the rest continue. Each run is a ``runs`` row of kind ``classify``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson

from ici_atlas.concepts.registry_trials import assign_trial_keys, stage_registrations
from ici_atlas.concepts.trial import TRIAL_COLUMNS, Classifiers, classify_study, default_classifiers
from ici_atlas.store.bulk import pause_gc
from ici_atlas.store.db import transaction
from ici_atlas.store.schema import DERIVED, DERIVED_TABLES, column_types, create_tables, table_exists
from ici_atlas.errors import IciAtlasError, InputError
from ici_atlas.progress import progress
from ici_atlas.store.raw_json import CorruptRecord, unpack_json
from ici_atlas.store.runs import fail_run, finish_run, quarantine_record, start_run, update_run
from ici_atlas.vocab.tsv import vocab_path

SOURCE = "raw_studies"
BATCH = 1_000          # records fetched from the store at a time
FLUSH = 10_000         # studies classified between bulk inserts (bounds memory)

#: Staging column types of each derived table (its schema's types, plus the row's order).
#: ``trials`` columns set after classification, when the registrations are grouped into
#: trials (:mod:`ici_atlas.concepts.registry_trials`).
GROUP_COLUMNS = ("trial_key", "link_basis", "representative")
STAGE_TYPES = {t: [c for c in column_types(t) if c[0] not in GROUP_COLUMNS] + [("_seq", "BIGINT")]
               for t in DERIVED_TABLES}
VOCAB_FILES = ("agents.tsv", "partners.tsv", "partner_classes.tsv", "cancer_groups.tsv",
               "cancer_terms.tsv")


@dataclass
class ClassifyReport:
    run_id: int
    raw_records: int = 0
    trials: int = 0
    pd1_trials: int = 0
    quarantined: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (nct, field, reason)
    counts: dict[str, int] = field(default_factory=dict)
    registrations: int = 0  # of them, registrations of other registries
    grouping: dict[str, int] = field(default_factory=dict)  # see assign_trial_keys

    def summary(self) -> str:
        text = (f"classified {self.trials - self.registrations:,} of {self.raw_records:,} "
                f"stored studies")
        if self.registrations:
            text += f" and {self.registrations:,} registrations of other registries"
        text += f" ({self.pd1_trials:,} PD-1/PD-L1 trials); run {self.run_id}"
        if self.registrations and self.grouping:
            text += (f"; {self.grouping['registrations']:,} registrations are "
                     f"{self.grouping['trials']:,} trials ({self.grouping['linked']:,} "
                     "registered more than once)")
        if self.quarantined:
            text += f"; {self.quarantined:,} record(s) quarantined"
        return text


def vocab_fingerprint() -> dict[str, str]:
    """sha256 (first 16 hex digits) of each vocabulary file the classifiers read."""
    out = {}
    for name in VOCAB_FILES:
        path = Path(vocab_path(name))
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"
    return out


class DerivedRowBuffer:
    """Rows per derived table, flushed with one ``INSERT`` per table into unsorted staging
    tables; each row carries a running ``_seq`` so the final copy can
    restore the order in which a study's rows were made."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {t: [] for t in DERIVED_TABLES}
        self.seq = 0

    def add(self, item: tuple) -> None:
        """Add one ``("ok", ...)`` item of :func:`classify_batch`."""
        rows = self.rows
        rows["trials"].append(item[1])
        rows["trial_agents"].extend(item[2])
        rows["trial_arms"].extend(item[3])
        rows["trial_partners"].extend(item[4])
        rows["trial_cancers"].extend(item[5])
        rows["trial_countries"].extend(item[6])

    def flush(self, con: duckdb.DuckDBPyConnection, counts: dict[str, int]) -> None:
        """Insert the buffered rows. Each table's columns travel as one JSON document
        (orjson, in C) that DuckDB unpacks with ``from_json``: much faster than binding
        millions of Python values one by one."""
        for table, rows in self.rows.items():
            if not rows:
                continue
            types = STAGE_TYPES[table]
            columns = [list(c) for c in zip(*rows)]
            columns.append(list(range(self.seq, self.seq + len(rows))))
            self.seq += len(rows)
            blob = orjson.dumps({name: col for (name, _), col in zip(types, columns)})
            structure = orjson.dumps({name: [kind] for name, kind in types}).decode()
            select = ", ".join(f"unnest(j.{name})" for name, _ in types)
            con.execute(f"INSERT INTO _stage_{table} SELECT {select} "
                        f"FROM (SELECT from_json($1, '{structure}') AS j)", [blob.decode()])
            counts[table] = counts.get(table, 0) + len(rows)
            rows.clear()


def create_staging_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty temporary staging tables, one per derived table (its columns, no constraints,
    plus ``_seq``)."""
    for table in DERIVED_TABLES:
        columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_TYPES[table])
        con.execute(f"DROP TABLE IF EXISTS _stage_{table}")
        con.execute(f"CREATE TEMP TABLE _stage_{table} ({columns})")


def publish_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Re-create the derived tables (schema.DERIVED) and fill them from the staging tables,
    in NCT order (then row order); the staging tables are dropped."""
    create_tables(con, DERIVED)
    for table in DERIVED_TABLES:
        columns = ", ".join(name for name, _ in STAGE_TYPES[table] if name != "_seq")
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _stage_{table} "
                    f"ORDER BY nct_id, _seq")
        con.execute(f"DROP TABLE _stage_{table}")


def classify_store(con: duckdb.DuckDBPyConnection, classifiers: Classifiers | None = None,
                   jobs: int | None = None) -> ClassifyReport:
    """Drop and rebuild every derived trial table from ``raw_studies``.

    With ``jobs`` > 1 (and a platform that can fork), that many worker processes parse and
    classify the records while the main process reads the store and writes the tables; the
    tables are identical whatever the number of jobs. Default 1: on a busy machine the
    workers' inter-process traffic (the JSON text goes to them) can cost more than it saves.
    """
    total = con.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
    others = con.execute("SELECT count(*) FROM registrations").fetchone()[0]
    if total == 0 and others == 0:
        raise InputError(
            "No raw study records in the store (table raw_studies is empty); nothing to classify",
            fix="Load records first, e.g. `ici-atlas fetch --from ../shared/data/ctgov`, "
                "then run `ici-atlas classify`.",
        )
    if jobs is not None and jobs < 1:
        raise InputError(f"Invalid --jobs {jobs!r}; expected 1 or more", fix="use --jobs 1 or 2")
    classifiers = classifiers or default_classifiers()
    jobs = jobs or 1
    params = {"vocabularies": vocab_fingerprint(), "jobs": jobs}
    run_id = start_run(con, "classify", SOURCE, None, params)
    report = ClassifyReport(run_id=run_id, raw_records=total)
    reader = con.cursor()
    pool = None
    restore_gc = pause_gc()
    try:
        with transaction(con):
            create_staging_tables(con)
            buffers = DerivedRowBuffer()
            pending = 0
            # Storage order streams without sorting the JSON; rows are sorted when published.
            result = reader.execute("SELECT nct_id, json_zstd FROM raw_studies")
            batches = iter(lambda: result.fetchmany(BATCH), [])
            if jobs > 1:
                # fresh worker processes, never a fork of this (multi-threaded) process
                from .workers import _context, _init

                pool = _context().Pool(jobs, initializer=_init, initargs=(classifiers,))
                outcomes = pool.imap(classify_batch, batches)
            else:
                outcomes = (classify_batch(b, classifiers) for b in batches)
            with progress("classify", total) as bar:
                for outcome in outcomes:
                    for item in outcome:
                        if item[0] == "ok":
                            buffers.add(item)
                            report.trials += 1
                            report.pd1_trials += item[7]
                        else:
                            _, nct, field_name, reason, raw = item
                            report.problems.append((nct, field_name, reason))
                            quarantine_record(con, run_id, SOURCE, nct, field_name, reason, raw)
                    pending += len(outcome)
                    bar.advance(len(outcome))
                    if pending >= FLUSH:
                        buffers.flush(con, report.counts)
                        pending = 0
                buffers.flush(con, report.counts)
            stage_other_registries(con, buffers, report, run_id, classifiers)
            publish_derived_tables(con)
            report.grouping = assign_trial_keys(con)
            finish_classify_run(con, report, total)
    except BaseException as exc:
        fail_run(con, run_id, exc)
        raise
    finally:
        restore_gc()
        if pool is not None:
            pool.terminate()
            pool.join()
        reader.close()
    return report


def stage_other_registries(con: duckdb.DuckDBPyConnection, buffers: "DerivedRowBuffer",
                           report: "ClassifyReport", run_id: int,
                           classifiers: Classifiers | None = None) -> None:
    """Classify the stored registrations of other registries into the staging tables
    (counted in the report like ClinicalTrials.gov records; unreadable ones quarantined)."""
    def take(items: list[tuple]) -> None:
        for item in items:
            if item[0] == "ok":
                buffers.add(item)
                report.trials += 1
                report.pd1_trials += item[7]
                report.registrations += 1
            else:
                _, nct, field_name, reason, raw = item
                report.problems.append((nct, field_name, reason))
                quarantine_record(con, run_id, SOURCE, nct, field_name, reason, raw)

    stage_registrations(con, take, lambda key, study: classify_record(key, study, classifiers))
    buffers.flush(con, report.counts)


def finish_classify_run(con: duckdb.DuckDBPyConnection, report: ClassifyReport, total: int) -> None:
    """Record a finished classification: counts, quarantined records, status ``ok``."""
    report.problems.sort()
    report.quarantined = len(report.problems)
    update_run(con, report.run_id, reported_total=total, stored_total=report.trials,
               quarantined=report.quarantined, new_records=report.trials,
               updated_records=0, unchanged_records=0)
    finish_run(con, report.run_id, "ok", report.summary())


WORKER_CLASSIFIERS: Classifiers | None = None


def classify_batch(batch: list[tuple[str, bytes | None]],
                    classifiers: Classifiers | None = None) -> list[tuple]:
    """Classify stored records (``(nct_id, json_zstd)`` rows). Each item is ``("ok",
    trial_row, agent_rows, arm_rows, partner_rows, cancer_rows, country_rows, is_pd1)`` or
    ``("bad", nct, field, reason, raw_excerpt)``; plain tuples, so worker processes can send
    them back."""
    cl = classifiers or WORKER_CLASSIFIERS or default_classifiers()
    out: list[tuple] = []
    for nct, packed in batch:
        try:
            data = unpack_json(packed)
        except CorruptRecord as exc:
            out.append(("bad", nct, "json_zstd", f"stored JSON unreadable: {exc}", ""))
            continue
        try:
            record = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            text = data.decode("utf-8", "replace")
            out.append(("bad", nct, "json", f"not valid JSON: {exc}", text[:2000]))
            continue
        out.append(classify_record(nct, record, cl))
    return out


def classify_record(nct: str, record: dict, classifiers: Classifiers | None = None,
                    text: str | None = None) -> tuple:
    """One parsed record as an ``("ok", ...)`` or ``("bad", ...)`` item (see
    :func:`classify_batch`); ``text`` is only used for the excerpt of a bad record."""
    cl = classifiers or WORKER_CLASSIFIERS or default_classifiers()

    def excerpt() -> str:
        return (text if text is not None else orjson.dumps(record).decode())[:2000]

    try:
        result = classify_study(record, cl)
    except IciAtlasError as exc:
        return ("bad", nct, "protocolSection", exc.message, excerpt())
    if result.trial["nct_id"] != nct:
        return ("bad", nct, "protocolSection.identificationModule.nctId",
                f"record says {result.trial['nct_id']!r} but is stored as {nct!r}", excerpt())
    return ("ok", tuple(result.trial[c] for c in TRIAL_COLUMNS), result.agent_rows,
            result.arm_rows, result.partner_rows, result.cancer_rows,
            result.country_rows, int(bool(result.trial["is_pd1_pdl1"])))


def derived_tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    return all(table_exists(con, t) for t in DERIVED_TABLES)
