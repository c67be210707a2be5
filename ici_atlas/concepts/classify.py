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
import multiprocessing
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson

from ici_atlas.concepts.trial import TRIAL_COLUMNS, Classifiers, classify_study, default_classifiers
from ici_atlas.store.bulk import pause_gc
from ici_atlas.store.db import table_exists, transaction
from ici_atlas.errors import IciAtlasError, InputError, StoreError
from ici_atlas.progress import progress
from ici_atlas.store.raw_json import CorruptRecord, unpack_json
from ici_atlas.store.runs import fail_run, finish_run, quarantine_record, start_run, update_run
from ici_atlas.vocab.tsv import vocab_path

SOURCE = "raw_studies"
BATCH = 1_000          # records fetched from the store at a time
FLUSH = 10_000         # studies classified between bulk inserts (bounds memory)

DERIVED_SCHEMA = {
    "trials": """
        nct_id TEXT PRIMARY KEY, brief_title TEXT, official_title TEXT, acronym TEXT,
        overall_status TEXT, study_type TEXT, phases TEXT, phase_label TEXT NOT NULL,
        start_date DATE, start_year INTEGER, first_posted DATE, last_update_posted DATE,
        lead_sponsor TEXT, sponsor_class TEXT, enrollment BIGINT, has_results BOOLEAN,
        is_pd1_pdl1 BOOLEAN NOT NULL, agents TEXT, target_class TEXT, bispecific BOOLEAN NOT NULL,
        bispecific_other_target TEXT, monotherapy_arm BOOLEAN NOT NULL, partner_classes TEXT,
        cancer_groups TEXT NOT NULL, oncotree_codes TEXT, line_of_therapy TEXT, setting TEXT,
        countries TEXT, pd1_rule TEXT, line_rule TEXT, setting_rule TEXT""",
    "trial_agents": """
        nct_id TEXT NOT NULL, agent_id TEXT NOT NULL, target_class TEXT NOT NULL,
        bispecific BOOLEAN NOT NULL, other_target TEXT, intervention_name TEXT,
        matched_term TEXT NOT NULL, matched_field TEXT NOT NULL""",
    "trial_arms": """
        nct_id TEXT NOT NULL, arm_label TEXT, arm_type TEXT, pd1_agents TEXT,
        partner_classes TEXT, other_drugs TEXT, is_pd1_monotherapy BOOLEAN NOT NULL""",
    "trial_partners": """
        nct_id TEXT NOT NULL, arm_label TEXT, intervention_name TEXT, partner_drug TEXT,
        partner_class TEXT NOT NULL, matched_term TEXT, rule TEXT NOT NULL""",
    "trial_cancers": """
        nct_id TEXT NOT NULL, cancer_group TEXT NOT NULL, oncotree_code TEXT,
        matched_text TEXT, rule TEXT NOT NULL""",
    "trial_countries": "nct_id TEXT NOT NULL, country TEXT NOT NULL",
}
DERIVED_TABLES = tuple(DERIVED_SCHEMA)


def _column_types(columns_sql: str) -> list[tuple[str, str]]:
    """``[(name, type), ...]`` from a column list such as ``"nct_id TEXT PRIMARY KEY, ..."``."""
    out = []
    for part in columns_sql.split(","):
        words = part.split()
        out.append((words[0], "VARCHAR" if words[1] == "TEXT" else words[1]))
    return out


_STAGE_TYPES = {t: _column_types(c) + [("_seq", "BIGINT")] for t, c in DERIVED_SCHEMA.items()}
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

    def summary(self) -> str:
        text = (f"classified {self.trials:,} of {self.raw_records:,} stored studies "
                f"({self.pd1_trials:,} PD-1/PD-L1 trials); run {self.run_id}")
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


class _Buffers:
    """Rows per derived table, flushed with one ``INSERT`` per table into unsorted staging
    tables; each row carries a running ``_seq`` so the final copy can
    restore the order in which a study's rows were made."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {t: [] for t in DERIVED_TABLES}
        self.seq = 0

    def add(self, item: tuple) -> None:
        """Add one ``("ok", ...)`` item of :func:`_classify_batch`."""
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
            types = _STAGE_TYPES[table]
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


def create_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop and create the derived tables, and empty staging tables beside them."""
    for table, columns in DERIVED_SCHEMA.items():
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"CREATE TABLE {table} ({columns})")
        con.execute(f"DROP TABLE IF EXISTS _stage_{table}")
        con.execute(f"CREATE TEMP TABLE _stage_{table} AS SELECT *, 0::BIGINT AS _seq "
                    f"FROM {table} LIMIT 0")


def _publish_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Copy the staging tables into the derived tables in NCT order (then row order)."""
    for table in DERIVED_TABLES:
        con.execute(f"INSERT INTO {table} SELECT * EXCLUDE (_seq) FROM _stage_{table} "
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
    if total == 0:
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
            create_derived_tables(con)
            buffers = _Buffers()
            pending = 0
            # Storage order streams without sorting the JSON; rows are sorted when published.
            result = reader.execute("SELECT nct_id, json_zstd FROM raw_studies")
            batches = iter(lambda: result.fetchmany(BATCH), [])
            if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
                global _WORKER_CLASSIFIERS
                _WORKER_CLASSIFIERS = classifiers  # inherited by the forked workers
                pool = multiprocessing.get_context("fork").Pool(jobs)
                outcomes = pool.imap(_classify_batch, batches)
            else:
                outcomes = (_classify_batch(b, classifiers) for b in batches)
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
            _publish_derived_tables(con)
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


def finish_classify_run(con: duckdb.DuckDBPyConnection, report: ClassifyReport, total: int) -> None:
    """Record a finished classification: counts, quarantined records, status ``ok``."""
    report.problems.sort()
    report.quarantined = len(report.problems)
    update_run(con, report.run_id, reported_total=total, stored_total=report.trials,
               quarantined=report.quarantined, new_records=report.trials,
               updated_records=0, unchanged_records=0)
    finish_run(con, report.run_id, "ok", report.summary())


_WORKER_CLASSIFIERS: Classifiers | None = None


def _classify_batch(batch: list[tuple[str, bytes | None]],
                    classifiers: Classifiers | None = None) -> list[tuple]:
    """Classify stored records (``(nct_id, json_zstd)`` rows). Each item is ``("ok",
    trial_row, agent_rows, arm_rows, partner_rows, cancer_rows, country_rows, is_pd1)`` or
    ``("bad", nct, field, reason, raw_excerpt)``; plain tuples, so worker processes can send
    them back."""
    cl = classifiers or _WORKER_CLASSIFIERS or default_classifiers()
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
    :func:`_classify_batch`); ``text`` is only used for the excerpt of a bad record."""
    cl = classifiers or _WORKER_CLASSIFIERS or default_classifiers()

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


# --- reading the derived tables ---------------------------------------------------------------

#: Columns of ``ici-atlas export trials``, in order.
EXPORT_COLUMNS = (
    "nct_id", "is_pd1_pdl1", "agents", "target_class", "bispecific", "bispecific_other_target",
    "monotherapy_arm", "partner_classes", "cancer_groups", "oncotree_codes", "phase",
    "brief_title", "overall_status", "start_year", "sponsor_class", "countries",
    "line_of_therapy", "setting",
)
_EXPORT_SELECT = """
SELECT nct_id,
       CASE WHEN is_pd1_pdl1 THEN 'yes' ELSE 'no' END AS is_pd1_pdl1,
       agents, target_class,
       CASE WHEN bispecific THEN 'yes' ELSE 'no' END AS bispecific,
       bispecific_other_target,
       CASE WHEN monotherapy_arm THEN 'yes' ELSE 'no' END AS monotherapy_arm,
       partner_classes, cancer_groups, oncotree_codes,
       coalesce(phases, 'NA') AS phase,
       brief_title, overall_status, start_year, sponsor_class, countries,
       line_of_therapy, setting
FROM trials {where} ORDER BY nct_id
"""


def require_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    if not derived_tables_exist(con):
        raise StoreError(
            "The store has no classified trials (table trials is missing)",
            fix="Run `ici-atlas classify` after loading records with `ici-atlas fetch`.",
        )


def export_trials_sql(pd1_only: bool = False) -> str:
    """The SELECT behind ``ici-atlas export trials`` (one row per trial, NCT order)."""
    return _EXPORT_SELECT.format(where="WHERE is_pd1_pdl1" if pd1_only else "")


def query_trials_export(con: duckdb.DuckDBPyConnection, pd1_only: bool = False) -> list[dict]:
    """Rows of ``ici-atlas export trials`` as dicts keyed by :data:`EXPORT_COLUMNS`."""
    require_derived_tables(con)
    rows = con.execute(export_trials_sql(pd1_only)).fetchall()
    return [dict(zip(EXPORT_COLUMNS, r)) for r in rows]


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def query_trial(con: duckdb.DuckDBPyConnection, nct_id: str) -> dict:
    """One trial's classification with what matched: the ``trials`` row plus its
    ``agents``, ``arms``, ``partners``, ``cancers`` and ``countries`` explanation rows."""
    require_derived_tables(con)
    nct = nct_id.strip().upper()
    rows = _dicts(con, "SELECT * FROM trials WHERE nct_id = ?", [nct])
    if not rows:
        stored = con.execute("SELECT count(*) FROM raw_studies WHERE nct_id = ?", [nct]).fetchone()[0]
        if stored:
            reason = con.execute(
                "SELECT field, reason FROM quarantine WHERE record_ref = ? ORDER BY quarantined_at DESC "
                "LIMIT 1", [nct]).fetchone()
            detail = f" (quarantined: {reason[0]}: {reason[1]})" if reason else ""
            raise InputError(
                f"Trial {nct!r} is stored but has no classification{detail}",
                fix="Run `ici-atlas classify`; if it is quarantined, re-fetch the record.",
            )
        raise InputError(f"Trial {nct!r} is not in the store",
                         fix="Check the NCT ID, or load it with `ici-atlas fetch`.")
    out = rows[0]
    out["explain"] = {
        "agents": _dicts(con, "SELECT agent_id, target_class, bispecific, other_target, "
                              "intervention_name, matched_term, matched_field FROM trial_agents "
                              "WHERE nct_id = ? ORDER BY agent_id", [nct]),
        "arms": _dicts(con, "SELECT arm_label, arm_type, pd1_agents, partner_classes, other_drugs, "
                            "is_pd1_monotherapy FROM trial_arms WHERE nct_id = ?", [nct]),
        "partners": _dicts(con, "SELECT arm_label, intervention_name, partner_drug, partner_class, "
                                "matched_term, rule FROM trial_partners WHERE nct_id = ?", [nct]),
        "cancers": _dicts(con, "SELECT cancer_group, oncotree_code, matched_text, rule "
                               "FROM trial_cancers WHERE nct_id = ?", [nct]),
    }
    return out
