"""The review's bibliography: parse the seed's numbered reference list, load the committed
records, export them as BibTeX or RIS.

The seed text (the review's full text) is not shipped with the package. Its reference list
is parsed once into ``ici_atlas/data/references.json``::

    python -m ici_atlas.analyses.bibliography --seed ../shared/seed/000_dbfac863d058afaa.txt \\
        --out ici_atlas/data/references.json

and a test re-parses the seed and checks the committed file is identical. Besides the
bibliographic fields, each record lists the sections of the review's body that cite it
(``cited_in``), so citation coverage can be checked without the seed.

The seed shows only the link labels "DOI PubMed PMC" without the identifiers behind them;
those labels are kept in ``links``. ``doi``/``pmid`` are never guessed: they are filled only
from ``data/reference_ids.tsv``, where each identifier was checked and names its source
(``doi_verified_by``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import InputError, SchemaError
from ..sources.bibfiles import format_ris_record

REFERENCES_FILE = "references.json"
IDS_FILE = "reference_ids.tsv"

#: The review itself (seed header: "Citation: ... Cancer Drug Resist. 2026;9:18").
REVIEW = {
    "title": "Overcoming resistance to anti-PD-1/PD-L1 therapy in cancer",
    "authors": ["Li L", "Zhao Y", "Shi X", "Guo X", "Zhang X", "Li G", "Meng Q", "Zhang M", "Yin M"],
    "journal": "Cancer Drug Resist",
    "year": 2026,
    "volume": "9",
    "pages": "18",
    "doi": "10.20517/cdr.2026.12",
}

_REF_LINE = re.compile(r"^\s*(\d{1,3})\.\s+(\S.*)$")
_CITE = re.compile(r"\^\[([0-9,\-\u2013 ]+)\]")
_ARTICLE = re.compile(
    r"^(?P<head>.*?[.?!])\s+\*(?P<journal>[^*]+?)\.?\*\.?\s+"
    r"(?P<year>(?:19|20)\d{2});(?P<volume>[^:;]+):(?P<pages>[^\s]+?)\.?"
    r"(?:\s+(?P<links>.*))?$"
)
_WEB = re.compile(
    r"^(?P<head>.*?)\.?\s+Available from:\s*<?(?P<url>[^\s>]+?)>?\.?\s*"
    r"(?:\[Last accessed on (?P<accessed>[^\]]+)\]\.?)?\s*$"
)
_AUTHOR_END = re.compile(r"(?:\bet al\.(?:;\s*[^.]+\.)?|(?<=\s)[A-Z][A-Z]{0,3}\.)(?=\s)")
_LINK_WORDS = ("DOI", "PubMed", "PMC")
_HEADINGS = (
    "INTRODUCTION",
    "APPROVAL OF ANTI-PD-1/PD-L1 DRUGS",
    "ANTI-PD-1/PD-L1 MONOTHERAPY EFFICACY AND COMBINATION STRATEGIES",
    "PRECLINICAL RESEARCH ON PD-1/PD-L1 INHIBITOR-BASED THERAPY",
    "CONCLUSION AND FUTURE PERSPECTIVES",
)
_SUBHEADINGS = (
    "Promoting antigen release and presentation",
    "Enhancing the trafficking and infiltration of immune cells",
    "Modulating chemokine networks",
    "Normalizing tumor vasculature",
    "Remodeling the extracellular matrix",
    "Targeting immune cell function",
    "Regulating metabolism in the TME",
    "Promoting T cell recognition and killing of tumor cells",
    "Modulating host factors",
    "Targeting neuro-immune crosstalk",
)
#: Subheadings that only group the ones below them (no text of their own).
_GROUPING = {"Enhancing the trafficking and infiltration of immune cells"}


@dataclass
class Reference:
    """One numbered reference of the review."""

    number: int
    type: str  # "article" or "web"
    authors: list[str]
    et_al: bool
    group: str | None
    title: str
    journal: str | None
    year: int | None
    volume: str | None
    pages: str | None
    url: str | None
    accessed: str | None
    links: list[str]
    doi: str | None = None
    pmid: str | None = None
    doi_verified_by: str | None = None
    cited_in: list[str] = field(default_factory=list)

    @property
    def short(self) -> str:
        """``First author et al. Journal Year`` for tables."""
        who = self.authors[0] if self.authors else (self.group or "")
        if self.et_al or len(self.authors) > 2:
            who += " et al."
        elif len(self.authors) == 2:
            who += f" & {self.authors[1]}"
        where = self.journal or "web"
        return f"{who} {where} {self.year or 'n.d.'}".strip()


def _clean(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\(#\)", r"\1", text)  # [DOI PubMed](#) -> DOI PubMed
    text = re.sub(r"\^\{([^}]*)\}", r"\1", text)  # CD25^{high} -> CD25high
    return re.sub(r"\s+", " ", text).strip()


def _strip_markup(text: str) -> str:
    return re.sub(r"\*([^*]+)\*", r"\1", text).strip()


def _split_authors(head: str, number: int) -> tuple[list[str], bool, str | None, str]:
    """Split ``Surname AB, Surname C, et al.; Group. Title`` into authors and title."""
    match = _AUTHOR_END.search(head)
    if match is None:
        raise SchemaError(
            f"reference {number}: cannot find the end of the author list in {head[:80]!r}",
            fix="check the seed's reference line follows 'Surname AB, ... Title.'",
        )
    authors_text = head[: match.end()].rstrip(".")
    title = head[match.end():].strip()
    group = None
    if ";" in authors_text:
        authors_text, group = (part.strip() for part in authors_text.split(";", 1))
        authors_text = authors_text.rstrip(".")
    et_al = authors_text.endswith("et al")
    if et_al:
        authors_text = authors_text[: -len("et al")].rstrip(", ")
    authors = [a.strip() for a in authors_text.split(",") if a.strip()]
    return authors, et_al, group, title


def parse_reference(number: int, text: str) -> Reference:
    """Parse one reference line (without its number) of the seed."""
    text = _clean(text)
    article = _ARTICLE.match(text)
    if article:
        authors, et_al, group, title = _split_authors(article["head"], number)
        links = (article["links"] or "").split()
        return Reference(
            number=number,
            type="article",
            authors=authors,
            et_al=et_al,
            group=group,
            title=_strip_markup(title).rstrip("."),
            journal=article["journal"].strip().rstrip("."),
            year=int(article["year"]),
            volume=article["volume"].strip(),
            pages=article["pages"].rstrip("."),
            url=None,
            accessed=None,
            links=[w for w in links if w in _LINK_WORDS],
        )
    web = _WEB.match(text)
    if web:
        head = web["head"].strip()
        year_match = re.search(r"\.\s*((?:19|20)\d{2})$", head)
        year = int(year_match.group(1)) if year_match else None
        title = head[: year_match.start()] if year_match else head
        return Reference(
            number=number,
            type="web",
            authors=[],
            et_al=False,
            group=None,
            title=_strip_markup(title).rstrip("."),
            journal=None,
            year=year,
            volume=None,
            pages=None,
            url=web["url"],
            accessed=web["accessed"],
            links=[],
        )
    raise SchemaError(
        f"reference {number}: not a journal article or a web page: {text[:100]!r}",
        fix="extend ici_atlas.analyses.bibliography.parse_reference for this reference shape",
    )


def _expand(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.replace("\u2013", "-").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = (int(p) for p in part.split("-", 1))
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def citations_by_section(body_lines: Sequence[str]) -> dict[int, list[str]]:
    """Map each cited reference number to the body sections (``HEADING > Subheading``)
    whose text cites it, in the order the sections appear."""
    cited: dict[int, list[str]] = {}
    heading = "(front matter)"
    sub: str | None = None
    for line in body_lines:
        text = line.strip()
        if text in _HEADINGS:
            heading, sub = text, None
            continue
        if text in _SUBHEADINGS:
            sub = None if text in _GROUPING else text
            continue
        if text.startswith("Figure ") and "." in text[:12]:
            continue  # figure legends are not body text
        section = f"{heading} > {sub}" if sub else heading
        for match in _CITE.finditer(text):
            for n in _expand(match.group(1)):
                places = cited.setdefault(n, [])
                if section not in places:
                    places.append(section)
    return cited


def parse_seed(path: str | Path) -> list[Reference]:
    """Parse the numbered reference list at the end of the seed text, with citing sections."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InputError(
            f"seed file {str(path)!r} not found",
            fix="pass --seed PATH to the review's full text (../shared/seed/000_*.txt)",
        ) from exc
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "REFERENCES")
    except StopIteration as exc:
        raise SchemaError(
            f"{path.name}: no 'REFERENCES' heading", fix="pass the review's full text"
        ) from exc
    refs: list[Reference] = []
    for line in lines[start + 1:]:
        if line.startswith("Disclaimer"):
            break
        match = _REF_LINE.match(line)
        if match:
            refs.append(parse_reference(int(match.group(1)), match.group(2)))
    numbers = [r.number for r in refs]
    if numbers != list(range(1, len(refs) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        raise SchemaError(
            f"{path.name}: references are not numbered 1..{len(refs)} (missing {missing})",
            fix="check the seed's reference list for merged or broken lines",
        )
    cited = citations_by_section(lines[:start])
    for ref in refs:
        ref.cited_in = cited.get(ref.number, [])
    return refs


def apply_verified_ids(refs: list[Reference], path: str | Path | None = None) -> list[Reference]:
    """Fill ``doi``/``pmid``/``doi_verified_by`` from ``data/reference_ids.tsv`` (identifiers
    checked one by one, each row naming where it was read)."""
    from ..vocab.tsv import read_rows

    path = Path(path) if path else Path(__file__).resolve().parent.parent / "data" / IDS_FILE
    by_number = {r.number: r for r in refs}
    for row in read_rows(path, ("number", "doi", "pmid", "verified_by")):
        number = row.text("number", required=True)
        ref = by_number.get(int(number)) if number.isdigit() else None
        if ref is None:
            raise row.error("number", number, "not a reference number of the review", "use 1..162")
        doi, pmid = row.text("doi"), row.text("pmid")
        if doi and not doi.startswith("10."):
            raise row.error("doi", doi, "a DOI starts with '10.'", "write the bare DOI, e.g. 10.1056/NEJMoa2109970")
        if pmid and not pmid.isdigit():
            raise row.error("pmid", pmid, "a PMID is digits only", "write the bare number")
        ref.doi, ref.pmid = doi or None, pmid or None
        ref.doi_verified_by = row.text("verified_by", required=True)
    return refs


def dump_references(refs: Iterable[Reference]) -> str:
    """The JSON text of ``references.json`` (stable: sorted by number, fixed indentation)."""
    payload = {
        "source": {
            "review": REVIEW,
            "parsed_from": "the review's full text (seed 000_dbfac863d058afaa.txt), REFERENCES",
            "generator": "python -m ici_atlas.analyses.bibliography --seed SEED --out PATH",
            "identifiers": "doi/pmid are empty where the seed shows only link labels, except "
            "those checked in data/reference_ids.tsv (doi_verified_by names the source)",
        },
        "references": [asdict(r) for r in sorted(refs, key=lambda r: r.number)],
    }
    return json.dumps(payload, indent=1, ensure_ascii=False) + "\n"


def references_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / REFERENCES_FILE


@lru_cache(maxsize=4)
def load_references(path: str | Path | None = None) -> dict[int, Reference]:
    """The committed bibliography as ``{number: Reference}``."""
    path = Path(path) if path else references_path()
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaError(
            f"bibliography {path} not found",
            fix="regenerate it: python -m ici_atlas.analyses.bibliography --seed SEED --out " + str(path),
        ) from exc
    refs: dict[int, Reference] = {}
    for raw in payload["references"]:
        ref = Reference(**raw)
        if ref.number in refs:
            raise SchemaError(f"{path.name}: reference {ref.number} appears twice", fix="regenerate it")
        refs[ref.number] = ref
    return refs


def select_references(numbers: Sequence[int] | None = None) -> list[Reference]:
    """The references with these numbers (all when empty); unknown numbers are an error."""
    refs = load_references()
    if not numbers:
        return list(refs.values())
    unknown = [n for n in numbers if n not in refs]
    if unknown:
        raise InputError(
            f"Invalid reference number(s) {unknown}; expected 1..{max(refs)}",
            fix="list references with `ici-atlas refs`",
        )
    return [refs[n] for n in numbers]


# ---------------------------------------------------------------- export


def _pages_full(pages: str | None) -> str | None:
    """``3887-95`` -> ``3887-3895`` (the seed abbreviates end pages); others unchanged."""
    if not pages:
        return pages
    match = re.fullmatch(r"(\d+)-(\d+)", pages)
    if not match:
        return pages
    start, end = match.groups()
    if len(end) < len(start):
        end = start[: len(start) - len(end)] + end
    return f"{start}-{end}"


def _bib_author(author: str) -> str:
    parts = author.rsplit(" ", 1)
    if len(parts) == 2 and parts[1].isupper():
        return f"{parts[0]}, {' '.join(parts[1])}"
    return "{" + author + "}"


def _bib_escape(text: str) -> str:
    return text.replace("&", r"\&").replace("%", r"\%").replace("#", r"\#")


def render_bibtex(refs: Iterable[Reference]) -> str:
    """BibTeX entries keyed ``ref<N>``."""
    out = []
    for ref in refs:
        fields: list[tuple[str, str]] = []
        names = [_bib_author(a) for a in ref.authors]
        if ref.et_al:
            names.append("others")
        if names:
            fields.append(("author", " and ".join(names)))
        fields.append(("title", "{" + _bib_escape(ref.title) + "}"))
        if ref.type == "article":
            fields.append(("journal", _bib_escape(ref.journal or "")))
            fields += [("volume", ref.volume or ""), ("pages", (_pages_full(ref.pages) or "").replace("-", "--"))]
        if ref.year:
            fields.append(("year", str(ref.year)))
        if ref.url:
            fields.append(("url", ref.url))
        if ref.accessed:
            fields.append(("note", f"Last accessed on {ref.accessed}"))
        if ref.doi:
            fields.append(("doi", ref.doi))
        if ref.pmid:
            fields.append(("pmid", ref.pmid))
        kind = "article" if ref.type == "article" else "misc"
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
        out.append(f"@{kind}{{ref{ref.number},\n{body}\n}}\n")
    return "\n".join(out)


def render_ris(refs: Iterable[Reference]) -> str:
    """RIS records (``JOUR`` for articles, ``ELEC`` for web pages)."""
    out = []
    for ref in refs:
        start, _, end = (_pages_full(ref.pages) or "").partition("-")
        out.append(format_ris_record([
            ("TY", "JOUR" if ref.type == "article" else "ELEC"), ("ID", f"ref{ref.number}"),
            *[("AU", a) for a in ref.authors], ("AU", ref.group), ("TI", ref.title),
            ("JO", ref.journal), ("PY", ref.year), ("VL", ref.volume), ("SP", start), ("EP", end),
            ("UR", ref.url), ("DO", ref.doi), ("AN", f"PMID:{ref.pmid}" if ref.pmid else ""),
            ("N1", f"Reference {ref.number} of Li et al., Cancer Drug Resist 2026;9:18"),
        ]))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ici_atlas.analyses.bibliography",
        description="Parse the review's reference list into references.json.",
    )
    parser.add_argument("--seed", required=True, help="the review's full text")
    parser.add_argument("--out", required=True, help="where to write references.json")
    args = parser.parse_args(argv)
    refs = apply_verified_ids(parse_seed(args.seed))
    Path(args.out).write_text(dump_references(refs), encoding="utf-8")
    print(f"wrote {len(refs)} references to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
