"""Loading and classifying in one pass gives the same store as `fetch --from` + `classify`."""

from __future__ import annotations

import pytest

from ici_atlas.store import db, ingest
from ici_atlas.concepts.classify import DERIVED_TABLES, classify_store
from ici_atlas.concepts.pipeline import load_and_classify_files

# Real folders with what the one-pass path must handle: the TIGIT watch list (many
# PD-(L)1 trials), and dgg32 (61 records of 51 studies: duplicates inside one input).
FOLDERS = ("partrita__clinicaltrial-watch-tigit", "dgg32__clinical-trials-public")


def _tables(con) -> dict[str, list[tuple]]:
    return {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in DERIVED_TABLES}


@pytest.fixture(scope="module")
def two_stores(ctgov_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    two_step = db.connect(tmp / "two_step.duckdb")
    one_pass = db.connect(tmp / "one_pass.duckdb")
    for i, folder in enumerate(FOLDERS):
        ingest.load_files(two_step, ctgov_data / folder)
        report_two = classify_store(two_step)
        loaded, report_one = load_and_classify_files(one_pass, ctgov_data / folder, workers=1)
        assert loaded.counts.stored > 0
    yield two_step, one_pass, report_two, report_one
    two_step.close()
    one_pass.close()


def test_same_derived_tables_row_for_row(two_stores):
    two_step, one_pass, _, _ = two_stores
    assert _tables(one_pass) == _tables(two_step)


def test_same_counts_and_runs(two_stores):
    two_step, one_pass, report_two, report_one = two_stores
    assert (report_one.trials, report_one.pd1_trials, report_one.raw_records) == (
        report_two.trials, report_two.pd1_trials, report_two.raw_records)
    kinds = [r[0] for r in one_pass.execute("SELECT kind FROM runs ORDER BY run_id").fetchall()]
    assert kinds == ["load", "classify", "load", "classify"]
    statuses = {r[0] for r in one_pass.execute("SELECT status FROM runs").fetchall()}
    assert statuses == {"ok"}


def test_second_load_keeps_studies_of_the_first(two_stores):
    # the second folder's run must still classify the first folder's studies (from the store)
    _, one_pass, _, report_one = two_stores
    stored = one_pass.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
    assert report_one.trials == stored == one_pass.execute("SELECT count(*) FROM trials").fetchone()[0]


def test_fetch_from_with_classify_flag(ctgov_data, tmp_path):
    from click.testing import CliRunner

    from ici_atlas.cli import cli

    store = tmp_path / "cli.duckdb"
    folder = ctgov_data / "vrinda2019__NSCLCBench"
    result = CliRunner().invoke(cli, ["fetch", "--db", str(store), "--from", str(folder), "--classify"])
    assert result.exit_code == 0, result.output
    assert "classified 100 of 100 stored studies" in result.output
    shown = CliRunner().invoke(cli, ["trial", "NCT05078931", "--db", str(store)])  # pembrolizumab + lenvatinib
    assert shown.exit_code == 0 and "PD-1/PD-L1 trial: yes" in shown.output
    wrong = CliRunner().invoke(cli, ["fetch", "--db", str(store), "--classify"])
    assert wrong.exit_code == 2 and "--from" in wrong.output


class _DiesInTheWorker:
    """Classifiers that kill the worker process that receives them (as a crash would)."""

    def __reduce__(self):
        import os

        return (os._exit, (3,))


def test_a_worker_that_dies_is_an_error_not_a_hang(ctgov_data, tmp_path):
    """Before: a worker that died left the pool waiting for its result for ever."""
    from ici_atlas.concepts.pipeline import load_and_classify_files
    from ici_atlas.concepts.workers import WorkerError
    from ici_atlas.store import db

    with db.connect(tmp_path / "s.duckdb") as con:
        with pytest.raises(WorkerError, match="a worker process died"):
            load_and_classify_files(con, ctgov_data / "vrinda2019__NSCLCBench", workers=2,
                                    classifiers=_DiesInTheWorker())
        status = con.execute("SELECT status FROM runs WHERE kind = 'load'").fetchone()[0]
    assert status == "failed"
