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
    assert version == db.SCHEMA_VERSION == "6"  # v1 -> ... -> v6, one numbered step each
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


def test_version_2_store_gets_list_columns_and_literature_tables(db_path):
    """Migration 3: the derived tables' ';'-joined text becomes typed lists (the same
    values), and the literature tables exist, so reads never need to create them."""
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.execute("CREATE TABLE trials (nct_id TEXT, agents TEXT, target_class TEXT, "
                "bispecific_other_target TEXT, partner_classes TEXT, cancer_groups TEXT, "
                "oncotree_codes TEXT, countries TEXT)")
    con.execute("INSERT INTO trials VALUES ('NCT1', 'nivolumab;ipilimumab', 'PD-1', NULL, "
                "'CTLA-4', 'melanoma', NULL, 'France;Spain')")
    con.close()
    con = db.connect(db_path)
    row = con.execute("SELECT agents, target_class, bispecific_other_target, countries "
                      "FROM trials").fetchone()
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    con.close()
    assert row == (["nivolumab", "ipilimumab"], ["PD-1"], [], ["France", "Spain"])
    assert {"pubmed_records", "lit_imported", "lit_decisions"} <= tables and version == "6"


def test_version_3_store_gains_the_record_warnings_table(db_path):
    """Migration 4: a store written by schema 3 has no ``record_warnings``; the first
    writing open adds it (and keeps what is stored)."""
    con = db.connect(db_path)
    con.execute("DROP TABLE record_warnings")
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.execute("INSERT INTO runs (run_id, kind, source, started_at, status, tool_version) "
                "VALUES (41, 'load', 'x', now(), 'ok', 't')")
    con.close()
    con = db.connect(db_path)
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    warnings = con.execute("SELECT count(*) FROM record_warnings").fetchone()[0]
    runs = con.execute("SELECT run_id FROM runs").fetchall()
    con.close()
    assert (version, warnings, runs) == ("6", 0, [(41,)])


def test_read_only_connection_never_writes(db_path):
    """A read of a store leaves the file byte for byte as it was (no table, no migration)."""
    db.connect(db_path).close()
    before = db_path.read_bytes()
    with db.open_store(db_path, read_only=True) as con:
        from ici_atlas.review.prisma import compute_prisma

        compute_prisma(con)
    assert db_path.read_bytes() == before


@pytest.mark.parametrize("content, needle", [
    (b"# ici-atlas\n\nA readme, not a database.\n", "not a DuckDB database"),
    (b"SQLite format 3\x00" + bytes(100), "a SQLite database"),
])
def test_a_file_that_is_not_a_store_is_refused_before_duckdb_opens_it(tmp_path, content, needle):
    path = tmp_path / "not-a-store.duckdb"
    path.write_bytes(content)
    for read_only in (True, False):
        with pytest.raises(StoreError) as err:
            db.connect(path, read_only=read_only)
        assert needle in err.value.message and "close other" not in err.value.fix.lower()
    assert path.read_bytes() == content  # untouched


def test_another_programs_duckdb_file_is_refused_and_left_alone(tmp_path):
    import duckdb

    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales (id INT)")
    con.close()
    with pytest.raises(StoreError) as err:
        db.connect(path)
    assert "belongs to another program" in err.value.message
    con = duckdb.connect(str(path), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    con.close()
    assert tables == ["sales"]


def test_implicit_extension_loading_is_off(db_path):
    with db.open_store(db_path) as con:
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoload_known_extensions', 'autoinstall_known_extensions')").fetchall())
    assert settings == {"autoload_known_extensions": "false", "autoinstall_known_extensions": "false"}
