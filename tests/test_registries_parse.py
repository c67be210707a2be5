"""Registries other than ClinicalTrials.gov: parsing the real shared records.

Data: ``$ICI_ATLAS_SHARED_DATA/registries`` (see its PROVENANCE.md): WHO ICTRP exports
(XML and CSV), ctrdata's decoded EUCTR/CTIS/ISRCTN JSON, the EUCTR text download with two
injected errors, a ChiCTR detail page.
"""

from __future__ import annotations

import collections
import copy
import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ici_atlas.concepts.study import Study
from ici_atlas.concepts.trial import classify_study
from ici_atlas.sources.ctgov_files import SkippedFile
from ici_atlas.sources.registries import (BadRecord, Registration, detect_format,
                                          read_registry_files, read_registry_source)
from ici_atlas.sources.registries.euctr import (euctr_row_from_ctrdata, merge_member_states,
                                                read_euctr_text_rows)
from ici_atlas.sources.registries.model import classify_id, to_iso_date
from ici_atlas.sources.registries.phases import phases_from_text, status_from_text

CTRDATA = "rfhb+ctrdata"
DECODED = f"{CTRDATA}/decoded"
ERROR_TXT = f"{CTRDATA}/inst/tinytest/test_error_trials_euctr.txt"
COVID = "ebmdatalab+covid_trials_tracker-covid/notebooks"
ICTRP_CSV = f"{COVID}/archived_raw_data/COVID19-1135-trials.csv"
ICTRP_XML = f"{COVID}/archived_raw_data/ICTRP-Results_18Mar2020.xml"
CHICTR = "PancrePal-xiaoyibao+chictr-mcp-server/dev"
SUNRAY = f"{CHICTR}/response_single_query.json"


@pytest.fixture(scope="module")
def everything(registries) -> dict[str, list]:
    """Every item read from the shared registries folder, by file."""
    by_file: dict[str, list] = collections.defaultdict(list)
    for item in read_registry_files(registries):
        by_file[item.ref.split("#")[0]].append(item)
    return by_file


def _regs(items) -> list[Registration]:
    return [i for i in items if isinstance(i, Registration)]


def _read(registries: Path, rel: str) -> list:
    path = registries / rel
    return list(read_registry_source(rel, path.name, path.read_bytes()))


def _one(items, registry: str, trial_id: str) -> Registration:
    hits = [r for r in _regs(items) if (r.registry, r.trial_id) == (registry, trial_id)]
    assert len(hits) == 1, hits
    return hits[0]


# --- formats and counts per file ---------------------------------------------------------

def test_formats_detected_from_content(registries):
    assert detect_format(registries / ICTRP_CSV) == "ictrp-csv"
    assert detect_format(registries / ICTRP_XML) == "ictrp-xml"
    assert detect_format(registries / ERROR_TXT) == "euctr-text"
    assert detect_format(registries / SUNRAY) == "chictr-html"  # HTML despite .json
    for name in ("demo.json", "demo@1f22b10a.json", "demo@b195accc.json", "demo@f238e723.json"):
        assert detect_format(registries / DECODED / name) == "ctrdata-json"
    assert detect_format(registries / CHICTR / "response_general_query.json") is None  # search page
    assert detect_format(registries / COVID / "processed_data_sets/trial_list_2020-12-16.csv") is None
    assert detect_format(registries / f"{CTRDATA}/inst/extdata/demo.sqlite") is None


def test_counts_per_file(registries, everything):
    # ICTRP CSV: every row of the file is a registration (found = parsed + bad)
    with open(registries / ICTRP_CSV, newline="", encoding="utf-8") as fh:
        rows = sum(1 for _ in csv.DictReader(fh))
    items = everything[ICTRP_CSV]
    assert rows == 1135 == len(_regs(items)) + sum(isinstance(i, BadRecord) for i in items)
    assert not [i for i in items if isinstance(i, BadRecord)]
    # ICTRP XML
    trials = len(ET.parse(registries / ICTRP_XML).getroot().findall("Trial"))
    assert trials == 578 == len(_regs(everything[ICTRP_XML]))
    # ctrdata: one registration per record, EUCTR member-state rows merged per file
    expected = {"demo.json": 25, "demo@1f22b10a.json": 26, "demo@b195accc.json": 26,
                "demo@f238e723.json": 45}
    for name, n in expected.items():
        items = everything[f"{DECODED}/{name}"]
        assert len(_regs(items)) == n and not [i for i in items if isinstance(i, BadRecord)]
    assert [r.trial_id for r in _regs(everything[SUNRAY])] == ["ChiCTR2400084905"]
    skipped = {i.ref for items in everything.values() for i in items if isinstance(i, SkippedFile)}
    assert f"{CHICTR}/response_general_query.json" in skipped


def test_ictrp_csv_registers_are_the_real_ones(everything):
    regs = _regs(everything[ICTRP_CSV])
    # PROVENANCE.md: ChiCTR 602, CT.gov 438, EUCTR 42, ANZCTR 13, ISRCTN 12, NTR 12, IRCT 8,
    # JPRN 5, TCTR 2, DRKS 1
    assert collections.Counter(r.registry for r in regs) == {
        "CHICTR": 602, "CTGOV": 438, "EUCTR": 42, "ANZCTR": 13, "ISRCTN": 12, "NTR": 12,
        "IRCT": 8, "JPRN": 5, "TCTR": 2, "DRKS": 1}
    euctr = _one(regs, "EUCTR", "2020-001373-70")          # TrialID EUCTR2020-001373-70-FR
    assert euctr.member_states == ["FR"] and euctr.phases == ["PHASE2"]
    assert "NIVOLUMAB" in [iv["name"] for iv in euctr.interventions]
    assert euctr.status is None and euctr.status_text == "Authorised"
    assert (euctr.registration_date, euctr.start_date) == ("2020-03-29", "2020-04-01")
    jprn = _one(regs, "JPRN", "jRCTs031190227")             # TrialID JPRN-jRCTs031190227
    assert jprn.phases == ["PHASE2"]
    assert not any(r.secondary_ids for r in regs)          # the 2020 exports have none


def test_ictrp_xml_chictr_groups(everything):
    regs = _regs(everything[ICTRP_XML])
    trial = _one(regs, "CHICTR", "ChiCTR2000029806")
    assert [a["label"] for a in trial.arms] == [
        "Thymosin treatment group", "PD-1 treatment group", "Conventional treatment group"]
    assert any("Camrelizumab" in iv["name"] for iv in trial.interventions)
    assert trial.enrollment == 120 and trial.phases == ["NA"]      # Target_size 3 x 40
    nct = _one(regs, "CTGOV", "NCT04268537")
    assert nct.registration_date == "2020-02-08"   # "08/02/2020" = Date_registration3 20200208
    assert nct.start_date == "2020-02-10" and nct.phases == ["PHASE2"]


# --- EUCTR: member-state rows, injected errors, placeholders ------------------------------

def test_euctr_error_file_two_bad_rows_two_trials(registries, everything):
    rows = list(read_euctr_text_rows(ERROR_TXT, (registries / ERROR_TXT).read_bytes()))
    bad = [r for r in rows if isinstance(r, BadRecord)]
    assert len(rows) == 10 and len(bad) == 2 and len(_regs(rows)) == 8
    assert [(b.ref, b.field) for b in bad] == [
        (f"{ERROR_TXT}#0", "A.7 Trial is part of a Paediatric Investigation Plan"),
        (f"{ERROR_TXT}#3", "A.8 EMA Decision number of Paediatric Investigation Plan")]
    assert all("JSON_ERROR_HERE" in b.reason for b in bad)
    trials = _regs(everything[ERROR_TXT])
    assert {(t.trial_id, tuple(t.member_states)) for t in trials} == {
        ("2022-002568-62", ("SE",)), ("2021-002179-21", ("ES", "GR", "PL", "PT", "HU"))}
    masitinib = _one(trials, "EUCTR", "2021-002179-21")
    assert masitinib.phases == ["PHASE3"] and masitinib.enrollment == 600
    assert "Masitinib" in [iv["name"] for iv in masitinib.interventions]


def test_ctrdata_euctr_rows_collapse_to_seven_trials(registries):
    rows = {}
    for path in sorted((registries / DECODED).glob("*.json")):
        for key, record in json.loads(path.read_text()).items():
            if isinstance(record, dict) and record.get("ctrname") == "EUCTR":
                rows.setdefault(key, euctr_row_from_ctrdata(key, record, f"{path.name}#{key}"))
    assert len(rows) == 23
    assert all(isinstance(r, Registration) for r in rows.values())
    trials = {t.trial_id: t for t in merge_member_states(list(rows.values()))}
    assert len(trials) == 7
    assert len(trials["2012-003632-23"].member_states) == 7
    assert "3RD" in trials["2014-002606-20"].member_states
    assert len(trials["2014-002606-20"].member_states) == 7
    assert trials["2012-003632-23"].status == "COMPLETED"  # results: global end reached
    assert trials["2012-003632-23"].phases == ["PHASE2", "PHASE3"]
    # member-state records disagree (IT: phase II, 3RD: phase IV, 5 others: phase III)
    assert trials["2014-002606-20"].phases == ["PHASE3"]
    assert any("disagree on the phase" in w for w in trials["2014-002606-20"].warnings)


def test_placeholder_ids_are_not_links(registries, everything):
    trial = _one(everything[f"{DECODED}/demo@1f22b10a.json"], "EUCTR", "2014-003556-31")
    ids = {i for _, i in trial.secondary_ids}
    assert not ids & {"NCT00000000", "ISRCTN00000000", "U0000-0000-0000"}
    assert any("placeholder ID NCT00000000 ignored" in w for w in trial.warnings)
    assert ("CTGOV", "NCT02386839") in trial.secondary_ids    # results usctnIdentifier


# --- CTIS: both API shapes; free text is never a link ---------------------------------------

def test_npc_nivo_links_only_structured_ids(everything):
    npc = _one(everything[f"{DECODED}/demo@1f22b10a.json"], "CTIS", "2022-500676-59-00")
    assert npc.acronym == "NPC-Nivo" and npc.phases == ["PHASE2"]
    assert "NIVOLUMAB" in [iv["name"] for iv in npc.interventions]
    # The record's only structured link is DRKS00027098. The RFI free text names
    # NCT05253495, NCT04759586 (other trials) and the EudraCT number 2021-006477-32 (no
    # eudraCtInfo in this record): none of them is a link.
    assert npc.secondary_ids == [("DRKS", "DRKS00027098")]
    for text in ("NCT05253495", "NCT04759586", "2021-006477-32"):
        assert text in npc.raw


def test_ctis_new_api_shape(everything):
    trial = _one(everything[f"{DECODED}/demo.json"], "CTIS", "2024-510663-34-00")
    assert trial.status == "RECRUITING" and trial.status_text == "Ongoing, recruiting"  # code 4
    assert trial.start_date == "2021-01-29"                    # startDateEU 29/01/2021
    assert trial.secondary_ids == [("EUCTR", "2019-001588-63"), ("CTGOV", "NCT04494412")]
    assert trial.secondary_id_fields[("EUCTR", "2019-001588-63")] == \
        "authorizedApplication.eudraCt.eudraCtCode"
    assert trial.countries == ["Spain", "Italy"] and trial.phases == ["PHASE2"]


def test_isrctn_external_refs(everything):
    trial = _one(everything[f"{DECODED}/demo@f238e723.json"], "ISRCTN", "ISRCTN80181452")
    assert trial.secondary_ids == [("CTGOV", "NCT01035190")]
    assert trial.phases == ["PHASE3"] and trial.start_date == "2010-04-01"
    assert trial.enrollment == 850 and "Germany" in trial.countries


# --- ChiCTR: SUNRAY-01 -------------------------------------------------------------------

def test_sunray01_chictr_page(everything):
    sunray = _one(everything[SUNRAY], "CHICTR", "ChiCTR2400084905")
    assert sunray.title.startswith("SUNRAY-01")
    assert any("pembrolizumab" in iv["name"].lower() for iv in sunray.interventions)
    assert sunray.phases == ["PHASE3"] and sunray.phase_text == "3"
    assert sunray.status == "NOT_YET_RECRUITING"
    assert (sunray.registration_date, sunray.start_date) == ("2024-05-28", "2024-06-01")
    assert sunray.enrollment == 936                    # groups of 192 + 192 + 276 + 276
    assert sunray.countries == ["China"] and sunray.secondary_ids == []  # partner field empty


def test_v2_shape_is_what_the_classifiers_read(everything):
    sunray = _one(everything[SUNRAY], "CHICTR", "ChiCTR2400084905")
    v2 = sunray.to_v2()
    ident = v2["protocolSection"]["identificationModule"]
    assert "nctId" not in ident
    assert ident["registryId"] == ident["orgStudyIdInfo"]["id"] == "ChiCTR2400084905"
    study = Study(v2)
    assert study.phases == ("PHASE3",) and study.countries == ("China",)
    assert study.first_posted.isoformat() == "2024-05-28"
    # classify_study keys trials by NCT ID; given one, it reads the record as a PD-1 trial
    keyed = copy.deepcopy(v2)
    keyed["protocolSection"]["identificationModule"]["nctId"] = "NCT99999999"
    trial = classify_study(keyed).trial
    assert trial["is_pd1_pdl1"] and trial["agents"] == ["pembrolizumab"]
    assert trial["phase_label"] == "Phase 3"


# --- vocabularies ------------------------------------------------------------------------

@pytest.mark.parametrize("text, phases", [
    ("Therapeutic exploratory (Phase II)", ["PHASE2"]),
    ("Human pharmacology (Phase I)", ["PHASE1"]),
    ("Therapeutic confirmatory  (Phase III)", ["PHASE3"]),
    ("Therapeutic use (Phase IV)", ["PHASE4"]),
    ("Phase I and Phase II (Integrated)- Other", ["PHASE1", "PHASE2"]),
    ("Phase 2/Phase 3", ["PHASE2", "PHASE3"]),
    ("Phase 1 / Phase 2", ["PHASE1", "PHASE2"]),
    ("Early Phase 1", ["EARLY_PHASE1"]),
    ("Phase I/II", ["PHASE1", "PHASE2"]),
    ("Phase II/III", ["PHASE2", "PHASE3"]),
    ("2-3", ["PHASE2", "PHASE3"]),
    ("1-2", ["PHASE1", "PHASE2"]),
    ("4", ["PHASE4"]),
    ("0", ["EARLY_PHASE1"]),
    ("New Treatment Measure Clinical Study", ["NA"]),
    ("Retrospective study", ["NA"]),
    ("N/A", ["NA"]),
    ("Not Applicable", ["NA"]),
    ("III期临床试验", ["PHASE3"]),
    ("Not Specified", []),
    ("Other", []),
    ("", []),
])
def test_phase_wording(text, phases):
    assert phases_from_text(text) == phases


def test_status_and_ids_and_dates():
    assert status_from_text("Not recruiting") is None      # ICTRP: not-yet, active or done
    assert status_from_text("Prematurely Ended") == "TERMINATED"
    assert status_from_text("Ongoing") is None
    assert classify_id("EUCTR2014-002606-20-3RD") == ("EUCTR", "2014-002606-20")
    assert classify_id("2022-500676-59-00") == ("CTIS", "2022-500676-59-00")
    assert classify_id("US IND 111015") is None
    assert to_iso_date("April 2020") == "2020-04" and to_iso_date("08/02/2020") == "2020-02-08"


# --- bad input ----------------------------------------------------------------------------

def test_bad_records_never_stop_the_rest(tmp_path):
    header = "TrialID,Public title,Source Register,Phase,Date registration3\n"
    (tmp_path / "ictrp.csv").write_text(
        header + ",no id here,ChiCTR,0,20200101\nChiCTR2000029806,ok,ChiCTR,0,20200214\n")
    (tmp_path / "broken.json").write_text('{"2022-500676-59-00": {"ctrname": "CTIS",')
    (tmp_path / "ctrdata.json").write_text(json.dumps({
        "meta-info": {},
        "X": {"ctrname": "CTIS", "ctNumber": "not a number"},
        "2024-510663-34-00": {"ctrname": "CTIS", "ctNumber": "2024-510663-34-00",
                              "trialPhase": "Therapeutic use (Phase IV)"},
        "NCT1": {"ctrname": "CTGOV2", "protocolSection": {}},
    }))
    items = list(read_registry_files(tmp_path))
    bad = {(b.ref, b.field) for b in items if isinstance(b, BadRecord)}
    assert bad == {("ictrp.csv#0", "TrialID"), ("broken.json", "file"),
                   ("ctrdata.json#X", "ctNumber"), ("ctrdata.json#NCT1", "record")}
    assert {(r.registry, r.trial_id) for r in _regs(items)} == {
        ("CHICTR", "ChiCTR2000029806"), ("CTIS", "2024-510663-34-00")}
