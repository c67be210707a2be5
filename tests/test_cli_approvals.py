"""``ici-atlas approvals``, ``figures approvals``, ``export approvals`` and
``export approval-events``."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from ici_atlas.analyses import approvals as ap
from ici_atlas.cli import cli


def _run(*args):
    result = CliRunner().invoke(cli, list(args))
    return result


def test_summary_json_has_data_and_review_columns():
    result = _run("approvals", "--summary", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["metric"]: r for r in json.loads(result.stdout)}
    assert rows["agents"]["review"] == 32  # the review's stated value (comparison column)
    assert rows["agents"]["data"] == ap.compute_counts(ap.load_approval_events())["agents"]
    assert ap.REVIEW_CITATION in result.stderr


def test_filtered_events_as_csv():
    result = _run("approvals", "--agent", "pembrolizumab", "--since", "2023", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and list(rows[0]) == list(ap.COLUMNS)
    assert all(r["agent"] == "pembrolizumab" and r["date"] >= "2023" for r in rows)


def test_table_output_and_per_agent_rows():
    result = _run("approvals", "--cancer", "NSCLC", "--agents")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["agent", "target", "first_agency", "first_approval_date"]


def test_bad_option_values_give_one_line_errors():
    result = _run("approvals", "--agency", "ANVISA")
    assert result.exit_code == 2
    assert "Invalid agency" in result.stderr and "Traceback" not in result.output
    assert _run("approvals", "--since", "yesterday").exit_code == 2


def test_export_approvals_csv_has_one_row_per_agent():
    result = _run("export", "approvals", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["agent", "target", "first_agency", "first_approval_date",
                             "first_indication", "n_events", "n_cancer_groups"]
    events = ap.load_approval_events()
    assert len(rows) == len({e.agent for e in events})
    for row in rows:
        ap.PartialDate.parse(row["first_approval_date"])


def test_export_approval_events_to_file(tmp_path):
    out = tmp_path / "events.json"
    result = _run("export", "approval-events", "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data) == len(ap.load_approval_events())
    assert all(r["source"] for r in data)


def test_figure_3_is_written_as_png_and_svg(tmp_path):
    result = _run("figures", "approvals", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    png, svg = tmp_path / "fig3_approvals.png", tmp_path / "fig3_approvals.svg"
    assert png.stat().st_size > 10_000 and svg.read_text(encoding="utf-8").startswith("<?xml")


def test_figure_svg_is_deterministic(tmp_path):
    from ici_atlas.figures.approvals import plot_approvals
    from ici_atlas.figures import save_figure

    events = ap.load_approval_events()
    a = save_figure(plot_approvals(events), tmp_path / "a", "f", formats=("svg",))[0]
    b = save_figure(plot_approvals(events), tmp_path / "b", "f", formats=("svg",))[0]
    assert a.read_bytes() == b.read_bytes()


def test_help_texts_have_examples():
    for args in (["approvals"], ["figures", "approvals"], ["export", "approvals"],
                 ["export", "approval-events"]):
        result = _run(*args, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout, args
