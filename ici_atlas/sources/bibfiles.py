"""Read bibliographic records exported by hand: PubMed's MEDLINE text format, RIS and CSV.

Each gives :class:`ImportedRecord` rows with the fields screening and de-duplication use.

Bad input never loses good input, and nothing is dropped silently:

* A file is decoded as UTF-8 (a BOM is allowed) or as UTF-16 when it starts with a UTF-16
  BOM; anything else (or a file holding NUL characters, i.e. binary data), an empty file,
  a directory or a missing file is one :class:`~ici_atlas.errors.InputError` for that
  file ("file X: not UTF-8 text at byte N (line L)").
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
import re
import warnings as _pywarnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import InputError
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
    format: str  # medline | ris | csv
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

    def to_dict(self) -> dict:
        return asdict(self)


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

_FORMAT_FIX = "Pass a MEDLINE (.txt/.nbib), RIS (.ris) or CSV (.csv) export."


def read_text(path: str | Path) -> str:
    """The text of ``path``: UTF-8 (BOM allowed) or UTF-16 with a BOM. Anything else — not
    a regular file, unreadable, not text in those encodings, binary (NUL characters) or
    empty — raises :class:`InputError` naming the file (and the byte, for bad encoding)."""
    path = Path(path)
    shown = str(path)
    try:
        if not path.exists():
            raise InputError(f"file {shown}: not found", fix=_FORMAT_FIX)
        if path.is_dir():
            raise InputError(f"file {shown}: is a directory, not a file", fix=_FORMAT_FIX)
        if not path.is_file():
            raise InputError(f"file {shown}: not a regular file (a device, pipe or socket)", fix=_FORMAT_FIX)
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"file {shown}: cannot be read ({exc.strerror or exc})",
                         fix="Check the file's permissions.") from None
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


def parse_ris(text: str, name: str, problems: list[ParseProblem] | None = None,
              warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """RIS records: ``TY`` starts a record and ``ER`` ends it.

    A ``TY`` line inside an open record (its ``ER`` is missing) closes that record and
    starts a new one: the previous record is kept if it is valid, with a warning that its
    ``ER`` was missing (likewise for the last record of a file without ``ER``). Lines that
    are not tag lines outside any record, and an ``ER`` with no record before it, are
    warned about and ignored. A record without a title is rejected with that reason.
    """
    out: list[ImportedRecord] = []
    tags: list[tuple[str, str]] = []
    start = 0
    position = 0
    stray: list[int] = []

    def flush_stray() -> None:
        if stray:
            span = f"line {stray[0]}" if len(stray) == 1 else f"lines {stray[0]}-{stray[-1]}"
            _warn(warnings, f"{name} {span}", "line",
                  "not RIS tag lines ('XX  - value') and outside any record; ignored")
            stray.clear()

    def close(unterminated: str | None) -> None:
        nonlocal position
        position += 1
        ref = f"{name} record #{position} at line {start}"
        record = _ris_record(name, position, ref, tags, problems, warnings, unterminated)
        if record:
            out.append(record)
        tags.clear()

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
                tags[-1] = (tag, f"{value} {line.strip()}")
            elif line.strip():
                stray.append(number)
            continue
        flush_stray()
        tag, value = match.group(1), match.group(2).strip()
        if tag == "ER":
            if tags:
                close(None)
            else:
                _warn(warnings, f"{name} line {number}", "ER", "ER with no record before it; ignored")
            continue
        if tag == "TY" and tags:
            close(f"the next TY at line {number}")
        if not tags:
            start = number
        tags.append((tag, value))
    flush_stray()
    if tags:
        close("the end of the file (truncated?)")
    return out


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


# -- any of them -------------------------------------------------------------------------

def read_bibfile(path: str | Path, problems: list[ParseProblem] | None = None,
                 warnings: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """Read a MEDLINE (.txt/.nbib), RIS (.ris) or CSV (.csv) export (MEDLINE/RIS detected from
    content). A file that cannot be read at all raises :class:`InputError` naming it."""
    path = Path(path)
    text = read_text(path)
    if path.suffix.lower() == ".csv":
        return parse_csv_records(text, path.name, problems, warnings, file=str(path))
    head = text[:2000]
    if re.search(r"^TY  - ", head, flags=re.M):
        return parse_ris(text, path.name, problems, warnings)
    if re.search(r"^PMID- ", head, flags=re.M):
        return parse_medline(text, path.name, problems, warnings)
    raise InputError(f"file {path}: neither MEDLINE (PMID- ...) nor RIS (TY  - ...) format",
                     fix="Export from PubMed as 'PubMed' (MEDLINE) format or from a reference manager as RIS.")


def format_ris_record(fields: Iterable[tuple[str, object]]) -> str:
    """One RIS record from ``(tag, value)`` pairs in order (empty values left out), closed
    with ``ER``. Join records with a blank line: ``"\\n".join(records)``."""
    lines = [f"{tag}  - {value}" for tag, value in fields if value not in (None, "")]
    return "\n".join(lines + ["ER  - "]) + "\n"
