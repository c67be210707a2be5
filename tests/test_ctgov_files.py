"""Local inputs: v2 files, JSON arrays, bulk ZIPs, v1 JSON, legacy XML, the shared folder."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from ici_atlas.store import db
from ici_atlas.errors import InputError
from ici_atlas.store.ingest import load_files
from ici_atlas.store.runs import query_quarantine
from ici_atlas.sources.ctgov_files import FoundRecord, SkippedFile, read_study_files
from ici_atlas.sources.ctgov_legacy import to_date, to_enum, to_phases
from test_ctgov_api import _studies

VRINDA = "vrinda2019__NSCLCBench/data/ctg-studies.json"
AACT = "ctti-clinicaltrials__aact/spec/support"
URO = "Marc-Morcos__ClinicalTrials-Urology-Database-Word-Counter"


def _one(path: Path, ref_end: str) -> FoundRecord:
    hits = [r for r in read_study_files(path) if isinstance(r, FoundRecord)
            and r.ref.endswith(ref_end)]
    assert len(hits) == 1, [h.ref for h in hits]
    return hits[0]


def test_json_array_download(ctgov_data, db_path):
    with db.connect(db_path) as con:
        result = load_files(con, ctgov_data / VRINDA)
        formats = con.execute("SELECT DISTINCT source_format FROM raw_studies").fetchall()
    # PROVENANCE.md: "a list of 100 v2 studies: Phase 3 NSCLC trials"
    assert result.reported_total == result.stored_total == result.counts.new == 100
    assert formats == [("v2-json",)]


def test_bulk_zip_of_study_files(ctgov_data, tmp_path, db_path):
    files = sorted((ctgov_data / URO / "ctg-studies.json.unzipped").glob("NCT*.json"))[:25]
    archive = tmp_path / "ctg-studies.json.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            zf.write(f, f"ctg-studies/{f.name}")
        zf.write(ctgov_data / URO / "ctg-studies.csv", "ctg-studies.csv")
    with db.connect(db_path) as con:
        result = load_files(con, archive)
        ids = {r[0] for r in con.execute("SELECT nct_id FROM raw_studies").fetchall()}
    assert result.stored_total == 25 and ids == {f.stem for f in files}
    assert result.skipped_files == [
        {"file": "ctg-studies.json.zip!ctg-studies.csv",
         "reason": ".csv table: flattened exports lack the nested study record"}
    ]


def test_v1_full_studies_response_is_converted(ctgov_data):
    rec = _one(ctgov_data / AACT / "json_data", "NCT00023673.json#0")
    ps = rec.study["protocolSection"]
    assert rec.source_format == "v1-json" and rec.nct_id == "NCT00023673"
    # Values as written in the v1 file (Phase 1 + Phase 2, RTOG, Completed, 63 enrolled).
    assert ps["designModule"]["phases"] == ["PHASE1", "PHASE2"]
    assert ps["designModule"]["enrollmentInfo"] == {"count": 63, "type": "ACTUAL"}
    assert ps["statusModule"]["overallStatus"] == "COMPLETED"
    assert ps["statusModule"]["lastUpdatePostDateStruct"]["date"] == "2017-12-22"
    assert ps["sponsorCollaboratorsModule"]["leadSponsor"] == {
        "name": "Radiation Therapy Oncology Group", "class": "NETWORK"}
    kinds = [(i["type"], i["name"]) for i in ps["armsInterventionsModule"]["interventions"]]
    assert kinds[:2] == [("DRUG", "carboplatin"), ("DRUG", "paclitaxel")]
    assert ps["contactsLocationsModule"]["locations"][0]["country"] == "United States"
    assert json.loads(rec.original)["ProtocolSection"]["IdentificationModule"]["NCTId"] == "NCT00023673"


def test_legacy_xml_is_converted(ctgov_data):
    rec = _one(ctgov_data / "hantswilliams__clinicaltrials_trec_2022", "NCT00055497.xml")
    ps = rec.study["protocolSection"]
    # Values as written in NCT00055497.xml (Phase 3, Randomized, placebo arm first).
    assert rec.source_format == "ctgov-xml"
    assert ps["designModule"]["phases"] == ["PHASE3"]
    assert ps["designModule"]["designInfo"]["allocation"] == "RANDOMIZED"
    arms = ps["armsInterventionsModule"]["armGroups"]
    assert arms[0]["type"] == "PLACEBO_COMPARATOR"
    assert arms[0]["interventionNames"] == ["Biological: Double-blind (DB) adalimumab placebo"]
    assert ps["statusModule"]["lastUpdatePostDateStruct"]["date"] == "2011-04-11"
    assert rec.original.lstrip().startswith("<clinical_study>")


def test_legacy_value_mapping():
    assert to_enum("Active, not recruiting") == "ACTIVE_NOT_RECRUITING"
    assert to_enum("Unknown status") == "UNKNOWN"
    assert to_enum("Single Group Assignment") == "SINGLE_GROUP"
    assert to_enum("Double (Participant, Investigator)") == "DOUBLE"
    assert to_phases(["Phase 1/Phase 2"]) == ["PHASE1", "PHASE2"]
    assert to_phases(["N/A"]) == ["NA"] and to_phases(["Early Phase 1"]) == ["EARLY_PHASE1"]
    assert to_date("September 13, 2001") == "2001-09-13" and to_date("July 2001") == "2001-07"
    assert to_date("2024-05") == "2024-05" and to_date("someday") is None


def test_bad_records_are_quarantined_and_the_run_completes(ctgov_data, tmp_path, db_path):
    good = json.loads((ctgov_data / VRINDA).read_text())[:3]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "array.json").write_text(json.dumps(good + [{"hasResults": False}]))
    (tmp_path / "in" / "cut.json").write_text(json.dumps(good[0])[:500])
    no_id = json.loads(json.dumps(good[1]))
    del no_id["protocolSection"]["identificationModule"]["nctId"]
    (tmp_path / "in" / "no_id.json").write_text(json.dumps(no_id))
    with db.connect(db_path) as con:
        result = load_files(con, tmp_path / "in")
        rows = {r["record_ref"]: r for r in query_quarantine(con)}
    assert result.status == "ok" and result.counts.quarantined == 3 and result.stored_total == 3
    assert rows["array.json#3"]["field"] == "protocolSection"
    assert rows["cut.json"]["reason"].startswith("invalid JSON")
    assert rows["no_id.json"]["field"] == "protocolSection.identificationModule.nctId"


def test_duplicate_keeps_the_later_update(ctgov_data, tmp_path, db_path):
    study = json.loads((ctgov_data / VRINDA).read_text())[0]
    older = json.loads(json.dumps(study))
    older["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2000-01-01"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_older.json").write_text(json.dumps(older))
    (tmp_path / "in" / "b_newer.json").write_text(json.dumps(study))
    with db.connect(db_path) as con:
        result = load_files(con, tmp_path / "in")
        kept = con.execute("SELECT last_update_posted FROM raw_studies").fetchone()[0]
    assert (result.reported_total, result.stored_total, result.duplicates) == (2, 1, 1)
    assert kept.isoformat() == study["protocolSection"]["statusModule"][
        "lastUpdatePostDateStruct"]["date"]


def test_whole_shared_folder(ctgov_data, db_path):
    with db.connect(db_path) as con:
        result = load_files(con, ctgov_data)
        stored = {r[0] for r in con.execute("SELECT nct_id FROM raw_studies").fetchall()}
        again = load_files(con, ctgov_data)
        formats = dict(con.execute(
            "SELECT source_format, count(*) FROM raw_studies GROUP BY 1").fetchall())
    c = result.counts
    assert c.stored + c.quarantined + result.duplicates == result.reported_total
    # Every distinct v2 study (PROVENANCE.md: 2,112, read here by the replay's own reader)
    v2_ids = {s["protocolSection"]["identificationModule"]["nctId"]
              for s in _studies(str(ctgov_data))}
    assert len(v2_ids) == 2112 and v2_ids <= stored
    assert set(formats) == {"v2-json", "v1-json", "ctgov-xml"}
    # The only non-study JSON object in the folder is a snapshot named evil_latest.json.
    assert c.quarantined == 1
    reasons = {s["reason"].split(":")[0] for s in result.skipped_files}
    assert ".csv table" in reasons and ".tsv table" in reasons
    assert again.counts.unchanged == c.stored and again.counts.new == again.counts.updated == 0


def test_missing_or_empty_input_is_an_input_error(tmp_path, db_path):
    with db.connect(db_path) as con:
        with pytest.raises(InputError, match="No such file"):
            load_files(con, tmp_path / "nope")
        (tmp_path / "t.csv").write_text("a,b\n1,2\n")
        with pytest.raises(InputError, match="No study records found"):
            load_files(con, tmp_path / "t.csv")


def test_reader_reports_skipped_tables(ctgov_data):
    items = list(read_study_files(ctgov_data / "dgg32__clinical-trials-public"))
    skipped = [i for i in items if isinstance(i, SkippedFile)]
    found = [i for i in items if isinstance(i, FoundRecord)]
    assert [s.ref for s in skipped] == ["SearchResults.tsv"]
    assert len(found) == 61  # PROVENANCE.md: "v2 lists holding 61 records (51 distinct)"
    assert len({f.nct_id for f in found}) == 51
