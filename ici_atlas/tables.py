"""Tables as pandas DataFrames with real types, and one writer for every output format.

Every table the library returns is built by :func:`frame` from rows and a column spec
(``{column: kind}``): ``bool`` columns are pandas ``boolean`` (nullable), ``int`` columns
``Int64`` (nullable integers), ``float`` columns ``float64`` (NaN for missing), ``str``
columns ``string``, ``date``/``datetime`` columns ``datetime64``, and ``list`` columns
hold Python lists. The CLI, ``export``, the report's ``tables/`` and the dashboard's
downloads all write a table with :func:`write_table` / :func:`render_text`, so a table has
one schema and one spelling wherever it is written:

- ``table``: aligned text for the terminal;
- ``csv`` / ``tsv``: lists joined by ``;``, booleans ``yes``/``no``, dates ISO 8601, and any
  text cell a spreadsheet would run as a formula prefixed with ``'``;
- ``json``: a list of objects, with real booleans, numbers, lists and ``null``;
- ``parquet`` (written by DuckDB) and ``xlsx`` (openpyxl; lists joined by ``;``): typed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TextIO

import pandas as pd

from .errors import InputError, invalid_choice

FORMATS = ("table", "csv", "tsv", "json", "parquet", "xlsx")
TEXT_FORMATS = ("table", "csv", "tsv", "json")
BINARY_FORMATS = ("parquet", "xlsx")
KINDS = ("str", "int", "float", "bool", "date", "datetime", "list", "json")

_DTYPES = {"str": "string", "int": "Int64", "float": "float64", "bool": "boolean"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def infer_kind(values: Iterable[Any]) -> str:
    """The kind of a column from its first non-missing value."""
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int):
            return "int"
        if isinstance(v, (float, Decimal)):
            return "float"
        if isinstance(v, datetime):
            return "datetime"
        if isinstance(v, date):
            return "date"
        if isinstance(v, (list, tuple, set)):
            return "list"
        if isinstance(v, dict):
            return "json"
        return "str"
    return "str"


def frame(rows: Sequence[Mapping[str, Any]], spec: Mapping[str, str] | Sequence[str] | None = None
          ) -> pd.DataFrame:
    """A DataFrame of ``rows`` with the columns (and kinds) of ``spec``.

    ``spec`` maps each column to one of :data:`KINDS`; a plain list of columns (or None:
    the keys of the first row) infers each kind from the values.
    """
    rows = list(rows)
    if spec is None:
        spec = list(rows[0].keys()) if rows else []
    if not isinstance(spec, Mapping):
        spec = {c: infer_kind(r.get(c) for r in rows) for c in spec}
    data: dict[str, Any] = {}
    for column, kind in spec.items():
        values = [r.get(column) for r in rows]
        data[column] = _series(values, kind)
    df = pd.DataFrame(data, columns=list(spec))
    df.attrs["kinds"] = dict(spec)
    return df


def _series(values: list, kind: str) -> pd.Series:
    if kind not in KINDS:
        raise ValueError(f"unknown column kind {kind!r}")
    if kind == "list":
        return pd.Series([list(v) if isinstance(v, (list, tuple, set)) else
                          ([] if v is None else [v]) for v in values], dtype=object)
    if kind == "json":
        return pd.Series(values, dtype=object)
    if kind in ("date", "datetime"):
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), errors="coerce"))
    if kind == "float":
        return pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
    if kind == "bool":
        return pd.Series([None if v is None else _as_bool(v) for v in values], dtype="boolean")
    if kind == "int":
        return pd.Series([None if v is None or (isinstance(v, float) and math.isnan(v))
                          else int(v) for v in values], dtype="Int64")
    return pd.Series([None if v is None else str(v) for v in values], dtype="string")


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "1")
    return bool(value)


def kinds_of(df: pd.DataFrame) -> dict[str, str]:
    """Each column's kind (from :func:`frame`, else from its dtype)."""
    known = df.attrs.get("kinds") or {}
    out = {}
    for column in df.columns:
        if column in known:
            out[column] = known[column]
            continue
        dtype = df[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[column] = "bool"
        elif pd.api.types.is_integer_dtype(dtype):
            out[column] = "int"
        elif pd.api.types.is_float_dtype(dtype):
            out[column] = "float"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out[column] = "datetime"
        else:
            out[column] = infer_kind(df[column].tolist())
    return out


# ------------------------------------------------------------------------------ records

def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any, kind: str) -> Any:
    """One cell as a plain Python value (JSON-ready)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v, "str") for v in value]
    if _missing(value):
        return None
    if kind == "date" and hasattr(value, "date"):
        return value.date().isoformat()
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat() if kind == "datetime" else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, Decimal):
        return float(value)
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``df`` as plain dicts (what ``--format json`` prints)."""
    kinds = kinds_of(df)
    cols = list(df.columns)
    return [{c: _plain(v, kinds[c]) for c, v in zip(cols, row)}
            for row in df.itertuples(index=False, name=None)]


def text_cell(value: Any, kind: str = "str", sep: str = ";") -> str:
    """One cell as text (CSV, TSV, the terminal table, XLSX lists)."""
    if isinstance(value, (list, tuple)):
        return sep.join(text_cell(v, "str", sep) for v in value)
    if _missing(value):
        return ""
    if isinstance(value, bool) or kind == "bool":
        return "yes" if bool(value) else "no"
    if kind == "date" and hasattr(value, "date"):
        return value.date().isoformat()
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else f"{value:.0f}"
    if isinstance(value, dict):  # e.g. trials by phase: "Phase 3: 1; Phase 2: 1"
        return "; ".join(f"{k}: {text_cell(v)}" for k, v in value.items())
    return str(value)


def safe_csv_cell(text: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


# ------------------------------------------------------------------------------ writing

def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    value = (fmt or "table").strip().lower()
    if value not in allowed:
        raise invalid_choice("format", fmt, allowed, f"Use --format {'|'.join(allowed)}.")
    return value


def render_text(df: pd.DataFrame, fmt: str = "table", max_width: int = 60) -> str:
    """``df`` as terminal table, CSV, TSV or JSON text."""
    fmt = check_format(fmt, TEXT_FORMATS)
    kinds = kinds_of(df)
    columns = [str(c) for c in df.columns]
    rows = list(df.itertuples(index=False, name=None))
    if fmt == "json":
        return json.dumps(records(df), indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt in ("csv", "tsv"):
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_text(v, kinds[c]) for c, v in zip(df.columns, row)])
        return buf.getvalue()
    cells = [[_terminal(text_cell(v, kinds[c])) for c, v in zip(df.columns, row)] for row in rows]
    widths = [len(c) for c in columns]
    for line in cells:
        for i, v in enumerate(line):
            widths[i] = min(max(widths[i], len(v)), max_width)

    def fmt_line(values: Iterable[str]) -> str:
        return "  ".join((v if len(v) <= max_width else v[:max_width - 3] + "...").ljust(w)
                         for v, w in zip(values, widths)).rstrip()

    out = [fmt_line(columns), fmt_line("-" * w for w in widths)] + [fmt_line(c) for c in cells]
    return "\n".join(out) + "\n"


def _csv_text(value: Any, kind: str) -> str:
    text = text_cell(value, kind)
    return safe_csv_cell(text) if kind in ("str", "list", "json") else text


def _terminal(text: str) -> str:
    """Text safe for a terminal: control characters (escape codes) shown as ``?``."""
    return "".join(ch if ch.isprintable() else ("?" if ch not in "\t" else " ") for ch in text)


def write_table(df: pd.DataFrame, fmt: str = "table", out: str | Path | None = None,
                stream: TextIO | None = None) -> Path | None:
    """Write ``df`` in ``fmt`` to the file ``out`` (created with its folder) or to
    ``stream`` (stdout). Parquet and XLSX need a file. Returns the path written, if any."""
    fmt = check_format(fmt)
    if fmt in BINARY_FORMATS:
        if out is None:
            raise InputError(f"--format {fmt} writes a binary file and needs -o/--out FILE",
                             fix=f"Add e.g. -o table.{fmt}.")
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        (_write_parquet if fmt == "parquet" else _write_xlsx)(df, path)
        return path
    text = render_text(df, fmt)
    if out is None:
        (stream or sys.stdout).write(text)
        return None
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    import duckdb

    from .store.db import DUCKDB_CONFIG

    kinds = kinds_of(df)
    plain = df.copy()
    for column, kind in kinds.items():
        if kind == "json":
            plain[column] = [None if _missing(v) else json.dumps(v, sort_keys=True, default=str)
                             for v in plain[column]]
    con = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        con.register("frame", plain)
        select = ", ".join(
            (f'CAST("{c}" AS VARCHAR[]) AS "{c}"' if kinds[c] == "list" else f'"{c}"')
            for c in plain.columns)
        con.execute(f"COPY (SELECT {select} FROM frame) TO '{_sql_path(path)}' (FORMAT parquet)")
    finally:
        con.close()


def _write_xlsx(df: pd.DataFrame, path: Path) -> None:
    kinds = kinds_of(df)
    plain = df.copy()
    for column, kind in kinds.items():
        if kind in ("list", "json"):
            plain[column] = [text_cell(v, kind) for v in plain[column]]
        elif kind == "str":
            plain[column] = [None if _missing(v) else safe_csv_cell(str(v)) for v in plain[column]]
    plain.to_excel(path, index=False, engine="openpyxl")


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def read_table_file(path: str | Path) -> pd.DataFrame:
    """A user's table file (CSV/TSV/TXT, Parquet or XLSX) as a DataFrame, or a one-line
    :class:`InputError` naming the file when it is not such a table."""
    from .sources.tablefiles import read_table_file as _read

    return _read(path)
