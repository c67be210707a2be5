"""Landscape analyses (review Figures 2 and 5) on a store built from real records.

The expected values are computed here independently from the ``trials`` /
``trial_agents`` rows the classifier wrote (plain Python over the rows), and compared with
what the SQL in ``ici_atlas.analyses.landscape`` returns.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pytest

from ici_atlas.store import db
from ici_atlas.analyses import landscape as ls
from ici_atlas.errors import InputError, StoreError
from landscape_store import landscape_db  # noqa: F401  (session fixture)

pytestmark = pytest.mark.shared_data
DOCS = Path(__file__).resolve().parent.parent / "docs" / "landscape.md"


@pytest.fixture(scope="module")
def con(landscape_db):  # noqa: F811
    c = db.connect(landscape_db, read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def pd1_trials(con) -> list[dict]:
    """The PD-(L)1 trials as the classifier stored them, one dict per trial."""
    cur = con.execute(
        "SELECT nct_id, phase_label, start_year, sponsor_class, target_class, "
        "partner_classes, cancer_groups, countries FROM trials WHERE is_pd1_pdl1 ORDER BY nct_id"
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _split(value: list[str] | None) -> list[str]:
    return sorted(set(value or []))


def test_store_has_pd1_trials(pd1_trials):
    # vrinda2019 alone holds 25 PD-(L)1-like studies (PROVENANCE.md), so there must be many.
    assert len(pd1_trials) >= 25


def test_phases_add_up_to_the_pd1_trials(con, pd1_trials):
    rows = ls.query_phases(con)
    assert [r["phase"] for r in rows] == list(ls.PHASE_LABELS)
    assert sum(r["trials"] for r in rows) == len(pd1_trials) == ls.query_total(con)
    expected = Counter(t["phase_label"] or "NA" for t in pd1_trials)
    assert {r["phase"]: r["trials"] for r in rows if r["trials"]} == dict(expected)
    assert abs(sum(r["percent"] for r in rows) - 100.0) < 0.5


def test_vrinda_phase3_set_shows_as_phase3(con):
    # vrinda2019__NSCLCBench is a download of Phase 3 NSCLC trials: Phase 3 must be present.
    rows = {r["phase"]: r["trials"] for r in ls.query_phases(con)}
    assert rows["Phase 3"] > 0


def test_a_trial_in_two_cancer_groups_counts_in_both(con, pd1_trials):
    multi = [t for t in pd1_trials if len(_split(t["cancer_groups"])) >= 2]
    assert multi, "expected at least one real PD-(L)1 trial with two cancer groups"
    trial = multi[0]
    by_group = {r["cancer_group"]: r["trials"] for r in ls.query_cancers(con)}
    for group in _split(trial["cancer_groups"]):
        flt = ls.check_filter(con, ls.make_filter(cancer=group))
        assert by_group[group] == ls.query_total(con, flt)
    # Rows add up to trial-group pairs (plus unclassified trials), more than the trials.
    pairs = sum(max(1, len(_split(t["cancer_groups"]))) for t in pd1_trials)
    assert sum(r["trials"] for r in ls.query_cancers(con)) == pairs > len(pd1_trials)
    text = DOCS.read_text(encoding="utf-8")
    assert "counts once under NSCLC *and* once under" in text


def test_cancer_counts_match_the_trials_table(con, pd1_trials):
    expected = Counter(g for t in pd1_trials for g in _split(t["cancer_groups"]))
    rows = [r for r in ls.query_cancers(con) if r["cancer_group"] != ls.NOT_CLASSIFIED]
    assert {r["cancer_group"]: r["trials"] for r in rows} == dict(expected)
    # Deterministic order: largest first, ties by name.
    assert [(-r["trials"], r["cancer_group"]) for r in rows] == sorted(
        (-r["trials"], r["cancer_group"]) for r in rows
    )
    labels = ls.query_cancer_labels()
    assert all(r["label"] == labels[r["cancer_group"]] for r in rows)


def test_top_n_folds_the_rest_into_others(con, pd1_trials):
    full = [r for r in ls.query_cancers(con) if r["cancer_group"] != ls.NOT_CLASSIFIED]
    assert len(full) > 3
    top = ls.query_cancers(con, top=3)
    assert [r["cancer_group"] for r in top[:3]] == [r["cancer_group"] for r in full[:3]]
    others = next(r for r in top if r["cancer_group"] == ls.OTHERS)
    folded = {r["cancer_group"] for r in full[3:]}
    assert others["groups"] == len(folded)
    distinct = sum(1 for t in pd1_trials if folded & set(_split(t["cancer_groups"])))
    assert others["trials"] == distinct


def test_class_filters_split_the_trials(con, pd1_trials):
    pd1 = ls.query_total(con, ls.make_filter("PD-1"))
    pdl1 = ls.query_total(con, ls.make_filter("pdl1"))
    both = sum(1 for t in pd1_trials if set(_split(t["target_class"])) == {"PD-1", "PD-L1"})
    assert pd1 + pdl1 - both == len(pd1_trials)
    assert pd1 > 0 and pdl1 > 0
    # Figure 2B table: every anti-PD-1 trial appears in at least one row.
    rows = ls.query_cancers(con, ls.make_filter("PD-1"))
    assert sum(r["trials"] for r in rows) >= pd1


def test_filters_compose(con, pd1_trials):
    flt = ls.check_filter(con, ls.make_filter("PD-1", "nsclc", ["3"], 2015, 2030))
    assert flt.cancer == ("NSCLC",) and flt.phase == ("Phase 3",)
    expected = [
        t for t in pd1_trials
        if "PD-1" in _split(t["target_class"]) and "NSCLC" in _split(t["cancer_groups"])
        and t["phase_label"] == "Phase 3" and t["start_year"] is not None
        and 2015 <= t["start_year"] <= 2030
    ]
    assert ls.query_total(con, flt) == len(expected) > 0
    assert sum(r["trials"] for r in ls.query_phases(con, flt)) == len(expected)


@pytest.mark.parametrize("n_values", [1, 2, 17])
def test_several_values_of_a_filter_select_any_of_them(con, pd1_trials, n_values):
    """One value, a few (tested one by one) and more than MAX_ORED_VALUES (list_has_any)
    select the same trials: those with any of the chosen values."""
    from ici_atlas.analyses.filters import MAX_ORED_VALUES, TrialFilter

    countries = sorted({c for t in pd1_trials for c in _split(t["countries"])})
    assert len(countries) > MAX_ORED_VALUES >= 2  # the shared store has enough to test all
    chosen = countries[:n_values]
    phases = ("Phase 2", "Phase 3")
    flt = TrialFilter(country=tuple(chosen), phase=phases)
    expected = [t for t in pd1_trials if set(chosen) & set(_split(t["countries"]))
                and (t["phase_label"] or "NA") in phases]
    assert ls.query_total(con, flt) == len(expected) > 0


def test_partners_ranked_targets_first(con, pd1_trials):
    rows = ls.query_partners(con)
    kinds = ls.query_partner_kinds()
    expected = Counter(c for t in pd1_trials for c in _split(t["partner_classes"]))
    drawn = [r for r in rows if r["kind"] != "none"]
    assert {r["partner_class"]: r["trials"] for r in drawn} == dict(expected)
    assert all(kinds[r["partner_class"]] == r["kind"] for r in drawn)
    order = [r["kind"] == "target" for r in drawn]
    assert order == sorted(order, reverse=True), "targets must come before modalities"
    targets = [r for r in drawn if r["kind"] == "target"]
    assert [r["trials"] for r in targets] == sorted((r["trials"] for r in targets), reverse=True)
    none_row = rows[-1]
    assert none_row["partner_class"] == ls.NO_PARTNER
    assert none_row["trials"] == sum(1 for t in pd1_trials if not _split(t["partner_classes"]))
    # The TIGIT watch-list source must make TIGIT a ranked partner target.
    assert "TIGIT" in {r["partner_class"] for r in targets}
    only = ls.query_partners(con, targets_only=True)
    assert only == targets
    assert ls.query_partners(con, targets_only=True, top=2) == targets[:2]


def test_bispecifics_highest_phase(con):
    rows = ls.query_bispecifics(con, approved=frozenset())
    agents = con.execute(
        "SELECT DISTINCT ta.agent_id, ta.nct_id, coalesce(t.phase_label, 'NA') "
        "FROM trial_agents ta JOIN trials t USING (nct_id) WHERE ta.bispecific AND t.is_pd1_pdl1"
    ).fetchall()
    by_agent: dict[str, list[str]] = {}
    for agent, _nct, phase in agents:
        by_agent.setdefault(agent, []).append(phase)
    assert {r["agent"] for r in rows} == set(by_agent)
    rank = {p: i for i, p in enumerate(ls.PHASE_LABELS[:-1])}
    for r in rows:
        phases = [p for p in by_agent[r["agent"]] if p in rank]
        expected = max(phases, key=rank.__getitem__) if phases else "NA"
        assert r["highest_phase"] == expected
        assert r["approved"] is False and r["status"] == expected
    assert len(rows) == len({r["agent"] for r in rows})


def test_bispecific_marked_approved_only_from_approvals(con):
    rows = ls.query_bispecifics(con, approved=frozenset())
    assert rows, "the TIGIT/NSCLC subsets hold bispecific PD-(L)1 trials (e.g. rilvegostomig)"
    first = rows[-1]["agent"]
    marked = ls.query_bispecifics(con, approved=frozenset({first}))
    assert marked[0]["agent"] == first and marked[0]["status"] == "Approved"
    assert all(r["status"] != "Approved" for r in marked[1:])


def test_approved_comes_from_the_approvals_data(con):
    approved = ls.query_approved_agents()
    assert approved, "the curated approvals data (ici_atlas/data/approval_events.tsv) is readable"
    rows = ls.query_bispecifics(con)
    for r in rows:
        assert r["approved"] == (r["agent"] in approved)
        assert (r["status"] == "Approved") == r["approved"]
        if r["approved"]:
            assert r["first_approval"] == approved[r["agent"]]
    # Approved rows come first.
    flags = [r["approved"] for r in rows]
    assert flags == sorted(flags, reverse=True)


def test_years_sponsors_add_up(con, pd1_trials):
    years = ls.query_years(con)
    assert sum(r["trials"] for r in years) == len(pd1_trials)
    dated = [r["start_year"] for r in years if r["start_year"] is not None]
    assert dated == sorted(dated)
    assert Counter(t["start_year"] for t in pd1_trials) == {
        r["start_year"]: r["trials"] for r in years
    }
    since = ls.query_years(con, ls.make_filter(since=2020))
    assert all(r["start_year"] is not None and r["start_year"] >= 2020 for r in since)
    assert sum(r["trials"] for r in since) == sum(
        1 for t in pd1_trials if t["start_year"] is not None and t["start_year"] >= 2020
    )
    sponsors = ls.query_sponsors(con)
    assert sum(r["trials"] for r in sponsors) == len(pd1_trials)
    names = ls.query_sponsors(con, by="name", top=5)
    assert sum(r["trials"] for r in names) == len(pd1_trials) and len(names) <= 6


def test_countries_count_each_site_country(con, pd1_trials):
    rows = ls.query_countries(con)
    expected = Counter(c for t in pd1_trials for c in _split(t["countries"]))
    listed = {r["country"]: r["trials"] for r in rows if r["country"] != ls.NO_LOCATION}
    assert listed == dict(expected)
    top = ls.query_countries(con, top=5)
    assert [r["country"] for r in top[:5]] == [r["country"] for r in rows[:5]]


def test_queries_are_deterministic(con):
    for name in ls.ANALYSES:
        fn = getattr(ls, f"query_{name}")
        assert fn(con) == fn(con)


def test_bad_filters_raise_input_error(con):
    with pytest.raises(InputError, match="Invalid phase '5'"):
        ls.make_filter(phases=["5"])
    with pytest.raises(InputError, match="Invalid target class"):
        ls.make_filter("CTLA-4")
    with pytest.raises(InputError, match="Invalid cancer group 'lung'"):
        ls.query_phases(con, ls.make_filter(cancer="lung"))
    with pytest.raises(InputError, match="since is after until"):
        ls.make_filter(since=2024, until=2020)


def test_phase_spellings():
    assert ls.normalize_phase("2/3") == "Phase 2/3"
    assert ls.normalize_phase("III") == "Phase 3"
    assert ls.normalize_phase("Early Phase 1") == "Early phase 1"
    assert ls.normalize_phase("n/a") == "NA"


def test_missing_derived_tables_is_a_store_error(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(StoreError, match="no 'trials' table") as exc:
        ls.query_phases(con)
    assert "ici-atlas classify" in exc.value.fix


def test_export_tables_round_trip(con, tmp_path):
    tables = ls.query_landscape_tables(con, top=8)
    for fmt in ("parquet", "csv"):
        paths = ls.render_tables(tables, tmp_path / fmt, fmt)
        assert [p.name for p in paths] == [f"landscape_{n}.{fmt}" for n in tables]
        back = duckdb.sql(
            f"SELECT phase, trials FROM '{tmp_path / fmt / ('landscape_phases.' + fmt)}'"
        ).fetchall()
        assert back == [(r["phase"], r["trials"]) for r in tables["phases"]]
    assert tables["cancers_pd1"] == ls.query_cancers(con, ls.make_filter("PD-1"), top=8)


def test_any_filter_keeps_the_invariants(con):
    """For any combination of filters: phases, years and sponsors add up to the total;
    cancer and country rows cover every trial at least once; a narrower filter never
    counts more trials."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    groups = ls.query_cancer_groups(con)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        target=st.sampled_from([None, "PD-1", "PD-L1"]),
        cancer=st.sampled_from([None, *groups]),
        phases=st.lists(st.sampled_from(ls.PHASE_LABELS), max_size=3, unique=True),
        since=st.sampled_from([None, 2015, 2020, 2023]),
    )
    def check(target, cancer, phases, since):
        flt = ls.check_filter(con, ls.make_filter(target, cancer, phases, since))
        total = ls.query_total(con, flt)
        for rows in (ls.query_phases(con, flt), ls.query_years(con, flt),
                     ls.query_sponsors(con, flt)):
            assert sum(r["trials"] for r in rows) == total
        assert sum(r["trials"] for r in ls.query_cancers(con, flt)) >= total
        assert sum(r["trials"] for r in ls.query_countries(con, flt)) >= total
        assert total <= ls.query_total(con, ls.make_filter(target, cancer))

    check()
