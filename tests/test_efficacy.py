"""The curated ORR dataset (ici_atlas/data/orr_arms.tsv), its loader, queries and pooling."""

from __future__ import annotations

import csv
import math
import random

import pytest
from scipy import stats

from ici_atlas.analyses import efficacy as ef
from ici_atlas.errors import InputError, VocabularyError
from ici_atlas.meta import pool_proportions
from ici_atlas.vocab import load_agents
from ici_atlas.vocab.tsv import vocab_path


@pytest.fixture(scope="module")
def arms():
    return ef.load_orr_arms()


def _raw_rows():
    with ef.orr_path().open(encoding="utf-8") as fh:
        return list(csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t"))


def test_file_has_the_documented_columns():
    assert tuple(_raw_rows()[0].keys()) == ef.ORR_COLUMNS


def test_every_row_names_its_source(arms):
    for a in arms:
        assert a.source.strip(), a.trial
        assert a.source.startswith(("PMID:", "DOI:", "http")), (a.trial, a.source)
        if a.source.startswith("PMID:"):
            assert a.pmid == a.source.split(":", 1)[1], a.trial
        assert a.where_read.strip(), f"{a.trial}: say where the numbers were read"


def test_unverified_rows_say_why(arms):
    for a in arms:
        if not a.verified:
            assert a.notes.strip(), (a.trial, a.arm)


def test_verified_counts_agree_with_printed_orr(arms):
    verified = [a for a in arms if a.verified]
    assert verified
    for a in verified:
        assert a.n_evaluable and a.responders is not None, a.trial
        if not a.orr_percent:  # no printed percentage: both counts were read as printed
            assert "stated" in a.derivation, (a.trial, a.arm)
            continue
        gap = abs(100 * a.responders / a.n_evaluable - float(a.orr_percent))
        assert gap <= ef.orr_precision_slack(a.orr_percent), (a.trial, a.arm, gap)


def test_agents_and_classes_come_from_the_agent_vocabulary(arms):
    classes = {ag.agent_id: ag.target_class for ag in load_agents()}
    for a in arms:
        assert a.agent in classes, a.agent
        assert a.target_class == classes[a.agent], a.agent


def test_tumor_groups_are_cancer_group_ids(arms):
    path = vocab_path("cancer_groups.tsv")
    if path.is_file():
        with path.open(encoding="utf-8") as fh:
            ids = {r["group_id"] for r in csv.DictReader(
                (ln for ln in fh if not ln.startswith("#")), delimiter="\t")}
    else:
        ids = set(ef.CANCER_GROUPS_FALLBACK)
    assert {a.tumor_group for a in arms} <= ids


def test_one_row_per_trial_arm_population_and_data_cut(arms):
    keys = [(a.trial, a.arm, a.population, a.data_cut, a.endpoint) for a in arms]
    assert len(keys) == len(set(keys))


def test_exactly_one_pooled_data_cut_per_arm_and_population(arms):
    from collections import Counter

    orr_groups = Counter((a.trial, a.arm, a.population) for a in arms if a.endpoint == "ORR")
    pooled = Counter((a.trial, a.arm, a.population) for a in arms if a.pooled)
    assert all(n == 1 for n in pooled.values())
    assert set(pooled) == set(orr_groups)  # every ORR arm has its pooled cut
    assert all(a.endpoint == "ORR" for a in arms if a.pooled)
    several = [g for g, n in orr_groups.items() if n > 1]
    assert len(several) >= 10  # data cuts are recorded (KEYNOTE-052, KEYNOTE-087, ...)


def test_default_pool_is_the_reviews_scope(arms):
    """Advanced solid tumours, monotherapy, objective response, the primary population,
    one data cut per arm (issue 12): the rows a reader found pooled wrongly are out."""
    pool = ef.query_orr_arms(arms)
    assert all(a.verified and a.endpoint == "ORR" and a.population == "primary" and a.pooled
               and not a.haematological and a.line in ef.POOLED_LINES for a in pool)
    by = {(a.trial, a.arm): a for a in arms}
    k057 = next(a for a in arms if a.trial == "KEYNOTE-057")
    assert k057.endpoint == "CR rate" and k057 not in pool
    k062 = [a for a in arms if a.trial == "KEYNOTE-062"]
    assert {a.population for a in k062} == {"primary", "subgroup"}
    assert not any(a.population == "subgroup" for a in pool if a.trial == "KEYNOTE-062")
    gu14 = next(a for a in arms if a.trial.startswith("HCRN GU14-182"))
    assert gu14.line == "maintenance"
    assert not any(a.haematological for a in pool)
    with_heme = ef.query_orr_arms(arms, include_haematological=True)
    assert {a.tumor_group for a in with_heme} >= {"cHL"}
    assert len(by) <= len(arms)


def test_left_out_counts_add_up(arms):
    left = ef.left_out_counts(arms)
    assert sum(left.values()) + len(ef.query_orr_arms(arms)) == len(arms)
    assert set(left) <= set(ef.LEFT_OUT_REASONS)
    assert left["haematological malignancy"] > 0 and left["not verified"] > 0


def test_small_groups_are_flagged(arms):
    rows = ef.pool_orr(ef.query_orr_arms(arms))
    small = [r for r in rows if r["k"] <= 2]
    assert small and all(r["small_k"] and "too few arms" in r["note"] for r in small)
    assert not any(r["small_k"] for r in rows if r["k"] > 2)


def test_review_statements_sit_beside_ours(arms):
    pool = ef.query_orr_arms(arms)
    rows = ef.compare_with_review(ef.pool_orr(pool, by=["tumor", "line"]), pool)
    assert [r["statement"] for r in rows] == [s.what for s in ef.REVIEW_ORR]
    assert all(r["ours"] and r["review"] for r in rows)


def test_known_row_read_from_its_abstract(arms):
    # KEYNOTE-059 cohort 1: "objective response rate was 11.6% (30 of 259 patients)",
    # JAMA Oncol 2018, PMID 29543932.
    row = next(a for a in arms if a.trial == "KEYNOTE-059")
    assert (row.responders, row.n_evaluable, row.orr_percent, row.pmid) == (30, 259, "11.6", "29543932")
    assert row.verified and row.line == "later-line" and row.tumor_group == "GC"


def test_unverified_rows_are_left_out_by_default(arms):
    default = ef.query_orr_arms(arms)
    everything = ef.query_orr_arms(arms, include_unverified=True)
    assert all(a.verified for a in default)
    assert len(everything) > len(default)


def test_filters(arms):
    hcc = ef.query_orr_arms(arms, tumor="HCC")
    assert hcc and {a.tumor_group for a in hcc} == {"HCC"}
    first = ef.query_orr_arms(arms, line="first-line")
    assert first and {a.line for a in first} == {"first-line"}
    pdl1 = ef.query_orr_arms(arms, target_class="PD-L1")
    assert pdl1 and {a.target_class for a in pdl1} == {"PD-L1"}
    nivo = ef.query_orr_arms(arms, agent="nivolumab", line="later-line")
    assert nivo and {(a.agent, a.line) for a in nivo} == {("nivolumab", "later-line")}


@pytest.mark.parametrize("kwargs", [{"line": "second"}, {"tumor": "Lung"},
                                    {"agent": "aspirin"}, {"target_class": "CTLA-4"}])
def test_bad_filters_raise_input_error(arms, kwargs):
    with pytest.raises(InputError):
        ef.query_orr_arms(arms, **kwargs)


def _copy_with(tmp_path, edit):
    rows = _raw_rows()
    edit(rows)
    path = tmp_path / "orr_arms.tsv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, ef.ORR_COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.mark.parametrize("field,value,message", [
    ("responders", "60", "does not round"),  # reported on the orr_percent field
    ("agent", "notamab", "agents.tsv"),
    ("tumor_group", "Lung", "cancer group"),
    ("source", "", "required"),
    ("line", "second-line", "line"),
    ("pmid", "PMID123", "digits"),
])
def test_loader_names_the_bad_field(tmp_path, field, value, message):
    def edit(rows):
        rows[0][field] = value
    with pytest.raises(VocabularyError) as err:
        ef.load_orr_arms(_copy_with(tmp_path, edit))
    named = "orr_percent" if field == "responders" else field
    assert named in err.value.message and message in err.value.message
    assert "line 2" in err.value.fix  # header is line 1 of the rewritten file


def test_verified_row_without_counts_is_rejected(tmp_path):
    def edit(rows):
        row = next(r for r in rows if r["verified"] == "yes")
        row["responders"] = ""
    with pytest.raises(VocabularyError, match="verified row needs both counts"):
        ef.load_orr_arms(_copy_with(tmp_path, edit))


def test_verified_row_without_printed_orr_needs_stated_counts(tmp_path):
    def edit(rows):
        row = next(r for r in rows if r["verified"] == "yes" and "stated" not in r["derivation"])
        row["orr_percent"] = ""
    with pytest.raises(VocabularyError, match="without a printed ORR"):
        ef.load_orr_arms(_copy_with(tmp_path, edit))


def test_an_arm_listed_twice_is_rejected(tmp_path):
    def edit(rows):
        rows.append(dict(rows[0]))
    with pytest.raises(VocabularyError, match="has this primary data cut already"):
        ef.load_orr_arms(_copy_with(tmp_path, edit))


def test_single_arm_subgroup_uses_exact_interval(arms):
    one = [a for a in arms if a.trial == "KEYNOTE-059" and a.line == "later-line"]  # cohort 1
    (row,) = ef.pool_orr(one)
    lo = stats.beta.ppf(0.025, 30, 259 - 30 + 1)
    hi = stats.beta.ppf(0.975, 31, 259 - 30)
    assert row["k"] == 1 and row["orr"] == pytest.approx(30 / 259)
    assert (row["ci_lb"], row["ci_ub"]) == (pytest.approx(lo), pytest.approx(hi))
    assert row["pi_lb"] is None and row["i2"] is None


def test_pooled_subgroup_matches_the_engine(arms):
    crc = ef.query_orr_arms(arms, tumor="CRC")
    assert len(crc) >= 2
    (row,) = ef.pool_orr(crc, by=["group"])
    ref = pool_proportions([a.responders for a in crc], [a.n_evaluable for a in crc],
                           measure="PLO", method="REML", test="knha")
    assert row["orr"] == pytest.approx(ref.estimate)
    assert (row["ci_lb"], row["ci_ub"]) == (pytest.approx(ref.ci_lb), pytest.approx(ref.ci_ub))
    assert row["k"] == len(crc) and row["patients"] == sum(a.n_evaluable for a in crc)


def test_pooling_is_order_free_and_within_bounds(arms):
    selected = ef.query_orr_arms(arms)
    shuffled = list(selected)
    random.Random(7).shuffle(shuffled)
    a, b = ef.pool_orr(selected), ef.pool_orr(shuffled)
    assert [r["k"] for r in a] == [r["k"] for r in b]
    for r1, r2 in zip(a, b):
        assert r1["orr"] == pytest.approx(r2["orr"])
        assert 0 <= r1["ci_lb"] <= r1["orr"] <= r1["ci_ub"] <= 1


def test_msi_arms_pool_apart_from_the_rest(arms):
    rows = ef.pool_orr(ef.query_orr_arms(arms, tumor="UCEC"))
    assert {r["tumor"] for r in rows} == {"UCEC", "UCEC (MSI-H/dMMR)"}


def test_unknown_grouping_key(arms):
    with pytest.raises(InputError):
        ef.pool_orr(arms, by=["colour"])


def test_dataset_totals_reported(arms):
    # Guard against silent row loss: the count of verified arms only grows as curation goes on.
    verified = [a for a in arms if a.verified]
    # 40 verified arms / 5,964 patients at the end of the first curation pass (docs/efficacy.md).
    assert len(verified) >= 40
    assert sum(a.n_evaluable for a in verified) >= 5964
    assert not math.isnan(sum(a.orr for a in verified))


def test_loader_reports_missing_file(tmp_path):
    with pytest.raises(VocabularyError):
        ef.load_orr_arms(tmp_path / "absent.tsv")


def test_shipped_file_is_package_data():
    assert ef.orr_path().name == "orr_arms.tsv" and ef.orr_path().is_file()


def test_docs_state_the_current_curation_counts():
    """docs/efficacy.md states the dataset's size; keep it true when rows are added."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "efficacy.md").read_text("utf-8")

    def stated(label: str) -> int:
        match = re.search(rf"^\| {re.escape(label)} \| ([\d,]+) \|$", text, re.M)
        assert match, label
        return int(match.group(1).replace(",", ""))

    arms = ef.load_orr_arms()
    verified = [a for a in arms if a.verified]
    assert stated("arms") == len(arms)
    assert stated("trials (distinct trial names)") == len({a.trial for a in arms})
    assert stated("verified arms") == len(verified)
    assert stated("verified trials") == len({a.trial for a in verified})
    assert stated("patients in verified arms") == sum(a.n_evaluable for a in verified)
    assert stated("unverified arms") == len(arms) - len(verified)
    pool = ef.query_orr_arms(arms)
    assert stated("arms in the default pool (solid tumours)") == len(pool)
    assert stated("trials in the default pool") == len({a.trial for a in pool})
    assert stated("patients in the default pool") == sum(a.n_evaluable for a in pool)
