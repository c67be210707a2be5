"""Read ClinicalTrials.gov study records from local files.

Accepted inputs (a file or a directory searched recursively, in sorted order):

* one API v2 study per ``.json`` file (``{"protocolSection": ...}``);
* a JSON array of v2 studies (the website's "Download → JSON");
* an API v2 page (``{"studies": [...]}``);
* a bulk ``.zip`` of such JSON (or XML) files;
* classic API v1 JSON (``{"FullStudiesResponse": {"FullStudies": [{"Study": ...}]}}``),
  converted to the v2 shape (:mod:`.ctgov_legacy`);
* legacy ``<clinical_study>`` XML, converted likewise.

Tables (CSV/TSV/XLSX) and other files are skipped and reported with the reason. A record
that does not parse, or lacks ``protocolSection`` or its NCT ID, is yielded with an
``error`` so the loader can quarantine it. Nothing here touches the store.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

import orjson

from ..errors import InputError
from .ctgov_legacy import convert_v1_study, convert_xml_study

NCT_RE = re.compile(r"^NCT\d{8}$")
TABLE_SUFFIXES = {".csv", ".tsv", ".xlsx", ".xls", ".txt"}
_RAW_LIMIT = 20_000  # characters of a bad record kept in quarantine


@dataclass
class FoundRecord:
    """One study record found in the input (valid, or with the reason it is not)."""

    ref: str  # file (relative to the input) plus "#item" / "!member" where it sits
    source_format: str  # v2-json | v1-json | ctgov-xml
    study: dict | None = None  # the v2-shaped study, when it could be read
    original: str | None = None  # the record as found, for converted formats
    error: str | None = None
    field: str | None = None
    raw: str | None = None

    @property
    def nct_id(self) -> str | None:
        if self.study is None:
            return None
        return study_nct_id(self.study)

    @property
    def last_update(self) -> str:
        return study_last_update(self.study) or "" if self.study else ""


@dataclass
class SkippedFile:
    """A file that holds no study records (a table, a derived summary ...)."""

    ref: str
    reason: str


def study_nct_id(study: dict) -> str | None:
    try:
        value = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def study_last_update(study: dict) -> str | None:
    try:
        value = study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def check_study(study: object) -> tuple[str, str] | None:
    """``(field, reason)`` when ``study`` is not a usable v2 study, else None."""
    if not isinstance(study, dict):
        return "", f"a study must be a JSON object, not {type(study).__name__}"
    ps = study.get("protocolSection")
    if not isinstance(ps, dict):
        keys = ", ".join(sorted(study)[:6]) or "none"
        return "protocolSection", f"missing protocolSection (keys: {keys})"
    nct = study_nct_id(study)
    if nct is None:
        return "protocolSection.identificationModule.nctId", "missing NCT ID"
    if not NCT_RE.match(nct):
        return "protocolSection.identificationModule.nctId", f"invalid NCT ID {nct!r}"
    return None


def _raw(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:_RAW_LIMIT]


def _v2(ref: str, study: object) -> FoundRecord:
    problem = check_study(study)
    if problem:
        return FoundRecord(ref, "v2-json", error=problem[1], field=problem[0], raw=_raw(study))
    return FoundRecord(ref, "v2-json", study=study)  # type: ignore[arg-type]


def _v1(ref: str, item: object) -> FoundRecord:
    study = item.get("Study") if isinstance(item, dict) else None
    if not isinstance(study, dict) or not isinstance(study.get("ProtocolSection"), dict):
        return FoundRecord(
            ref, "v1-json", error="v1 record without Study.ProtocolSection",
            field="Study.ProtocolSection", raw=_raw(item),
        )
    converted = convert_v1_study(study)
    problem = check_study(converted)
    if problem:
        return FoundRecord(
            ref, "v1-json", error=problem[1], field="ProtocolSection.IdentificationModule.NCTId",
            raw=_raw(item),
        )
    return FoundRecord(
        ref, "v1-json", study=converted, original=orjson.dumps(study).decode()
    )


def read_json_document(ref: str, data: bytes) -> Iterator[FoundRecord | SkippedFile]:
    """The study records in one JSON document."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield FoundRecord(
            ref, "v2-json", error=f"invalid JSON: {exc}", field=None,
            raw=data[:_RAW_LIMIT].decode("utf-8", "replace"),
        )
        return
    if isinstance(doc, list):
        if not any(isinstance(x, dict) and "protocolSection" in x for x in doc):
            yield SkippedFile(
                ref, f"JSON array of {len(doc)} items, none with protocolSection (not study records)"
            )
            return
        for i, item in enumerate(doc):
            yield _v2(f"{ref}#{i}", item)
        return
    if isinstance(doc, dict):
        if "FullStudiesResponse" in doc:
            full = (doc["FullStudiesResponse"] or {}).get("FullStudies") or []
            for i, item in enumerate(full):
                yield _v1(f"{ref}#{i}", item)
            return
        if isinstance(doc.get("studies"), list) and "protocolSection" not in doc:
            for i, item in enumerate(doc["studies"]):
                yield _v2(f"{ref}#{i}", item)
            return
        if "FullStudy" in doc or ("Study" in doc and "protocolSection" not in doc):
            yield _v1(ref, doc.get("FullStudy") or doc)
            return
    yield _v2(ref, doc)


def read_xml_document(ref: str, data: bytes) -> Iterator[FoundRecord | SkippedFile]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        yield FoundRecord(
            ref, "ctgov-xml", error=f"invalid XML: {exc}",
            raw=data[:_RAW_LIMIT].decode("utf-8", "replace"),
        )
        return
    if root.tag != "clinical_study":
        yield SkippedFile(ref, f"XML root <{root.tag}> is not <clinical_study>")
        return
    study = convert_xml_study(root)
    problem = check_study(study)
    if problem:
        yield FoundRecord(
            ref, "ctgov-xml", error=problem[1], field="id_info/nct_id",
            raw=data[:_RAW_LIMIT].decode("utf-8", "replace"),
        )
        return
    yield FoundRecord(ref, "ctgov-xml", study=study, original=data.decode("utf-8", "replace"))


def _read_bytes(ref: str, name: str, data: bytes) -> Iterator[FoundRecord | SkippedFile]:
    suffix = PurePosixPath(name.lower()).suffix
    if suffix == ".json":
        yield from read_json_document(ref, data)
    elif suffix == ".xml":
        yield from read_xml_document(ref, data)
    elif suffix in TABLE_SUFFIXES:
        yield SkippedFile(ref, f"{suffix} table: flattened exports lack the nested study record")
    else:
        yield SkippedFile(ref, f"not a study file ({suffix or 'no extension'})")


Source = tuple[str, str, "Path | bytes"]  # (ref, file or member name, file path or member bytes)


def iter_study_sources(path: str | Path) -> Iterator[Source | SkippedFile]:
    """The files (and ZIP members) under ``path`` that may hold study records, in order,
    without reading them; documentation and hidden files are skipped."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"No such file or directory {str(path)!r}",
            fix="Pass --from a directory of v2 JSON files, a JSON array, or a bulk ZIP.",
        )
    if path.is_file():
        files = [path]
        root = path.parent
    else:
        files = sorted(p for p in path.rglob("*") if p.is_file())
        root = path
    for file in files:
        ref = file.relative_to(root).as_posix()
        if file.name.startswith(".") or file.name in ("PROVENANCE.md", "README.md"):
            yield SkippedFile(ref, "documentation / hidden file")
        elif file.suffix.lower() == ".zip":
            yield from _zip_members(ref, file)
        else:
            yield (ref, file.name, file)


def _zip_members(ref: str, path: Path) -> Iterator[Source]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"Cannot read ZIP {str(path)!r}: {exc}", fix="Download the bulk ZIP again."
        ) from exc
    with archive:
        for member in sorted(archive.namelist()):
            if not member.endswith("/"):
                yield (f"{ref}!{member}", member, archive.read(member))


def read_source(ref: str, name: str, src: "Path | bytes") -> Iterator[FoundRecord | SkippedFile]:
    """The study records of one source of :func:`iter_study_sources`."""
    yield from _read_bytes(ref, name, src.read_bytes() if isinstance(src, Path) else src)


def read_study_files(path: str | Path) -> Iterator[FoundRecord | SkippedFile]:
    """Every study record under ``path`` (a file or a directory, recursively)."""
    for source in iter_study_sources(path):
        if isinstance(source, SkippedFile):
            yield source
        else:
            yield from read_source(*source)
