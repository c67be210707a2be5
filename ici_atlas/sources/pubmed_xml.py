"""Parse PubMed XML (efetch ``PubmedArticleSet`` and baseline ``MedlineCitationSet``).

One :class:`PubmedRecord` per article: PMID, title, structured abstract, authors, journal,
dates, publication types, MeSH headings, keywords, DOI and the trial registry numbers
(ClinicalTrials.gov NCT IDs in the DataBank list). A malformed article is reported by
PMID (or position) and field, and parsing continues with the next one.
"""

from __future__ import annotations

import gzip
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Iterator

from ..errors import SchemaError

NCT_RE = re.compile(r"NCT\d{8}")
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


def _text(elem: ET.Element | None) -> str:
    """All text inside ``elem`` (inline markup such as <i>, <sub> flattened), whitespace normalised."""
    if elem is None:
        return ""
    return " ".join("".join(elem.itertext()).split())


def _month(value: str) -> int | None:
    value = value.strip().lower()
    if value.isdigit():
        m = int(value)
        return m if 1 <= m <= 12 else None
    return MONTHS.get(value[:3])


def _pub_date(article: ET.Element | None, citation: ET.Element) -> tuple[int | None, int | None, int | None]:
    pub = article.find("Journal/JournalIssue/PubDate") if article is not None else None
    if pub is None:
        return None, None, None
    year_text = pub.findtext("Year")
    if year_text and year_text.strip().isdigit():
        month = _month(pub.findtext("Month") or "")
        day_text = (pub.findtext("Day") or "").strip()
        return int(year_text), month, int(day_text) if day_text.isdigit() else None
    medline = pub.findtext("MedlineDate") or ""  # e.g. "1998 Dec-1999 Jan"
    match = re.match(r"\s*(\d{4})(?:\s+([A-Za-z]{3}))?", medline)
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
    pmid = (citation.findtext("PMID") or "").strip()
    if not pmid:
        raise SchemaError("article without PMID", fix="Check the file is PubMed XML.")
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
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def iter_pubmed_xml(
    source: str | Path | bytes, problems: list[ParseProblem] | None = None
) -> Iterator[PubmedRecord]:
    """Yield records from a PubMed XML file path (``.xml`` or ``.xml.gz``) or bytes.

    Problems (a record without PMID, a broken file) are appended to ``problems`` when
    given; otherwise they raise :class:`SchemaError`.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else _open(Path(source))
    name = "<bytes>" if isinstance(source, bytes) else Path(source).name
    position = 0
    stack: list[str] = []
    try:
        for event, elem in ET.iterparse(stream, events=("start", "end")):
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
                yield _parse_citation(citation, pubmed_data)
            except SchemaError as exc:
                problem = ParseProblem(f"{name} article #{position}", "PMID", exc.message)
                if problems is None:
                    raise SchemaError(f"{problem.record_ref}: {problem.reason}") from exc
                problems.append(problem)
            elem.clear()
    except ET.ParseError as exc:
        problem = ParseProblem(f"{name} after article #{position}", "xml", f"malformed XML: {exc}")
        if problems is None:
            raise SchemaError(f"{problem.record_ref}: {problem.reason}",
                              fix="Re-download the file; it is truncated or not XML.") from exc
        problems.append(problem)
    finally:
        stream.close()


def parse_pubmed_xml(source: str | Path | bytes) -> tuple[list[PubmedRecord], list[ParseProblem]]:
    problems: list[ParseProblem] = []
    records = list(iter_pubmed_xml(source, problems))
    return records, problems
