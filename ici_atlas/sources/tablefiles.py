"""A user's table file — CSV, TSV, Parquet or Excel — as a pandas DataFrame.

The format is recognised from the file's first bytes (not its name): Parquet (``PAR1``),
XLSX (a ZIP), UTF-16 text (byte-order mark), otherwise UTF-8 text whose delimiter
(``,``, ``;`` or tab) is sniffed. A file that is none of these (a binary file, text in an
unknown encoding) is rejected with one line naming the file and what was found.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from ..errors import InputError

_PARQUET = b"PAR1"
_ZIP = b"PK\x03\x04"
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
MAX_BYTES = 512 * 1024 * 1024


def read_table_file(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8192)
    except FileNotFoundError:
        raise InputError(f"No such file {str(path)!r}", fix="Check the path.") from None
    except IsADirectoryError:
        raise InputError(f"{str(path)!r} is a folder, not a table file",
                         fix="Give the path of a CSV, TSV, Parquet or XLSX file.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {str(path)!r}: {exc.strerror or exc}",
                         fix="Check the file's permissions.") from exc
    if size > MAX_BYTES:
        raise InputError(f"{path.name} is {size / 2**20:,.0f} MiB; tables up to "
                         f"{MAX_BYTES // 2**20} MiB are read",
                         fix="Pool a smaller table (one row per study).")
    if head.startswith(_PARQUET):
        return _parquet(path)
    if head.startswith(_ZIP):
        return _xlsx(path)
    if head.startswith(_UTF16):
        encoding = "utf-16"
    else:
        if b"\x00" in head:
            raise InputError(f"{path.name} is a binary file, not a CSV/TSV, Parquet or XLSX table",
                             fix="Export the table as CSV (UTF-8), TSV, Parquet or XLSX.")
        encoding = "utf-8-sig"
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path.name} is not UTF-8 text (byte {exc.start}: "
                         f"{exc.object[exc.start:exc.start + 1]!r})",
                         fix="Save the table as CSV in UTF-8 (or as XLSX/Parquet).") from None
    return _delimited(path, text)


def _delimited(path: Path, text: str) -> pd.DataFrame:
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.reader(io.StringIO(text), dialect)
        rows = [r for r in reader if any(cell.strip() for cell in r)]
    except csv.Error as exc:
        raise InputError(f"Malformed CSV {path.name}: {exc}",
                         fix="Save the file as plain comma-separated values.") from exc
    if not rows:
        raise InputError(f"{path.name} is empty", fix="Give a table with a header row.")
    header = [h.strip() for h in rows[0]]
    width = len(header)
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != width:
            raise InputError(f"{path.name} row {i} has {len(r)} cells; the header has {width}",
                             fix=f"Correct row {i} (a stray delimiter or quote?).")
    return pd.DataFrame(rows[1:], columns=header, dtype="string")


def _parquet(path: Path) -> pd.DataFrame:
    import duckdb

    from ..store.db import DUCKDB_CONFIG

    con = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
    try:
        return con.execute("SELECT * FROM read_parquet(?)", [str(path)]).df()
    except duckdb.Error as exc:
        raise InputError(f"{path.name} is not a readable Parquet file: "
                         f"{str(exc).splitlines()[0]}",
                         fix="Re-export the table as Parquet or CSV.") from None
    finally:
        con.close()


def _xlsx(path: Path) -> pd.DataFrame:
    try:
        return pd.read_excel(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds for a bad workbook
        raise InputError(f"{path.name} is not a readable XLSX workbook ({type(exc).__name__})",
                         fix="Save it as .xlsx, or export the table as CSV.") from None
