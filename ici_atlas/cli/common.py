"""Options and output shared by every command: ``--db``, and one output family,
``--format table|csv|tsv|json|parquet|xlsx`` with ``-o FILE``.

Commands are thin: they turn options into a call of the library (:class:`ici_atlas.Atlas`,
``ici_atlas.pool``) and write the DataFrame it returns with :func:`show`, which is
:func:`ici_atlas.tables.write_table` — the same writer as the API, the report and the
dashboard downloads. ``--json``, ``--csv`` and ``--tsv`` still work for one release, with a
deprecation note on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence

import click
import pandas as pd

from .. import config
from ..tables import FORMATS, write_table


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


def atlas_for(db_path: Path | None):
    from ..api import Atlas

    return Atlas(resolve_db(db_path))


def _deprecated_format(ctx: click.Context, param: click.Parameter, value):
    if value:
        info(f"Note: --{param.name} is deprecated; use --format {param.name} "
             "(the old flag goes in the next release).")
        ctx.meta["ici_atlas_format"] = param.name
    return value


def output_options(func: Callable | None = None, *, formats: Sequence[str] = FORMATS,
                   default: str = "table", out_alias: bool = False, dest: str = "out",
                   deprecated: Sequence[str] = ("tsv", "csv", "json")) -> Callable:
    """Add ``--format/-f`` and ``-o/--output FILE``; the command reads ``fmt`` and ``out``.
    The deprecated ``--json/--csv/--tsv`` flags set the format too."""

    def decorate(f: Callable) -> Callable:
        for name in deprecated:
            f = click.option(f"--{name}", name, is_flag=True, hidden=True, expose_value=False,
                             callback=_deprecated_format)(f)
        names = ("-o", "--output", "--out") if out_alias else ("-o", "--output")
        f = click.option(*names, dest, type=click.Path(dir_okay=False, path_type=Path),
                         default=None, help="Write to FILE instead of stdout (needed for "
                         "parquet and xlsx).")(f)
        return click.option("-f", "--format", "fmt", type=Choice(list(formats),
                            case_sensitive=False), default=None, show_default=False,
                            help=f"Output format: {'|'.join(formats)} (default {default}).",
                            callback=_pick_format(default))(f)

    return decorate(func) if func is not None else decorate


def _pick_format(default: str):
    def callback(ctx: click.Context, param: click.Parameter, value):
        return value.lower() if value else None
    callback.default = default  # type: ignore[attr-defined]
    return callback


def fmt_of(fmt: str | None, default: str = "table") -> str:
    """The format chosen by --format, else a deprecated flag, else ``default``."""
    if fmt:
        return fmt
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        flag = ctx.meta.get("ici_atlas_format")
        if flag:
            return flag
    return default


def show(df: pd.DataFrame, fmt: str | None, out: Path | None = None, noun: str = "rows",
         default: str = "table") -> None:
    """Write ``df`` in the chosen format to ``out`` or stdout (a line on stderr says where)."""
    fmt = fmt_of(fmt, default)
    path = write_table(df, fmt, out, sys.stdout)
    if path is not None:
        info(f"wrote {len(df):,} {noun} to {path}")


def info(message: str) -> None:
    """A message for the person at the terminal (stderr, never mixed with data)."""
    click.echo(message, err=True)


def export_options(formats: Sequence[str] = ("csv", "tsv", "json", "parquet", "xlsx"),
                   default: str = "csv") -> Callable:
    """The output options of the ``export`` commands (default format CSV)."""
    return output_options(formats=formats, default=default, out_alias=True)


def emit(rows, fmt: str | None = None, columns=None, out: Path | None = None,
         noun: str = "rows") -> None:
    """Rows (dicts) as a table in the chosen format (through :func:`ici_atlas.tables.frame`)."""
    from ..tables import frame

    show(frame(list(rows), list(columns) if columns is not None else None), fmt, out, noun)


def command_store(db_path: Path | None, read_only: bool = False):
    """A connection to the store that is closed when the command ends."""
    from ..store.db import connect

    con = connect(resolve_db(db_path), read_only=read_only)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(con.close)
    return con


class Choice(click.Choice):
    """``click.Choice`` that answers a misspelt value with the closest choice."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            from ..errors import suggest

            close = suggest(str(value), [str(c) for c in self.choices])
            if close:
                exc.message = f"{exc.message} (did you mean {close[0]!r}?)"
            raise


class SuggestingGroup(click.Group):
    """A command group that answers a misspelt subcommand with the closest one."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from ..errors import suggest

            close = suggest(name, self.list_commands(ctx))
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} "
                     f"(commands: {', '.join(self.list_commands(ctx))})")
        return super().resolve_command(ctx, args)
