"""The stopping rule (Callaghan & Müller-Hansen 2020): it never stops without evidence, its
p-values match the hypergeometric test by hand, and on real data it stops with recall at
or above the target."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import hypergeom

from ici_atlas.review.simulate import load_labelled_csv, simulate_screening
from ici_atlas.review.stopping import first_stop, p_value, stopping_status


def test_nothing_screened_is_no_evidence():
    status = stopping_status([], 500)
    assert not status.should_stop and status.p_value == 1.0
    assert status.max_missed == 500 and "keep screening" in status.text


def test_a_run_of_inclusions_is_no_evidence_to_stop():
    # 30 inclusions in a row out of 1,000 records: nothing says the rest holds none
    status = stopping_status([1] * 30, 1000)
    assert not status.should_stop and status.p_value > 0.5


def test_p_value_is_the_hypergeometric_test_by_hand():
    # 10 found in the first 10, then 500 exclusions, 1,000 records. H0: recall < 0.95, i.e. at
    # least one more inclusion (10/11 < 0.95). The urn after the 10th inclusion holds 990
    # records; 500 drawn without finding it: P = 490/990.
    assert p_value([1] * 10 + [0] * 500, 1000) == pytest.approx(490 / 990)


def test_target_on_the_boundary_uses_exact_arithmetic():
    # 19 found: 19/20 = 0.95 is not below the target, so H0 needs two more (19/21). A float
    # 19/0.95 can fall either side of 20; the rule must not.
    labels = [1] * 19 + [0] * 300
    expected = hypergeom.cdf(0, 1000 - 19, 2, 300)
    assert p_value(labels, 1000) == pytest.approx(expected)


def test_stops_when_all_inclusions_came_early_and_the_rest_is_screened_enough():
    labels = [1] * 100 + [0] * 900
    stop = first_stop(labels, 1000)
    assert 100 < stop < 1000
    status = stopping_status(labels[:stop], 1000)
    assert status.should_stop and status.recall_lower_bound >= 0.95
    assert not stopping_status(labels[: stop - 1], 1000).should_stop
    assert "you may stop" in status.text and "\n" not in status.text


def test_verdict_and_recall_bound_agree():
    rng = np.random.default_rng(7)
    for _ in range(40):
        total = int(rng.integers(50, 400))
        labels = (rng.random(int(rng.integers(1, total))) < rng.uniform(0.02, 0.4)).astype(int)
        status = stopping_status(labels, total)
        assert status.should_stop == (status.recall_lower_bound >= 0.95), (labels.tolist(), total)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        stopping_status([0, 1, 0], 2)
    with pytest.raises(ValueError):
        stopping_status([0], 10, target_recall=1.0)


def test_real_set_stops_with_recall_at_target(shared_data):
    path = shared_data / "pubmed" / "asreview__synergy-dataset" / "Donners_2021" / "Donners_2021_records.csv"
    records, labels = load_labelled_csv(path)
    for seed in (0, 1):
        run = simulate_screening(records, labels, seed=seed)
        assert run.stop_recall() >= 0.95
        assert run.stop_screened < run.n_records  # it did save some work
        assert first_stop([labels[i] for i in run.order], run.n_records) == run.stop_screened


def test_store_status_follows_the_decision_log(db_path):
    from ici_atlas.review.decisions import Decision, record_decisions
    from ici_atlas.review.library import load_imported
    from ici_atlas.review.screening import prescreen_library, screening_pool
    from ici_atlas.review.stopping import screening_stop_status
    from ici_atlas.sources.bibfiles import ImportedRecord
    from ici_atlas.store import db

    con = db.connect(db_path)
    load_imported(con, [ImportedRecord("hand.ris", i, "ris", f"Pembrolizumab phase 2 trial number {i}",
                                       pmid=str(100 + i)) for i in range(1, 21)], run_id=0)
    prescreen_library(con)
    ids = [r.record_id for r in screening_pool(con)]
    assert len(ids) == 20
    assert screening_stop_status(con).screened == 0
    stage = "title-abstract"
    record_decisions(con, [Decision(ids[0], stage, "include", "", "a"),
                           Decision(ids[1], stage, "exclude", "off topic", "a"),
                           Decision(ids[2], stage, "skip", "", "a"),
                           Decision(ids[3], stage, "include", "", "a"),
                           Decision(ids[0], stage, "exclude", "changed my mind", "a")])
    status = screening_stop_status(con)
    # screened in the order of first decision, with the latest label; the skip is unscreened
    assert status == stopping_status([0, 0, 1], 20)
    con.close()
