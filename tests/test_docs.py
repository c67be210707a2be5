"""Docs stay true to the code: CLI reference current, every command has an example,
every vocabulary and curated data file is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from ici_atlas.cli.reference import iter_commands, render_cli_reference

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current():
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == render_cli_reference(), (
        "docs/cli.md is stale: run `python -m ici_atlas.cli.reference > docs/cli.md`"
    )


@pytest.mark.parametrize("name,cmd", list(iter_commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_help_has_an_example(name, cmd):
    text = (cmd.help or "") + (cmd.epilog or "")
    assert "Example" in text, f"`{name} --help` has no example"


def test_every_data_file_is_documented():
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    files = sorted((ROOT / "ici_atlas" / "vocab").glob("*.tsv")) + sorted(
        p for p in (ROOT / "ici_atlas" / "data").glob("*") if p.suffix in {".tsv", ".yaml", ".json"}
    )
    missing = [f.name for f in files if f.name not in docs]
    assert not missing, f"data files not mentioned in docs/: {missing}"


def test_readme_tour_is_current(shared_data, monkeypatch):
    """The README's tour is the output of the current code on the shared records
    (regenerate with `python scripts/readme_tour.py`)."""
    import importlib.util

    monkeypatch.setenv("ICI_ATLAS_SHARED_DATA", str(shared_data))
    spec = importlib.util.spec_from_file_location("readme_tour", ROOT / "scripts" / "readme_tour.py")
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    assert tour.main(["--check"]) == 0, "README tour is stale: run `python scripts/readme_tour.py`"
