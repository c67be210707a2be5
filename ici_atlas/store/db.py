"""The DuckDB store: connection and the core schema (runs, raw records, quarantine).

Derived tables are owned by the modules that build them (``classify`` rebuilds the
trial tables from raw records + vocabularies); this module owns only what is loaded
from sources and how it got there.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from ..errors import StoreError
from .raw_json import register_sql_functions

SCHEMA_VERSION = "2"
# 1 -> 2: raw_studies.json (TEXT) became json_zstd (Zstandard BLOB) + has_results; upgraded
# in place by the first writable connection (_upgrade_from_1).

# DuckDB spills to disk past this; keeps a full load + classify of 200,000 studies under
# 2 GiB of memory (docs/performance.md). Override with ICI_ATLAS_DUCKDB_MEMORY.
ENV_MEMORY_LIMIT = "ICI_ATLAS_DUCKDB_MEMORY"
DEFAULT_MEMORY_LIMIT = "1GB"
CHECKPOINT_THRESHOLD = "1GB"

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id          BIGINT PRIMARY KEY,
    kind            TEXT NOT NULL,      -- fetch | load | classify | lit-search ...
    source          TEXT NOT NULL,      -- API base URL or local path
    query           TEXT,               -- the exact query text sent (or NULL for local files)
    params          JSON,               -- every other parameter, as JSON
    reported_total  BIGINT,             -- what the source said it had
    stored_total    BIGINT,             -- what this run stored (distinct records)
    new_records     BIGINT,
    updated_records BIGINT,
    unchanged_records BIGINT,
    quarantined     BIGINT,
    status          TEXT NOT NULL,      -- running | ok | incomplete | failed | interrupted
    message         TEXT,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    tool_version    TEXT NOT NULL,
    resumed_from    BIGINT,             -- run_id of the interrupted run this one continued
    query_key       TEXT,               -- hash of the query without its update window
    resume_key      TEXT                -- hash of everything that must match to resume
);
CREATE TABLE IF NOT EXISTS raw_studies (
    nct_id             TEXT PRIMARY KEY,
    json_zstd          BLOB NOT NULL,   -- the study JSON (API v2 shape), Zstandard-compressed:
                                        -- study_json(json_zstd) gives the text (raw_json.py)
    content_hash       TEXT NOT NULL,   -- sha256 of the canonical JSON, to detect changes
    source             TEXT NOT NULL,
    source_format      TEXT NOT NULL,   -- v2-json | v1-json | ctgov-xml
    last_update_posted DATE,
    downloaded_at      TIMESTAMP NOT NULL,
    run_id             BIGINT,
    original           TEXT,            -- the record as found, when converted to v2 (v1 JSON, XML)
    has_results        BOOLEAN NOT NULL -- the record has a resultsSection (posted results)
);
CREATE TABLE IF NOT EXISTS quarantine (
    run_id         BIGINT,
    source         TEXT NOT NULL,
    record_ref     TEXT NOT NULL,       -- NCT ID, file name or page/position: where to find it
    field          TEXT,                -- the field that was missing or malformed
    reason         TEXT NOT NULL,
    raw            TEXT,                -- the record as received (may be truncated text)
    quarantined_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS run_chunks (   -- one query chunk of a fetch run
    run_id          BIGINT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    query           TEXT NOT NULL,       -- query.intr of this chunk
    params          JSON,                -- the other request parameters of this chunk
    reported_total  BIGINT,              -- totalCount the API gave for this chunk
    received        BIGINT,              -- distinct NCT IDs received for this chunk
    quarantined     BIGINT,              -- records of this chunk sent to quarantine
    pages_studies   BIGINT,              -- studies received over all pages (with repeats)
    status          TEXT NOT NULL,       -- running | done
    PRIMARY KEY (run_id, chunk_index)
);
CREATE TABLE IF NOT EXISTS run_pages (    -- one completed page (committed with its studies)
    run_id          BIGINT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    page_index      INTEGER NOT NULL,
    page_token      TEXT,                -- token sent (NULL for the first page)
    next_page_token TEXT,                -- token received (NULL on the last page)
    n_studies       INTEGER NOT NULL,
    fetched_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, chunk_index, page_index)
);
CREATE TABLE IF NOT EXISTS run_records (  -- which records a run received (and from which chunk)
    run_id          BIGINT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    nct_id          TEXT NOT NULL,
    PRIMARY KEY (run_id, chunk_index, nct_id)
);
"""


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (and if writable, initialise) the store at ``path``."""
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError(
            f"No ici-atlas database at {str(path)!r}",
            fix="Load records first with `ici-atlas fetch` (or pass --db PATH to an existing store).",
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:  # locked by another process, unreadable ...
        raise StoreError(
            f"Cannot open database {str(path)!r}: {exc}",
            fix="Close other ici-atlas processes using it, or pass another --db PATH.",
        ) from exc
    memory = os.environ.get(ENV_MEMORY_LIMIT, DEFAULT_MEMORY_LIMIT)
    if memory:
        con.execute(f"SET memory_limit = '{_check_memory(memory)}'")
    if not read_only:
        # Bulk loads write GBs of JSON text: checkpoint (compress + write) every GB of WAL
        # instead of every 16 MB (DuckDB's default) — loading twice as fast, same store.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    register_sql_functions(con)
    if read_only:
        check_schema_version(con, path)
    else:
        init_schema(con)
    return con


def _check_memory(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)", value.strip(), flags=re.I):
        raise StoreError(f"Invalid {ENV_MEMORY_LIMIT} {value!r}; expected e.g. '1GB' or '512MB'",
                         fix=f"Set {ENV_MEMORY_LIMIT} to a size such as 2GB, or unset it.")
    return value.strip()


def _stored_version(con: duckdb.DuckDBPyConnection) -> str | None:
    if not table_exists(con, "meta"):
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


def _refuse(version: str) -> StoreError:
    return StoreError(
        f"Database schema version {version!r} is not the supported {SCHEMA_VERSION!r}",
        fix="Use a new --db path, or re-create the store with `ici-atlas fetch`.",
    )


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    version = _stored_version(con)
    if version == "1":
        _upgrade_from_1(con)
        version = SCHEMA_VERSION
    con.execute(CORE_SCHEMA)
    if version is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    elif version != SCHEMA_VERSION:
        raise _refuse(version)


def check_schema_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A read-only connection cannot upgrade an older store: say how to."""
    version = _stored_version(con)
    if version == "1":
        raise StoreError(
            f"The store {str(path)!r} has the older schema version 1 (raw JSON as text)",
            fix="Run any writing command once to upgrade it in place, e.g. "
                f"`ici-atlas classify --db {path}`.",
        )
    if version is not None and version != SCHEMA_VERSION:
        raise _refuse(version)


def _upgrade_from_1(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 → 2: compress ``raw_studies.json`` into ``json_zstd`` and set ``has_results``,
    batch by batch, in one transaction (a failure leaves the version-1 store as it was)."""
    import orjson

    from .raw_json import pack_json

    columns = ("content_hash", "source", "source_format", "last_update_posted",
               "downloaded_at", "run_id", "original")
    with transaction(con):
        con.execute("ALTER TABLE raw_studies RENAME TO raw_studies_v1")
        con.execute(CORE_SCHEMA)
        all_ids = [r[0] for r in con.execute("SELECT nct_id FROM raw_studies_v1").fetchall()]
        for start in range(0, len(all_ids), 2_000):
            batch = con.execute(
                "SELECT nct_id, json FROM raw_studies_v1 WHERE nct_id IN "
                "(SELECT unnest(?::VARCHAR[]))", [all_ids[start:start + 2_000]]).fetchall()
            ids = [nct for nct, _ in batch]
            packed, results = [], []
            for _, text in batch:
                data = text.encode("utf-8")
                packed.append(pack_json(data))
                try:
                    results.append(isinstance(study := orjson.loads(data), dict)
                                   and "resultsSection" in study)
                except orjson.JSONDecodeError:
                    results.append(False)
            con.execute(
                f"INSERT INTO raw_studies (nct_id, json_zstd, has_results, {', '.join(columns)}) "
                f"SELECT u.nct_id, u.json_zstd, u.has_results, {', '.join('v.' + c for c in columns)} "
                "FROM (SELECT unnest(?::VARCHAR[]) AS nct_id, unnest(?::BLOB[]) AS json_zstd, "
                "unnest(?::BOOLEAN[]) AS has_results) u JOIN raw_studies_v1 v USING (nct_id)",
                [ids, packed, results])
        con.execute("DROP TABLE raw_studies_v1")
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION])


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()[0]
        > 0
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def ensure_schema(con: duckdb.DuckDBPyConnection, ddl: str, tables: tuple[str, ...]) -> None:
    """Run ``ddl`` unless every table in ``tables`` exists already (so read-only connections
    to a store that has them work)."""
    if all(table_exists(con, t) for t in tables):
        return
    try:
        con.execute(ddl)
    except duckdb.Error as exc:
        raise StoreError(
            f"The store lacks table(s) {', '.join(t for t in tables if not table_exists(con, t))} "
            f"and cannot create them: {exc}",
            fix="Open the store writable (run a command that loads data first).",
        ) from exc
