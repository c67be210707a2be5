"""How the store keeps raw study JSON: the exact bytes, compressed with Zstandard.

Loading 200,000 studies means about 4 GB of JSON. Handing that text to DuckDB costs more
than parsing it (DuckDB writes it to the write-ahead log, then compresses and writes it
again at each checkpoint, all in the one writing process). Compressing each record where it
is prepared — in the worker processes — hands DuckDB a quarter of the bytes, and the
compression runs in parallel. Each value is a standard Zstandard frame: any ``zstd`` tool
decompresses it, and connections opened by :func:`ici_atlas.store.db.connect` have the SQL
function ``study_json(json_zstd)`` that returns the text.
"""

from __future__ import annotations

import threading

import zstandard

#: Level 1: 0.1 ms per 20 KB study on one core, about 4× smaller. Higher levels gain ~3 %.
LEVEL = 1
#: The largest study JSON a stored value may expand to (the largest real records are a few
#: MB; anything bigger is not a study record).
MAX_JSON_BYTES = 64 * 1024 * 1024

#: zstandard's (de)compressor objects are not thread-safe (they release the GIL while they
#: work): one per thread — the dashboard's server threads and DuckDB's threads calling
#: ``study_json`` each get their own.
_local = threading.local()


class CorruptRecord(ValueError):
    """A stored value that is not a Zstandard frame of JSON text."""


def pack_json(text: bytes) -> bytes:
    """The stored form of a study's JSON ``text`` (UTF-8 bytes)."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return compressor.compress(text)


def unpack_json(blob: bytes | None) -> bytes:
    """The JSON bytes of a stored value (raises :class:`CorruptRecord`)."""
    if blob is None:
        raise CorruptRecord("no stored JSON (NULL)")
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    try:
        return decompressor.decompress(blob, max_output_size=MAX_JSON_BYTES)
    except zstandard.ZstdError as exc:
        raise CorruptRecord(f"not a Zstandard frame of at most {MAX_JSON_BYTES // 2**20} MiB: "
                            f"{exc}") from exc


def unpack_text(blob: bytes | None) -> str:
    """The JSON text of a stored value."""
    return unpack_json(blob).decode("utf-8")


def register_sql_functions(con) -> None:
    """Give ``con`` the SQL function ``study_json(BLOB) -> VARCHAR`` (NULL stays NULL)."""
    try:
        con.create_function("study_json", _sql_study_json, ["BLOB"], "VARCHAR",
                            null_handling="special", side_effects=False)
    except Exception as exc:  # already registered on this connection
        if "already exists" not in str(exc):
            raise


def _sql_study_json(blob: bytes | None) -> str | None:
    return None if blob is None else unpack_text(blob)
