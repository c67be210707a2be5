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

import os
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

import orjson

from .ctgov_check import MAX_RECORD_BYTES, check_study, oversized, study_warnings  # noqa: F401

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


def study_aliases(study: dict, nct_id: str | None = None) -> list[str]:
    """The earlier NCT IDs the registry lists for this record (``nctIdAliases``), valid ones
    only and never the record's own."""
    try:
        value = study["protocolSection"]["identificationModule"].get("nctIdAliases")
    except (KeyError, TypeError, AttributeError):
        return []
    if not isinstance(value, list):
        return []
    own = nct_id or study_nct_id(study)
    return [a for a in value if isinstance(a, str) and NCT_RE.match(a) and a != own]


def study_last_update(study: dict) -> str | None:
    try:
        value = study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _raw(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:_RAW_LIMIT]


def _v2(ref: str, study: object, big_document: bool = False) -> FoundRecord:
    problem = check_study(study)
    if problem is None and big_document:  # only a document over the limit can hold such a record
        problem = oversized(len(orjson.dumps(study)))
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
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark (Windows editors)
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        other = _other_registry(data=data, name=ref)
        if other:  # e.g. a ChiCTR page saved with a .json name
            yield SkippedFile(ref, other)
            return
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
        big = len(data) > MAX_RECORD_BYTES
        for i, item in enumerate(doc):
            yield _v2(f"{ref}#{i}", item, big)
        return
    if isinstance(doc, dict):
        if "FullStudiesResponse" in doc:
            response = doc["FullStudiesResponse"]
            full = response.get("FullStudies") if isinstance(response, dict) else None
            if not isinstance(full, list):
                yield FoundRecord(ref, "v1-json", error="FullStudiesResponse has no "
                                  "FullStudies list", field="FullStudiesResponse.FullStudies",
                                  raw=data[:_RAW_LIMIT].decode("utf-8", "replace"))
                return
            for i, item in enumerate(full):
                yield _v1(f"{ref}#{i}", item)
            return
        if isinstance(doc.get("studies"), list) and "protocolSection" not in doc:
            big = len(data) > MAX_RECORD_BYTES
            for i, item in enumerate(doc["studies"]):
                yield _v2(f"{ref}#{i}", item, big)
            return
        if "FullStudy" in doc or ("Study" in doc and "protocolSection" not in doc):
            yield _v1(ref, doc.get("FullStudy") or doc)
            return
        if "protocolSection" not in doc:
            other = _other_registry(doc=doc)
            if other:  # a CTIS, ISRCTN, EUCTR or ctrdata record
                yield SkippedFile(ref, other)
                return
    yield _v2(ref, doc, len(data) > MAX_RECORD_BYTES)


#: The start of the reason a file is skipped here because another registry's reader takes it.
OTHER_REGISTRY = "another registry's records"


def _other_registry(doc: object = None, data: bytes | None = None, name: str = "") -> str | None:
    """A skip reason when the document is another registry's record (read by
    :mod:`ici_atlas.sources.registries`), else None."""
    from .registries.detect import registry_json_format, sniff

    if data is None:
        fmt, why = registry_json_format(doc), ""
    else:
        fmt, _, why = sniff(data, name)
    if fmt:
        return f"{OTHER_REGISTRY} ({fmt}): read by the registry readers"
    if data is not None and why.startswith(("ChiCTR search-results", "HTML page", "EUCTR web")):
        return why  # a web page saved with a .json name: not a study record
    return None


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
        reason = (f"{OTHER_REGISTRY} (ictrp-xml): read by the registry readers"
                  if root.tag == "Trials_downloaded_from_ICTRP"
                  else f"XML root <{root.tag}> is not <clinical_study>")
        yield SkippedFile(ref, reason)
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

#: The largest single file or ZIP member read (bytes): each is parsed in memory. The
#: registry's records are 5 KB-5 MB each and a bulk ZIP's members are single studies; the
#: website's JSON download of 10,000 studies is ~300 MB. A bigger file is almost certainly
#: not a study export (or is a decompression bomb).
MAX_INPUT_BYTES = 512 * 1024**2
ENV_MAX_INPUT_BYTES = "ICI_ATLAS_MAX_INPUT_BYTES"


def max_input_bytes() -> int:
    value = os.environ.get(ENV_MAX_INPUT_BYTES, "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_INPUT_BYTES


def _unreadable(ref: str, why: str, fix: str = "") -> FoundRecord:
    """A file (or ZIP member) whose records could not be read: quarantined under its name,
    so the run completes and the loss is counted and kept."""
    return FoundRecord(ref, "file", error=why + (f" ({fix})" if fix else ""), field="file")


def _walk_files(root: Path) -> Iterator[Path | SkippedFile]:
    """Every file under ``root``, sorted, following symbolic links to folders (a linked
    download folder is read like any other) but never the same folder twice."""
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = Path(folder)
        try:
            st = here.stat()
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            yield SkippedFile(here.relative_to(root).as_posix() + "/",
                              "folder already read (a symbolic link loops back to it)")
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        for name in sorted(files):
            yield here / name


def iter_study_sources(path: str | Path) -> Iterator[Source | SkippedFile | FoundRecord]:
    """The files (and ZIP members) under ``path`` that may hold study records, in order,
    without reading them; documentation and hidden files are skipped. A file or member that
    cannot be read comes as a :class:`FoundRecord` with its error (to quarantine)."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"No such file or directory {str(path)!r}",
            fix="Pass --from a directory of v2 JSON files, a JSON array, or a bulk ZIP.",
        )
    if path.is_file():
        files: Iterator[Path | SkippedFile] = iter([path])
        root = path.parent
    else:
        files = _walk_files(path)
        root = path
    limit = max_input_bytes()
    for file in files:
        if isinstance(file, SkippedFile):
            yield file
            continue
        ref = file.relative_to(root).as_posix()
        if file.name.startswith(".") or file.name in ("PROVENANCE.md", "README.md"):
            yield SkippedFile(ref, "documentation / hidden file")
            continue
        try:
            size = file.stat().st_size
        except OSError as exc:  # a dangling link, a file removed while reading ...
            yield _unreadable(ref, f"cannot read the file: {exc.strerror or exc}")
            continue
        if file.suffix.lower() == ".zip":
            yield from _zip_members(ref, file, limit)
        elif size > limit and file.suffix.lower() in (".json", ".xml"):
            yield _unreadable(ref, f"file of {size:,} bytes is larger than the "
                                   f"{limit:,}-byte limit", f"raise {ENV_MAX_INPUT_BYTES}")
        else:
            yield (ref, file.name, file)


def _zip_members(ref: str, path: Path, limit: int) -> Iterator[Source | FoundRecord]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield _unreadable(ref, f"not a readable ZIP: {exc}", "download the bulk ZIP again")
        return
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            member = info.filename
            mref = f"{ref}!{member}"
            if PurePosixPath(member.lower()).suffix not in (".json", ".xml"):
                yield (mref, member, b"")  # skipped by name, unread
                continue
            if info.file_size > limit:
                yield _unreadable(mref, f"ZIP member of {info.file_size:,} bytes (uncompressed) "
                                        f"is larger than the {limit:,}-byte limit",
                                  f"raise {ENV_MAX_INPUT_BYTES}")
                continue
            try:
                with archive.open(info) as fh:
                    data = fh.read(limit + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                    RuntimeError) as exc:  # CRC error, truncated, encrypted, unknown method
                yield _unreadable(mref, f"cannot read the ZIP member: {exc}",
                                  "download the bulk ZIP again")
                continue
            if len(data) > limit:  # the header lied about the size
                yield _unreadable(mref, f"ZIP member inflates past the {limit:,}-byte limit")
                continue
            yield (mref, member, data)


def read_source(ref: str, name: str, src: "Path | bytes") -> Iterator[FoundRecord | SkippedFile]:
    """The study records of one source of :func:`iter_study_sources`."""
    if isinstance(src, Path) and PurePosixPath(name.lower()).suffix in (".json", ".xml"):
        try:
            src = src.read_bytes()
        except OSError as exc:
            yield _unreadable(ref, f"cannot read the file: {exc.strerror or exc}")
            return
    yield from _read_bytes(ref, name, src if isinstance(src, bytes) else b"")


def read_study_files(path: str | Path) -> Iterator[FoundRecord | SkippedFile]:
    """Every study record under ``path`` (a file or a directory, recursively)."""
    for source in iter_study_sources(path):
        if isinstance(source, (SkippedFile, FoundRecord)):
            yield source
        else:
            yield from read_source(*source)
