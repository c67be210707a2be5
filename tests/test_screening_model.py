"""The screening model on a real SYNERGY set: it finds inclusions far sooner than chance,
follows the simulation protocol, and is deterministic given the seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ici_atlas.cli import cli
from ici_atlas.review.prioritise import Prioritiser
from ici_atlas.review.simulate import load_labelled_csv, simulate_random, simulate_screening, start_records


@pytest.fixture(scope="module")
def donners(shared_data):
    path = shared_data / "pubmed" / "asreview__synergy-dataset" / "Donners_2021" / "Donners_2021_records.csv"
    if not path.is_file():
        pytest.fail(f"{path} missing from shared data")
    records, labels = load_labelled_csv(path)
    return path, records, labels


@pytest.fixture(scope="module")
def run_seed3(donners):
    _, records, labels = donners
    return simulate_screening(records, labels, seed=3)


def test_model_beats_random_order_by_a_wide_margin(donners, run_seed3):
    _, _, labels = donners
    random_runs = [simulate_random(labels, seed=s) for s in range(50)]
    assert run_seed3.wss(0.95) > max(r.wss(0.95) for r in random_runs) + 0.3
    # after 10% of the records (26 of 258) half the 15 inclusions are found; chance finds ~1.5
    assert run_seed3.recall_at(0.10) >= 0.5
    assert run_seed3.recall_at(0.10) > 3 * np.mean([r.recall_at(0.10) for r in random_runs])


def test_simulation_starts_from_one_included_and_one_excluded_record(donners, run_seed3):
    _, _, labels = donners
    first = run_seed3.order[:2]
    assert first == start_records(labels, 3)
    assert sorted(labels[i] for i in first) == [0, 1]
    assert run_seed3.n_start == 2 and run_seed3.found[:2] == [1, 1]  # counted as screened
    assert sorted(run_seed3.order) == list(range(len(labels)))  # every record exactly once
    assert start_records(labels, 4) != first  # another seed, another start


def test_same_seed_same_order_and_ranking_depends_only_on_labels(donners, run_seed3):
    _, records, labels = donners
    again = simulate_screening(records, labels, seed=3)
    assert again.order == run_seed3.order
    # the interactive screener builds a new model per decision: same labels, same ranking
    labelled = run_seed3.order[:40]
    y = [labels[i] for i in labelled]
    rest = sorted(set(range(len(labels))) - set(labelled))
    rankings = []
    for _ in range(2):
        model = Prioritiser(records, seed=3)
        model.fit(labelled, y)
        rankings.append(model.rank(rest))
    assert rankings[0] == rankings[1]
    assert rankings[0][0] == run_seed3.order[40]  # what the simulation screened next


def test_order_is_seeded_random_until_both_classes_are_labelled(donners):
    _, records, _ = donners
    model = Prioritiser(records, seed=1)
    model.fit([5], [0])
    assert model.model is None
    first = model.rank(range(258))
    assert first == Prioritiser(records, seed=1).rank(range(258))
    assert first != Prioritiser(records, seed=2).rank(range(258))


def test_cli_simulate_reports_the_library_numbers_and_the_stop(donners, run_seed3):
    path, _, _ = donners
    result = CliRunner().invoke(cli, ["lit", "simulate", "--labels", str(path), "--seed", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = run_seed3.summary()
    for key in ("n_records", "n_included", "wss95", "recall_at_10pct", "recall_at_25pct",
                "start_records", "stop_screened", "stop_recall", "stop_work_saved"):
        assert out[key] == expected[key], key
    assert out["stop_rule"].startswith("hypergeometric") and "0.95" in out["stop_rule"]
    assert out["seconds_per_decision"] > 0
    assert out["stop_recall"] >= 0.95 and out["stop_screened"] < out["n_records"]
