"""Read real ClinicalTrials.gov v2 records named in tests/labels/trials_labelled.tsv
(shared by the classifier tests; not a test module)."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import orjson

from ici_atlas.concepts.evaluate import load_labels, load_record
from ici_atlas.store.raw_json import pack_json

LABELS = Path(__file__).resolve().parent / "labels" / "trials_labelled.tsv"


def label_rows() -> dict[str, dict[str, str]]:
    return {row["nct_id"]: row for row in load_labels(LABELS)}


def record(ctgov: Path, nct_id: str) -> dict:
    """The stored v2 record of a labelled trial."""
    return load_record(ctgov, label_rows()[nct_id]["source_file"], nct_id)


def insert_raw(con, items: list[tuple[str, str]]) -> None:
    """Put ``(nct_id, json_text)`` rows into raw_studies (as a loader would)."""
    now = datetime.datetime(2026, 1, 1)
    for nct, text in items:
        con.execute(
            "INSERT INTO raw_studies (nct_id, json_zstd, content_hash, source, source_format, "
            "downloaded_at, has_results) VALUES (?, ?, ?, 'test', 'v2-json', ?, ?)",
            [nct, pack_json(text.encode()), hashlib.sha256(text.encode()).hexdigest(), now,
             '"resultsSection"' in text],
        )


def insert_labelled(con, ctgov: Path, nct_ids: list[str] | None = None) -> list[str]:
    """Insert the labelled records (all, or ``nct_ids``) and return their IDs."""
    rows = label_rows()
    ids = nct_ids or sorted(rows)
    insert_raw(con, [(n, orjson.dumps(record(ctgov, n)).decode()) for n in ids])
    return ids
