"""The curated approval events (ici_atlas/data/approval_events.tsv) and the counts derived
from them (review Figure 3 and the "Approval of anti-PD-1/PD-L1 drugs" section)."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest

from conftest import skip_or_fail
from ici_atlas.analyses import approvals as ap
from ici_atlas.errors import InputError, VocabularyError
from ici_atlas.vocab import load_agents

TSV = ap.default_path()


@pytest.fixture(scope="module")
def events():
    return ap.load_approval_events()


def _raw_rows():
    lines = [ln for ln in TSV.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


# --------------------------------------------------------------------------- the data file

def test_file_has_the_documented_columns():
    assert tuple(_raw_rows()[0].keys()) == ap.COLUMNS


def test_every_row_has_a_source(events):
    for e in events:
        assert e.sources, e.event_id
        for source in e.sources:
            # a URL, or a named document (Drugs@FDA application, MOAlmanac indication, article)
            assert source.startswith("http") or any(
                key in source for key in ("Drugs@FDA", "MOAlmanac ind:", "Cancer Drug Resist.",
                                          "Drugs 20", "manually_curated_data.csv")
            ), (e.event_id, source)


def test_every_date_parses_and_is_not_in_the_future(events):
    for row in _raw_rows():
        parsed = ap.PartialDate.parse(row["date"])
        assert str(parsed) == row["date"], row["event_id"]
        assert date(parsed.year, parsed.month or 1, parsed.day or 1) <= date.today()


def test_every_agent_exists_in_the_shared_agent_vocabulary():
    ids = {a.agent_id for a in load_agents()}
    missing = sorted({r["agent"] for r in _raw_rows()} - ids)
    assert not missing, f"agents missing from ici_atlas/vocab/agents.tsv: {missing}"


def test_every_cancer_group_exists_in_the_classifier_vocabulary():
    try:
        from ici_atlas.vocab.cancers import load_cancer_groups
        groups = {g.group_id for g in load_cancer_groups()}
    except ImportError:
        groups = set(ap.FALLBACK_CANCER_GROUPS)
    unknown = sorted({r["cancer_group"] for r in _raw_rows()} - groups)
    assert not unknown, unknown


def test_ids_unique_and_vocabularies_respected(events):
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.agency in ap.AGENCIES and e.status in ap.STATUSES and e.line in ap.LINES
               for e in events)


def test_rows_that_are_not_current_or_not_verified_say_why(events):
    for e in events:
        if e.status != "active" or not e.verified:
            assert e.notes, f"{e.event_id}: a {e.status}/unverified row needs a note"


def test_partial_dates_are_kept_partial(events):
    precisions = {e.date.precision for e in events}
    assert "day" in precisions and "month" in precisions
    for e in events:
        if e.date.precision != "day":
            assert e.notes or not e.verified, f"{e.event_id}: say why the day is unknown"


# --------------------------------------------------------------------------- loader errors

HEADER = "\t".join(ap.COLUMNS)
GOOD = ("x-fda-01\tpembrolizumab\tFDA\t2014-09-04\tactive\t\tMelanoma\tmelanoma\tmelanoma\t"
        "later-line\t\t\t\t\t\thttps://example.org/a\tyes\t\t")


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "events.tsv"
    path.write_text("\n".join((HEADER,) + lines) + "\n", encoding="utf-8")
    return path


def test_a_valid_row_loads(tmp_path):
    (event,) = ap.parse_approval_events(_write(tmp_path, GOOD))
    assert event.date == ap.PartialDate(2014, 9, 4) and event.sources == ("https://example.org/a",)


@pytest.mark.parametrize("field,value,needle", [
    ("date", "2021-02-30", "date"),
    ("date", "Feb 2021", "date"),
    ("agent", "notamab", "agent"),
    ("cancer_group", "lung", "cancer_group"),
    ("agency", "FDA-US", "agency"),
    ("source", "", "source"),
    ("nct_id", "NCT123", "nct_id"),
    ("verified", "maybe", "verified"),
    ("status_date", "2015-01", "status_date"),       # an active event has no end date
])
def test_bad_cells_are_reported_with_row_field_and_value(tmp_path, field, value, needle):
    cells = dict(zip(ap.COLUMNS, GOOD.split("\t")))
    cells[field] = value
    path = _write(tmp_path, "\t".join(cells[c] for c in ap.COLUMNS))
    with pytest.raises(VocabularyError) as err:
        ap.parse_approval_events(path)
    assert "row 2" in str(err.value) and needle in str(err.value)
    assert err.value.fix


def test_ended_events_need_a_valid_end_date(tmp_path):
    cells = dict(zip(ap.COLUMNS, GOOD.split("\t")))
    cells["status"] = "withdrawn"
    for end, needle in (("", "needs the date"), ("2013", "before the event's date")):
        cells["status_date"] = end
        with pytest.raises(VocabularyError, match=needle):
            ap.parse_approval_events(_write(tmp_path, "\t".join(cells[c] for c in ap.COLUMNS)))


def test_duplicate_event_ids_are_rejected(tmp_path):
    with pytest.raises(VocabularyError, match="duplicate"):
        ap.parse_approval_events(_write(tmp_path, GOOD, GOOD))


def test_partial_date_ordering_and_text():
    assert ap.PartialDate.parse("2021-06") < ap.PartialDate.parse("2021-06-01")
    assert ap.PartialDate.parse("2024") < ap.PartialDate.parse("2024-01")
    assert str(ap.PartialDate.parse("2021-06")) == "2021-06"
    assert ap.PartialDate.parse("2021-06").precision == "month"


# --------------------------------------------------------------------------- queries

def test_first_approvals_follow_the_rows(events):
    first = ap.first_approvals(events)
    assert (first["nivolumab"].agency, str(first["nivolumab"].date)) == ("PMDA", "2014-07-04")
    assert first["dostarlimab"].agency == "EMA"  # EU 2021-04-21, one day before the FDA
    for agent, event in first.items():
        assert all(event.date <= e.date for e in events if e.agent == agent)


def test_query_filters(events):
    by_brand = ap.query_approvals(events, agent="Keytruda")
    assert by_brand and {e.agent for e in by_brand} == {"pembrolizumab"}
    assert all(e.date >= ap.PartialDate(2021) for e in ap.query_approvals(events, since="2021"))
    assert {e.cancer_type for e in ap.query_approvals(events, cancer="asps")} == {"ASPS"}
    assert {e.agency for e in ap.query_approvals(events, agency="nmpa")} == {"NMPA"}
    assert all(e.verified for e in ap.query_approvals(events, verified_only=True))
    with pytest.raises(InputError):
        ap.query_approvals(events, agency="ANVISA")
    with pytest.raises(InputError):
        ap.query_approvals(events, since="last year")
    with pytest.raises(InputError):
        ap.query_approvals(events, agent="notamab")


def test_agent_summary_rows(events):
    rows = ap.summarize_agents(events)
    assert len(rows) == len({e.agent for e in events})
    by_agent = {r["agent"]: r for r in rows}
    assert by_agent["ivonescimab"]["target"] == "PD-1/VEGF"
    assert by_agent["cadonilimab"]["target"] == "PD-1/CTLA-4"
    assert by_agent["pembrolizumab"]["n_events"] == sum(e.agent == "pembrolizumab" for e in events)


# --------------------------------------------------------------------------- counts

def _event(agent, agency="FDA", when="2020-01-01", group="NSCLC", ctype="NSCLC", status="active",
           verified=True, n=[0]):
    n[0] += 1
    ended = None if status == "active" else ap.PartialDate.parse("2021-01-01")
    return ap.ApprovalEvent(f"e{n[0]}", agent, agency, ap.PartialDate.parse(when), status, ended,
                            "x", group, ctype, "first-line", "", (), "", (), (), ("https://x",),
                            verified, "", "")


def test_counts_are_computed_from_the_rows_not_constants():
    events = [_event("pembrolizumab", when="2014-09-04", group="melanoma", ctype="melanoma"),
              _event("pembrolizumab", when="2015-10-02"),
              _event("sintilimab", agency="NMPA", when="2018-12"),
              _event("ivonescimab", agency="NMPA", when="2024-05"),
              _event("atezolizumab", when="2016-05-18", group="UC", ctype="UC", status="withdrawn")]
    counts = ap.compute_counts(events)
    assert counts["agents"] == 4 and counts["agents_pd1"] == 3 and counts["agents_pdl1"] == 1
    assert counts["first_fda"] == 2 and counts["first_nmpa"] == 2
    assert counts["agents_since_2021"] == 1
    assert counts["pembrolizumab_indications"] == 2 and counts["pembrolizumab_cancer_types"] == 2
    assert counts["atezolizumab_indications"] == 0  # its only event is withdrawn
    assert (counts["nsclc_pd1"], counts["nsclc_pd1_vegf"], counts["nsclc_pdl1"]) == (2, 1, 0)
    assert counts["cancer_types"] == 2
    more = ap.compute_counts(events + [_event("avelumab", when="2017-03-23", ctype="MCC", group="MCC")])
    assert more["agents"] == 5 and more["cancer_types"] == 3


def test_summary_compares_with_the_review_and_leaves_out_unverified_rows(events):
    rows = {r["metric"]: r for r in ap.summarize_counts(events)}
    assert set(rows) == {rv.metric for rv in ap.REVIEW_VALUES}
    for r in rows.values():
        assert r["difference"] == r["data"] - r["review"]
        assert r["data_review_date"] <= r["data"] or r["metric"].startswith("first_")
    unverified = [e for e in events if not e.verified]
    assert unverified, "the curated file flags rows it could not verify"
    verified_only = ap.compute_counts([e for e in events if e.verified])
    assert all(rows[m]["data_verified_only"] == v for m, v in verified_only.items())


def test_curated_counts_are_internally_consistent(events):
    counts = ap.compute_counts(events)
    assert counts["agents_pd1"] + counts["agents_pdl1"] == counts["agents"]
    assert sum(counts[k] for k in ("first_fda", "first_nmpa", "first_japan", "first_europe",
                                   "first_russia", "first_other")) == counts["agents"]
    # 32 = the review's count of approved agents, reproduced by the curated rows as of the
    # review's date (docs/approvals.md lists them); this pins the curation, not the code.
    assert ap.compute_counts(ap.events_as_of(events, ap.REVIEW_AS_OF))["agents"] == 32
    # after it: subcutaneous pembrolizumab (Keytruda Qlex, FDA 2025-09-19)
    assert counts["agents"] == 33


def test_as_of_keeps_what_was_approved_then_with_the_status_it_had(events):
    then = {e.event_id: e for e in ap.events_as_of(events, "2020-12-31")}
    assert all(e.date.first_day() <= date(2020, 12, 31) for e in then.values())
    # atezolizumab's first urothelial approval (2016) was withdrawn in 2021: active at the end of 2020
    assert then["atezolizumab-fda-01"].status == "active"
    assert {e.status for e in ap.events_as_of(events, None) if e.event_id == "atezolizumab-fda-01"} == {"withdrawn"}
    assert "pembrolizumab-sc-fda-01" not in then
    counts = ap.compute_counts(list(then.values()))
    assert counts["agents"] < 32 and counts["atezolizumab_indications"] >= 1


def test_summary_explains_every_difference_from_the_review(events):
    """Every count that differs from the review as of the review's date has a curated note,
    and no note outlives its difference; every change after it is listed."""
    rows = ap.summarize_counts(events)
    differ_then = {r["metric"] for r in rows if r["data_review_date"] != r["review"]}
    assert differ_then == set(ap.REVIEW_NOTES)
    for r in rows:
        if r["data"] != r["review"] or r["data_review_date"] != r["review"]:
            assert r["why"], r["metric"]
    agents = next(r for r in rows if r["metric"] == "agents")
    assert "pembrolizumab-sc" in agents["why"]


def test_review_date_counts_reproduce_the_review(events):
    """As of 2025-04-30 the data give the review's numbers except where a note says why."""
    rows = ap.summarize_counts(events)
    same = [r["metric"] for r in rows if r["data_review_date"] == r["review"]]
    assert len(same) >= 15, same


def test_agents_per_cancer_type_and_indications(events):
    per_type = dict(ap.agents_per_cancer_type(events))
    assert per_type["NSCLC"] == len({e.agent for e in events
                                      if e.cancer_type == "NSCLC" and e.status == "active"})
    rows = ap.indications_per_agent(events)
    top_agent, n, agency = rows[0]
    assert n == max(sum(e.agent == top_agent and e.agency == a and e.status == "active"
                        for e in events) for a in ap.AGENCIES)


# --------------------------------------------------------------------------- shared reference data

def _moalmanac(shared_data: Path) -> dict[str, dict]:
    path = shared_data / "approvals" / "vanallenlab__moalmanac-db" / "checkpoint_inhibitor_indications_flat.csv"
    if not path.is_file():
        skip_or_fail(f"{path} not found")
    with path.open(encoding="utf-8") as fh:
        return {r["indication_id"]: r for r in csv.DictReader(fh)}


def test_fda_dates_agree_with_moalmanac_or_the_disagreement_is_recorded(events, shared_data):
    moal = _moalmanac(shared_data)
    linked = [e for e in events if e.moalmanac_id]
    assert linked
    for e in linked:
        assert e.moalmanac_id in moal, f"{e.event_id}: {e.moalmanac_id} not in MOAlmanac"
        ref = moal[e.moalmanac_id]
        assert ref["agency"] == e.agency.lower()
        if ref["initial_approval_date"] and ref["initial_approval_date"] != str(e.date):
            assert "MOAlmanac" in e.notes, (
                f"{e.event_id}: {e.date} vs MOAlmanac {ref['initial_approval_date']} not explained")


def test_first_fda_dates_agree_with_drugs_at_fda(events, shared_data):
    path = (shared_data / "approvals" / "carriebennette__fda-approvals-viz"
            / "scrape_web_for_fda_approvals_data" / "fda_approval_data.csv")
    if not path.is_file():
        skip_or_fail(f"{path} not found")
    with path.open(encoding="latin-1") as fh:
        orig = {r["ActiveIngredient"].split("-")[0].lower(): r["SubmissionStatusDate"][:10]
                for r in csv.DictReader(fh) if r["SubmissionType"] == "ORIG"}
    checked = 0
    for agent in {e.agent for e in events if e.agency == "FDA"}:
        if agent in orig:
            first_fda = min(e.date for e in events if e.agent == agent and e.agency == "FDA")
            assert str(first_fda) == orig[agent], agent
            checked += 1
    assert checked >= 6  # Keytruda, Opdivo, Tecentriq, Bavencio, Imfinzi, Libtayo


def test_export_rows_are_json_serialisable(events):
    json.dumps([e.as_row() for e in events])
    assert dataclasses.is_dataclass(events[0])
