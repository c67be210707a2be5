"""Shared CLI behaviour: output formats and one-line errors without tracebacks."""

from __future__ import annotations

import csv
import io
import json

import click
from click.testing import CliRunner

from ici_atlas.cli import _Group
from ici_atlas.tables import frame, render_text
from ici_atlas.errors import InputError

def render_rows(rows, fmt):
    return render_text(frame(rows), fmt)


ROWS = [
    {"nct_id": "NCT02142738", "phase": "PHASE3", "agents": ["pembrolizumab"], "n": 305},
    {"nct_id": "NCT02477826", "phase": "PHASE3", "agents": ["nivolumab", "ipilimumab"], "n": 1739},
]


def test_json_output_round_trips():
    out = json.loads(render_rows(ROWS, "json"))
    assert out[1]["agents"] == ["nivolumab", "ipilimumab"]
    assert out[0]["n"] == 305


def test_csv_and_tsv_join_lists_with_semicolons():
    for fmt, delim in (("csv", ","), ("tsv", "\t")):
        rows = list(csv.reader(io.StringIO(render_rows(ROWS, fmt)), delimiter=delim))
        assert rows[0] == ["nct_id", "phase", "agents", "n"]
        assert rows[2][2] == "nivolumab;ipilimumab"


def test_table_output_has_header_and_one_line_per_row():
    lines = render_rows(ROWS, "table").splitlines()
    assert lines[0].split() == ["nct_id", "phase", "agents", "n"]
    assert len(lines) == 2 + len(ROWS)


def test_library_error_becomes_one_line_with_fix_and_exit_code():
    @click.group(cls=_Group)
    def app():
        pass

    @app.command()
    def boom():
        raise InputError("Invalid phase 'PHASE9'; expected one of [PHASE1, PHASE2]", fix="Use --phase PHASE2.")

    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == InputError.exit_code
    assert "Traceback" not in result.output
    assert "Error: Invalid phase 'PHASE9'" in result.output
    assert "Fix: Use --phase PHASE2." in result.output


def test_lazy_command_table_matches_what_modules_register():
    """Every command a CLI module registers is in the lazy table, pointing to that module,
    so `ici-atlas <command>` finds it without importing everything."""
    import importlib

    from ici_atlas.cli import _COMMANDS

    for module_name in sorted(set(_COMMANDS.values())):
        probe = click.Group("probe")
        importlib.import_module(module_name).register(probe)
        for name in probe.commands:
            if name in ("export", "figures") and module_name not in (_COMMANDS[name],):
                continue  # providers of the shared groups may touch them
            assert _COMMANDS.get(name) == module_name, f"{name!r} registered by {module_name}"


def test_shared_groups_collect_every_provider():
    from ici_atlas.cli import cli

    ctx = click.Context(cli)
    export = cli.get_command(ctx, "export")
    figures = cli.get_command(ctx, "figures")
    assert {"trials", "approvals", "approval-events", "orr-arms", "landscape"} <= set(export.commands)
    assert {"approvals", "efficacy", "evidence", "landscape"} <= set(figures.commands)
