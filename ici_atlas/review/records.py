"""PubMed records in the store: one row per PMID (the article XML verbatim plus the parsed
fields screening needs), which search found it, and links to trials by NCT ID."""

from __future__ import annotations

import duckdb
import orjson

from ..store.bulk import insert_rows
from ..store.runs import now_utc
from ..sources.pubmed_xml import PubmedRecord, article_xml_by_pmid



_RECORD_COLUMNS = (
    ("pmid", "VARCHAR"), ("title", "VARCHAR"), ("abstract", "VARCHAR"), ("authors", "JSON"),
    ("journal", "VARCHAR"), ("year", "INTEGER"), ("doi", "VARCHAR"), ("publication_types", "JSON"),
    ("mesh_headings", "JSON"), ("keywords", "JSON"), ("nct_ids", "JSON"), ("record", "JSON"),
    ("xml", "VARCHAR"), ("source", "VARCHAR"), ("downloaded_at", "TIMESTAMP"), ("run_id", "BIGINT"),
)




def split_articles(xml: bytes) -> dict[str, str]:
    """PMID → the ``PubmedArticle`` element's XML text, for storing records verbatim.

    Parsed with the protections of :mod:`ici_atlas.sources.pubmed_xml` (no entity
    declarations, bounded nesting); XML that cannot be read raises
    :class:`~ici_atlas.sources.pubmed_xml.PubmedXmlError`, never a ``ParseError``."""
    return article_xml_by_pmid(xml)


def load_pubmed_records(
    con: duckdb.DuckDBPyConnection, records: list[PubmedRecord], *, source: str, run_id: int,
    xml_by_pmid: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Upsert records; returns (new, already_stored). Re-loading the same records changes nothing."""
    if not records:
        return 0, 0
    pmids = [r.pmid for r in records]
    known = {
        row[0]
        for row in con.execute(
            "SELECT pmid FROM pubmed_records WHERE pmid IN (SELECT unnest(?))", [pmids]
        ).fetchall()
    }
    stamp = now_utc()
    hits = [[run_id, rec.pmid] for rec in records]
    links = [[rec.pmid, nct] for rec in records for nct in rec.nct_ids]
    rows, seen = [], set(known)
    for rec in records:
        if rec.pmid in seen:
            continue
        seen.add(rec.pmid)
        rows.append([
            rec.pmid, rec.title, rec.abstract, orjson.dumps(rec.authors).decode(), rec.journal,
            rec.year, rec.doi or None, orjson.dumps(rec.publication_types).decode(),
            orjson.dumps(rec.mesh_headings).decode(), orjson.dumps(rec.keywords).decode(),
            orjson.dumps(rec.nct_ids).decode(), orjson.dumps(rec.to_dict()).decode(),
            (xml_by_pmid or {}).get(rec.pmid), source, stamp, run_id,
        ])
    insert_rows(con, "lit_search_hits", (("run_id", "BIGINT"), ("pmid", "VARCHAR")), hits, or_ignore=True)
    insert_rows(con, "pubmed_trial_links", (("pmid", "VARCHAR"), ("nct_id", "VARCHAR")), links, or_ignore=True)
    insert_rows(con, "pubmed_records", _RECORD_COLUMNS, rows)
    new = len(rows)
    return new, len(records) - new


def query_search_pmids(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT pmid FROM lit_search_hits WHERE run_id = ? ORDER BY pmid", [run_id]).fetchall()]
