"""The store opens, initialises idempotently and refuses what it cannot use."""

from __future__ import annotations

import pytest

from ici_atlas import db
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
