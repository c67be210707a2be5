"""Read the native table exports of the bibliographic databases: Scopus CSV, Embase CSV and
Web of Science ("Tab delimited file", and its Excel export saved as CSV).

Each vendor's own column names are mapped to :class:`~ici_atlas.sources.bibfiles.ImportedRecord`
(title, abstract, authors, journal, year, DOI, PMID, the vendor's own ID, keywords and
publication type); :data:`LAYOUTS` lists the columns read for each. The layout is
recognised from the header row (:func:`classify_header`), never from the file name.

Vendor quirks handled: a UTF-8 or UTF-16 byte-order mark; fields quoted over several lines
(Scopus, Embase); Web of Science tab files, which are not quoted at all and end every row
with a spare tab; authors separated by ``;`` (Scopus since about 2023, Web of Science) or by
``", "`` after initials (older Scopus, Embase: ``Liu R., Adler D.G.``); Scopus placeholders
(``[No abstract available]``, ``[No author name available]``) read as empty; Embase's
``Source`` cell (``Cancer (2004) 102:4 (253-258). Date of Publication: 25 Aug 2004``) split
into journal and year, and its DOI read from the ``Open URL Link`` when there is no DOI
column; Emtree terms split on the commas between terms, not those inside ``(diagnosis,
surgery)``.

Problems and warnings follow :mod:`ici_atlas.sources.bibfiles`: a row without a title, a row
with fewer cells than the header (a truncated file, or an unclosed quote that swallowed the
rows after it) or one the ``csv`` module cannot read is a problem naming the row and the
column; a value that is not a PMID, or cells beyond the last column, are warnings.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from ..errors import InputError
from .bibfiles import (
    ImportedRecord,
    _clean_doi,
    _not_a_pmid,
    _problem,
    _warn,
    _year,
)
from .pubmed_xml import NCT_RE, ParseProblem, clean_pmid

#: Cells longer than this are refused (the csv module's default is 131,072 characters,
#: which Scopus "References" cells of long reviews can exceed).
MAX_CELL = 10_000_000

_PLACEHOLDERS = {"[no abstract available]", "[no author name available]", "[no title available]",
                 "[no source information available]"}


@dataclass(frozen=True)
class Layout:
    """One vendor export: its format name, what a user calls it, and the columns read."""

    format: str
    label: str
    delimiter: str
    columns: dict[str, tuple[str, ...]]  # record field -> the vendor's columns, first non-empty wins


SCOPUS = Layout("scopus-csv", "Scopus CSV", ",", {
    "title": ("Title",), "abstract": ("Abstract",), "authors": ("Authors",),
    "journal": ("Source title",), "year": ("Year",), "doi": ("DOI",), "pmid": ("PubMed ID",),
    "vendor_id": ("EID",), "keywords": ("Author Keywords", "Index Keywords"),
    "publication_types": ("Document Type",),
})
EMBASE = Layout("embase-csv", "Embase CSV", ",", {
    "title": ("Title",), "abstract": ("Abstract",), "authors": ("Author Names",),
    "journal": ("Source title", "Source"), "year": ("Publication Year", "Source"),
    "doi": ("DOI", "Open URL Link", "Full Text Link"), "pmid": ("Medline PMID",),
    "vendor_id": ("PUI", "Embase Accession ID"),
    "keywords": ("Author Keywords", "Emtree Drug Index Terms (Major Focus)", "Emtree Drug Index Terms",
                 "Emtree Medical Index Terms (Major Focus)", "Emtree Medical Index Terms", "keywords"),
    "publication_types": ("Publication Type",), "nct_ids": ("Clinical Trial Numbers",),
})
WOS_TAB = Layout("wos-tab", "Web of Science tab-delimited", "\t", {
    "title": ("TI",), "abstract": ("AB",), "authors": ("AU",), "journal": ("SO",),
    "year": ("PY", "PD", "EA"), "doi": ("DI", "D2"), "pmid": ("PM",), "vendor_id": ("UT",),
    "keywords": ("DE", "ID"), "publication_types": ("DT",),
})
WOS_CSV = Layout("wos-csv", "Web of Science CSV", ",", {
    "title": ("Article Title",), "abstract": ("Abstract",), "authors": ("Authors",),
    "journal": ("Source Title",), "year": ("Publication Year", "Publication Date"),
    "doi": ("DOI", "Book DOI"), "pmid": ("Pubmed Id",), "vendor_id": ("UT (Unique WOS ID)",),
    "keywords": ("Author Keywords", "Keywords Plus"), "publication_types": ("Document Type",),
})
LAYOUTS: dict[str, Layout] = {x.format: x for x in (SCOPUS, EMBASE, WOS_TAB, WOS_CSV)}

EXPECTED_COLUMNS = ("Scopus CSV (Title, Authors, Source title, EID ...), Embase CSV (Title, "
                    "Author Names, Source, Emtree ...), Web of Science tab-delimited (PT, AU, TI, "
                    "SO, PY, DI, UT ...) or CSV (Article Title, Source Title, UT (Unique WOS ID) "
                    "...), or a plain CSV with a 'title' column")


def _clean_header(cells: list[str]) -> list[str]:
    return [c.replace("\ufeff", "").strip() for c in cells]


def classify_header(cells: list[str], delimiter: str) -> str | None:
    """The export format whose header row ``cells`` is (split on ``delimiter``), or None.
    ``csv`` is a plain CSV with a lowercase ``title`` column."""
    cols = set(_clean_header(cells))
    if delimiter == "\t":
        if {"PT", "TI"} <= cols and ({"UT", "AU"} & cols):
            return WOS_TAB.format
        return None
    if "Title" in cols and ("EID" in cols or {"Authors", "Source title"} <= cols):
        return SCOPUS.format
    if "Title" in cols and "Author Names" in cols and (
            "Source" in cols or {"PUI", "Medline PMID", "Embase Accession ID"} & cols
            or any(c.startswith("Emtree") for c in cols)):
        return EMBASE.format
    if "Article Title" in cols and ({"UT (Unique WOS ID)", "Source Title"} & cols):
        return WOS_CSV.format
    if "title" in cols:
        return "csv"
    return None


@contextmanager
def _cell_limit(limit: int) -> Iterator[None]:
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, limit))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def parse_table(text: str, name: str, fmt: str, problems: list[ParseProblem] | None = None,
                warnings: list[ParseProblem] | None = None, *, file: str | None = None
                ) -> list[ImportedRecord]:
    """Records of a vendor table export ``text`` in format ``fmt`` (a key of :data:`LAYOUTS`);
    ``name`` labels records (``<name> row <n>``, the header being row 1), ``file`` names the
    file in file-level errors."""
    layout = LAYOUTS[fmt]
    quoting = csv.QUOTE_NONE if layout.delimiter == "\t" else csv.QUOTE_MINIMAL
    with _cell_limit(MAX_CELL):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter, quoting=quoting)
        try:
            header = _clean_header(next(reader))
        except (csv.Error, StopIteration) as exc:
            raise InputError(f"file {file or name}: the header row cannot be read ({exc})",
                             fix=f"Export again as {layout.label}.") from None
        title_column = layout.columns["title"][0]
        if title_column not in header:
            raise InputError(f"file {file or name}: no {title_column!r} column in this {layout.label} "
                             f"export (found {header[:8]}{' ...' if len(header) > 8 else ''})",
                             fix=f"Export with the title field included; expected {EXPECTED_COLUMNS}.")
        index = {c: i for i, c in reversed(list(enumerate(header)))}  # first of a repeated name
        out: list[ImportedRecord] = []
        position = 0
        while True:
            first_line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                position += 1
                _problem(problems, f"{name} row {position + 1}", "csv", f"row cannot be read as CSV ({exc})")
                continue
            if not any(c.strip() for c in cells):
                continue  # blank line (e.g. a trailing one)
            position += 1
            ref = f"{name} row {position + 1}"
            if len(cells) < len(header):
                lines = (f"lines {first_line}-{reader.line_num}" if reader.line_num > first_line
                         else f"line {first_line}")
                why = " (an unclosed quote?)" if any("\n" in c for c in cells) else " (a truncated row?)"
                _problem(problems, ref, "row", f"{lines}: {len(cells)} of the {len(header)} columns "
                         f"of the header{why}")
                continue
            extra = [c for c in cells[len(header):] if c.strip()]
            if extra:
                _warn(warnings, ref, "row", f"{len(extra)} value(s) beyond the last column ignored")
            record = _record(layout, name, position, ref, index, cells, problems, warnings)
            if record is not None:
                out.append(record)
    return out


def _record(layout: Layout, name: str, position: int, ref: str, index: dict[str, int],
            cells: list[str], problems, warnings) -> ImportedRecord | None:
    def cell(column: str) -> str:
        i = index.get(column)
        value = cells[i].strip() if i is not None else ""
        return "" if value.lower() in _PLACEHOLDERS else value

    def first(field: str) -> tuple[str, str]:
        for column in layout.columns.get(field, ()):
            value = cell(column)
            if value:
                return column, value
        return (layout.columns.get(field) or ("",))[0], ""

    title_column, title = first("title")
    title = " ".join(title.split())
    if not title:
        _problem(problems, ref, title_column, "no title (empty title column)")
        return None
    _, abstract = first("abstract")
    pmid_column, raw_pmid = first("pmid")
    pmid = clean_pmid(_leading_number(raw_pmid)) or ""
    if raw_pmid and not pmid:
        _warn(warnings, ref, pmid_column, _not_a_pmid(raw_pmid))
    authors_column, authors = first("authors")
    extra_ncts = " ".join(cell(c) for c in layout.columns.get("nct_ids", ()))
    keywords: list[str] = []
    for column in layout.columns.get("keywords", ()):
        for term in _split_terms(cell(column), comma=layout is EMBASE and column != "Author Keywords"):
            if term not in keywords:
                keywords.append(term)
    return ImportedRecord(
        source_file=name, position=position, format=layout.format, title=title,
        abstract=abstract, pmid=pmid, doi=_doi(layout, first), year=_record_year(layout, first),
        authors=_split_authors(authors), journal=_journal(layout, first), keywords=keywords,
        publication_types=[t for t in (p.strip() for p in first("publication_types")[1].split(";")) if t],
        nct_ids=sorted(set(NCT_RE.findall(f"{title} {abstract} {extra_ncts}"))),
        vendor_id=first("vendor_id")[1],
    )


def _leading_number(value: str) -> str:
    """Embase's ``Medline PMID`` can be followed by a link; keep the number."""
    match = re.match(r"\s*([0-9]+)\s*(?:$|https?://|\()", value)
    return match.group(1) if match else value


_SOURCE_YEAR = re.compile(r"^(.*?)\s*\((1[89][0-9]{2}|20[0-9]{2})\)")


def _journal(layout: Layout, first: Callable[[str], tuple[str, str]]) -> str:
    column, value = first("journal")
    if layout is EMBASE and column == "Source":
        match = _SOURCE_YEAR.match(value)
        return match.group(1).strip() if match else value.split(". Date of Publication")[0].strip()
    return value


def _record_year(layout: Layout, first: Callable[[str], tuple[str, str]]) -> int | None:
    column, value = first("year")
    if layout is EMBASE and column == "Source":
        match = _SOURCE_YEAR.match(value)
        if match:
            return int(match.group(2))
        value = value.split("Date of Publication:")[-1]
    return _year(value)


def _doi(layout: Layout, first: Callable[[str], tuple[str, str]]) -> str:
    column, value = first("doi")
    if column in ("Open URL Link", "Full Text Link"):
        return _doi_from_link(value)
    return _clean_doi(value)


def _doi_from_link(url: str) -> str:
    """The DOI in an OpenURL (``id=doi:10.1002%2Fcncr.20369``) or a doi.org link."""
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return ""
    for value in query.get("id", []) + query.get("rft_id", []):
        match = re.match(r"(?:doi:|info:doi/)(10\..+)", value.strip(), flags=re.I)
        if match:
            return _clean_doi(match.group(1))
    match = re.search(r"doi\.org/(10\.[^\s?#]+)", url, flags=re.I)
    return _clean_doi(match.group(1)) if match else ""


def _split_authors(value: str) -> list[str]:
    """``A B.; C D.`` (Scopus now, Web of Science) or ``A B., C D.E.`` (older Scopus, Embase)."""
    if not value:
        return []
    parts = value.split(";") if ";" in value else re.split(r"(?<=\.),\s+", value)
    return [p.strip() for p in parts if p.strip()]


def _split_terms(value: str, comma: bool) -> list[str]:
    """Keywords separated by ``;`` or, for Emtree terms, by the commas outside parentheses."""
    if not value:
        return []
    if not comma or ";" in value:
        return [t.strip() for t in value.split(";") if t.strip()]
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(value):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            terms.append(value[start:i])
            start = i + 1
    terms.append(value[start:])
    return [t.strip() for t in terms if t.strip()]
