"""Parse PubMed XML (efetch ``PubmedArticleSet`` and baseline ``MedlineCitationSet``).

One :class:`PubmedRecord` per article: PMID, title, structured abstract, authors, journal,
dates, publication types, MeSH headings, keywords, DOI and the trial registry numbers
(ClinicalTrials.gov NCT IDs in the DataBank list). A malformed article (no PMID, or a PMID
that is not 1-9 digits) is reported by position and field, and parsing continues with the
next one.

The XML comes from the network or from files, so it is parsed defensively: entity
declarations in a DTD internal subset (the way XXE and "billion laughs" documents are
built; PubMed never uses them) are refused, external entities and DTDs are never fetched,
and elements nested deeper than :data:`MAX_DEPTH` are refused. Any of these, and XML
that is not well-formed, is one problem (field ``xml``) naming where it happened, never a
``ParseError`` traceback.
"""

from __future__ import annotations

import gzip
import io
import re
import xml.etree.ElementTree as ET
import zlib
from xml.parsers import expat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Iterator

from ..errors import InputError, SchemaError

NCT_RE = re.compile(r"NCT\d{8}")
# PubMed's PMIDs are positive integers, 8 digits at most today; 9 allowed for headroom.
PMID_RE = re.compile(r"[0-9]{1,9}")
PMID_RULE = "1 to 9 digits, no sign"
MAX_DEPTH = 256  # PubMed XML nests about 10 levels deep
MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}


@dataclass
class PubmedRecord:
    pmid: str
    title: str
    abstract: str = ""
    abstract_sections: list[tuple[str, str]] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    journal: str = ""
    journal_iso: str = ""
    year: int | None = None
    month: int | None = None
    day: int | None = None
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmcid: str = ""
    language: str = ""
    publication_types: list[str] = field(default_factory=list)
    mesh_headings: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    nct_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ParseProblem:
    record_ref: str
    field: str
    reason: str


class PubmedXmlError(InputError, SchemaError):
    """PubMed XML that cannot be read (not well-formed, refused, or an article without a
    valid PMID). An :class:`InputError` (and, as before, a :class:`SchemaError`)."""


class XmlRefused(Exception):
    """The document uses a construct refused for safety (entity declarations, deep nesting)."""


def clean_pmid(value: object) -> str | None:
    """The PMID in ``value`` (surrounding whitespace ignored, leading zeros dropped), or
    None when it is not one: 1 to 9 ASCII digits, no sign, not zero."""
    text = str(value if value is not None else "").strip()
    if not PMID_RE.fullmatch(text) or int(text) == 0:
        return None
    return str(int(text))


def _shown(value: str, limit: int = 40) -> str:
    """``value`` for a one-line message: repr, cut to ``limit`` characters."""
    value = str(value)
    return repr(value if len(value) <= limit else value[:limit] + "...") + (
        f" ({len(value):,} characters)" if len(value) > limit else "")


class _EntityGuard:
    """A read-only stream wrapper that also feeds the document's prolog to a second expat
    parser which refuses entity declarations, and stops watching at the root element.

    The standard library parser already refuses external entities (never fetched) and,
    with expat >= 2.4, caps entity amplification; refusing the declarations themselves
    makes the protection independent of the expat version and the message explicit.
    """

    class _RootSeen(Exception):
        pass

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.watching = True
        self.parser = expat.ParserCreate()
        self.parser.EntityDeclHandler = self._refuse
        self.parser.UnparsedEntityDeclHandler = self._refuse
        self.parser.StartElementHandler = self._root

    def _refuse(self, name, *_args) -> None:
        raise XmlRefused(f"the document declares the entity {name!r}; entity declarations are refused "
                         "(XXE/entity-expansion protection)")

    def _root(self, *_args) -> None:
        raise self._RootSeen()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if self.watching and data:
            try:
                self.parser.Parse(data, False)
            except self._RootSeen:
                self.watching = False
            except expat.ExpatError:
                self.watching = False  # not well-formed: the main parser says where
        return data


def _safe_iterparse(stream: IO[bytes]) -> Iterator[tuple[str, ET.Element, int]]:
    """``(event, element, depth)`` for start and end events, with entity declarations and
    nesting deeper than :data:`MAX_DEPTH` refused (:class:`XmlRefused`)."""
    depth = 0
    for event, elem in ET.iterparse(_EntityGuard(stream), events=("start", "end")):
        if event == "start":
            depth += 1
            if depth > MAX_DEPTH:
                raise XmlRefused(f"elements nested more than {MAX_DEPTH} levels deep (at <{elem.tag}>)")
            yield event, elem, depth
        else:
            yield event, elem, depth
            depth -= 1


_READ_ERRORS = (ET.ParseError, XmlRefused, EOFError, zlib.error, gzip.BadGzipFile)


def _text(elem: ET.Element | None) -> str:
    """All text inside ``elem`` (inline markup such as <i>, <sub> flattened), whitespace normalised."""
    if elem is None:
        return ""
    return " ".join("".join(elem.itertext()).split())


def _month(value: str) -> int | None:
    value = value.strip().lower()
    if re.fullmatch(r"[0-9]{1,2}", value):
        m = int(value)
        return m if 1 <= m <= 12 else None
    return MONTHS.get(value[:3])


def _year_of(value: str | None) -> int | None:
    """A four-digit year (ASCII digits), else None: never a number that overflows storage."""
    value = (value or "").strip()
    return int(value) if re.fullmatch(r"[12][0-9]{3}", value) else None


def _pub_date(article: ET.Element | None, citation: ET.Element) -> tuple[int | None, int | None, int | None]:
    pub = article.find("Journal/JournalIssue/PubDate") if article is not None else None
    if pub is None:
        return None, None, None
    year = _year_of(pub.findtext("Year"))
    if year is not None:
        month = _month(pub.findtext("Month") or "")
        day_text = (pub.findtext("Day") or "").strip()
        day = int(day_text) if re.fullmatch(r"[0-9]{1,2}", day_text) else None
        return year, month, day if day and 1 <= day <= 31 else None
    medline = pub.findtext("MedlineDate") or ""  # e.g. "1998 Dec-1999 Jan"
    match = re.match(r"\s*([12][0-9]{3})(?:\s+([A-Za-z]{3}))?", medline)
    if match:
        return int(match.group(1)), _month(match.group(2) or ""), None
    return None, None, None


def _authors(article: ET.Element | None) -> list[str]:
    out = []
    if article is None:
        return out
    for author in article.findall("AuthorList/Author"):
        collective = author.findtext("CollectiveName")
        if collective:
            out.append(" ".join(collective.split()))
            continue
        last = author.findtext("LastName") or ""
        initials = author.findtext("Initials") or ""
        if last:
            out.append(f"{last} {initials}".strip())
    return out


def _parse_citation(citation: ET.Element, pubmed_data: ET.Element | None) -> PubmedRecord:
    raw_pmid = (citation.findtext("PMID") or "").strip()
    if not raw_pmid:
        raise SchemaError("article without PMID", fix="Check the file is PubMed XML.")
    pmid = clean_pmid(raw_pmid)
    if pmid is None:
        raise SchemaError(f"invalid PMID {_shown(raw_pmid)} (a PMID is {PMID_RULE})",
                          fix="Check the file is PubMed XML.")
    article = citation.find("Article")
    sections = []
    if article is not None:
        for part in article.findall("Abstract/AbstractText"):
            sections.append(((part.get("Label") or "").strip(), _text(part)))
    abstract = " ".join(f"{label}: {text}" if label else text for label, text in sections)
    year, month, day = _pub_date(article, citation)
    doi = ""
    pmcid = ""
    if pubmed_data is not None:
        for aid in pubmed_data.findall("ArticleIdList/ArticleId"):
            kind = aid.get("IdType")
            if kind == "doi" and not doi:
                doi = (aid.text or "").strip()
            elif kind == "pmc":
                pmcid = (aid.text or "").strip()
    if not doi and article is not None:
        for loc in article.findall("ELocationID"):
            if loc.get("EIdType") == "doi":
                doi = (loc.text or "").strip()
                break
    nct_ids: list[str] = []
    if article is not None:
        for bank in article.findall("DataBankList/DataBank"):
            if (bank.findtext("DataBankName") or "").strip().lower() == "clinicaltrials.gov":
                for acc in bank.findall("AccessionNumberList/AccessionNumber"):
                    nct_ids += NCT_RE.findall(acc.text or "")
    journal = article.find("Journal") if article is not None else None
    issue = journal.find("JournalIssue") if journal is not None else None
    return PubmedRecord(
        pmid=pmid,
        title=_text(article.find("ArticleTitle")) if article is not None else "",
        abstract=abstract,
        abstract_sections=sections,
        authors=_authors(article),
        journal=_text(journal.find("Title")) if journal is not None else "",
        journal_iso=_text(journal.find("ISOAbbreviation")) if journal is not None else "",
        year=year,
        month=month,
        day=day,
        volume=(issue.findtext("Volume") or "").strip() if issue is not None else "",
        issue=(issue.findtext("Issue") or "").strip() if issue is not None else "",
        pages=_text(article.find("Pagination/MedlinePgn")) if article is not None else "",
        doi=doi,
        pmcid=pmcid,
        language=(article.findtext("Language") or "").strip() if article is not None else "",
        publication_types=[_text(p) for p in article.findall("PublicationTypeList/PublicationType")]
        if article is not None else [],
        mesh_headings=[_text(d) for d in citation.findall("MeshHeadingList/MeshHeading/DescriptorName")],
        keywords=[_text(k) for k in citation.findall("KeywordList/Keyword")],
        nct_ids=sorted(set(nct_ids)),
    )


def _open(path: Path) -> IO[bytes]:
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")
    except IsADirectoryError:
        raise InputError(f"file {str(path)!r} is a directory, not a PubMed XML file",
                         fix="Pass a PubMed XML file (.xml or .xml.gz).") from None
    except FileNotFoundError:
        raise InputError(f"file {str(path)!r} not found", fix="Pass a PubMed XML file (.xml or .xml.gz).") from None
    except OSError as exc:
        raise InputError(f"file {str(path)!r} cannot be read ({exc.strerror or exc})",
                         fix="Check the file's permissions.") from None


def _xml_reason(exc: BaseException) -> str:
    if isinstance(exc, XmlRefused):
        return f"refused XML: {exc}"
    if isinstance(exc, ET.ParseError):
        return f"malformed XML: {exc}"
    return f"not a readable gzip file: {exc}"  # EOFError, zlib.error, BadGzipFile


def iter_pubmed_xml(
    source: str | Path | bytes, problems: list[ParseProblem] | None = None
) -> Iterator[PubmedRecord]:
    """Yield records from a PubMed XML file path (``.xml`` or ``.xml.gz``) or bytes.

    Problems (an article without a valid PMID; XML that is not well-formed, truncated or
    refused) are appended to ``problems`` when given, and the records before them are
    kept; otherwise they raise :class:`PubmedXmlError` (an ``InputError``). A file that
    cannot be opened raises :class:`InputError`.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else _open(Path(source))
    name = "<bytes>" if isinstance(source, bytes) else Path(source).name
    position = 0
    stack: list[str] = []
    try:
        for event, elem, _depth in _safe_iterparse(stream):
            if event == "start":
                stack.append(elem.tag)
                continue
            stack.pop()
            if elem.tag not in ("PubmedArticle", "MedlineCitation"):
                continue
            if elem.tag == "MedlineCitation" and stack and stack[-1] == "PubmedArticle":
                continue  # handled with its PubmedArticle (which carries PubmedData)
            position += 1
            citation = elem if elem.tag == "MedlineCitation" else elem.find("MedlineCitation")
            pubmed_data = elem.find("PubmedData") if elem.tag == "PubmedArticle" else None
            try:
                if citation is None:
                    raise SchemaError("PubmedArticle without MedlineCitation")
                record = _parse_citation(citation, pubmed_data)
            except SchemaError as exc:
                problem = ParseProblem(f"{name} article #{position}", "PMID", exc.message)
                if problems is None:
                    raise PubmedXmlError(f"{problem.record_ref}: {problem.reason} (field {problem.field})",
                                         fix="Check the file is PubMed XML.") from None
                problems.append(problem)
            else:
                yield record
            elem.clear()
    except _READ_ERRORS as exc:
        problem = ParseProblem(f"{name} after article #{position}", "xml", _xml_reason(exc))
        if problems is None:
            raise PubmedXmlError(f"{problem.record_ref}: {problem.reason}",
                                 fix="Re-download the file; it is truncated, refused or not PubMed XML.") from None
        problems.append(problem)
    finally:
        stream.close()


def article_xml_by_pmid(xml: bytes) -> dict[str, str]:
    """PMID → the ``PubmedArticle`` element's XML text (for storing records verbatim), with
    the same protections as :func:`iter_pubmed_xml`; articles without a valid PMID are
    left out. Raises :class:`PubmedXmlError` when the XML cannot be read."""
    out: dict[str, str] = {}
    try:
        for event, elem, depth in _safe_iterparse(io.BytesIO(xml)):
            if event == "end" and elem.tag == "PubmedArticle":
                pmid = clean_pmid(elem.findtext("MedlineCitation/PMID"))
                if pmid and pmid not in out:
                    tail, elem.tail = elem.tail, None  # the text after it is not part of it
                    out[pmid] = ET.tostring(elem, encoding="unicode")
                    elem.tail = tail
                if depth > 1:
                    elem.clear()
    except _READ_ERRORS as exc:
        raise PubmedXmlError(f"PubmedArticleSet ({len(xml):,} bytes): {_xml_reason(exc)}",
                             fix="Fetch it again; the reply is not well-formed PubMed XML.") from None
    return out


def parse_pubmed_xml(source: str | Path | bytes) -> tuple[list[PubmedRecord], list[ParseProblem]]:
    problems: list[ParseProblem] = []
    records = list(iter_pubmed_xml(source, problems))
    return records, problems
