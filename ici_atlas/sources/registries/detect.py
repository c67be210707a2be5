"""Recognise registry files by their content and read a folder that mixes them.

:func:`detect_format` names the format of one file from its bytes (the file name is only a
hint), so a folder may hold any mix of:

============== =====================================================================
``ictrp-xml``  WHO ICTRP "Export to XML" (``<Trials_downloaded_from_ICTRP>``)
``ictrp-csv``  ICTRP CSV export (a header with ``TrialID`` and ``Public title``)
``euctr-text`` EUCTR full-text download ("This file contains full details ...")
``ctrdata-json`` ctrdata records decoded to one JSON object keyed by trial ID (EUCTR, CTIS,
               ISRCTN, CTGOV and CTGOV2 records mixed; ``ctrname`` names the register)
``ctis-json``  CTIS API record(s) (``ctNumber``), one object or a list
``isrctn-json`` ISRCTN record(s) as ctrdata stores them
``euctr-json`` ctrdata EUCTR record(s) (``a2_eudract_number``)
``chictr-html`` ChiCTR trial detail page
============== =====================================================================

Anything else is a :class:`~ici_atlas.sources.ctgov_files.SkippedFile` with the reason
(ClinicalTrials.gov records go through :mod:`ici_atlas.sources.ctgov_files`; ChiCTR search
pages, EUCTR web pages, SQLite stores and compressed caches are named as such).
:func:`read_registry_files` walks a file or folder like
:func:`~ici_atlas.sources.ctgov_files.iter_study_sources` (sorted, ZIPs opened, hidden and
documentation files skipped) and yields :class:`~.model.Registration`,
:class:`~.model.BadRecord` or ``SkippedFile`` items; one bad record or file never stops the
rest.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Iterator

import orjson

from ...errors import IciAtlasError
from ..ctgov_files import FoundRecord, SkippedFile, iter_study_sources, max_input_bytes
from ..ctgov_legacy import convert_xml_study
from .chictr import is_chictr_detail, read_chictr_html
from .ctis import is_ctis_record, registration_from_ctis
from .euctr import TEXT_MARK, collapse_member_states, euctr_row_from_ctrdata, read_euctr_text
from .ictrp import read_ictrp_csv, read_ictrp_xml
from .isrctn import is_isrctn_record, registration_from_isrctn
from .model import BadRecord, Registration, classify_id, registration_from_v2, to_iso_date

FORMATS = ("ictrp-xml", "ictrp-csv", "euctr-text", "ctrdata-json", "ctis-json", "isrctn-json",
           "euctr-json", "chictr-html")
Item = Registration | BadRecord | SkippedFile
_RAW_LIMIT = 2_000_000


def _record_kind(record: object) -> str | None:
    """EUCTR / CTIS / ISRCTN / CTGOV / CTGOV2 for one ctrdata-style record."""
    if not isinstance(record, dict):
        return None
    name = record.get("ctrname")
    if isinstance(name, str) and name:
        return name.upper()
    if "a2_eudract_number" in record:
        return "EUCTR"
    if is_ctis_record(record):
        return "CTIS"
    if is_isrctn_record(record):
        return "ISRCTN"
    if "protocolSection" in record:
        return "CTGOV2"
    if isinstance(record.get("id_info"), dict):
        return "CTGOV"
    return None


def _json_format(doc: object) -> tuple[str | None, str]:
    records = doc if isinstance(doc, list) else [doc]
    if isinstance(doc, dict):
        if "protocolSection" in doc or "studies" in doc or "FullStudiesResponse" in doc:
            return None, "ClinicalTrials.gov records: read them with ici_atlas.sources.ctgov_files"
        if "meta-info" in doc:
            return "ctrdata-json", ""
        values = list(doc.values())
        if _record_kind(doc) is None and values and all(_record_kind(v) for v in values):
            return "ctrdata-json", ""
    kinds = {_record_kind(r) for r in records}
    if kinds == {"CTIS"}:
        return "ctis-json", ""
    if kinds == {"ISRCTN"}:
        return "isrctn-json", ""
    if kinds == {"EUCTR"}:
        return "euctr-json", ""
    if kinds and kinds <= {"CTGOV", "CTGOV2"}:
        return None, "ClinicalTrials.gov records: read them with ici_atlas.sources.ctgov_files"
    return None, "JSON that holds no registry records this package reads"


def sniff(data: bytes, name: str = "") -> tuple[str | None, object, str]:
    """``(format, parsed JSON or None, reason when the format is None)``."""
    if data.startswith(b"SQLite format 3\x00"):
        return None, None, ("SQLite database (a ctrdata store?): export or decode its records "
                            "to JSON first")
    if data[:2] == b"\x1f\x8b":
        return None, None, "gzip-compressed data (a web cache?): not a registry export"
    if not data.strip():
        return None, None, "empty file"
    head = data[:65536].decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t")
    if head.startswith(("{", "[")):
        try:
            doc = orjson.loads(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
        except orjson.JSONDecodeError as exc:
            if PurePosixPath(name.lower()).suffix == ".json":
                return None, None, f"invalid JSON: {exc}"
            return None, None, "not a registry export (not JSON, content not recognised)"
        fmt, why = _json_format(doc)
        return fmt, doc, why
    low = head[:4096].lower()
    if head.startswith("<"):
        if "<html" in low or "<!doctype html" in low:
            text = data.decode("utf-8", errors="replace")
            if is_chictr_detail(text):
                return "chictr-html", None, ""
            if "historyversionpub.html?regno=" in text:
                return None, None, "ChiCTR search-results page (a list of trials, no details)"
            if "clinicaltrialsregister.eu" in low or "/ctr-search/" in text:
                return None, None, ("EUCTR web page: not read (use the EUCTR full-text "
                                    "download)")
            return None, None, "HTML page that is not a registry trial record"
        bare = re.sub(r"<\?.*?\?>|<!--.*?-->", "", head, flags=re.S)
        m = re.search(r"<([A-Za-z_][\w.:-]*)[\s>/]", bare)
        root = m.group(1) if m else ""
        if root == "Trials_downloaded_from_ICTRP":
            return "ictrp-xml", None, ""
        if root == "clinical_study":
            return None, None, "ClinicalTrials.gov XML: read it with ici_atlas.sources.ctgov_files"
        return None, None, f"XML with root <{root}>: not a registry export read here"
    if head.startswith(TEXT_MARK) or re.search(r"(?m)^Summary\s*\nEudraCT Number:", head):
        return "euctr-text", None, ""
    first = head.split("\n", 1)[0]
    if "TrialID" in first and re.search(r"Public[ _]title", first):
        return "ictrp-csv", None, ""
    suffix = PurePosixPath(name.lower()).suffix
    return None, None, f"not a registry export ({suffix or 'no extension'}; content not recognised)"


def registry_json_format(doc: object) -> str | None:
    """The registry format of a parsed JSON document, None when it is not one read here
    (ClinicalTrials.gov records included: ``ctgov_files`` reads those)."""
    return _json_format(doc)[0]


def registry_bytes_format(data: bytes, name: str = "") -> str | None:
    """The registry format of a file's bytes, None when it is not one read here."""
    return sniff(data, name)[0]


def detect_format(path_or_bytes: Path | str | bytes, name: str = "") -> str | None:
    """The format of a file (see the module docstring), None when it is not one read here."""
    if isinstance(path_or_bytes, bytes):
        data = path_or_bytes
    else:
        path = Path(path_or_bytes)
        name = name or path.name
        data = path.read_bytes()
    return sniff(data, name)[0]


# --- ctrdata's mixed JSON --------------------------------------------------------------------

def _xml_element(tag: str, value) -> ET.Element | list[ET.Element]:
    """ctrdata's JSON of a legacy ClinicalTrials.gov XML record, back as XML elements."""
    if isinstance(value, list):
        return [e for v in value for e in _as_list(_xml_element(tag, v))]
    el = ET.Element(tag)
    if isinstance(value, dict):
        attrs = value.get("@attributes")
        if isinstance(attrs, dict):
            el.attrib.update({str(k): str(v) for k, v in attrs.items()})
        for key, child in value.items():
            if key in ("@attributes", "comment") or child is None:
                continue
            if key == "#text":
                el.text = html.unescape(str(child))
                continue
            for sub in _as_list(_xml_element(key, child)):
                el.append(sub)
    elif value is not None:
        el.text = html.unescape(str(value))
    return el


def _as_list(x) -> list:
    return x if isinstance(x, list) else [x]


def registration_from_ctrdata_ctgov(record: dict, ref: str, raw: str = "") -> Registration:
    """A ctrdata CTGOV record (legacy XML as JSON) through the legacy XML converter."""
    root = _xml_element("clinical_study", record)
    study = convert_xml_study(root)
    reg = registration_from_v2(study, ref=ref, source_format="ctrdata-ctgov", raw=raw)
    first = (record.get("study_first_submitted") if isinstance(record, dict) else None)
    if isinstance(first, str):
        reg.registration_date = to_iso_date(first) or reg.registration_date
    ids = record.get("id_info") if isinstance(record, dict) else None
    for value in _as_list((ids or {}).get("secondary_id") or []):
        if isinstance(value, str) and classify_id(value):
            reg.add_secondary_id(value, "id_info.secondary_id")
    for value in _as_list((ids or {}).get("nct_alias") or []):
        if isinstance(value, str):
            reg.add_secondary_id(value, "id_info.nct_alias", registry="CTGOV")
    return reg


def _one(kind: str | None, key: str, record: dict, ref: str) -> Registration | BadRecord | None:
    raw = orjson.dumps(record).decode()[:_RAW_LIMIT]
    try:
        if kind == "EUCTR":
            return euctr_row_from_ctrdata(key, record, ref, raw)
        if kind == "CTIS":
            return registration_from_ctis(record, ref, raw)
        if kind == "ISRCTN":
            return registration_from_isrctn(record, ref, raw)
        if kind == "CTGOV2":
            return registration_from_v2(record, ref=ref, source_format="ctrdata-ctgov2", raw=raw)
        if kind == "CTGOV":
            return registration_from_ctrdata_ctgov(record, ref, raw)
    except IciAtlasError as exc:
        return BadRecord(ref, "record", exc.message, raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return BadRecord(ref, "record", f"unreadable {kind} record: {exc!r}", raw)
    return BadRecord(ref, "ctrname", f"record of an unknown register ({kind!r})", raw)


def read_ctrdata_json(ref: str, doc: dict) -> Iterator[Registration | BadRecord]:
    """Every record of a ctrdata JSON object keyed by trial ID (``meta-info`` skipped);
    EUCTR member-state rows merged per EudraCT number."""
    items = []
    for key, record in doc.items():
        if key == "meta-info":
            continue
        if not isinstance(record, dict):
            items.append(BadRecord(f"{ref}#{key}", "record", "not a JSON object",
                                   str(record)[:2000]))
            continue
        items.append(_one(_record_kind(record), key, record, f"{ref}#{key}"))
    yield from collapse_member_states(items)


def _read_records(ref: str, doc: object, kind: str) -> Iterator[Registration | BadRecord]:
    records = doc if isinstance(doc, list) else [doc]
    items = []
    for i, record in enumerate(records):
        ref_i = f"{ref}#{i}" if isinstance(doc, list) else ref
        key = str(record.get("_id", "")) if isinstance(record, dict) else ""
        items.append(_one(kind, key, record, ref_i) if isinstance(record, dict)
                     else BadRecord(ref_i, "record", "not a JSON object", str(record)[:2000]))
    yield from collapse_member_states(items)


# --- files and folders ----------------------------------------------------------------------

def read_registry_source(ref: str, name: str, data: bytes) -> Iterator[Item]:
    """The registrations in one file's bytes (or why it is skipped)."""
    fmt, doc, why = sniff(data, name)
    if fmt is None:
        if why.startswith("invalid JSON") and PurePosixPath(name.lower()).suffix == ".json":
            yield BadRecord(ref, "file", why, data[:20_000].decode("utf-8", "replace"))
        else:
            yield SkippedFile(ref, why)
        return
    readers = {
        "ictrp-xml": lambda: read_ictrp_xml(ref, data),
        "ictrp-csv": lambda: read_ictrp_csv(ref, data),
        "euctr-text": lambda: read_euctr_text(ref, data),
        "chictr-html": lambda: read_chictr_html(ref, data),
        "ctrdata-json": lambda: read_ctrdata_json(ref, doc),  # type: ignore[arg-type]
        "ctis-json": lambda: _read_records(ref, doc, "CTIS"),
        "isrctn-json": lambda: _read_records(ref, doc, "ISRCTN"),
        "euctr-json": lambda: _read_records(ref, doc, "EUCTR"),
    }
    try:
        yield from readers[fmt]()
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeError, ET.ParseError) as exc:
        yield BadRecord(ref, "file", f"{fmt} reader failed: {exc!r}")


def read_registry_files(path: str | Path) -> Iterator[Item]:
    """Every registration in a file or folder (recursively, sorted; ZIP members ending
    .json/.xml are read), with a BadRecord for each record or file that could not be read
    and a SkippedFile for each file that holds none."""
    limit = max_input_bytes()
    for source in iter_study_sources(path):
        if isinstance(source, SkippedFile):
            yield source
            continue
        if isinstance(source, FoundRecord):  # a file that could not be opened
            yield BadRecord(source.ref, source.field or "file", source.error or "unreadable")
            continue
        ref, name, src = source
        if isinstance(src, bytes):
            if not src and PurePosixPath(name.lower()).suffix not in (".json", ".xml"):
                yield SkippedFile(ref, "ZIP member not read (only .json and .xml members are)")
                continue
            data = src
        else:
            try:
                size = src.stat().st_size
                if size > limit:
                    yield BadRecord(ref, "file", f"file of {size:,} bytes is larger than the "
                                    f"{limit:,}-byte limit")
                    continue
                data = src.read_bytes()
            except OSError as exc:
                yield BadRecord(ref, "file", f"cannot read the file: {exc.strerror or exc}")
                continue
        yield from read_registry_source(ref, name, data)
