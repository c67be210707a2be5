"""Options and output shared by every command: --db, and --json/--csv/--tsv tables."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import click

from .. import config


def db_option(func: Callable) -> Callable:
    """``--db PATH`` (default: $ICI_ATLAS_DB or the user's data directory)."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="DuckDB store (default: $ICI_ATLAS_DB or the user data directory).",
    )(func)


def resolve_db(db_path: Path | None) -> Path:
    return db_path or config.default_db_path()


def output_options(func: Callable) -> Callable:
    """Add ``--json``, ``--csv`` and ``--tsv``; the command reads ``fmt``."""
    func = click.option("--tsv", "fmt", flag_value="tsv", help="Tab-separated values.")(func)
    func = click.option("--csv", "fmt", flag_value="csv", help="Comma-separated values.")(func)
    func = click.option("--json", "fmt", flag_value="json", help="JSON (a list of objects).")(func)
    func = click.option("--table", "fmt", flag_value="table", default=True, hidden=True)(func)
    return func


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    if isinstance(value, (list, tuple)):
        return ";".join(_cell(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_rows(
    rows: Sequence[dict], fmt: str = "table", columns: Sequence[str] | None = None
) -> str:
    """Render a list of dicts as a text table, JSON, CSV or TSV."""
    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if fmt == "json":
        return json.dumps(
            [{c: _jsonable(r.get(c)) for c in columns} for r in rows], indent=2, default=str
        ) + "\n"
    if fmt in ("csv", "tsv"):
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(r.get(c)) for c in columns])
        return buf.getvalue()
    # human table
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [len(c) for c in columns]
    for line in cells:
        for i, v in enumerate(line):
            widths[i] = min(max(widths[i], len(v)), 60)
    def fmt_line(values: Iterable[str]) -> str:
        return "  ".join(
            (v if len(v) <= 60 else v[:57] + "...").ljust(w) for v, w in zip(values, widths)
        ).rstrip()
    out = [fmt_line(columns), fmt_line("-" * w for w in widths)]
    out += [fmt_line(line) for line in cells]
    return "\n".join(out) + "\n"


def emit(rows: Sequence[dict], fmt: str = "table", columns: Sequence[str] | None = None) -> None:
    sys.stdout.write(render_rows(rows, fmt, columns))


def info(message: str) -> None:
    """A message for the person at the terminal (stderr, never mixed with data)."""
    click.echo(message, err=True)


def export_options(formats: Sequence[str] = ("csv", "tsv", "json"), default: str = "csv") -> Callable:
    """``--format`` and ``--out/-o/--output FILE`` for the export commands (``fmt``, ``out``)."""

    def decorate(func: Callable) -> Callable:
        func = click.option(
            "--out", "-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
            default=None, help="Write to this file instead of stdout.",
        )(func)
        return click.option(
            "--format", "fmt", type=click.Choice(list(formats)), default=default,
            show_default=True, help="Output format.",
        )(func)

    return decorate


def write_rows(rows: Sequence[dict], columns: Sequence[str], fmt: str, out: Path | None,
               noun: str = "rows") -> None:
    """Rows as CSV/TSV/JSON to ``out`` (a message on stderr says where) or to stdout."""
    text = render_rows(rows, fmt, columns)
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    info(f"wrote {len(rows):,} {noun} to {out}")
