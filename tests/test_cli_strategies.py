"""``ici-atlas strategies`` (+ show, combinations, coverage, map), ``refs`` and
``figures evidence``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from ici_atlas.analyses import evidence as ev
from ici_atlas.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def store(tmp_path) -> Path:
    """A hand-made classified store: two PD-(L)1 trials giving a VEGF drug, one giving
    relatlimab (derived-table shape of docs/store.md)."""
    from ici_atlas.store import db

    path = tmp_path / "store.duckdb"
    con = db.connect(path)  # an ici-atlas store (schema and version), then hand-made tables
    con.execute("""CREATE TABLE trials (nct_id TEXT, brief_title TEXT, overall_status TEXT,
                   phase_label TEXT, start_year INTEGER, is_pd1_pdl1 BOOLEAN,
                   representative BOOLEAN DEFAULT TRUE)""")
    con.execute("""CREATE TABLE trial_partners (nct_id TEXT, arm_label TEXT, intervention_name TEXT,
                   partner_drug TEXT, partner_class TEXT, matched_term TEXT)""")
    con.execute("CREATE TABLE trial_agents (nct_id TEXT, agent_id TEXT, bispecific BOOLEAN, other_target TEXT)")
    con.executemany("INSERT INTO trials (nct_id, brief_title, overall_status, phase_label, "
                    "start_year, is_pd1_pdl1) VALUES (?, ?, ?, ?, ?, ?)", [
        ("NCT00000011", "Atezolizumab + bevacizumab", "COMPLETED", "Phase 3", 2018, True),
        ("NCT00000012", "Pembrolizumab + lenvatinib", "RECRUITING", "Phase 2", 2021, True),
        ("NCT00000013", "Nivolumab + relatlimab", "RECRUITING", "Phase 1", 2022, True),
    ])
    con.executemany("INSERT INTO trial_partners VALUES (?, ?, ?, ?, ?, ?)", [
        ("NCT00000011", "A", "Bevacizumab", "bevacizumab", "VEGF", "bevacizumab"),
        ("NCT00000012", "A", "Lenvatinib", "lenvatinib", "VEGF", "lenvatinib"),
        ("NCT00000013", "A", "Relatlimab", "relatlimab", "LAG-3", "relatlimab"),
    ])
    con.close()
    return path


def test_strategies_json_lists_every_entry_with_its_fields(tmp_path):
    result = run("strategies", "--json", "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == len(ev.load_strategies().strategies)
    for row in rows:
        assert row["references"] and row["category"] and row["finding"] and "trials" in row
    assert "ici-atlas classify" in result.stderr  # no store: says how to get trial counts


def test_strategies_table_counts_trials_by_highest_phase(store):
    result = run("strategies", "--db", str(store), "--target", "VEGF", "--trials")
    assert result.exit_code == 0
    line = next(l for l in result.stdout.splitlines() if l.startswith("anti-angiogenic-combination"))
    assert "NCT00000011;NCT00000012" in line and "Phase 3" in line
    rows = json.loads(run("strategies", "--db", str(store), "--target", "VEGF", "--json").stdout)
    angio = next(r for r in rows if r["id"] == "anti-angiogenic-combination")
    assert angio["trials"] == 2 and angio["highest_phase"] == "Phase 3"
    assert angio["by_phase"] == {"Phase 3": 1, "Phase 2": 1}


def test_strategies_csv_and_filters(store):
    result = run("strategies", "--db", str(store), "--category", "T-cell", "--evidence", "approved", "--csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in rows] == ["lag3-coblockade"]
    assert rows[0]["trials"] == "1" and rows[0]["by_phase"] == "Phase 1: 1"
    assert rows[0]["references"] == "14;34;120"


def test_phenotype_output_carries_the_research_note(store):
    table = run("strategies", "--db", str(store), "--phenotype", "immune-excluded")
    assert table.exit_code == 0
    assert ev.RESEARCH_NOTE in table.stderr and ev.RESEARCH_NOTE not in table.stdout
    assert "caf-targeting" in table.stdout
    res = run("strategies", "--db", str(store), "--phenotype", "sex", "--format", "json")
    rows = json.loads(res.stdout)  # the same rows as Atlas.strategies(phenotype="sex")
    assert ev.RESEARCH_NOTE in res.stderr and "Basis:" in res.stderr
    assert rows and all(s["references"] for s in rows)
    csv_out = run("strategies", "--db", str(store), "--phenotype", "age", "--csv")
    assert ev.RESEARCH_NOTE in csv_out.stderr


def test_bad_filter_is_a_one_line_error():
    result = run("strategies", "--evidence", "phase 9")
    assert result.exit_code == 2
    assert "Invalid evidence level 'phase 9'" in result.stderr and "Traceback" not in result.output


def test_show_lists_references_and_linked_trials(store):
    result = run("strategies", "show", "lag3-coblockade", "--db", str(store))
    assert result.exit_code == 0
    assert "Tawbi HA et al. N Engl J Med 2022" in result.stdout and "NCT00000013" in result.stdout
    data = json.loads(run("strategies", "show", "cxcr4-antagonist", "--json", "--db", str(store)).stdout)
    assert data["reference_details"][0]["ref"] == 73 and data["linked_trials"] == []
    assert run("strategies", "show", "nope").exit_code == 2


def test_combinations_and_coverage(store):
    combos = json.loads(run("strategies", "combinations", "--json", "--db", str(store)).stdout)
    assert {c["outcome"] for c in combos} == {"success", "mixed", "failure", "safety concern"}
    coverage = run("strategies", "coverage", "--missing", "--json")
    assert [r["ref"] for r in json.loads(coverage.stdout)] == [21, 22, 23, 24]
    assert "139 of 143 cited references used" in coverage.stderr


def test_refs_json_bibtex_and_ris():
    rows = json.loads(run("refs", "--json").stdout)
    assert [r["number"] for r in rows] == list(range(1, 163))
    assert rows[56]["authors"][0] == "Ribas A" and rows[56]["journal"] == "Cancer Discov"
    bib = run("refs", "57", "61", "--bibtex").stdout
    assert bib.count("@article{") == 2 and "ref57" in bib and "ref61" in bib
    ris = run("refs", "57", "--ris").stdout
    assert ris.startswith("TY  - JOUR") and "ER  - " in ris
    assert run("refs", "200").exit_code == 2
    assert run("refs", "1", "--bibtex", "--json").exit_code == 2


def test_evidence_map_is_written(store, tmp_path):
    out = tmp_path / "figs"
    result = run("figures", "evidence", "--out", str(out), "--db", str(store))
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["evidence_map.png", "evidence_map.svg"]
    rows = json.loads(run("strategies", "map", "--rows", "--json", "--db", str(store)).stdout)
    assert {r["id"] for r in rows if r["translation_gap"]} >= {"ferroptosis-inducers"}
