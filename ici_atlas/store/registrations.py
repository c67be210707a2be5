"""Store registrations of registries other than ClinicalTrials.gov (WHO ICTRP exports, EU
CTIS and EUCTR, ISRCTN, ChiCTR): the files ``load_files`` handed on, read by
:mod:`ici_atlas.sources.registries`, one row per registration in ``registrations``.

A run of kind ``load-registry`` reconciles ``found = stored + quarantined + duplicates``
like a ClinicalTrials.gov load; a record that cannot be read is quarantined naming the field
(the EUCTR error file's ``JSON_ERROR_HERE`` tokens name A.7 and A.8). Loading the same
registration twice changes nothing (content hash).
"""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

import duckdb
import orjson

from .db import transaction
from .raw_json import pack_json, unpack_json
from .runs import finish_run, fail_run, now_utc, quarantine_record, start_run, update_run
from ..sources.ctgov_files import SkippedFile, max_input_bytes
from ..sources.registries.detect import read_registry_source
from ..sources.registries.model import BadRecord, Registration

KIND = "load-registry"
#: Skip reasons of the ClinicalTrials.gov reader whose files are never another registry's.
_NOT_HANDED = ("documentation / hidden file", "folder already read")


@dataclass
class RegistryLoad:
    run_id: int
    found: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    duplicates: int = 0
    by_registry: dict[str, int] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.new + self.updated + self.unchanged

    def summary(self) -> str:
        regs = ", ".join(f"{k} {v:,}" for k, v in sorted(self.by_registry.items()))
        return (f"run {self.run_id} ok: {self.found:,} registrations of other registries found "
                f"({regs or 'none'}), stored {self.stored:,} (new {self.new:,}, updated "
                f"{self.updated:,}, unchanged {self.unchanged:,}), quarantined "
                f"{self.quarantined:,}, duplicates {self.duplicates:,}")


def to_json(reg: Registration) -> bytes:
    """The registration's fields (without the raw record) as JSON."""
    data = dataclasses.asdict(reg)
    data.pop("raw", None)
    data["secondary_id_fields"] = [[r, i, f] for (r, i), f in reg.secondary_id_fields.items()]
    data["secondary_ids"] = [list(x) for x in reg.secondary_ids]
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def from_json(blob: bytes) -> Registration:
    data = orjson.loads(blob)
    data["secondary_ids"] = [tuple(x) for x in data.get("secondary_ids", [])]
    data["secondary_id_fields"] = {(r, i): f for r, i, f in data.get("secondary_id_fields", [])}
    return Registration(**data)


def handed_refs(skipped: Iterable[dict]) -> list[str]:
    """The files the ClinicalTrials.gov reader skipped that another registry's reader may
    take (every skipped file but documentation and folder loops)."""
    return [s["file"] for s in skipped if not s["reason"].startswith(_NOT_HANDED)]


def _read_ref(root: Path, ref: str) -> tuple[str, bytes] | BadRecord:
    """(name, bytes) of a file (``a/b.csv``) or ZIP member (``x.zip!m.json``) under ``root``."""
    limit = max_input_bytes()
    file_part, _, member = ref.partition("!")
    path = root if root.is_file() else root / file_part
    try:
        if member:
            with zipfile.ZipFile(path) as archive:
                info = archive.getinfo(member)
                if info.file_size > limit:
                    return BadRecord(ref, "file", f"ZIP member larger than {limit:,} bytes")
                return member, archive.read(member)
        if path.stat().st_size > limit:
            return BadRecord(ref, "file", f"file larger than the {limit:,}-byte limit")
        return path.name, path.read_bytes()
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        return BadRecord(ref, "file", f"cannot read the file: {exc}")


def iter_handed(root: Path, refs: Iterable[str]) -> Iterator[Registration | BadRecord | SkippedFile]:
    for ref in refs:
        got = _read_ref(root, ref)
        if isinstance(got, BadRecord):
            yield got
            continue
        name, data = got
        if PurePosixPath(name.lower()).suffix in (".zip",):
            continue
        yield from read_registry_source(ref, name, data)


_COLUMNS = ("display_id", "registry", "trial_id", "title", "registration_date", "model_json",
            "study_zstd", "raw_zstd", "content_hash", "source", "source_format", "ref", "run_id",
            "loaded_at")


def load_registrations(con: duckdb.DuckDBPyConnection, path: str | Path,
                       refs: Iterable[str] | None = None) -> RegistryLoad | None:
    """Read the registrations in ``refs`` (files under ``path``; default: every file) and
    store them. None when no file held a registration or a bad record (no run recorded)."""
    from ..sources.registries.detect import read_registry_files

    root = Path(path)
    items = iter_handed(root, refs) if refs is not None else read_registry_files(root)
    source = root.name
    run_id: int | None = None
    result: RegistryLoad | None = None
    seen: dict[str, str] = {}
    try:
        for item in items:
            if isinstance(item, SkippedFile):
                if result is not None:
                    result.skipped.append({"file": item.ref, "reason": item.reason})
                continue
            if run_id is None:
                run_id = start_run(con, KIND, source, None, {"path": source})
                result = RegistryLoad(run_id)
            result.found += 1
            if isinstance(item, BadRecord):
                result.quarantined += 1
                quarantine_record(con, run_id, source, item.ref, item.field, item.reason,
                                  item.raw[:20_000] if item.raw else None)
                continue
            _store(con, item, source, run_id, result, seen)
    except BaseException as exc:
        if run_id is not None:
            fail_run(con, run_id, exc)
        raise
    if result is None:
        return None
    update_run(con, run_id, reported_total=result.found, stored_total=result.stored,
               new_records=result.new, updated_records=result.updated,
               unchanged_records=result.unchanged, quarantined=result.quarantined,
               params=orjson.dumps({"path": source, "by_registry": result.by_registry,
                                    "duplicates": result.duplicates,
                                    "skipped_files": len(result.skipped)}).decode())
    finish_run(con, run_id, "ok", result.summary())
    return result


def _store(con, reg: Registration, source: str, run_id: int, result: RegistryLoad,
           seen: dict[str, str]) -> None:
    display = reg.display_id
    model = to_json(reg)
    digest = hashlib.sha256(model).hexdigest()
    if display in seen:  # the same registration twice in this load (e.g. two exports)
        result.duplicates += 1
        if seen[display] == digest:
            return
    result.by_registry[reg.registry] = result.by_registry.get(reg.registry, 0) + 1
    old = con.execute("SELECT content_hash FROM registrations WHERE display_id = ?",
                      [display]).fetchone()
    if display not in seen:
        if old is None:
            result.new += 1
        elif old[0] == digest:
            result.unchanged += 1
        else:
            result.updated += 1
    seen[display] = digest
    if old is not None and old[0] == digest:
        return
    with transaction(con):
        _write(con, reg, model, digest, source, run_id)


def _write(con, reg: Registration, model: bytes, digest: str, source: str, run_id: int) -> None:
    row = [reg.display_id, reg.registry, reg.trial_id, reg.title or reg.official_title,
           reg.registration_date, model.decode(), pack_json(orjson.dumps(reg.to_v2())),
           pack_json(reg.raw.encode("utf-8")) if reg.raw else None, digest, source,
           reg.source_format, reg.ref, run_id, now_utc()]
    con.execute("DELETE FROM registrations WHERE display_id = ?", [reg.display_id])
    con.execute(f"INSERT INTO registrations ({', '.join(_COLUMNS)}) VALUES "
                f"({', '.join('?' * len(_COLUMNS))})", row)


def write_registration(con: duckdb.DuckDBPyConnection, reg: Registration, source: str,
                       run_id: int) -> str:
    """Store one registration (call inside the caller's transaction): ``"new"``,
    ``"updated"`` or ``"unchanged"`` (same content hash: not rewritten)."""
    model = to_json(reg)
    digest = hashlib.sha256(model).hexdigest()
    old = con.execute("SELECT content_hash FROM registrations WHERE display_id = ?",
                      [reg.display_id]).fetchone()
    if old is not None and old[0] == digest:
        return "unchanged"
    _write(con, reg, model, digest, source, run_id)
    return "new" if old is None else "updated"


def query_registrations(con: duckdb.DuckDBPyConnection) -> list[Registration]:
    """Every stored registration (fields only, not the raw record)."""
    return [from_json(r[0].encode() if isinstance(r[0], str) else r[0]) for r in con.execute(
        "SELECT model_json FROM registrations ORDER BY display_id").fetchall()]


def registration_study(blob: bytes) -> dict:
    """The v2-shaped study of a stored registration."""
    return orjson.loads(unpack_json(blob))
