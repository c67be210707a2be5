"""Read bibliographic records exported by hand: PubMed XML, PubMed's MEDLINE text format,
RIS, Web of Science plain text, and CSV/tab-delimited tables (a plain CSV here; the Scopus,
Embase and Web of Science tables in :mod:`ici_atlas.sources.bibtables`).

Each gives :class:`ImportedRecord` rows with the fields screening and de-duplication use.
:func:`read_export` recognises the format from the content (:func:`sniff_format`), not from
the file name, and says which it found.

Bad input never loses good input, and nothing is dropped silently:

* A file is decoded as UTF-8 (a BOM is allowed) or as UTF-16 when it starts with a UTF-16
  BOM (a gzip-compressed file is decompressed first); anything else (or a file holding NUL
  characters, i.e. binary data), an empty file, a directory, a missing file or a format
  not recognised is one :class:`~ici_atlas.errors.InputError` for that file ("file X: not
  UTF-8 text at byte N (line L)").
* A record that cannot be used (no title, an unreadable CSV row) is a *problem*: reported
  by file, record number and field, and left out (``problems``; the CLI quarantines it).
* A record kept with something dropped or guessed (a value that is not a PMID, an RIS
  record without its ``ER`` line, lines outside any record) is a *warning*
  (``warnings``), naming the record and the field.

When the ``problems`` / ``warnings`` lists are not given, a problem raises
:class:`~ici_atlas.errors.InputError` and a warning is issued with :mod:`warnings`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
import warnings as _pywarnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from .ctgov_files import ENV_MAX_INPUT_BYTES, max_input_bytes
from .pubmed_xml import NCT_RE, PMID_RULE, ParseProblem, clean_pmid

RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  - ?(.*)$")
MEDLINE_TAG = re.compile(r"^([A-Z]{2,4})\s*- (.*)$")
RIS_PMID_TAGS = ("AN", "C2", "ID", "M2")  # where reference managers put a PMID
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: \x0c, \x85, \u2028 are text
# "TY - JOUR" / "ER -" with non-standard spacing still mark record boundaries (with a warning),
# so records are not glued together; other such lines stay continuation text.
_LOOSE_BOUNDARY = re.compile(r"^(?:(TY) {1,3}- ?([A-Z]{2,8})|(ER) {1,3}-)\s*$")


@dataclass
class ImportedRecord:
    source_file: str
    position: int
    format: str  # a key of FORMAT_LABELS: pubmed-xml | medline | ris | wos-plain | csv | scopus-csv ...
    title: str
    abstract: str = ""
    pmid: str = ""
    doi: str = ""
    year: int | None = None
    authors: list[str] = field(default_factory=list)
    journal: str = ""
    publication_types: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    nct_ids: list[str] = field(default_factory=list)
    vendor_id: str = ""  # the database's own ID: Scopus EID, Web of Science UT, Embase PUI

    def to_dict(self) -> dict:
        return asdict(self)


#: Every format :func:`read_export` recognises, with the name a user knows it by.
FORMAT_LABELS = {
    "pubmed-xml": "PubMed XML", "medline": "MEDLINE", "ris": "RIS",
    "wos-plain": "Web of Science plain text", "wos-tab": "Web of Science tab-delimited",
    "wos-csv": "Web of Science CSV", "scopus-csv": "Scopus CSV", "embase-csv": "Embase CSV",
    "csv": "CSV",
}


class BibfileWarning(UserWarning):
    """A record was imported with something dropped or guessed (see the module docstring)."""


def _year(text: str) -> int | None:
    match = re.search(r"(1[89][0-9][0-9]|20[0-9][0-9])", text or "")
    return int(match.group(1)) if match else None


def _clean_doi(text: str) -> str:
    text = text.strip()
    text = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", text, flags=re.I)
    return text.split()[0] if text else ""


def _shown(value: str, limit: int = 40) -> str:
    value = str(value)
    return repr(value if len(value) <= limit else value[:limit] + "...")


# -- reading a file as text ---------------------------------------------------------------

_FORMAT_FIX = ("Pass a PubMed XML or MEDLINE export, RIS, a Web of Science plain-text or "
               "tab-delimited export, or a Scopus, Embase or plain CSV (with a title column).")


def read_text(path: str | Path) -> str:
    """The text of ``path``: UTF-8 (BOM allowed) or UTF-16 with a BOM. Anything else — not
    a regular file, unreadable, not text in those encodings, binary (NUL characters) or
    empty — raises :class:`InputError` naming the file (and the byte, for bad encoding)."""
    return decode_text(read_bytes(path), path)


def read_bytes(path: str | Path) -> bytes:
    """The bytes of ``path``, decompressed when it is gzip-compressed (``.gz`` or not);
    a missing file, a directory, an unreadable or corrupt file raise :class:`InputError`."""
    path = Path(path)
    shown = str(path)
    try:
        if not path.exists():
            raise InputError(f"file {shown}: not found", fix=_FORMAT_FIX)
        if path.is_dir():
            raise InputError(f"file {shown}: is a directory, not a file", fix=_FORMAT_FIX)
        if not path.is_file():
            raise InputError(f"file {shown}: not a regular file (a device, pipe or socket)", fix=_FORMAT_FIX)
        limit = max_input_bytes()
        if path.stat().st_size > limit:
            raise _too_big(shown, limit)
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"file {shown}: cannot be read ({exc.strerror or exc})",
                         fix="Check the file's permissions.") from None
    if raw.startswith(b"\x1f\x8b"):
        try:  # read at most one byte past the limit: a small file can inflate enormously
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                raw = fh.read(limit + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"file {shown}: gzip-compressed but cannot be decompressed ({exc})",
                             fix="Download the file again; it is truncated or damaged.") from None
        if len(raw) > limit:
            raise _too_big(shown, limit, "decompressed ")
    return raw


def _too_big(shown: str, limit: int, how: str = "") -> InputError:
    """The same cap as for registry files under ``--from`` (``ICI_ATLAS_MAX_INPUT_BYTES``)."""
    return InputError(f"file {shown}: larger than the {limit:,}-byte limit {how}(not a literature "
                      "export, or a decompression bomb)",
                      fix=f"Split the export, or raise {ENV_MAX_INPUT_BYTES} if it is genuine.")


def decode_text(raw: bytes, path: str | Path) -> str:
    """``raw`` (the bytes of ``path``) as text; see :func:`read_text`."""
    shown = str(path)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, body, offset = "utf-16", raw, 0
    else:
        bom = raw.startswith(codecs.BOM_UTF8)
        encoding, body, offset = "utf-8", raw[3:] if bom else raw, 3 if bom else 0
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        at = offset + exc.start
        line = body[:exc.start].decode(encoding, errors="replace").count("\n") + 1
        what = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise InputError(
            f"file {shown}: not {what} text at byte {at} (line {line})",
            fix="Save the file as UTF-8 (e.g. re-export it as UTF-8, or "
                "`iconv -f WINDOWS-1252 -t UTF-8 in.ris > out.ris`) and import it again.",
        ) from None
    if encoding == "utf-16" and text.startswith("\ufeff"):
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise InputError(f"file {shown}: binary data, not a text export (NUL character on line {line})",
                         fix=_FORMAT_FIX)
    if not text.strip():
        raise InputError(f"file {shown}: empty (no records)", fix=_FORMAT_FIX)
    return text


def _lines(text: str) -> list[str]:
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _problem(problems, ref: str, field_name: str, reason: str) -> None:
    if problems is None:
        raise InputError(f"{ref}: {reason} (field {field_name})", fix="Fix or remove that record and import again.")
    problems.append(ParseProblem(ref, field_name, reason))


def _warn(warnings, ref: str, field_name: str, reason: str) -> None:
    if warnings is None:
        _pywarnings.warn(f"{ref}: {reason} (field {field_name})", BibfileWarning, stacklevel=3)
        return
    warnings.append(ParseProblem(ref, field_name, reason))


def _number_like(value: str) -> bool:
    """A value meant as a number (digits of any script, a sign, a decimal part), as opposed to
    another identifier (a Lens ID, an accession number) held in the same RIS tag."""
    value = re.sub(r"^\s*PMID:?\s*", "", value, flags=re.I).strip()
    return bool(re.fullmatch(r"[+-]?\w+(?:[.,]\w+)?", value)) and all(
        c.isdigit() for c in value if c not in "+-.,")


def _not_a_pmid(value: str) -> str:
    return f"{_shown(value)} is not a PMID ({PMID_RULE}); record kept without a PMID"


# -- MEDLINE -----------------------------------------------------------------------------

def _blocks_medline(lines: list[str], name: str, warnings) -> list[tuple[int, list[tuple[str, str]]]]:
    """(first line number, [(tag, value)]) per record. Records are separated by blank lines;
    a ``PMID-`` line inside a record starts a new one (with a warning)."""
    records: list[tuple[int, list[tuple[str, str]]]] = []
    current: list[tuple[str, str]] = []
    start = 0
    stray: list[int] = []

    def flush_stray() -> None:
        if stray:
            span = f"line {stray[0]}" if len(stray) == 1 else f"lines {stray[0]}-{stray[-1]}"
            _warn(warnings, f"{name} {span}", "line", "not a MEDLINE tag line (TAG - value) nor a continuation; ignored")
            stray.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            flush_stray()
            if current:
                records.append((start, current))
                current = []
            continue
        match = MEDLINE_TAG.match(line)
        if match:
            flush_stray()
            tag = match.group(1)
            if tag == "PMID" and any(t == "PMID" for t, _ in current):
                _warn(warnings, f"{name} line {number}", "PMID",
                      "a new record starts (PMID) without a blank line after the previous one")
                records.append((start, current))
                current = []
            if not current:
                start = number
            current.append((tag, match.group(2).strip()))
        elif current and line.startswith(" ") and not stray:
            tag, value = current[-1]
            current[-1] = (tag, f"{value} {line.strip()}")
        else:
            stray.append(number)
    flush_stray()
    if current:
        records.append((start, current))
    return records


def read_medline(path: str | Path, problems: list[ParseProblem] | None = None,
                 warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    path = Path(path)
    return parse_medline(read_text(path), path.name, problems, warnings)


def parse_medline(text: str, name: str, problems: list[ParseProblem] | None = None,
                  warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    out = []
    for i, (line, tags) in enumerate(_blocks_medline(_lines(text), name, warnings), start=1):
        get = lambda t: [v for k, v in tags if k == t]  # noqa: E731
        ref = f"{name} record #{i} at line {line}"
        title = " ".join(get("TI"))
        if not title:
            _problem(problems, ref, "TI", "no title (no TI line, or an empty one)")
            continue
        raw_pmid = (get("PMID") or [""])[0]
        pmid = clean_pmid(raw_pmid) or ""
        if raw_pmid and not pmid:
            _warn(warnings, ref, "PMID", _not_a_pmid(raw_pmid))
        doi = next((_clean_doi(v.replace("[doi]", "")) for v in get("AID") + get("LID") if "[doi]" in v), "")
        out.append(ImportedRecord(
            source_file=name, position=i, format="medline", title=title,
            abstract=" ".join(get("AB")), pmid=pmid, doi=doi,
            year=_year((get("DP") or [""])[0]), authors=get("AU"), journal=(get("JT") or get("TA") or [""])[0],
            publication_types=get("PT"), keywords=get("OT") + get("MH"),
            nct_ids=sorted({m for v in get("SI") for m in NCT_RE.findall(v)}),
        ))
    return out


# -- RIS ---------------------------------------------------------------------------------

def read_ris(path: str | Path, problems: list[ParseProblem] | None = None,
             warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    path = Path(path)
    return parse_ris(read_text(path), path.name, problems, warnings)


class _TaggedRecords:
    """The record bookkeeping that RIS and Web of Science plain text share: tag lines
    collected into the open record; ``opener`` (``TY`` / ``PT``) inside an open record closes
    it (kept, with a warning that its ``ER`` was missing), ``ER`` closes it, an ``ER`` with no
    record and lines outside any record are warned about; ``build(position, ref, tags,
    unterminated)`` turns the tags into a record (or None when rejected)."""

    def __init__(self, name: str, tag_lines: str, opener: str, warnings, build):
        self.name, self.tag_lines, self.opener, self.warnings, self.build = (
            name, tag_lines, opener, warnings, build)
        self.out: list[ImportedRecord] = []
        self.tags: list = []
        self.start = 0
        self.position = 0
        self.stray: list[int] = []

    def flush_stray(self) -> None:
        if self.stray:
            first, last = self.stray[0], self.stray[-1]
            span = f"line {first}" if first == last else f"lines {first}-{last}"
            _warn(self.warnings, f"{self.name} {span}", "line",
                  f"not {self.tag_lines} and outside any record; ignored")
            self.stray.clear()

    def close(self, unterminated: str | None) -> None:
        self.position += 1
        ref = f"{self.name} record #{self.position} at line {self.start}"
        record = self.build(self.position, ref, self.tags, unterminated)
        if record:
            self.out.append(record)
        self.tags.clear()

    def tag_line(self, number: int, tag: str, value) -> None:
        self.flush_stray()
        if tag == "ER":
            if self.tags:
                self.close(None)
            else:
                _warn(self.warnings, f"{self.name} line {number}", "ER",
                      "ER with no record before it; ignored")
            return
        if tag == self.opener and self.tags:
            self.close(f"the next {self.opener} at line {number}")
        if not self.tags:
            self.start = number
        self.tags.append((tag, value))

    def finish(self) -> list[ImportedRecord]:
        self.flush_stray()
        if self.tags:
            self.close("the end of the file (truncated?)")
        return self.out


def parse_ris(text: str, name: str, problems: list[ParseProblem] | None = None,
              warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """RIS records: ``TY`` starts a record and ``ER`` ends it.

    A ``TY`` line inside an open record (its ``ER`` is missing) closes that record and
    starts a new one: the previous record is kept if it is valid, with a warning that its
    ``ER`` was missing (likewise for the last record of a file without ``ER``). Lines that
    are not tag lines outside any record, and an ``ER`` with no record before it, are
    warned about and ignored. A record without a title is rejected with that reason.
    """
    reader = _TaggedRecords(
        name, "RIS tag lines ('XX  - value')", "TY", warnings,
        lambda position, ref, tags, unterminated: _ris_record(
            name, position, ref, tags, problems, warnings, unterminated))
    tags = reader.tags
    for number, line in enumerate(_lines(text), start=1):
        match = RIS_TAG.match(line.rstrip())
        loose = None if match else _LOOSE_BOUNDARY.match(line)
        if loose:
            _warn(warnings, f"{name} line {number}", loose.group(1) or loose.group(3),
                  f"{_shown(line)}: tag line without the standard spacing 'XX  - '; read as one")
            match = RIS_TAG.match(f"{loose.group(1)}  - {loose.group(2)}" if loose.group(1) else "ER  - ")
        if not match:
            if tags and line.strip():
                tag, value = tags[-1]
                if tag == "KW":  # EndNote writes one keyword per line after the first KW
                    tags.append((tag, line.strip()))
                else:
                    tags[-1] = (tag, f"{value} {line.strip()}")
            elif line.strip():
                reader.stray.append(number)
            continue
        reader.tag_line(number, match.group(1), match.group(2).strip())
    return reader.finish()


def _ris_record(name: str, position: int, ref: str, tags: list[tuple[str, str]], problems, warnings,
                unterminated: str | None) -> ImportedRecord | None:
    get = lambda *names: [v for k, v in tags if k in names]  # noqa: E731
    title = " ".join(v for v in get("TI", "T1") if v)
    if not title:
        also = f"; and not closed with ER before {unterminated}" if unterminated else ""
        _problem(problems, ref, "TI", f"no title (no TI or T1 line, or an empty one){also}")
        return None
    if unterminated:
        _warn(warnings, ref, "ER", f"record not closed with ER before {unterminated}; kept")
    if tags[0][0] != "TY":
        _warn(warnings, ref, "TY", "record does not start with a TY line; kept")
    pmid, not_pmid = "", None
    for tag, value in tags:
        if tag not in RIS_PMID_TAGS:
            continue
        candidate = re.sub(r"^\s*PMID:?\s*", "", value, flags=re.I)
        pmid = clean_pmid(candidate) or ""
        if pmid:
            break
        if not_pmid is None and _number_like(value):
            not_pmid = (tag, value)
    if not pmid and not_pmid:  # other values there (Lens IDs, accession numbers) are not PMIDs
        _warn(warnings, ref, not_pmid[0], _not_a_pmid(not_pmid[1]))
    text = " ".join(get("AB", "N2"))
    return ImportedRecord(
        source_file=name, position=position, format="ris", title=title, abstract=text,
        pmid=pmid, doi=_clean_doi((get("DO") or [""])[0]), year=_year(" ".join(get("PY", "Y1", "DA"))),
        authors=get("AU", "A1"), journal=(get("T2", "JO", "JF") or [""])[0],
        publication_types=get("M3"), keywords=get("KW"),
        nct_ids=sorted(set(NCT_RE.findall(" ".join([title, text]))))
    )


# -- CSV ---------------------------------------------------------------------------------

def read_csv_records(path: str | Path, problems: list[ParseProblem] | None = None,
                     warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """A CSV with at least ``title`` (and usually ``abstract``; ``pmid``, ``doi``, ``year`` or
    ``publication_year`` when present), as screening tools and the SYNERGY sets export."""
    path = Path(path)
    return parse_csv_records(read_text(path), path.name, problems, warnings, file=str(path))


def parse_csv_records(text: str, name: str, problems: list[ParseProblem] | None = None,
                      warnings: list[ParseProblem] | None = None, *, file: str | None = None
                      ) -> list[ImportedRecord]:
    """Records of a CSV export; ``name`` labels records, ``file`` (default ``name``) the file
    in file-level errors."""
    import csv
    import io

    out: list[ImportedRecord] = []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise InputError(f"file {file or name}: the header row cannot be read as CSV ({exc})",
                         fix="A CSV import needs a header row with title (and abstract, pmid, doi, year).") from None
    if "title" not in (fieldnames or []):
        raise InputError(f"file {file or name}: no 'title' column (found {fieldnames})",
                         fix="A CSV import needs title (and abstract, pmid, doi, year where known).")
    i = 0
    while True:
        i += 1
        ref = f"{name} row {i + 1}"
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the csv module's 131,072-character limit
            _problem(problems, ref, "csv", f"row cannot be read as CSV ({exc})")
            continue
        if None in row.values() and any("\n" in v for v in row.values() if isinstance(v, str)):
            _problem(problems, ref, "csv",
                     f"lines {first_line}-{reader.line_num} read as one row with {len(fieldnames)} columns "
                     "expected but fewer found (an unclosed quote?)")
            continue
        title = (row.get("title") or "").strip()
        if not title:
            _problem(problems, ref, "title", "no title (empty title column)")
            continue
        raw_pmid = (row.get("pmid") or "").strip()
        pmid = clean_pmid(raw_pmid) or ""
        if raw_pmid and not pmid:
            _warn(warnings, ref, "pmid", _not_a_pmid(raw_pmid))
        out.append(ImportedRecord(
            source_file=name, position=i, format="csv", title=title,
            abstract=(row.get("abstract") or "").strip(), pmid=pmid,
            doi=_clean_doi(row.get("doi") or ""), year=_year(row.get("year") or row.get("publication_year") or ""),
            nct_ids=sorted(set(NCT_RE.findall(f"{title} {row.get('abstract') or ''}"))),
        ))
    return out


# -- Web of Science plain text ----------------------------------------------------------

WOS_TAG = re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$")
_WOS_FILE_TAGS = ("FN", "VR", "EF")
_WOS_LIST_TAGS = ("AU", "AF", "BA", "BF", "CA", "GP")  # one value per line


def parse_wos_plain(text: str, name: str, problems: list[ParseProblem] | None = None,
                    warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """Web of Science "Plain text file" records: ``FN``/``VR`` file header, then per record
    two-letter tags (``PT`` first, ``ER`` last), continuation lines indented by three
    spaces (a new author for ``AU``/``AF``, more text otherwise), ``EF`` at the end.
    A ``PT`` inside an open record starts a new one (the previous is kept, with a warning
    that its ``ER`` was missing); a record without a title is rejected."""
    reader = _TaggedRecords(
        name, "Web of Science tag lines ('XX value')", "PT", warnings,
        lambda position, ref, tags, unterminated: _wos_record(
            name, position, ref, tags, problems, warnings, unterminated))
    tags = reader.tags
    for number, line in enumerate(_lines(text), start=1):
        line = line.replace("\ufeff", "") if number == 1 else line
        if line.startswith("   ") and tags:
            tags[-1][1].append(line.strip())
            continue
        match = WOS_TAG.match(line.rstrip())
        if not match:
            if line.strip():
                reader.stray.append(number)
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag in _WOS_FILE_TAGS and not tags:
            reader.flush_stray()
            continue
        reader.tag_line(number, tag, [value])
    return reader.finish()


def _wos_record(name: str, position: int, ref: str, tags: list[tuple[str, list[str]]], problems,
                warnings, unterminated: str | None) -> ImportedRecord | None:
    def text(tag: str) -> str:
        return " ".join(" ".join(v for v in values if v) for t, values in tags if t == tag).strip()

    def items(tag: str) -> list[str]:
        return [v for t, values in tags if t == tag for v in values if v]

    def terms(tag: str) -> list[str]:
        return [x.strip() for x in text(tag).split(";") if x.strip()]

    title = text("TI")
    if not title:
        also = f"; and not closed with ER before {unterminated}" if unterminated else ""
        _problem(problems, ref, "TI", f"no title (no TI line, or an empty one){also}")
        return None
    if unterminated:
        _warn(warnings, ref, "ER", f"record not closed with ER before {unterminated}; kept")
    raw_pmid = text("PM")
    pmid = clean_pmid(raw_pmid) or ""
    if raw_pmid and not pmid:
        _warn(warnings, ref, "PM", _not_a_pmid(raw_pmid))
    abstract = text("AB")
    keywords: list[str] = []
    for term in terms("DE") + terms("ID"):
        if term not in keywords:
            keywords.append(term)
    return ImportedRecord(
        source_file=name, position=position, format="wos-plain", title=title, abstract=abstract,
        pmid=pmid, doi=_clean_doi(text("DI") or text("D2")),
        year=_year(text("PY") or text("PD") or text("EA")), authors=items("AU"),
        journal=text("SO"), publication_types=terms("DT"), keywords=keywords,
        nct_ids=sorted(set(NCT_RE.findall(f"{title} {abstract}"))), vendor_id=text("UT"),
    )


# -- PubMed XML files -----------------------------------------------------------------

def parse_pubmed_xml_export(raw: bytes, name: str, problems: list[ParseProblem] | None = None,
                            warnings: list[ParseProblem] | None = None, *, file: str | None = None
                            ) -> list[ImportedRecord]:
    """Records of a PubMed XML file (efetch / "Send to: File, XML" ``PubmedArticleSet`` or a
    baseline ``MedlineCitationSet``), read by :mod:`ici_atlas.sources.pubmed_xml` with its
    protections. An article without a valid PMID or without a title is a problem; XML that
    breaks off after some articles keeps them and is one problem (field ``xml``); XML that
    cannot be read before the first article is an :class:`InputError` for the file."""
    from .pubmed_xml import iter_pubmed_xml

    found: list[ParseProblem] = []
    out: list[ImportedRecord] = []
    position = 0
    for rec in iter_pubmed_xml(raw, found):
        position = len(out) + sum(1 for p in found if p.field != "xml") + 1
        ref = f"{name} article #{position}"
        if not rec.title:
            found.append(ParseProblem(ref, "ArticleTitle", f"PMID {rec.pmid}: no title (empty ArticleTitle)"))
            continue
        out.append(ImportedRecord(
            source_file=name, position=position, format="pubmed-xml", title=rec.title,
            abstract=rec.abstract, pmid=rec.pmid, doi=_clean_doi(rec.doi), year=rec.year,
            authors=rec.authors, journal=rec.journal, publication_types=rec.publication_types,
            keywords=rec.keywords + [m for m in rec.mesh_headings if m not in rec.keywords],
            nct_ids=rec.nct_ids,
        ))
    fatal = [p for p in found if p.field == "xml"]
    if fatal and not out and len(found) == len(fatal):
        raise InputError(f"file {file or name}: {fatal[0].reason}",
                         fix="Export the records again as PubMed XML; the file is not well-formed, "
                             "truncated or refused.")
    for p in found:
        _problem(problems, p.record_ref.replace("<bytes>", name, 1), p.field, p.reason)
    return out


# -- any of them -------------------------------------------------------------------------

_XML_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_PUBMED_ROOTS = ("PubmedArticleSet", "PubmedArticle", "MedlineCitationSet", "MedlineCitation")


def sniff_format(text: str, name: str = "") -> str:
    """The export format of ``text`` (a key of :data:`FORMAT_LABELS`), recognised from the
    content; the file name ``name`` is only used in messages, and to report an unknown
    ``.csv``/``.tsv`` header as such. Raises :class:`InputError` naming the file when
    nothing fits (for a header row that is no known export's, with the columns found)."""
    from .bibtables import EXPECTED_COLUMNS, classify_header

    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("<"):
        root = next((m.group(1) for m in _XML_ROOT.finditer(body[:20_000])
                     if not body[m.start() + 1:m.start() + 2] in "?!"), "")
        if root in _PUBMED_ROOTS:
            return "pubmed-xml"
        raise InputError(f"file {name}: XML, but not PubMed XML (root element <{root or '?'}>)",
                         fix="Export from PubMed with 'Send to: File, format XML', or use another "
                             "export format (RIS, MEDLINE).")
    if re.match(r"(FN [^\n]*\n(VR [^\n]*\n)?\s*PT |PT [A-Z]\s*\n(AU|AF|BA|CA|GP|TI) )", body):
        return "wos-plain"
    first = body.split("\n", 1)[0].rstrip("\r")
    header_fmt = None
    if "\t" in first:
        header_fmt = classify_header(first.split("\t"), "\t")
    elif "," in first or first.strip().strip('"') == "title":
        try:
            header_fmt = classify_header(next(csv.reader([first])), ",")
        except (csv.Error, StopIteration):
            header_fmt = None
    if header_fmt:
        return header_fmt
    head = text[:2000]
    if re.search(r"^TY  - ", head, flags=re.M):
        return "ris"
    if re.search(r"^PMID- ", head, flags=re.M):
        return "medline"
    table_name = re.sub(r"\.gz$", "", name.lower()).endswith((".csv", ".tsv", ".tab"))
    try:
        cells = first.split("\t") if "\t" in first else next(csv.reader([first]))
    except (csv.Error, StopIteration):
        if table_name:
            return "csv"  # the CSV reader says what is wrong with the header
        cells = []
    if table_name or len(cells) >= 3:  # a header row, but not one we know
        shown = [c.replace("\ufeff", "").strip()[:40] for c in cells][:8]
        raise InputError(
            f"file {name}: no 'title' column and not a known export's columns "
            f"(found {shown}{' ...' if len(cells) > 8 else ''})",
            fix=f"Expected {EXPECTED_COLUMNS}.")
    raise InputError(
        f"file {name}: neither MEDLINE (PMID- ...), RIS (TY  - ...), PubMed XML, Web of Science "
        "(FN/PT tags or tab-delimited) nor a CSV with known columns",
        fix="Export from PubMed as 'PubMed' (MEDLINE) or XML, from a reference manager as RIS, "
            "or from Scopus, Embase or Web of Science in their CSV / tab-delimited formats.")


def read_export(path: str | Path, problems: list[ParseProblem] | None = None,
                warnings: list[ParseProblem] | None = None) -> tuple[str, list[ImportedRecord]]:
    """``(format, records)`` of an export file, its format recognised from the content
    (:func:`sniff_format`). A file that cannot be read at all raises :class:`InputError`
    naming it; problems and warnings of single records go to the lists."""
    path = Path(path)
    raw = read_bytes(path)
    text = decode_text(raw, path)
    fmt = sniff_format(text, str(path))
    if fmt == "pubmed-xml":
        return fmt, parse_pubmed_xml_export(raw, path.name, problems, warnings, file=str(path))
    if fmt == "medline":
        return fmt, parse_medline(text, path.name, problems, warnings)
    if fmt == "ris":
        return fmt, parse_ris(text, path.name, problems, warnings)
    if fmt == "wos-plain":
        return fmt, parse_wos_plain(text, path.name, problems, warnings)
    if fmt == "csv":
        return fmt, parse_csv_records(text, path.name, problems, warnings, file=str(path))
    from .bibtables import parse_table

    return fmt, parse_table(text, path.name, fmt, problems, warnings, file=str(path))


def read_bibfile(path: str | Path, problems: list[ParseProblem] | None = None,
                 warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """The records of an export file in any format :func:`read_export` recognises."""
    return read_export(path, problems, warnings)[1]


def format_ris_record(fields: Iterable[tuple[str, object]]) -> str:
    """One RIS record from ``(tag, value)`` pairs in order (empty values left out), closed
    with ``ER``. Join records with a blank line: ``"\\n".join(records)``."""
    lines = [f"{tag}  - {value}" for tag, value in fields if value not in (None, "")]
    return "\n".join(lines + ["ER  - "]) + "\n"
