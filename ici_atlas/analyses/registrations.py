"""The registrations table: every classified registration with the trial it belongs to."""

from __future__ import annotations

from typing import Sequence

import duckdb

from .trials import require_derived_tables


def query_registration_table(con: duckdb.DuckDBPyConnection,
                             registry: str | Sequence[str] | None = None,
                             pd1_only: bool = False) -> list[dict]:
    """One row per registration (``trials`` row): registry, trial_id, trial_key,
    link_basis, representative, is_pd1_pdl1, title, registered (first posted)."""
    require_derived_tables(con)
    wanted = [registry] if isinstance(registry, str) else list(registry or [])
    sql = ("SELECT registry, nct_id, trial_key, coalesce(link_basis, ''), representative, "
           "is_pd1_pdl1, brief_title, CAST(first_posted AS VARCHAR) FROM trials WHERE TRUE")
    params: list = []
    if wanted:
        sql += " AND list_contains(?::VARCHAR[], upper(registry))"
        params.append([w.upper() for w in wanted])
    if pd1_only:
        sql += " AND is_pd1_pdl1"
    sql += " ORDER BY trial_key, NOT representative, registry, nct_id"
    cols = ("registry", "trial_id", "trial_key", "link_basis", "representative",
            "is_pd1_pdl1", "title", "registered")
    return [dict(zip(cols, r)) for r in con.execute(sql, params).fetchall()]
