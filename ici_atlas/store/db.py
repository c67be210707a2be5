"""Opening the store: one DuckDB file, checked, initialised or upgraded (``schema.py``),
with DuckDB's implicit extension loading switched off.

:func:`connect` returns a connection; :func:`open_store` is the same as a context manager
that always closes it. A read-only connection never writes (no table is created, no
migration run); a writable one creates a new store or upgrades an older one in place.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from ..errors import StoreError
from . import schema
from .raw_json import register_sql_functions
from .schema import SCHEMA_VERSION, table_exists  # noqa: F401  (re-exported)

# DuckDB spills to disk past this; keeps a full load + classify of 200,000 studies under
# 2 GiB of memory (docs/performance.md). Override with ICI_ATLAS_DUCKDB_MEMORY.
ENV_MEMORY_LIMIT = "ICI_ATLAS_DUCKDB_MEMORY"
DEFAULT_MEMORY_LIMIT = "1GB"
CHECKPOINT_THRESHOLD = "1GB"

#: ici-atlas never installs or loads a DuckDB extension implicitly (a SQLite file given as
#: --db would otherwise make DuckDB fetch its sqlite scanner from the internet).
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_file(path: Path) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB touches it."""
    if path.is_dir():
        raise StoreError(f"The store path {str(path)!r} is a folder, not a file",
                         fix="Pass --db PATH/ici-atlas.duckdb (a file inside the folder).")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"Cannot read the store {str(path)!r}: {exc.strerror or exc}",
                         fix="Check the file's permissions, or pass another --db PATH.") from exc
    if not head:
        return
    if head[8:12] != _DUCKDB_MAGIC:
        kind = "a SQLite database" if head.startswith(_SQLITE_MAGIC) else "not a DuckDB database"
        raise StoreError(f"The file {str(path)!r} is {kind}, not an ici-atlas store",
                         fix="Pass --db with the path of an ici-atlas store (a .duckdb file), "
                             "or a new path to create one.")


def _open_error(path: Path, exc: duckdb.Error) -> StoreError:
    text = str(exc)
    if "lock" in text.lower():
        return StoreError(f"The store {str(path)!r} is in use by another process",
                          fix="Close the other ici-atlas process (or notebook) using it, "
                              "or pass another --db PATH.")
    if "Read-only file system" in text or "read-only" in text.lower():
        return StoreError(f"The store {str(path)!r} is on a read-only file system",
                          fix="Copy it to a writable folder, or run a read-only command.")
    if "Permission denied" in text or "Operation not permitted" in text:
        return StoreError(f"No permission to open the store {str(path)!r} for writing",
                          fix="Check the file's permissions (or immutable flag), or pass "
                              "another --db PATH.")
    if "not a valid DuckDB database" in text or "Extension" in text:
        return StoreError(f"The file {str(path)!r} is not an ici-atlas store",
                          fix="Pass --db with the path of an ici-atlas store, or a new path.")
    if "different configuration" in text:
        return StoreError(f"The store {str(path)!r} is already open in this process "
                          "with other settings",
                          fix="Close the other connection (Atlas.close()) first.")
    first = text.splitlines()[0] if text else type(exc).__name__
    return StoreError(f"Cannot open the store {str(path)!r}: {first}",
                      fix="Pass another --db PATH, or check the file.")


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (and, if writable, initialise or upgrade) the store at ``path``."""
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError(
            f"No ici-atlas database at {str(path)!r}",
            fix="Load records first with `ici-atlas fetch` (or pass --db PATH to an existing store).",
        )
    _check_file(path)
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder of the store {str(path)!r}: "
                             f"{exc.strerror or exc}",
                             fix="Pass --db with a path in a writable folder.") from exc
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=DUCKDB_CONFIG)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from exc
    try:
        memory = os.environ.get(ENV_MEMORY_LIMIT, DEFAULT_MEMORY_LIMIT)
        if memory:
            con.execute(f"SET memory_limit = '{_check_memory(memory)}'")
        if not read_only:
            # Bulk loads write GBs of JSON text: checkpoint (compress + write) every GB of WAL
            # instead of every 16 MB (DuckDB's default) — loading twice as fast, same store.
            con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        register_sql_functions(con)
        if read_only:
            check_schema_version(con, path)
        else:
            init_schema(con, path)
            from .runs import mark_stale_runs

            mark_stale_runs(con)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open_store(path: str | Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """:func:`connect` as a context manager: the connection is closed on exit."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def _check_memory(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)", value.strip(), flags=re.I):
        raise StoreError(f"Invalid {ENV_MEMORY_LIMIT} {value!r}; expected e.g. '1GB' or '512MB'",
                         fix=f"Set {ENV_MEMORY_LIMIT} to a size such as 2GB, or unset it.")
    return value.strip()


def _refuse(version: str) -> StoreError:
    return StoreError(
        f"Database schema version {version!r} is newer than this ici-atlas supports "
        f"({SCHEMA_VERSION!r})",
        fix="Upgrade ici-atlas, or use a new --db path.",
    )


def _foreign(path: Path | str) -> StoreError:
    return StoreError(
        f"The DuckDB file {str(path)!r} belongs to another program (it has tables but no "
        "ici-atlas schema); ici-atlas does not write into it",
        fix="Pass --db with the path of an ici-atlas store, or a new path to create one.")


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables "
                       "WHERE table_catalog = current_database()").fetchone()[0] > 0


def init_schema(con: duckdb.DuckDBPyConnection, path: Path | str = "") -> None:
    """Create a new store's tables, or upgrade an older store in place."""
    version = schema.stored_version(con)
    if version is None:
        if _has_tables(con):
            raise _foreign(path)
        schema.initialise(con)
        return
    if not version.isdigit() or int(version) > int(SCHEMA_VERSION):
        raise _refuse(version)
    schema.migrate(con, version)


def check_schema_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A read-only connection cannot upgrade an older store: say how to."""
    version = schema.stored_version(con)
    if version is None:
        if _has_tables(con):
            raise _foreign(path)
        raise StoreError(f"The file {str(path)!r} is an empty database, not an ici-atlas store",
                         fix="Load records first with `ici-atlas fetch --db PATH`.")
    if not version.isdigit() or int(version) > int(SCHEMA_VERSION):
        raise _refuse(version)
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"The store {str(path)!r} has the older schema version {version}",
            fix="Run any writing command once to upgrade it in place, e.g. "
                f"`ici-atlas classify --db {path}`.",
        )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")
