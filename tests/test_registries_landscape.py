"""Other registries in the store and the landscape: loaded beside ClinicalTrials.gov records
(each format recognised, bad entries quarantined, counts reconciled), classified with the
same classifiers, grouped into trials, and counted once in the union or per registry in the
CLI, the API, the report and the dashboard.

Data: ``../shared/data/registries`` (PROVENANCE.md there): WHO ICTRP XML and CSV exports,
ctrdata's CTIS/EUCTR/ISRCTN records, EUCTR's text download with two injected errors, and a
ChiCTR page (SUNRAY-01, pembrolizumab).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from ici_atlas import Atlas
from ici_atlas.cli import cli
from ici_atlas.store.db import open_store


@pytest.fixture(scope="module")
def store(registries, ctgov_data, tmp_path_factory):
    """Registry exports and a ClinicalTrials.gov subset (NSCLCBench) in one store."""
    path = tmp_path_factory.mktemp("reg") / "s.duckdb"
    atlas = Atlas(path)
    first = atlas.load(registries)
    second = atlas.load(ctgov_data / "vrinda2019__NSCLCBench")
    return path, first, second


def test_every_format_loads_bad_entries_quarantined_counts_reconciled(store):
    path, first, _ = store
    reg = first.registry
    assert reg is not None and reg.found == reg.stored + reg.quarantined + reg.duplicates
    assert {"CHICTR", "EUCTR", "CTIS", "ISRCTN", "CTGOV"} <= set(reg.by_registry)
    with open_store(path, read_only=True) as con:
        bad = con.execute("SELECT record_ref, field FROM quarantine WHERE run_id = ?",
                          [reg.run_id]).fetchall()
        formats = {r[0] for r in con.execute(
            "SELECT DISTINCT source_format FROM registrations").fetchall()}
    # the EUCTR text download's two injected JSON_ERROR_HERE tokens (PROVENANCE.md)
    assert sorted(f.split()[0] for _, f in bad) == ["A.7", "A.8"]
    assert all("test_error_trials_euctr.txt" in ref for ref, _ in bad)
    assert {"ictrp-xml", "ictrp-csv", "euctr-text", "chictr-html"} <= formats


def test_sunray01_is_a_pembrolizumab_phase3_nsclc_trial_in_the_landscape(store):
    path, _, _ = store
    trial = Atlas(path).trial("ChiCTR2400084905")
    assert trial["registry"] == "CHICTR" and trial["is_pd1_pdl1"]
    assert trial["agents"] == ["pembrolizumab"] and trial["phase_label"] == "Phase 3"
    assert "NSCLC" in trial["cancer_groups"]


def test_registrations_of_one_trial_share_a_key_and_count_once(store):
    path, _, _ = store
    df = Atlas(path).registrations()
    assert {"registry", "trial_id", "trial_key", "link_basis"} <= set(df.columns)
    by_id = df.set_index("trial_id")
    # ISRCTN80181452 names NCT01035190 in a structured field; both records are present
    assert by_id.loc["ISRCTN80181452", "trial_key"] == by_id.loc["NCT01035190", "trial_key"] \
        == "NCT01035190"
    assert by_id.loc["ISRCTN80181452", "link_basis"].startswith("secondary-id:")
    assert by_id.loc["NCT01035190", "representative"] and not by_id.loc["ISRCTN80181452",
                                                                         "representative"]
    # NPC-Nivo: its RFI text names NCT05253495 and NCT04759586, which are other trials
    assert by_id.loc["CTIS2022-500676-59-00", "trial_key"] == "CTIS2022-500676-59-00"
    # one representative per trial key
    reps = df[df["representative"]]
    assert reps["trial_key"].is_unique and set(reps["trial_key"]) == set(df["trial_key"])


def test_the_union_counts_each_trial_once_and_a_registry_its_own(store):
    path, _, _ = store
    atlas = Atlas(path)
    table = atlas.landscape("registries").set_index("registry")
    with open_store(path, read_only=True) as con:
        keys = con.execute("SELECT count(DISTINCT trial_key) FROM trials WHERE is_pd1_pdl1 "
                           "AND representative").fetchone()[0]
        chictr = con.execute("SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND "
                             "registry = 'CHICTR'").fetchone()[0]
    assert table.loc["union", "trials_in_union"] == atlas.landscape_total() == keys
    assert atlas.landscape_total(registry="CHICTR") == chictr == table.loc["CHICTR",
                                                                            "registrations"]
    assert int(atlas.landscape("phases", registry="chictr")["trials"].sum()) == chictr


def test_cli_export_and_landscape_registry_option(store):
    path, _, _ = store
    runner = CliRunner()
    res = runner.invoke(cli, ["export", "registrations", "--db", str(path), "--registry",
                              "EUCTR"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and {r["registry"] for r in rows} == {"EUCTR"}
    assert {"registry", "trial_id", "trial_key", "link_basis"} <= set(rows[0])
    res = runner.invoke(cli, ["landscape", "phases", "--db", str(path), "--registry", "CHICTR",
                              "-f", "json"])
    assert res.exit_code == 0 and sum(r["trials"] for r in json.loads(res.stdout)) >= 1
    res = runner.invoke(cli, ["landscape", "phases", "--db", str(path), "--registry", "CHICTX"])
    assert res.exit_code == 2 and "did you mean 'CHICTR'" in res.output


def test_dashboard_and_report_show_the_registries(store, tmp_path):
    import httpx

    from ici_atlas.web import start_in_thread

    path, _, _ = store
    url, stop = start_in_thread(path, "127.0.0.1", 0)
    try:
        overview = httpx.get(f"{url}/index.json", timeout=60).json()
        chictr = httpx.get(f"{url}/trials.json?registry=CHICTR&scope=all", timeout=60).json()
    finally:
        stop()
    names = [r["registry"] for r in overview["registries"]]
    assert "CHICTR" in names and names[-1] == "union"
    assert chictr["total"] > 0 and all(r["nct_id"].startswith("ChiCTR") for r in chictr["rows"])
    result = Atlas(path).report(tmp_path / "r", formats=("png",))
    html = result.index.read_text(encoding="utf-8")
    assert "Registries: " in html and "counts once" in html


def test_a_folder_of_only_unreadable_files_is_still_one_clear_error(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.csv").write_text("a,b\n1,2\n")
    res = CliRunner().invoke(cli, ["fetch", "--from", str(tmp_path / "in"), "--db",
                                   str(tmp_path / "s.duckdb")])
    assert res.exit_code == 2 and "No study records found" in res.stderr
