"""``ici-atlas landscape ...``, ``figures landscape`` and ``export landscape`` on a real store."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest
from click.testing import CliRunner

from ici_atlas.cli import cli
from ici_atlas.figures.landscape import FIGURE_NAMES
from landscape_store import landscape_db  # noqa: F401  (session fixture)

pytestmark = pytest.mark.shared_data


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "command", ["phases", "cancers", "partners", "bispecifics", "years", "sponsors", "countries"]
)
def test_each_analysis_prints_json_with_counts(landscape_db, command):  # noqa: F811
    result = run("landscape", command, "--db", str(landscape_db), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    if command != "bispecifics":
        assert rows and all("trials" in r and "percent" in r for r in rows)
    assert "PD-1/PD-L1 trials" in result.stderr


def test_phase_table_adds_up_and_names_the_total(landscape_db):  # noqa: F811
    result = run("landscape", "phases", "--db", str(landscape_db))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["phase", "trials", "percent"]
    total = int(result.stderr.split()[0].replace(",", ""))
    counts = [int(line.rsplit(None, 2)[-2]) for line in lines[2:]]
    assert len(counts) == 8 and sum(counts) == total


def test_csv_and_filters(landscape_db):  # noqa: F811
    result = run("landscape", "cancers", "--db", str(landscape_db), "--class", "PD-L1",
                 "--top", "5", "--csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["cancer_group", "label", "trials", "percent", "groups"]
    assert len([r for r in rows if r["groups"] == "1"]) <= 5
    assert "anti-PD-L1" in result.stderr
    three = run("landscape", "phases", "--db", str(landscape_db), "--phase", "III", "--json")
    by_phase = {r["phase"]: r["trials"] for r in json.loads(three.stdout)}
    assert sum(by_phase.values()) == by_phase["Phase 3"] > 0


@pytest.mark.parametrize("args, where", [
    (("--line", "later-line"), "line_of_therapy = 'later-line'"),
    (("--status", "RECRUITING", "--status", "COMPLETED"),
     "overall_status IN ('RECRUITING', 'COMPLETED')"),
    (("--sponsor", "INDUSTRY", "--monotherapy", "yes"),
     "sponsor_class = 'INDUSTRY' AND monotherapy_arm"),
    (("--posted-since", "2019", "--posted-until", "2022"),
     "year(first_posted) BETWEEN 2019 AND 2022"),
    (("--bispecific", "no", "--country", "China"),
     "NOT bispecific AND list_contains(countries, 'China')"),
])
def test_every_classified_field_is_a_command_line_filter(landscape_db, args, where):  # noqa: F811
    """The dashboard's facets are the command's flags too: the total it names is the count
    of the store's PD-(L)1 trials with that value."""
    result = run("landscape", "phases", "--db", str(landscape_db), "--format", "json", *args)
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(landscape_db), read_only=True)
    try:
        expected = con.execute(f"SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND "
                               f"representative AND {where}").fetchone()[0]
    finally:
        con.close()
    assert sum(r["trials"] for r in json.loads(result.stdout)) == expected > 0
    assert int(result.stderr.split()[0].replace(",", "")) == expected


def test_bad_phase_is_one_line_error(landscape_db):  # noqa: F811
    result = run("landscape", "phases", "--db", str(landscape_db), "--phase", "5")
    assert result.exit_code == 2
    assert "Invalid phase '5'" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_cancer_lists_choices(landscape_db):  # noqa: F811
    result = run("landscape", "years", "--db", str(landscape_db), "--cancer", "lung")
    assert result.exit_code == 2
    assert "NSCLC" in result.stderr and "Fix:" in result.stderr


def test_missing_store_is_a_store_error(tmp_path):
    result = run("landscape", "phases", "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 1
    assert "No ici-atlas database" in result.stderr


def test_figures_commands_write_all_figures(landscape_db, tmp_path):  # noqa: F811
    result = run("landscape", "figures", "--db", str(landscape_db), "--out", str(tmp_path / "a"))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written == sorted(f"{n}.{e}" for n in FIGURE_NAMES for e in ("png", "svg"))
    # The `figures landscape` spelling, SVG only: the same files, byte for byte.
    result = run("figures", "landscape", "--db", str(landscape_db), "--out", str(tmp_path / "b"),
                 "--format", "svg")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        f"{n}.svg" for n in FIGURE_NAMES
    )
    for name in FIGURE_NAMES:
        assert (tmp_path / "a" / f"{name}.svg").read_bytes() == (
            tmp_path / "b" / f"{name}.svg"
        ).read_bytes()


def test_figure_dir_on_an_analysis(landscape_db, tmp_path):  # noqa: F811
    result = run("landscape", "partners", "--db", str(landscape_db), "--targets-only",
                 "--figure-dir", str(tmp_path))
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig5a_partners.png",
                                                          "fig5a_partners.svg"]


def test_export_landscape_parquet(landscape_db, tmp_path):  # noqa: F811
    result = run("export", "landscape", "--db", str(landscape_db), "--format", "parquet",
                 "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    phases = duckdb.sql(f"SELECT * FROM '{tmp_path / 'landscape_phases.parquet'}'").fetchall()
    cli_rows = json.loads(run("landscape", "phases", "--db", str(landscape_db), "--json").stdout)
    assert phases == [(r["phase"], r["trials"], r["percent"]) for r in cli_rows]
    assert (tmp_path / "landscape_bispecifics.parquet").exists()


def test_help_ends_with_example():
    for args in (("landscape",), ("landscape", "phases"), ("figures", "landscape"),
                 ("export", "landscape")):
        result = run(*args, "--help")
        assert result.exit_code == 0
        lines = [line.strip() for line in result.stdout.splitlines()]
        assert "Example:" in lines
        assert lines[lines.index("Example:") + 1].startswith("ici-atlas ")
