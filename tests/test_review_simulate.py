"""Screening prioritisation: WSS@95 and recall on the real SYNERGY labelled sets."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ici_atlas.cli import cli
from ici_atlas.errors import InputError
from ici_atlas.review.simulate import (
    SimulationResult,
    load_labelled_csv,
    simulate_random,
    simulate_screening,
)


@pytest.fixture(scope="module")
def donners(shared_data):
    path = shared_data / "pubmed" / "asreview__synergy-dataset" / "Donners_2021" / "Donners_2021_records.csv"
    if not path.is_file():
        pytest.fail(f"{path} missing from shared data")
    return path


def test_wss_follows_cohen_definition():
    # 10 records, 2 included; both found after screening 3 records:
    # WSS@95 = (10 - 3)/10 - 0.05 = 0.65 (Cohen et al. 2006).
    result = SimulationResult(n_records=10, n_included=2, order=list(range(10)),
                              found=[1, 1, 2, 2, 2, 2, 2, 2, 2, 2])
    assert result.screened_at_recall(0.95) == 3
    assert result.wss(0.95) == pytest.approx(0.65)
    assert result.recall_at(0.10) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def donners_run(donners):
    records, labels = load_labelled_csv(donners)
    return records, labels, simulate_screening(records, labels, seed=0)


def test_real_labelled_set_counts_match_synergy_metadata(donners):
    records, labels = load_labelled_csv(donners)
    # SYNERGY v1 Donners_2021: 258 records, 15 included (shared/data/pubmed/PROVENANCE.md).
    assert len(records) == 258
    assert sum(labels) == 15


def test_prioritisation_beats_random_order_on_real_set(donners_run):
    records, labels, active = donners_run
    random_wss = [simulate_random(labels, seed=s).wss(0.95) for s in range(10)]
    assert active.found[-1] == 15  # every record screened exactly once
    assert sorted(active.order) == list(range(258))
    assert active.wss(0.95) > max(random_wss) + 0.1
    assert active.recall_at(0.25) > 0.5


def test_same_seed_same_result(donners_run):
    records, labels, first = donners_run
    again = simulate_screening(records, labels, seed=0)
    assert again.order == first.order


def test_cli_simulate_json_keys(donners, donners_run):
    result = CliRunner().invoke(cli, ["lit", "simulate", "--labels", str(donners), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"n_records", "n_included", "wss95", "recall_at_10pct", "recall_at_25pct"} <= set(out)
    assert out["n_records"] == 258 and out["n_included"] == 15
    assert out["wss95"] == round(donners_run[2].wss(0.95), 4)  # the CLI reports the library's numbers


def test_bad_label_value_names_line(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("title,abstract,label_included\nA,b,1\nC,d,maybe\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_labelled_csv(path)
    assert "line 3" in err.value.message and "maybe" in err.value.message


def test_missing_column_cli_error_is_one_line(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("title,label_included\nA,1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["lit", "simulate", "--labels", str(path)])
    assert result.exit_code == InputError.exit_code
    assert "abstract" in result.output and "Traceback" not in result.output


def test_hostile_label_files_are_one_line_errors_or_read(tmp_path):
    """Binary bytes, an oversized field: one line naming the file; UTF-16 (Excel's
    "Unicode text") is read; two records with no distinguishing word still simulate."""
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"title,abstract,label_included\n\xcd\xff\x00junk\n")
    huge = tmp_path / "huge.csv"
    huge.write_text("title,abstract,label_included\n\"" + "x" * 200_000 + "\",b,1\n", encoding="utf-8")
    for path, expected in ((binary, "binary.csv"), (huge, "huge.csv line")):
        result = CliRunner().invoke(cli, ["lit", "simulate", "--labels", str(path)])
        assert result.exit_code == InputError.exit_code, result.output
        assert expected in result.output and "Traceback" not in result.output
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text("title,abstract,label_included\na,b,1\nc,d,0\n", encoding="utf-16")
    records, labels = load_labelled_csv(utf16)
    assert [r.title for r in records] == ["a", "c"] and labels == [1, 0]
    result = simulate_screening(records, labels, seed=0)  # TF-IDF keeps no term: random order
    assert sorted(result.order) == [0, 1]
