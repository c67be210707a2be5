"""A citable release of the evidence base: ``ici-atlas snapshot --out DIR``.

The snapshot folder holds

* ``tables/store/<table>.parquet`` (and ``.csv``) — every table of the store as it is
  (raw records with their JSON as text, runs, quarantine, warnings, the derived trial tables,
  the literature tables, ORR read from registry results), rows in a fixed order;
* ``tables/curated/<table>.parquet`` (and ``.csv``) — the curated data the analyses use:
  approval events, ORR arms (every row, with why a row is left out), strategies, regulators,
  their relations and the timeline;
* ``report/`` — the report, headed by the snapshot's identifier and how to cite it;
* ``manifest.json`` — version, creation time, the data hash, the exact queries with their
  reported and stored counts, the fingerprint of every vocabulary and curated file, and the
  software versions; ``CITATION.cff`` and ``zenodo.json`` (metadata for a Zenodo deposit).

The **version** is ``YY.MINOR``: the year of the search (the latest load or fetch), then a
counter of that year's snapshots of this store. The **data hash** is a SHA-256 over the
evidence: the stored records (by their content hash), the classification, the literature
library and screening decisions, the ORR read from registry results and the curated tables —
not the run log (runs, pages, quarantine, warnings) nor when or from which folder a record
was read. So the same store gives the same hash, and so does re-loading the same records; a
store whose data hash matches an earlier snapshot keeps that snapshot's version. Each file's
own SHA-256 is in the manifest too.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import duckdb

from .. import __version__
from ..errors import InputError
from ..store.db import open_store
from ..store.schema import tables_present

MANIFEST = "manifest.json"
FORMAT = 1
#: Store tables written to a snapshot (when present), in this order. ``snapshots`` and
#: ``snapshot_changes`` are the snapshots' own bookkeeping and ``run_pages`` only the
#: resume state of a fetch: none is data.
STORE_TABLES = (
    "runs", "run_chunks", "run_records", "raw_studies", "quarantine", "record_warnings",
    "nct_aliases", "trials", "trial_agents", "trial_arms", "trial_partners", "trial_cancers",
    "trial_countries", "orr_extracted", "orr_extract_problems", "pubmed_records",
    "lit_search_hits", "pubmed_trial_links", "lit_imported", "lit_duplicates", "lit_decisions",
)
#: Tables whose content makes the data hash, with the columns left out of it (when or from
#: where a row was read, which run wrote it; the raw JSON is represented by its content hash).
HASHED: dict[str, tuple[str, ...]] = {
    "raw_studies": ("json_zstd", "downloaded_at", "run_id", "source"),
    "nct_aliases": (), "trials": (), "trial_agents": (), "trial_arms": (),
    "trial_partners": (), "trial_cancers": (), "trial_countries": (),
    "orr_extracted": ("run_id",), "orr_extract_problems": ("run_id",),
    "pubmed_records": ("downloaded_at", "run_id", "source", "xml"),
    "pubmed_trial_links": (), "lit_imported": ("imported_at", "run_id", "source_file"),
    "lit_duplicates": (), "lit_decisions": (),
}

#: A local path in a ``source`` column is reduced to its last name (as in the report): a
#: snapshot is shared, the user's directory layout is not.
_SOURCE = ("CASE WHEN starts_with(source, '/') THEN regexp_extract(source, '([^/]+)/*$', 1) "
           "ELSE source END AS source")
_PARAMS = ("regexp_replace(params::VARCHAR, '\"(path|source)\":\"/[^\"]*?([^/\"]+)/*\"', "
           "'\"\\1\":\"\\2\"', 'g')::JSON AS params")
#: The raw registry JSON is written as text (``study_json``), not as its compressed bytes.
_SELECT = {
    "raw_studies": f"SELECT * EXCLUDE (json_zstd) REPLACE ({_SOURCE}), "
                   "study_json(json_zstd) AS study_json FROM raw_studies",
    "runs": f"SELECT * REPLACE ({_SOURCE}, {_PARAMS}) FROM runs",
    "quarantine": f"SELECT * REPLACE ({_SOURCE}) FROM quarantine",
    "lit_imported": "SELECT * REPLACE (regexp_extract(source_file, '([^/]+)$', 1) AS "
                    "source_file) FROM lit_imported",
}
CSV_SKIPPED = {"raw_studies": "the registry's JSON records: Parquet only (a CSV cell per "
                              "record would be unreadable)"}
SOFTWARE_LICENSE = "MIT"
REVIEW = {"title": "Overcoming resistance to anti-PD-1/PD-L1 therapy in cancer",
          "journal": "Cancer Drug Resistance", "year": 2026, "volume": "9", "start": "18",
          "doi": "10.20517/cdr.2026.12",
          "authors": ("Li L", "Zhao Y", "Shi X", "Guo X", "Zhang X", "Li G", "Meng Q",
                      "Zhang M", "Yin M")}


@dataclass
class SnapshotResult:
    version: str
    data_hash: str
    path: Path
    manifest: dict[str, Any]
    reused_version: bool = False  # the same data as an earlier snapshot: its version kept
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        tables = self.manifest["tables"]
        rows = sum(t["rows"] for t in tables)
        text = (f"snapshot {self.version} written to {self.path}: {len(tables)} tables, "
                f"{rows:,} rows, data hash {self.data_hash[:19]}")
        if self.reused_version:
            text += " (same data as the earlier snapshot of that version)"
        return text


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def export_store_tables(con: duckdb.DuckDBPyConnection, out: Path,
                        step: Callable[[str], None]) -> list[dict]:
    """Write every store table present as Parquet (and CSV) in a fixed row order."""
    present = tables_present(con, STORE_TABLES)
    rows = []
    con.execute("SET threads = 1")  # one writer: the same rows give the same bytes
    for table in (t for t in STORE_TABLES if t in present):
        step(f"table {table}")
        select = _SELECT.get(table, f"SELECT * FROM {table}")
        parquet = out / f"{table}.parquet"
        con.execute(f"COPY ({select} ORDER BY ALL) TO '{_sql_path(parquet)}' "
                    "(FORMAT parquet, COMPRESSION zstd)")
        entry = {"name": f"store/{table}", "rows": con.execute(
            f"SELECT count(*) FROM {table}").fetchone()[0],
            "parquet": f"tables/store/{parquet.name}", "sha256": _sha256(parquet)}
        if table in HASHED:
            entry["content_sha256"] = content_hash(con, table, HASHED[table])
        if table not in CSV_SKIPPED:
            csv = out / f"{table}.csv"
            con.execute(f"COPY ({select} ORDER BY ALL) TO '{_sql_path(csv)}' "
                        "(FORMAT csv, HEADER true)")
            entry["csv"] = f"tables/store/{csv.name}"
        else:
            entry["csv"] = None
            entry["csv_note"] = CSV_SKIPPED[table]
        rows.append(entry)
    return rows


def content_hash(con: duckdb.DuckDBPyConnection, table: str, leave_out: tuple[str, ...]) -> str:
    """SHA-256 over the sorted MD5s of the rows of ``table`` (without ``leave_out``): the
    same rows in any order give the same hash."""
    exclude = f" EXCLUDE ({', '.join(leave_out)})" if leave_out else ""
    row = con.execute(
        f"SELECT sha256(coalesce(string_agg(h, '' ORDER BY h), '')) FROM "
        f"(SELECT md5(to_json(t)::VARCHAR) AS h FROM (SELECT *{exclude} FROM {table}) t)"
    ).fetchone()
    return row[0]


def curated_frames(db_path: Path | None) -> dict[str, Any]:
    """The curated tables the analyses use, as DataFrames (from the package's files; the
    strategies' trial links from the store when it is classified)."""
    from ..api import Atlas

    atlas = Atlas(db_path) if db_path is not None else Atlas()
    return {
        "approval_events": atlas.approval_events(),
        "orr_arms": atlas.orr_arms(every_row=True, include_unverified=True,
                                   include_haematological=True, include_subgroups=True),
        "strategies": atlas.strategies(),
        "regulators": atlas.regulators(),
        "regulator_edges": atlas.regulator_edges(),
        "timeline": atlas.timeline(),
    }


def export_curated_tables(frames: dict[str, Any], out: Path) -> list[dict]:
    from ..tables import write_table

    rows = []
    for name, df in frames.items():
        df = df.sort_values(list(df.columns[:2]), kind="stable").reset_index(drop=True)
        parquet = write_table(df, "parquet", out / f"{name}.parquet")
        csv = write_table(df, "csv", out / f"{name}.csv")
        digest = _sha256(csv)
        rows.append({"name": f"curated/{name}", "rows": len(df),
                     "parquet": f"tables/curated/{parquet.name}",
                     "csv": f"tables/curated/{csv.name}", "sha256": digest,
                     "content_sha256": digest})
    return rows


def data_hash(tables: list[dict]) -> str:
    """SHA-256 over each hashed table's name and content hash (sorted by name)."""
    text = "".join(f"{t['name']} {t['content_sha256']}\n"
                   for t in sorted(tables, key=lambda t: t["name"]) if "content_sha256" in t)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def search_year(con: duckdb.DuckDBPyConnection) -> int:
    """The year of the latest successful load or fetch (the search), else this year."""
    row = con.execute("SELECT max(started_at) FROM runs WHERE kind IN ('fetch', 'load') "
                      "AND status = 'ok'").fetchone()
    return (row[0] or datetime.now(timezone.utc)).year


def next_version(con: duckdb.DuckDBPyConnection, year: int, digest: str) -> tuple[str, bool]:
    """(version, reused): the version of an earlier snapshot with the same data hash, else
    ``YY.<count of that year's snapshots + 1>``."""
    same = con.execute("SELECT version FROM snapshots WHERE data_hash = ? ORDER BY created_at "
                       "LIMIT 1", [digest]).fetchone()
    if same:
        return same[0], True
    prefix = f"{year % 100:02d}."
    count = con.execute("SELECT count(*) FROM snapshots WHERE starts_with(version, ?)",
                        [prefix]).fetchone()[0]
    return f"{prefix}{count + 1}", False


def _queries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    from ..report.methods import shareable_source

    out = []
    for r in con.execute(
            "SELECT run_id, kind, source, query, reported_total, stored_total, quarantined, "
            "status, started_at, finished_at FROM runs WHERE kind IN ('fetch', 'load', "
            "'lit-search', 'lit-import') ORDER BY run_id").fetchall():
        out.append({"run_id": r[0], "kind": r[1], "source": shareable_source(r[2]),
                    "query": r[3], "reported_total": r[4], "stored_total": r[5],
                    "quarantined": r[6], "status": r[7],
                    "started_at": r[8].isoformat() if r[8] else None,
                    "finished_at": r[9].isoformat() if r[9] else None})
    return out


def _software() -> dict[str, str]:
    import pandas

    return {"ici-atlas": __version__, "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pandas": pandas.__version__}


def write_snapshot(db_path: str | Path, out_dir: str | Path, *, report: bool = True,
                   figure_formats=("png", "svg", "pdf"), changes=None,
                   on_step: Callable[[str], None] | None = None) -> SnapshotResult:
    """Write a snapshot of the store ``db_path`` into ``out_dir`` (created; must be empty)
    and record it in the store. ``changes`` (a :class:`~ici_atlas.living.diff.Diff`) adds the
    "What changed" section to the report."""
    from ..report.methods import query_vocabularies

    step = on_step or (lambda message: None)
    db_path, out = Path(db_path), Path(out_dir)
    if not db_path.exists():
        raise InputError(f"No store at {str(db_path)!r}",
                         fix="Build one with `ici-atlas fetch` and `ici-atlas classify`, "
                             "or pass --db PATH.")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"The snapshot folder {str(out)!r} is not empty",
                         fix="Pass --out a new or empty folder (each snapshot is its own).")
    (out / "tables" / "store").mkdir(parents=True, exist_ok=True)
    (out / "tables" / "curated").mkdir(parents=True, exist_ok=True)
    with open_store(db_path, read_only=True) as con:
        tables = export_store_tables(con, out / "tables" / "store", step)
        year = search_year(con)
        queries = _queries(con)
        counts = dict(zip(("classified", "pd1_pdl1_trials"), con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_pd1_pdl1 AND representative) FROM trials").fetchone())) \
            if "trials" in tables_present(con, ("trials",)) else {}
        counts["raw_studies"] = con.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
    step("curated tables")
    tables += export_curated_tables(curated_frames(db_path), out / "tables" / "curated")
    digest = data_hash(tables)
    with open_store(db_path, read_only=True) as con:
        version, reused = next_version(con, year, digest)
    created = datetime.now(timezone.utc).replace(microsecond=0)
    manifest = {
        "format": FORMAT,
        "version": version,
        "title": f"ici-atlas evidence snapshot {version}",
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "search_year": year,
        "data_hash": digest,
        "counts": counts,
        "queries": queries,
        "tables": tables,
        "curated_files": [{k: v for k, v in f.items() if k != "classification"}
                          for f in query_vocabularies(None)],
        "software": _software(),
        "how_to_cite": citation_text(version, created.date().isoformat()),
    }
    result = SnapshotResult(version, digest, out, manifest, reused)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    (out / "CITATION.cff").write_text(citation_cff(manifest), encoding="utf-8")
    (out / "zenodo.json").write_text(json.dumps(zenodo_metadata(manifest), indent=2,
                                                ensure_ascii=False) + "\n", encoding="utf-8")
    if changes is not None:
        changes.write(out)
    if report:
        from ..report import render_report

        step("report")
        render_report(db_path, out / "report", on_step=on_step, formats=figure_formats,
                      snapshot=manifest, changes=changes)
    with open_store(db_path) as con:  # a writer, briefly: record the release
        if not reused:
            con.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)",
                        [version, digest, created.replace(tzinfo=None), str(out.resolve()),
                         f"ici-atlas {__version__}"])
        if changes is not None:
            changes.store(con)
    result.files = sorted(p for p in out.rglob("*") if p.is_file())
    return result


def citation_text(version: str, date: str) -> str:
    review = REVIEW
    return (f"ici-atlas contributors. ici-atlas evidence snapshot {version} ({date}): the "
            "anti-PD-1/PD-L1 trial landscape, approvals, efficacy and resistance strategies, "
            f"after {', '.join(review['authors'][:3])} et al., {review['title']}. "
            f"{review['journal']} {review['year']};{review['volume']}:{review['start']}. "
            f"doi:{review['doi']}")


def citation_cff(manifest: dict) -> str:
    """CITATION.cff (Citation File Format 1.2.0) for one snapshot."""
    review = REVIEW
    date = manifest["created_at"][:10]
    authors = "\n".join(f"      - family-names: \"{a.split()[0]}\"\n"
                        f"        given-names: \"{a.split()[1]}\"" for a in review["authors"])
    return f"""cff-version: 1.2.0
message: "If you use this snapshot, please cite it as below, and the review it implements."
type: dataset
title: "{manifest['title']}"
version: "{manifest['version']}"
date-released: "{date}"
license: {SOFTWARE_LICENSE}
abstract: "A versioned release of the ici-atlas evidence base (data hash {manifest['data_hash']}):
  PD-1/PD-L1 trials from ClinicalTrials.gov, approval events, monotherapy response rates and
  resistance strategies, each row with its source."
authors:
  - name: "ici-atlas contributors"
keywords:
  - "PD-1"
  - "PD-L1"
  - "immune checkpoint inhibitors"
  - "clinical trials"
  - "living evidence"
references:
  - type: article
    title: "{review['title']}"
    journal: "{review['journal']}"
    year: {review['year']}
    volume: "{review['volume']}"
    start: "{review['start']}"
    doi: "{review['doi']}"
    authors:
{authors}
  - type: software
    title: "ici-atlas"
    version: "{manifest['software']['ici-atlas']}"
    license: {SOFTWARE_LICENSE}
    authors:
      - name: "ici-atlas contributors"
"""


def zenodo_metadata(manifest: dict) -> dict:
    """The metadata of a Zenodo deposit of this snapshot (upload as ``.zenodo.json``)."""
    review = REVIEW
    return {
        "upload_type": "dataset",
        "title": manifest["title"],
        "version": manifest["version"],
        "publication_date": manifest["created_at"][:10],
        "creators": [{"name": "ici-atlas contributors"}],
        "description": (
            "A versioned release of the ici-atlas evidence base on anti-PD-1/PD-L1 therapy: "
            f"{manifest['counts'].get('pd1_pdl1_trials', 0):,} PD-1/PD-L1 trials from "
            "ClinicalTrials.gov with their classification, the curated approval events, "
            "monotherapy objective response rates and resistance strategies, every row with "
            f"its source. Data hash {manifest['data_hash']}. Research data, not clinical "
            "advice. Cancer classification uses OncoTree (CC BY 4.0)."),
        "license": "MIT",
        "keywords": ["PD-1", "PD-L1", "immune checkpoint inhibitors", "clinical trials",
                     "living evidence"],
        "related_identifiers": [{"identifier": review["doi"], "relation": "isSupplementTo",
                                 "scheme": "doi"}],
    }


def read_manifest(folder: str | Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise InputError(f"{str(folder)!r} is not a snapshot (no {MANIFEST})",
                         fix="Pass a folder written by `ici-atlas snapshot`, or a store file.")
    return json.loads(path.read_text(encoding="utf-8"))


def latest_snapshot(folder: str | Path) -> Path | None:
    """The newest snapshot under ``folder`` (by creation time in its manifest), or None."""
    found = []
    for manifest in Path(folder).glob(f"*/{MANIFEST}"):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append((data.get("created_at", ""), manifest.parent))
    return max(found)[1] if found else None


__all__ = ["SnapshotResult", "write_snapshot", "read_manifest", "latest_snapshot"]
