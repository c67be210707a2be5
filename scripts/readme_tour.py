"""Regenerate (or check) the README's five-minute tour from the current code and data.

    python scripts/readme_tour.py            # rewrite the block between the tour markers
    python scripts/readme_tour.py --check    # exit 1 when the README is stale

Each command of the tour is run on the shared ClinicalTrials.gov records
($ICI_ATLAS_SHARED_DATA, default ../shared/data) in a fresh temporary store; its output is
pasted as it is printed (long outputs cut to the lines shown, marked with ``...``), with
what it prints on stderr as ``#`` lines. The test suite runs --check, so the tour cannot go
stale.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- tour:start -->", "<!-- tour:end -->"

#: (command as shown, lines of stdout kept (None: all), show stderr)
TOUR: tuple[tuple[str, int | None, bool], ...] = (
    ("ici-atlas fetch --from ../shared/data/ctgov --classify", None, False),
    ("ici-atlas landscape phases", None, True),
    ("ici-atlas landscape partners --targets-only --top 6", None, False),
    ("ici-atlas trial NCT04294810", 7, False),
    ("ici-atlas approvals --summary", None, False),
    ("ici-atlas orr --by line", None, True),
    ("ici-atlas strategies --phenotype immune-excluded", 6, False),
)


def shared_data() -> Path:
    return Path(os.environ.get("ICI_ATLAS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def render_tour() -> str:
    from click.testing import CliRunner

    from ici_atlas.cli import cli

    shared = shared_data()
    out = ["```text"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {"ICI_ATLAS_DB": str(Path(tmp) / "tour.duckdb"), "COLUMNS": "200"}
        for shown, keep, with_stderr in TOUR:
            args = shlex.split(shown)[1:]
            args = [str(shared / "ctgov") if a == "../shared/data/ctgov" else a for a in args]
            res = CliRunner().invoke(cli, args, env=env)
            if res.exit_code != 0:
                raise SystemExit(f"tour command failed: {shown}\n{res.output}")
            lines = res.stdout.rstrip("\n").splitlines()
            if keep is not None and len(lines) > keep:
                lines = lines[:keep] + ["..."]
            out.append(f"$ {shown}")
            out += [line.rstrip() for line in lines]
            if with_stderr:
                out += [f"# {line}" for line in res.stderr.strip().splitlines()
                        if not line.startswith(("Note:", "Research evidence"))]
            out.append("")
    out.append("$ ici-atlas report        # or: ici-atlas serve  (the dashboard on http://127.0.0.1:8765/)")
    out.append("```")
    return "\n".join(out) + "\n"


def replace_block(text: str, block: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    ns = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    fresh = replace_block(text, render_tour())
    if ns.check:
        if fresh != text:
            print("README tour is stale: run `python scripts/readme_tour.py`", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
