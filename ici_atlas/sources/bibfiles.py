"""Read bibliographic records exported by hand: PubMed's MEDLINE text format and RIS.

Both give :class:`ImportedRecord` rows with the fields screening and de-duplication use.
A record without a title is reported (file, record number, field) and skipped.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from .pubmed_xml import NCT_RE, ParseProblem

RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  - ?(.*)$")
MEDLINE_TAG = re.compile(r"^([A-Z]{2,4})\s*- (.*)$")


@dataclass
class ImportedRecord:
    source_file: str
    position: int
    format: str  # medline | ris
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


def _year(text: str) -> int | None:
    match = re.search(r"(1[89]\d\d|20\d\d)", text or "")
    return int(match.group(1)) if match else None


def _clean_doi(text: str) -> str:
    text = text.strip()
    text = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", text, flags=re.I)
    return text.split()[0] if text else ""


def _blocks_medline(lines: list[str]) -> list[list[tuple[str, str]]]:
    records: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in lines:
        if not line.strip():
            if current:
                records.append(current)
                current = []
            continue
        match = MEDLINE_TAG.match(line)
        if match:
            current.append((match.group(1), match.group(2).strip()))
        elif current and line.startswith(" "):
            tag, value = current[-1]
            current[-1] = (tag, f"{value} {line.strip()}")
    if current:
        records.append(current)
    return records


def read_medline(path: str | Path, problems: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    path = Path(path)
    out = []
    for i, tags in enumerate(_blocks_medline(path.read_text(encoding="utf-8-sig").splitlines()), start=1):
        get = lambda t: [v for k, v in tags if k == t]  # noqa: E731
        title = " ".join(get("TI"))
        if not title:
            _problem(problems, f"{path.name} record #{i}", "TI", "no title")
            continue
        doi = next((_clean_doi(v.replace("[doi]", "")) for v in get("AID") + get("LID") if "[doi]" in v), "")
        out.append(ImportedRecord(
            source_file=path.name, position=i, format="medline", title=title,
            abstract=" ".join(get("AB")), pmid=(get("PMID") or [""])[0], doi=doi,
            year=_year((get("DP") or [""])[0]), authors=get("AU"), journal=(get("JT") or get("TA") or [""])[0],
            publication_types=get("PT"), keywords=get("OT") + get("MH"),
            nct_ids=sorted({m for v in get("SI") for m in NCT_RE.findall(v)}),
        ))
    return out


def read_ris(path: str | Path, problems: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    path = Path(path)
    out, tags, position = [], [], 0
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        match = RIS_TAG.match(line.rstrip())
        if not match:
            if tags and line.strip():
                tag, value = tags[-1]
                tags[-1] = (tag, f"{value} {line.strip()}")
            continue
        tag, value = match.group(1), match.group(2).strip()
        if tag == "ER":
            position += 1
            record = _ris_record(path, position, tags, problems)
            if record:
                out.append(record)
            tags = []
        else:
            tags.append((tag, value))
    if tags:
        _problem(problems, f"{path.name} record #{position + 1}", "ER", "record not closed with ER")
    return out


def _ris_record(path: Path, position: int, tags: list[tuple[str, str]], problems) -> ImportedRecord | None:
    get = lambda *names: [v for k, v in tags if k in names]  # noqa: E731
    title = " ".join(get("TI", "T1"))
    if not title:
        _problem(problems, f"{path.name} record #{position}", "TI", "no title")
        return None
    pmid = ""
    for value in get("AN", "C2", "ID", "M2"):
        if value.isdigit():
            pmid = value
            break
    text = " ".join(get("AB", "N2"))
    return ImportedRecord(
        source_file=path.name, position=position, format="ris", title=title, abstract=text,
        pmid=pmid, doi=_clean_doi((get("DO") or [""])[0]), year=_year(" ".join(get("PY", "Y1", "DA"))),
        authors=get("AU", "A1"), journal=(get("T2", "JO", "JF") or [""])[0],
        publication_types=get("M3"), keywords=get("KW"),
        nct_ids=sorted(set(NCT_RE.findall(" ".join([title, text]))))
    )


def _problem(problems, ref: str, field_name: str, reason: str) -> None:
    if problems is None:
        raise InputError(f"{ref}: {reason} (field {field_name})", fix="Fix or remove that record and import again.")
    problems.append(ParseProblem(ref, field_name, reason))


def read_csv_records(path: str | Path, problems: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """A CSV with at least ``title`` (and usually ``abstract``; ``pmid``, ``doi``, ``year`` or
    ``publication_year`` when present), as screening tools and the SYNERGY sets export."""
    import csv

    path = Path(path)
    out = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if "title" not in (reader.fieldnames or []):
            raise InputError(f"{path.name}: no 'title' column (found {reader.fieldnames})",
                             fix="A CSV import needs title (and abstract, pmid, doi, year where known).")
        for i, row in enumerate(reader, start=1):
            title = (row.get("title") or "").strip()
            if not title:
                _problem(problems, f"{path.name} row {i + 1}", "title", "no title")
                continue
            pmid = (row.get("pmid") or "").strip()
            out.append(ImportedRecord(
                source_file=path.name, position=i, format="csv", title=title,
                abstract=(row.get("abstract") or "").strip(), pmid=pmid if pmid.isdigit() else "",
                doi=_clean_doi(row.get("doi") or ""), year=_year(row.get("year") or row.get("publication_year") or ""),
                nct_ids=sorted(set(NCT_RE.findall(f"{title} {row.get('abstract') or ''}"))),
            ))
    return out


def read_bibfile(path: str | Path, problems: list[ParseProblem] | None = None) -> list[ImportedRecord]:
    """Read a MEDLINE (.txt/.nbib), RIS (.ris) or CSV (.csv) export (MEDLINE/RIS detected from content)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"File {str(path)!r} not found", fix="Pass a MEDLINE (.txt/.nbib) or RIS (.ris) export.")
    if path.suffix.lower() == ".csv":
        return read_csv_records(path, problems)
    head = path.read_text(encoding="utf-8-sig", errors="replace")[:2000]
    if re.search(r"^TY  - ", head, flags=re.M):
        return read_ris(path, problems)
    if re.search(r"^PMID- ", head, flags=re.M):
        return read_medline(path, problems)
    raise InputError(f"{path.name}: neither MEDLINE (PMID- ...) nor RIS (TY  - ...) format",
                     fix="Export from PubMed as 'PubMed' (MEDLINE) format or from a reference manager as RIS.")


def format_ris_record(fields: Iterable[tuple[str, object]]) -> str:
    """One RIS record from ``(tag, value)`` pairs in order (empty values left out), closed
    with ``ER``. Join records with a blank line: ``"\\n".join(records)``."""
    lines = [f"{tag}  - {value}" for tag, value in fields if value not in (None, "")]
    return "\n".join(lines + ["ER  - "]) + "\n"
