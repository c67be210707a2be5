"""The store opens, initialises idempotently and refuses what it cannot use."""

from __future__ import annotations

import pytest

from ici_atlas.store import db
from ici_atlas.errors import StoreError


def test_connect_creates_core_tables_idempotently(db_path):
    con = db.connect(db_path)
    con.close()
    con = db.connect(db_path)  # second open must not fail or duplicate anything
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"meta", "runs", "raw_studies", "quarantine"} <= tables
    assert con.execute("SELECT count(*) FROM meta WHERE key='schema_version'").fetchone()[0] == 1


def test_read_only_open_of_missing_store_names_path_and_fix(tmp_path):
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(StoreError) as err:
        db.connect(missing, read_only=True)
    assert "nope.duckdb" in err.value.message
    assert "ici-atlas fetch" in err.value.fix


def test_incompatible_schema_version_is_refused(db_path):
    con = db.connect(db_path)
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError) as err:
        db.connect(db_path)
    assert "999" in err.value.message


def test_transaction_rolls_back_on_error(db_path):
    con = db.connect(db_path)
    with pytest.raises(RuntimeError):
        with db.transaction(con):
            con.execute("INSERT INTO meta VALUES ('x', 'y')")
            raise RuntimeError("boom")
    assert con.execute("SELECT count(*) FROM meta WHERE key='x'").fetchone()[0] == 0


# A store written by ici-atlas 0.1 (schema version 1): raw JSON kept as text.
_V1_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE raw_studies (
    nct_id TEXT PRIMARY KEY, json TEXT NOT NULL, content_hash TEXT NOT NULL,
    source TEXT NOT NULL, source_format TEXT NOT NULL, last_update_posted DATE,
    downloaded_at TIMESTAMP NOT NULL, run_id BIGINT, original TEXT);
"""
_V1_ROWS = [
    ("NCT00000001", '{"protocolSection": {"identificationModule": {"nctId": "NCT00000001"}}}'),
    ("NCT00000002", '{"protocolSection": {"identificationModule": {"nctId": "NCT00000002"}}, '
                    '"resultsSection": {}}'),
]


def _write_v1_store(path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute(_V1_TABLES)
    for nct, text in _V1_ROWS:
        con.execute("INSERT INTO raw_studies VALUES (?, ?, 'h-' || ?, 'test', 'v2-json', "
                    "DATE '2025-01-02', TIMESTAMP '2026-01-01', 7, NULL)", [nct, text, nct])
    con.close()


def test_version_1_store_is_upgraded_in_place_without_losing_a_byte(db_path):
    _write_v1_store(db_path)
    con = db.connect(db_path)
    rows = con.execute("SELECT nct_id, study_json(json_zstd), has_results, content_hash, run_id, "
                       "last_update_posted::VARCHAR FROM raw_studies ORDER BY nct_id").fetchall()
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert version == db.SCHEMA_VERSION == "2"
    assert [(r[0], r[1]) for r in rows] == _V1_ROWS
    assert [r[2] for r in rows] == [False, True]
    assert [r[3:] for r in rows] == [("h-NCT00000001", 7, "2025-01-02"),
                                     ("h-NCT00000002", 7, "2025-01-02")]
    assert "raw_studies_v1" not in tables


def test_read_only_open_of_a_version_1_store_says_how_to_upgrade(db_path):
    _write_v1_store(db_path)
    with pytest.raises(StoreError) as err:
        db.connect(db_path, read_only=True)
    assert "version 1" in err.value.message and "ici-atlas classify" in err.value.fix


def test_study_json_sql_function_round_trips_and_keeps_null(db_path):
    from ici_atlas.store.raw_json import pack_json

    con = db.connect(db_path)
    text = '{"a": "é"}'
    got = con.execute("SELECT study_json(?::BLOB), study_json(NULL::BLOB)",
                      [pack_json(text.encode())]).fetchone()
    assert got == (text, None)
