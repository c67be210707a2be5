"""Helpers for bulk work on the store: many rows in one statement, and the cyclic garbage
collector paused while large batches of parsed records are alive."""

from __future__ import annotations

import gc
from typing import Callable, Sequence

import duckdb

Columns = Sequence[tuple[str, str]]  # (name, DuckDB type)


def unnest_select(columns: Columns) -> str:
    """``SELECT unnest(?::T[]) AS c, ...``: one parameter (a list) per column."""
    return "SELECT " + ", ".join(f"unnest(?::{t}[]) AS {c}" for c, t in columns)


def transpose(rows: list[list]) -> list[list]:
    """Rows to per-column lists (the parameters of :func:`unnest_select`)."""
    return [list(col) for col in zip(*rows)]


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, columns: Columns, rows: list[list],
                or_ignore: bool = False) -> None:
    """Insert many rows in one statement (DuckDB's executemany is slow: ~ms per row)."""
    if not rows:
        return
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    names = ", ".join(c for c, _ in columns)
    con.execute(f"{verb} INTO {table} ({names}) {unnest_select(columns)}", transpose(rows))


def pause_gc() -> Callable[[], None]:
    """Disable Python's cyclic GC and return the function that restores it.

    Parsed study records and result rows hold no reference cycles, so during bulk work the
    collector only walks millions of live objects for nothing (it cost ~25% of load time).
    """
    was_enabled = gc.isenabled()
    gc.disable()

    def restore() -> None:
        if was_enabled:
            gc.enable()

    return restore
