"""``ici-atlas orr``, ``ici-atlas export orr-arms`` and ``ici-atlas figures efficacy``."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from ici_atlas.analyses import efficacy as ef
from ici_atlas.cli import cli

SPEC_COLUMNS = ["trial", "nct_id", "pmid", "doi", "agent", "target_class", "tumor_group", "line",
                "n_evaluable", "responders", "orr_percent", "verified", "source"]


def run(*args):
    result = CliRunner().invoke(cli, list(args))
    return result


def _csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_export_columns_start_as_specified():
    result = run("export", "orr-arms", "--format", "csv")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split(",")
    assert header[: len(SPEC_COLUMNS)] == SPEC_COLUMNS
    rows = _csv(result.stdout)
    assert len(rows) == len(ef.load_orr_arms())
    assert all(r["source"] for r in rows)
    assert {r["verified"] for r in rows} == {"yes", "no"}


def test_export_to_file_and_json(tmp_path):
    out = tmp_path / "arms.json"
    result = run("export", "orr-arms", "--format", "json", "--output", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert list(data[0])[: len(SPEC_COLUMNS)] == SPEC_COLUMNS


def test_export_writes_every_row_and_says_which_are_pooled():
    rows = _csv(run("export", "orr-arms", "--tumor", "HCC").stdout)
    assert {r["verified"] for r in rows} == {"yes", "no"}
    pooled = [r for r in rows if r["in_default_pool"] == "yes"]
    assert pooled and all(r["left_out_because"] == "" for r in pooled)
    assert all(r["left_out_because"] for r in rows if r["in_default_pool"] == "no")
    assert len(pooled) == len(ef.query_orr_arms(tumor="HCC"))


def test_orr_default_table_is_the_default_pool_and_says_what_was_left_out():
    result = run("orr", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = _csv(result.stdout)
    assert rows and list(rows[0])[:3] == ["tumor", "line", "k"]
    pool = ef.query_orr_arms()
    assert sum(int(r["k"]) for r in rows) == len(pool)
    assert sum(int(r["patients"]) for r in rows) == sum(a.n_evaluable for a in pool)
    left = ef.left_out_counts()
    assert f"left out: {sum(left.values())} rows" in result.stderr
    assert "haematological malignancy" in result.stderr and "(0 unverified)" in result.stderr
    listed = _csv(run("orr", "--left-out", "--format", "csv").stdout)
    assert len(listed) == sum(left.values())


def test_orr_filters():
    hcc = _csv(run("orr", "--tumor", "HCC", "--csv").stdout)
    assert hcc and {r["tumor"] for r in hcc} == {"HCC"}
    first = _csv(run("orr", "--line", "first", "--csv").stdout)
    assert first and {r["line"] for r in first} == {"first-line"}
    arms = _csv(run("orr", "--class", "PD-L1", "--arms", "--csv").stdout)
    from ici_atlas.vocab import load_agents

    pdl1_agents = {a.agent_id for a in load_agents() if a.target_class == "PD-L1"}
    assert arms and {r["agent"] for r in arms} <= pdl1_agents
    nivo = _csv(run("orr", "--agent", "nivolumab", "--arms", "--csv").stdout)
    assert nivo and {r["agent"] for r in nivo} == {"nivolumab"}


def test_orr_include_unverified_adds_arms():
    base = _csv(run("orr", "--arms", "--csv").stdout)
    more = _csv(run("orr", "--arms", "--csv", "--include-unverified").stdout)
    assert len(more) > len(base)
    assert {r["verified"] for r in base} == {"yes"}


def test_orr_pooled_json_has_intervals():
    data = json.loads(run("orr", "--tumor", "CRC", "--by", "group", "--json").stdout)
    (row,) = data
    assert row["k"] >= 2 and row["ci_lb"] < row["orr"] < row["ci_ub"]
    assert row["pi_lb"] <= row["ci_lb"] and row["i2"] is not None


def test_orr_bad_tumor_is_one_line_error():
    result = run("orr", "--tumor", "Lung")
    assert result.exit_code == 2
    assert "Invalid cancer group 'Lung'" in result.output and "Fix:" in result.output
    assert "Traceback" not in result.output


def test_orr_glmm():
    result = run("orr", "--tumor", "CRC", "--by", "group", "--method", "GLMM", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert 0.2 < row["orr"] < 0.45


@pytest.mark.parametrize("args", [["orr"], ["export", "orr-arms"], ["figures", "efficacy"]])
def test_help_ends_with_an_example(args):
    text = run(*args, "--help").output
    assert "Example:" in text and "ici-atlas " in text.split("Example:")[1]


def test_figures_are_written_and_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = run("figures", "efficacy", "--out", str(out))
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in a.iterdir())
    assert "figure4_orr.png" in names and "figure4_orr.svg" in names
    assert any(n.startswith("forest_") and n.endswith(".svg") for n in names)
    assert (a / "figure4_orr.svg").read_bytes() == (b / "figure4_orr.svg").read_bytes()


def test_orr_figure_dir(tmp_path):
    result = run("orr", "--tumor", "cSCC", "--figure-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "figure4_orr.png").is_file()
    assert (tmp_path / "forest_cscc-any.png").is_file()
