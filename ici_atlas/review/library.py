"""The screening library: every record identified (PubMed searches + imported files) as one
list, and the de-duplication that says what it merged and why.

A record's id is ``pmid:<PMID>`` for PubMed records and ``import:<file>#<n>`` for records
imported from MEDLINE/RIS files. De-duplication links records that share a PMID, a DOI,
or a normalised title (of at least five words) and publication year, unless their PMIDs or
DOIs differ; each cluster keeps one canonical record
(a PubMed record when there is one, else the first imported).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import duckdb
import orjson

from ..store.bulk import insert_rows
from ..store.runs import now_utc
from ..sources.bibfiles import ImportedRecord


MIN_TITLE_WORDS = 5

_IMPORT_COLUMNS = (
    ("record_id", "VARCHAR"), ("source_file", "VARCHAR"), ("format", "VARCHAR"), ("pmid", "VARCHAR"),
    ("doi", "VARCHAR"), ("title", "VARCHAR"), ("abstract", "VARCHAR"), ("year", "INTEGER"),
    ("authors", "JSON"), ("journal", "VARCHAR"), ("publication_types", "JSON"), ("keywords", "JSON"),
    ("nct_ids", "JSON"), ("imported_at", "TIMESTAMP"), ("run_id", "BIGINT"),
)


@dataclass(frozen=True)
class LibraryRecord:
    record_id: str
    pmid: str
    doi: str
    title: str
    abstract: str
    year: int | None
    journal: str
    publication_types: tuple[str, ...]
    nct_ids: tuple[str, ...]
    origin: str  # pubmed | <file name>




def load_imported(con: duckdb.DuckDBPyConnection, records: list[ImportedRecord], run_id: int) -> tuple[int, int]:
    """Store imported records; re-importing the same file changes nothing. Returns (new, known)."""
    stamp = now_utc()
    rows = []
    for r in records:
        rows.append([
            f"import:{r.source_file}#{r.position}", r.source_file, r.format, r.pmid or None, r.doi or None,
            r.title, r.abstract, r.year, orjson.dumps(r.authors).decode(), r.journal,
            orjson.dumps(r.publication_types).decode(), orjson.dumps(r.keywords).decode(),
            orjson.dumps(r.nct_ids).decode(), stamp, run_id,
        ])
    before = con.execute("SELECT count(*) FROM lit_imported").fetchone()[0]
    insert_rows(con, "lit_imported", _IMPORT_COLUMNS, rows, or_ignore=True)
    new = con.execute("SELECT count(*) FROM lit_imported").fetchone()[0] - before
    return new, len(rows) - new


def query_library(con: duckdb.DuckDBPyConnection) -> list[LibraryRecord]:
    """Every identified record, PubMed first, in a stable order."""
    rows = con.execute(
        """
        SELECT 'pmid:' || pmid, pmid, coalesce(doi, ''), coalesce(title, ''), coalesce(abstract, ''), year,
               coalesce(journal, ''), publication_types, nct_ids, 'pubmed', 0 AS o
        FROM pubmed_records
        UNION ALL
        SELECT record_id, coalesce(pmid, ''), coalesce(doi, ''), title, coalesce(abstract, ''), year,
               coalesce(journal, ''), publication_types, nct_ids, source_file, 1 AS o
        FROM lit_imported
        ORDER BY o, 1
        """
    ).fetchall()
    return [
        LibraryRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                      tuple(orjson.loads(r[7] or "[]")), tuple(orjson.loads(r[8] or "[]")), r[9])
        for r in rows
    ]


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def normalise_doi(doi: str) -> str:
    return re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi.strip().lower())


def find_duplicates(records: list[LibraryRecord]) -> dict[str, tuple[str, str]]:
    """record_id → (canonical_id, rule) for every record that duplicates another."""
    parent = {r.record_id: r.record_id for r in records}
    rank = {r.record_id: i for i, r in enumerate(records)}  # PubMed first, then files
    rule_of: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str, rule: str) -> None:
        ra, rb = find(a), find(b)
        if ra == rb:
            return
        keep, drop = (ra, rb) if rank[ra] <= rank[rb] else (rb, ra)
        parent[drop] = keep
        rule_of.setdefault(drop, rule)

    by_id = {r.record_id: r for r in records}
    for rule, key in (
        ("pmid", lambda r: r.pmid),
        ("doi", lambda r: normalise_doi(r.doi)),
        ("title+year", _title_key),
    ):
        first: dict[str, str] = {}
        for r in records:
            k = key(r)
            if not k:
                continue
            if k in first:
                if rule != "title+year" or not _conflicting_ids(by_id[first[k]], r):
                    union(first[k], r.record_id, rule)
            else:
                first[k] = r.record_id
    out = {}
    for r in records:
        root = find(r.record_id)
        if root != r.record_id:
            out[r.record_id] = (root, rule_of.get(r.record_id, _rule_via_chain(r.record_id, parent, rule_of)))
    return out


def _title_key(r: LibraryRecord) -> str:
    """Title + year, only for titles specific enough to identify a paper: generic titles
    such as "Abstracts" (conference supplements) never match on title alone."""
    title = normalise_title(r.title)
    if not r.year or len(title.split()) < MIN_TITLE_WORDS:
        return ""
    return f"{title}|{r.year}"


def _conflicting_ids(a: LibraryRecord, b: LibraryRecord) -> bool:
    """Two records with different PMIDs, or different DOIs, are different papers whatever
    their titles say."""
    return bool((a.pmid and b.pmid and a.pmid != b.pmid)
                or (a.doi and b.doi and normalise_doi(a.doi) != normalise_doi(b.doi)))


def _rule_via_chain(record_id: str, parent: dict[str, str], rule_of: dict[str, str]) -> str:
    x = record_id
    while x in parent and parent[x] != x:
        if x in rule_of:
            return rule_of[x]
        x = parent[x]
    return "linked"


def deduplicate(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``lit_duplicates``; returns the number merged by each rule."""
    dupes = find_duplicates(query_library(con))
    con.execute("DELETE FROM lit_duplicates")
    insert_rows(con, "lit_duplicates", (("record_id", "VARCHAR"), ("canonical_id", "VARCHAR"), ("rule", "VARCHAR")),
                [[k, v[0], v[1]] for k, v in sorted(dupes.items())])
    counts: dict[str, int] = {}
    for _canonical, rule in dupes.values():
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def query_canonical(con: duckdb.DuckDBPyConnection) -> list[LibraryRecord]:
    """Records left after de-duplication."""
    dropped = {r[0] for r in con.execute("SELECT record_id FROM lit_duplicates").fetchall()}
    return [r for r in query_library(con) if r.record_id not in dropped]
