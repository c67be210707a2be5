"""``ici-atlas pool`` end to end through click's runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ici_atlas.cli import cli

CSV = (
    "trial,responders,patients,line\n"
    "A,45,120,first\nB,30,150,later\nC,12,80,later\nD,0,25,first\nE,60,210,first\n"
)


@pytest.fixture()
def arms(tmp_path):
    p = tmp_path / "arms.csv"
    p.write_text(CSV)
    return p


def run(*args):
    return CliRunner().invoke(cli, ["pool", *map(str, args)])


def test_pool_text_and_json(arms):
    r = run("--csv", arms, "--events", "responders", "--total", "patients", "--test", "knha")
    assert r.exit_code == 0, r.output
    assert "Random-Effects Model (k = 5; tau^2 estimator: REML)" in r.output  # as metafor prints
    assert "147/585 events" in r.output and "Test for Heterogeneity:" in r.output
    r = run("--csv", arms, "--events", "responders", "--total", "patients", "--format", "json")
    rows = json.loads(r.stdout)
    assert [row["group"] for row in rows] == ["overall"]
    d = rows[0]
    for key in ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "I2", "H2", "Q", "Q_p",
                "k"):
        assert key in d
    assert d["k"] == 5 and d["ci_lb"] < d["estimate"] < d["ci_ub"]


def test_pool_by_subgroup_json(arms):
    r = run("--csv", arms, "--events", "responders", "--total", "patients", "--by", "line",
            "--format", "json", "--method", "DL")
    rows = json.loads(r.stdout)
    assert [g["group"] for g in rows] == ["first", "later", "overall"]
    assert rows[-1]["df_between"] == 1 and rows[-1]["k"] == 5


def test_pool_glmm_and_tsv(arms):
    r = run("--csv", arms, "--events", "responders", "--total", "patients", "--method", "GLMM",
            "--tsv")
    assert r.exit_code == 0 and r.stdout.splitlines()[0].startswith("group\tk\tevents")
    assert "deprecated" in r.stderr  # --tsv still works, with a note


@pytest.mark.parametrize("content,args,needle", [
    ("a,b\n3,2\n", ("--events", "a", "--total", "b"), "line 2 of bad.csv"),
    ("a,b\n1,x\n", ("--events", "a", "--total", "b"), "line 2 of bad.csv, column 'b'"),
    ("a,b\n1,2\n", ("--events", "zz", "--total", "b"), "Invalid column 'zz' for events"),
    ("a,b\n", ("--events", "a", "--total", "b"), "No data rows to pool in bad.csv"),
])
def test_pool_errors_are_one_line(tmp_path, content, args, needle):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    r = run("--csv", p, *args)
    assert r.exit_code == 2
    err = r.stderr.splitlines()
    assert err[0].startswith("Error: ") and needle in err[0] and err[1].startswith("Fix: ")
    assert "Traceback" not in r.output


def test_pool_help_has_example():
    r = CliRunner().invoke(cli, ["pool", "--help"])
    assert r.exit_code == 0 and "Example:" in r.output and "ici-atlas pool --csv" in r.output
