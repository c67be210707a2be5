"""A store built by the real pipeline from real records, shared by the landscape tests.

``fetch``'s library call (``ingest.load_files``) loads two subsets of the shared
ClinicalTrials.gov data — vrinda2019__NSCLCBench (100 Phase 3 NSCLC trials) and
partrita__clinicaltrial-watch-tigit (1,181 TIGIT/B7-H3/CCR8 watch-list studies, 127 of
them PD-(L)1-like by PROVENANCE.md's heuristic) — then ``classify`` rebuilds the derived
tables. Built once per test session; tests open it read-only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SUBSETS = ("vrinda2019__NSCLCBench", "partrita__clinicaltrial-watch-tigit")


def build_store(ctgov: Path, db_path: Path) -> Path:
    from ici_atlas.store import db
    from ici_atlas.concepts.classify import classify_store
    from ici_atlas.store.ingest import load_files

    con = db.connect(db_path)
    try:
        for subset in SUBSETS:
            load_files(con, ctgov / subset)
        classify_store(con)
    finally:
        con.close()
    return db_path


_BUILT: dict[Path, Path] = {}


@pytest.fixture(scope="session")
def landscape_db(ctgov_data: Path, tmp_path_factory) -> Path:
    """Path of the session's store (fetch two shared subsets → classify).

    Each test module imports this fixture, which pytest caches per module; the store
    itself is built once per session (``_BUILT``) and only read afterwards.
    """
    if ctgov_data not in _BUILT:
        path = tmp_path_factory.mktemp("landscape") / "store.duckdb"
        _BUILT[ctgov_data] = build_store(ctgov_data, path)
    return _BUILT[ctgov_data]
