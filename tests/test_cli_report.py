"""`ici-atlas run` (the whole job) and `ici-atlas report` through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ici_atlas.store import db
from ici_atlas.cli import cli

pytestmark = pytest.mark.shared_data


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart already
        return CliRunner()


def test_run_from_local_records(ctgov_data, tmp_path):
    store, out = tmp_path / "atlas.duckdb", tmp_path / "report"
    result = _runner().invoke(cli, [
        "run", "--from", str(ctgov_data / "vrinda2019__NSCLCBench"), "--db", str(store),
        "--out", str(out), "--figure-formats", "svg"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(out / "index.html")
    for step in ("[1/4] store", "[2/4] records: loading", "[3/4] classify: 100 records",
                 "[4/4] report"):
        assert step in result.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "not built" not in html
    con = db.connect(store, read_only=True)
    try:
        pd1 = con.execute("SELECT count(*) FROM trials WHERE is_pd1_pdl1").fetchone()[0]
    finally:
        con.close()
    assert pd1 > 0
    assert f"classified studies; {pd1:,} (" in html
    assert (out / "figures" / "fig2a_phases.svg").exists()


def test_run_with_unreachable_registry(tmp_path):
    store, out = tmp_path / "atlas.duckdb", tmp_path / "report"
    result = _runner().invoke(cli, [
        "run", "--api-url", "http://127.0.0.1:9", "--timeout", "2", "--db", str(store),
        "--out", str(out), "--figure-formats", "svg"])
    assert result.exit_code == 0, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "ClinicalTrials.gov unreachable" in ln]
    assert len(lines) == 1
    assert "landscape sections will not be built" in lines[0] and "--from PATH" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == str(out / "index.html")
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<section id="landscape"><h2>' in html and "Not built: no trial records loaded" in html
    for section in ("approvals", "efficacy", "strategies", "methods"):
        block = html[html.index(f'<section id="{section}">'):]
        assert "notbuilt" not in block[: block.index("</section>")]


def test_run_offline_says_so_in_one_line(tmp_path):
    result = _runner().invoke(cli, [
        "run", "--offline", "--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "r"),
        "--figure-formats", "svg"])
    assert result.exit_code == 0, result.stderr
    assert len([ln for ln in result.stderr.splitlines() if "offline, registry not contacted" in ln]) == 1
    assert (tmp_path / "r" / "figures" / "fig4_orr.svg").exists()


def test_report_without_store(tmp_path):
    out = tmp_path / "r"
    result = _runner().invoke(cli, ["report", "--db", str(tmp_path / "none.duckdb"), "--out",
                                    str(out), "--figure-formats", "svg"])
    assert result.exit_code == 0, result.stderr
    assert "no store at" in result.stderr
    assert Path(result.stdout.strip()) == out / "index.html"
    assert not (tmp_path / "none.duckdb").exists()


def test_bad_figure_format(tmp_path):
    result = _runner().invoke(cli, ["report", "--db", str(tmp_path / "x.duckdb"), "--out",
                                    str(tmp_path / "r"), "--figure-formats", "gif"])
    assert result.exit_code == 2
    assert re.search(r"invalid figure format 'gif'", result.stderr + result.output)
