"""The screening library: every record identified (PubMed searches + imported files) as one
list, the import of export files (:func:`import_files`), and the de-duplication that says
what it merged and why.

A record's id is ``pmid:<PMID>`` for PubMed records and ``import:<file>#<n>`` for records
imported from export files (``<file>`` is the file's name; a different file of the same name
imported later is stored as ``<name> (2)``). De-duplication links records that share a PMID, a DOI,
or a normalised title (of at least five words) and publication year, unless their PMIDs or
DOIs differ; each cluster keeps one canonical record
(a PubMed record when there is one, else the first imported).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import duckdb
import orjson

from ..errors import IciAtlasError
from ..store.bulk import insert_rows
from ..store.runs import finish_run, now_utc, quarantine_record, start_run, update_run
from ..sources.bibfiles import FORMAT_LABELS, ImportedRecord, read_export
from ..sources.pubmed_xml import ParseProblem


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


# -- importing export files -------------------------------------------------------------

PUBMED_ORIGIN = "PubMed search"


@dataclass
class FileImport:
    """What one file gave: ``read`` = ``imported_new + already_in_library +
    merged_duplicates + rejected`` (or ``status == "failed"`` and ``error`` when the file
    could not be read at all)."""

    file: str
    format: str | None = None
    stored_as: str = ""
    status: str = "ok"  # ok | failed
    read: int = 0
    imported_new: int = 0
    already_in_library: int = 0
    merged_duplicates: int = 0
    rejected: int = 0
    run_id: int | None = None
    error: str | None = None
    fix: str | None = None
    exception: IciAtlasError | None = field(default=None, repr=False)
    problems: list[ParseProblem] = field(default_factory=list, repr=False)
    warnings: list[ParseProblem] = field(default_factory=list, repr=False)

    @property
    def format_label(self) -> str:
        return FORMAT_LABELS.get(self.format or "", self.format or "")

    def row(self) -> dict:
        return {"file": self.file, "format": self.format_label, "stored_as": self.stored_as,
                "status": self.status, "read": self.read, "imported_new": self.imported_new,
                "already_in_library": self.already_in_library,
                "merged_duplicates": self.merged_duplicates, "rejected": self.rejected,
                "warnings": len(self.warnings), "run_id": self.run_id, "error": self.error}


@dataclass(frozen=True)
class DuplicateFound:
    """A record of an import that is the same work as a record already in the library or
    read earlier in the same import (``matched_on``: pmid, doi or title+year)."""

    file: str
    record_id: str
    title: str
    duplicate_of_file: str
    duplicate_of_id: str
    matched_on: str
    value: str

    def row(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ImportReport:
    files: list[FileImport]
    duplicates: list[DuplicateFound]

    @property
    def failed(self) -> list[FileImport]:
        return [f for f in self.files if f.status == "failed"]

    def file_rows(self) -> list[dict]:
        return [f.row() for f in self.files]

    def duplicate_rows(self) -> list[dict]:
        return [d.row() for d in self.duplicates]


#: Column kinds of :meth:`ImportReport.file_rows` and :meth:`ImportReport.duplicate_rows`.
IMPORT_FILE_TABLE = {
    "file": "str", "format": "str", "stored_as": "str", "status": "str", "read": "int",
    "imported_new": "int", "already_in_library": "int", "merged_duplicates": "int",
    "rejected": "int", "warnings": "int", "run_id": "int", "error": "str",
}
IMPORT_DUPLICATE_TABLE = {
    "file": "str", "record_id": "str", "title": "str", "duplicate_of_file": "str",
    "duplicate_of_id": "str", "matched_on": "str", "value": "str",
}


class _Index:
    """The records already in the library (and those read so far): by PMID, by DOI and by
    title + year, the first record holding each key, and where each record came from."""

    def __init__(self, records: Iterable[LibraryRecord]):
        self.by_key: dict[tuple[str, str], LibraryRecord] = {}
        self.titles: dict[str, str] = {}  # record_id -> normalised title (imported records)
        self.origin: dict[str, str] = {}
        for r in records:
            self.add(r)

    def add(self, r: LibraryRecord) -> None:
        self.origin[r.record_id] = PUBMED_ORIGIN if r.origin == "pubmed" else r.origin
        if r.record_id.startswith("import:"):
            self.titles[r.record_id] = normalise_title(r.title)
        for key in _keys(r):
            self.by_key.setdefault(key, r)

    def match(self, r: LibraryRecord) -> tuple[LibraryRecord, str, str] | None:
        """(record, rule, value) of the first record ``r`` duplicates: same PMID, else same
        DOI, else same title + year unless their PMIDs or DOIs differ."""
        for rule, value in _keys(r):
            other = self.by_key.get((rule, value))
            if other is None or other.record_id == r.record_id:
                continue
            if rule == "title+year" and _conflicting_ids(other, r):
                continue
            return other, rule, value
        return None


def _keys(r: LibraryRecord) -> list[tuple[str, str]]:
    keys = []
    if r.pmid:
        keys.append(("pmid", r.pmid))
    if normalise_doi(r.doi):
        keys.append(("doi", normalise_doi(r.doi)))
    if _title_key(r):
        keys.append(("title+year", _title_key(r)))
    return keys


def _as_library(r: ImportedRecord) -> LibraryRecord:
    return LibraryRecord(f"import:{r.source_file}#{r.position}", r.pmid, r.doi, r.title, r.abstract,
                         r.year, r.journal, tuple(r.publication_types), tuple(r.nct_ids), r.source_file)


def _stored_name(index: _Index, name: str, records: list[ImportedRecord]) -> str:
    """``name``, or ``name (2)``, ``name (3)`` ... when records of a different file of that
    name are already stored (same position, another title): never overwrite or skip them."""
    label, n = name, 1
    while any(index.titles.get(f"import:{label}#{r.position}", normalise_title(r.title))
              != normalise_title(r.title) for r in records):
        n += 1
        label = f"{name} ({n})"
    return label


def import_files(con: duckdb.DuckDBPyConnection, paths: Iterable[str | Path],
                 on_file: Callable[[FileImport], None] | None = None) -> ImportReport:
    """Import export files into the library, each on its own (format recognised from the
    content, see :func:`~ici_atlas.sources.bibfiles.read_export`).

    Per file: a ``lit-import`` run (reported = read, stored, new, unchanged, quarantined);
    rejected records quarantined with the record, field and reason; a file that cannot be
    read at all is a ``failed`` run and the other files are still imported. Every record
    that is the same work as one already in the library or read earlier in this import
    (same PMID, else DOI, else title + year) is stored too — nothing is lost — counted as
    merged and listed in :attr:`ImportReport.duplicates` with the record it matched;
    ``lit prescreen`` then links them (:func:`deduplicate`). Re-importing a file changes
    nothing (its records are ``already_in_library``)."""
    index = _Index(query_library(con))
    report = ImportReport([], [])
    for path in paths:
        item = _import_one(con, Path(path), index, report.duplicates)
        report.files.append(item)
        if on_file is not None:
            on_file(item)
    return report


def _import_one(con: duckdb.DuckDBPyConnection, path: Path, index: _Index,
                duplicates: list[DuplicateFound]) -> FileImport:
    item = FileImport(file=str(path))
    try:
        item.format, records = read_export(path, item.problems, item.warnings)
    except IciAtlasError as exc:
        item.status, item.error, item.fix, item.exception = "failed", exc.message, exc.fix, exc
        item.run_id = start_run(con, "lit-import", str(path), None, {"format": None})
        finish_run(con, item.run_id, "failed", exc.message)
        return item
    item.stored_as = _stored_name(index, path.name, records)
    if item.stored_as != path.name:
        item.warnings.append(ParseProblem(
            str(path), "file", f"a different file named {path.name!r} is already in the library; "
            f"this one's records are stored as {item.stored_as!r}"))
    item.read = len(records) + len(item.problems)
    item.rejected = len(item.problems)
    for r in records:
        r.source_file = item.stored_as
        lib = _as_library(r)
        if lib.record_id in index.titles:
            item.already_in_library += 1
            continue
        found = index.match(lib)
        if found is None:
            item.imported_new += 1
        else:
            other, rule, value = found
            item.merged_duplicates += 1
            duplicates.append(DuplicateFound(
                file=str(path), record_id=lib.record_id, title=r.title,
                duplicate_of_file=index.origin.get(other.record_id, other.origin),
                duplicate_of_id=other.record_id, matched_on=rule, value=value))
        index.add(lib)
        index.origin[lib.record_id] = str(path)
    item.run_id = start_run(con, "lit-import", str(path), None,
                            {"format": item.format, "stored_as": item.stored_as})
    new, known = load_imported(con, records, item.run_id)
    update_run(con, item.run_id, reported_total=item.read, stored_total=len(records),
               new_records=new, unchanged_records=known, quarantined=item.rejected)
    for p in item.problems:
        quarantine_record(con, item.run_id, str(path), p.record_ref, p.field, p.reason, None)
    finish_run(con, item.run_id, "ok", _run_message(item))
    return item


def _run_message(item: FileImport) -> str | None:
    """The run's message: the merge count and every warning (records kept with something
    dropped or guessed)."""
    parts = []
    if item.merged_duplicates:
        parts.append(f"{item.merged_duplicates} merged as duplicates of records already in the "
                     "library or this import")
    if item.warnings:
        parts.append(f"{len(item.warnings)} warning(s): " + "; ".join(
            f"{w.record_ref} (field {w.field}): {w.reason}" for w in item.warnings))
    return "; ".join(parts) or None
