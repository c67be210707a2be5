"""The classify pipeline over a store: tables, determinism, bad records, the CLI."""

import json

import duckdb
import pytest
from click.testing import CliRunner

from ici_atlas.store import db
from ici_atlas.analyses.trials import query_trial
from ici_atlas.cli.classify import EXPORT_COLUMNS
from ici_atlas.concepts.classify import DERIVED_TABLES, classify_store
from ici_atlas.cli import cli
from ici_atlas.errors import InputError, StoreError

from _trial_records import insert_labelled, insert_raw

# Columns fixed by docs/store.md (helper D's analyses read these names).
STORE_COLUMNS = {
    "trials": ["nct_id", "brief_title", "official_title", "acronym", "overall_status",
               "study_type", "phases", "phase_label", "start_date", "start_year",
               "first_posted", "last_update_posted", "lead_sponsor", "sponsor_class",
               "enrollment", "has_results", "is_pd1_pdl1", "agents", "target_class",
               "bispecific", "bispecific_other_target", "monotherapy_arm", "partner_classes",
               "cancer_groups", "oncotree_codes", "line_of_therapy", "setting", "countries"],
    "trial_agents": ["nct_id", "agent_id", "target_class", "bispecific", "other_target",
                     "intervention_name", "matched_term", "matched_field"],
    "trial_arms": ["nct_id", "arm_label", "arm_type", "pd1_agents", "partner_classes",
                   "other_drugs", "is_pd1_monotherapy"],
    "trial_partners": ["nct_id", "arm_label", "intervention_name", "partner_drug",
                       "partner_class", "matched_term"],
    "trial_cancers": ["nct_id", "cancer_group", "oncotree_code", "matched_text", "rule"],
    "trial_countries": ["nct_id", "country"],
}
SAMPLE = ["NCT00457457", "NCT02381314", "NCT03486119", "NCT04294810", "NCT04646330",
          "NCT05665595", "NCT06328036", "NCT07050056"]


@pytest.fixture()
def store(db_path, ctgov_data):
    con = db.connect(db_path)
    insert_labelled(con, ctgov_data, SAMPLE)
    yield con
    con.close()


def _snapshot(con):
    return {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in DERIVED_TABLES}


def test_tables_have_the_store_md_columns(store):
    report = classify_store(store)
    assert report.trials == len(SAMPLE) and report.quarantined == 0
    for table, columns in STORE_COLUMNS.items():
        have = [r[0] for r in store.execute(f"DESCRIBE {table}").fetchall()]
        assert have[:len(columns)] == columns or set(columns) <= set(have), table
    ids = [r[0] for r in store.execute("SELECT nct_id FROM trials").fetchall()]
    assert ids == sorted(SAMPLE)
    run = store.execute("SELECT kind, status, stored_total FROM runs WHERE run_id = ?",
                        [report.run_id]).fetchone()
    assert run == ("classify", "ok", len(SAMPLE))


def test_classify_twice_gives_identical_tables(store):
    classify_store(store)
    first = _snapshot(store)
    classify_store(store, jobs=2)  # worker processes must not change the result
    assert _snapshot(store) == first


def test_no_raw_records_is_a_clear_error(db_path):
    con = db.connect(db_path)
    with pytest.raises(InputError, match="No raw study records"):
        classify_store(con)
    con.close()


def test_bad_json_is_quarantined_and_the_rest_continue(store):
    insert_raw(store, [("NCT99999991", '{"protocolSection": {'),
                       ("NCT99999992", '{"studies": []}')])
    report = classify_store(store)
    assert report.trials == len(SAMPLE) and report.quarantined == 2
    fields = dict((n, f) for n, f, _ in report.problems)
    assert fields == {"NCT99999991": "json", "NCT99999992": "protocolSection"}
    q = store.execute("SELECT record_ref, field FROM quarantine WHERE run_id = ? ORDER BY 1",
                      [report.run_id]).fetchall()
    assert q == [("NCT99999991", "json"), ("NCT99999992", "protocolSection")]
    with pytest.raises(InputError, match="quarantined"):
        query_trial(store, "NCT99999991")


def test_unreadable_stored_value_is_quarantined_and_the_rest_continue(store):
    insert_raw(store, [("NCT99999993", '{"protocolSection": {}}')])
    store.execute("UPDATE raw_studies SET json_zstd = 'not zstd'::BLOB WHERE nct_id = 'NCT99999993'")
    report = classify_store(store)
    assert report.trials == len(SAMPLE) and report.quarantined == 1
    assert [(n, f) for n, f, _ in report.problems] == [("NCT99999993", "json_zstd")]
    assert "Zstandard" in report.problems[0][2]


def test_query_trial_before_classify(db_path):
    con = db.connect(db_path)
    with pytest.raises(StoreError, match="no classified trials") as err:
        query_trial(con, "NCT04294810")
    assert "ici-atlas classify" in err.value.fix
    con.close()


def test_cli_classify_trial_and_export(store, db_path, tmp_path):
    store.close()
    runner = CliRunner()
    r = runner.invoke(cli, ["classify", "--db", str(db_path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["trials"] == len(SAMPLE)

    r = runner.invoke(cli, ["trial", "NCT04294810", "--db", str(db_path)])
    assert r.exit_code == 0 and "agents: atezolizumab" in r.stdout
    assert "'atezolizumab' in interventions.name" in r.stdout
    r = runner.invoke(cli, ["trial", "nct04294810", "--db", str(db_path), "--json"])
    payload = json.loads(r.stdout)
    assert payload["partner_classes"] == ["TIGIT"] and payload["explain"]["agents"]

    r = runner.invoke(cli, ["trial", "NCT00000000", "--db", str(db_path)])
    assert r.exit_code == 2 and "not in the store" in r.output

    r = runner.invoke(cli, ["export", "trials", "--db", str(db_path), "--format", "tsv"])
    lines = r.stdout.splitlines()
    assert lines[0].split("\t") == list(EXPORT_COLUMNS) and len(lines) == 1 + len(SAMPLE)
    row = dict(zip(EXPORT_COLUMNS, next(l for l in lines if l.startswith("NCT04646330")).split("\t")))
    assert row["is_pd1_pdl1"] == "yes" and row["agents"] == "cadonilimab"
    assert row["bispecific"] == "yes" and row["phase"] == "Phase 1/2"  # the Figure 2A label (API names: --all-columns "phases")

    r = runner.invoke(cli, ["export", "trials", "--db", str(db_path), "--format", "json",
                            "--pd1-only"])
    rows = json.loads(r.stdout)
    assert rows and all(x["is_pd1_pdl1"] is True for x in rows)  # JSON has real booleans
    assert "NCT00457457" not in {x["nct_id"] for x in rows}

    out = tmp_path / "trials.parquet"
    r = runner.invoke(cli, ["export", "trials", "--db", str(db_path), "--format", "parquet",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    n = duckdb.connect().execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]
    assert n == len(SAMPLE)

    r = runner.invoke(cli, ["export", "trials", "--db", str(db_path), "--format", "parquet"])
    assert r.exit_code == 2 and "--out" in r.output
