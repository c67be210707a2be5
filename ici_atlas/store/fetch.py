"""Planning and running a ClinicalTrials.gov fetch: one place for ``ici-atlas fetch``,
``ici-atlas run`` and ``Atlas.fetch()``.

:func:`plan_fetch` turns the options into the exact API requests (the query terms from the
agent vocabulary, split into chunks whose URLs stay short): :meth:`FetchPlan.rows` lists
them without touching the network (``fetch --dry-run``), :meth:`FetchPlan.counts` asks the
registry for each chunk's count, :meth:`FetchPlan.with_update` narrows the plan to records
changed since the last successful fetch of the same query, and :meth:`FetchPlan.run`
downloads into the store (resume, reconciliation: :mod:`ici_atlas.store.ingest`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Callable

import duckdb

from .. import config
from ..errors import InputError
from ..sources.ctgov_api import DEFAULT_MAX_RATE, CtgovClient, RetryPolicy, fetch_counts
from ..sources.http import check_base_url
from ..sources.ctgov_query import (
    DEFAULT_INTERVENTION_TYPES,
    DEFAULT_MAX_URL_LENGTH,
    StudyQuery,
    build_queries,
    query_key,
    query_terms_from_vocab,
)
from .ingest import RunResult, load_from_api, plan_update


def _split(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


@dataclass
class FetchPlan:
    base_url: str
    terms: list[str]
    types: tuple[str, ...]
    page_size: int
    max_url_length: int
    timeout: float
    max_rate: float
    retries: int
    backoff: float
    queries: list[StudyQuery]
    key: str
    updated_since: date | None = None
    on_retry: Callable[[str, float], None] | None = field(default=None, repr=False)

    def client(self, timeout: float | None = None, retries: int | None = None) -> CtgovClient:
        return CtgovClient(
            self.base_url, timeout=self.timeout if timeout is None else timeout,
            max_rate=self.max_rate,
            retry=RetryPolicy(max_retries=self.retries if retries is None else retries,
                              backoff=self.backoff),
            on_retry=self.on_retry)

    def rows(self) -> list[dict[str, Any]]:
        """Each chunk's query and the exact URL of its first page (no network)."""
        return [{"chunk": i, "query_intr": q.intr_expression(),
                 "filter_advanced": q.advanced_filter(), "url": q.url(self.base_url, self.page_size)}
                for i, q in enumerate(self.queries)]

    def counts(self) -> list[dict[str, Any]]:
        """Each chunk's study count as the registry reports it (one short request each)."""
        with self.client() as client:
            return [{"chunk": r["chunk"], "count": r["count"], "url": r["url"]}
                    for r in fetch_counts(client, self.queries, self.page_size)]

    def with_update(self, con: duckdb.DuckDBPyConnection) -> "FetchPlan":
        """The same plan, limited to records updated since the last successful fetch of
        this query (raises InputError when there was none)."""
        since = plan_update(con, self.key)
        queries = build_queries(self.terms, self.base_url, intervention_types=self.types,
                                updated_since=since, page_size=self.page_size,
                                max_url_length=self.max_url_length)
        return replace(self, queries=queries, updated_since=since)

    def run(self, con: duckdb.DuckDBPyConnection, restart: bool = False) -> RunResult:
        with self.client() as client:
            return load_from_api(con, client, self.queries, page_size=self.page_size,
                                 base_key=self.key, restart=restart)


def plan_fetch(terms: str | list[str] | None = None,
               types: str | list[str] | None = DEFAULT_INTERVENTION_TYPES,
               page_size: int = 1000, max_rate: float = DEFAULT_MAX_RATE, timeout: float = 60.0,
               retries: int = 5, backoff: float = 2.0,
               max_url_length: int = DEFAULT_MAX_URL_LENGTH, api_url: str | None = None,
               update: bool = False, on_retry: Callable[[str, float], None] | None = None,
               ) -> FetchPlan:
    """The fetch these options describe (``update`` is applied by
    :meth:`FetchPlan.with_update`, which needs the store)."""
    del update  # needs the store: see FetchPlan.with_update
    if not 1 <= int(page_size) <= 1000:
        raise InputError(f"Invalid page size {page_size!r}; expected 1 to 1000",
                         fix="Use --page-size 1000 (the API's maximum).")
    base = check_base_url(config.ctgov_api_url(api_url), "--api-url (or $ICI_ATLAS_CTGOV_API)")
    term_list = _split(terms) if terms is not None else list(query_terms_from_vocab())
    if not term_list:
        raise InputError("No search terms given", fix="Give --terms NAME[,NAME...] or leave it out.")
    type_list = tuple(t.upper() for t in _split(types))
    queries = build_queries(term_list, base, intervention_types=type_list, page_size=page_size,
                            max_url_length=max_url_length)
    return FetchPlan(base_url=base, terms=term_list, types=type_list, page_size=page_size,
                     max_url_length=max_url_length, timeout=timeout, max_rate=max_rate,
                     retries=retries, backoff=backoff, queries=queries,
                     key=query_key(base, queries), on_retry=on_retry)
