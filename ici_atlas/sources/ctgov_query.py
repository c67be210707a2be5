"""Build ClinicalTrials.gov API v2 search queries from the drug vocabulary.

The search is ``GET {base}/studies`` with

* ``query.intr``: every name of every PD-1/PD-L1-binding agent (INN, code names, brands,
  other names), each quoted, joined with ``OR``. ``query.intr`` searches the intervention
  search area (intervention names, types, other names, arm groups, intervention MeSH
  terms), not eligibility text, so "prior anti-PD-1 therapy" in the inclusion criteria does
  not pull a trial in;
* ``filter.advanced``: ``AREA[InterventionType](DRUG OR BIOLOGICAL OR COMBINATION_PRODUCT)``,
  and for an incremental update also ``AREA[LastUpdatePostDate]RANGE[YYYY-MM-DD,MAX]``.

When the term list would make a request URL longer than ``max_url_length`` characters the
terms are split into chunks, each run as its own query (see :func:`build_queries`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from ..errors import InputError, VocabularyError

DEFAULT_INTERVENTION_TYPES: tuple[str, ...] = ("DRUG", "BIOLOGICAL", "COMBINATION_PRODUCT")
VALID_INTERVENTION_TYPES = frozenset(
    {
        "BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE", "DIAGNOSTIC_TEST",
        "DIETARY_SUPPLEMENT", "DRUG", "GENETIC", "OTHER", "PROCEDURE", "RADIATION",
    }
)
DEFAULT_MAX_URL_LENGTH = 6000
PAGE_SIZE_MAX = 1000
# A nextPageToken is short (tens of characters); reserve room for it when measuring URLs.
_TOKEN_ALLOWANCE = 120


def format_term(term: str) -> str:
    """One search term as an Essie phrase: quoted, inner quotes removed."""
    cleaned = " ".join(term.replace('"', " ").split())
    if not cleaned:
        raise InputError(f"Invalid search term {term!r}; it is empty", fix="Remove the empty term.")
    return f'"{cleaned}"'


def dedupe_terms(terms: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Terms without case/space duplicates, in first-seen order."""
    seen: set[str] = set()
    out: list[str] = []
    for term in terms:
        key = " ".join(term.split()).casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(" ".join(term.split()))
    return tuple(out)


def query_terms_from_vocab() -> tuple[str, ...]:
    """Every name of every PD-1/PD-L1-binding agent in the curated vocabulary."""
    try:
        from ..vocab import load_agents  # helper vocabulary (ici_atlas/vocab)
    except ImportError as exc:
        raise VocabularyError(
            f"The drug vocabulary (ici_atlas.vocab.load_agents) is not available: {exc}",
            fix="Reinstall ici-atlas, or pass the search terms explicitly with --terms.",
        ) from exc
    names: list[str] = []
    for agent in load_agents():
        names.extend(agent.names())
    terms = dedupe_terms(sorted(names, key=str.casefold))
    if not terms:
        raise VocabularyError(
            "The drug vocabulary has no agent names", fix="Check ici_atlas/vocab/agents.tsv."
        )
    return terms


@dataclass(frozen=True)
class StudyQuery:
    """One ``/studies`` search (one chunk of terms)."""

    terms: tuple[str, ...]
    intervention_types: tuple[str, ...] = DEFAULT_INTERVENTION_TYPES
    updated_since: date | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    def intr_expression(self) -> str:
        return " OR ".join(format_term(t) for t in self.terms)

    def advanced_filter(self) -> str | None:
        parts = []
        if self.intervention_types:
            parts.append(f"AREA[InterventionType]({' OR '.join(self.intervention_types)})")
        if self.updated_since is not None:
            parts.append(f"AREA[LastUpdatePostDate]RANGE[{self.updated_since.isoformat()},MAX]")
        if not parts:
            return None
        return " AND ".join(parts)

    def params(
        self, page_size: int, page_token: str | None = None, count_total: bool = True
    ) -> dict[str, str]:
        """Request parameters, in a fixed order (so the URL is reproducible)."""
        out = {"format": "json", "query.intr": self.intr_expression()}
        adv = self.advanced_filter()
        if adv:
            out["filter.advanced"] = adv
        out.update(dict(self.extra))
        out["pageSize"] = str(page_size)
        if count_total:
            out["countTotal"] = "true"
        if page_token:
            out["pageToken"] = page_token
        return out

    def url(self, base_url: str, page_size: int, page_token: str | None = None) -> str:
        return f"{base_url.rstrip('/')}/studies?" + urlencode(
            self.params(page_size, page_token)
        )

    def describe(self) -> dict:
        """The query as a JSON-able dict (stored in runs.params)."""
        return {
            "query.intr": self.intr_expression(),
            "filter.advanced": self.advanced_filter(),
            "n_terms": len(self.terms),
        }


def query_key(base_url: str, queries: list[StudyQuery], page_size: int | None = None) -> str:
    """A short hash identifying a query set; ``page_size`` is included for resuming."""
    payload = {
        "base": base_url.rstrip("/"),
        "chunks": [
            [q.intr_expression(), q.advanced_filter(), list(q.extra)] for q in queries
        ],
    }
    if page_size is not None:
        payload["page_size"] = page_size
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def build_queries(
    terms: list[str] | tuple[str, ...],
    base_url: str,
    *,
    intervention_types: tuple[str, ...] = DEFAULT_INTERVENTION_TYPES,
    updated_since: date | None = None,
    page_size: int = PAGE_SIZE_MAX,
    max_url_length: int = DEFAULT_MAX_URL_LENGTH,
) -> list[StudyQuery]:
    """Split ``terms`` into as few queries as keep every request URL under ``max_url_length``.

    Terms keep their order; a chunk is closed when adding the next term would make the
    URL of a later page (with a page token) longer than the limit.
    """
    terms = dedupe_terms(list(terms))
    if not terms:
        raise InputError("No search terms given", fix="Pass --terms or install the vocabulary.")
    bad = [t for t in intervention_types if t not in VALID_INTERVENTION_TYPES]
    if bad:
        raise InputError(
            f"Invalid intervention type {bad[0]!r}; expected one of "
            f"{sorted(VALID_INTERVENTION_TYPES)}",
            fix="Use API v2 enum names, e.g. DRUG,BIOLOGICAL.",
        )
    if not 1 <= page_size <= PAGE_SIZE_MAX:
        raise InputError(
            f"Invalid page size {page_size}; expected 1 to {PAGE_SIZE_MAX}",
            fix="Use --page-size 1000 (the API maximum).",
        )

    def length(chunk: list[str]) -> int:
        q = StudyQuery(tuple(chunk), intervention_types, updated_since)
        return len(q.url(base_url, page_size)) + _TOKEN_ALLOWANCE

    chunks: list[list[str]] = []
    current: list[str] = []
    for term in terms:
        if length([term]) > max_url_length:
            raise InputError(
                f"Search term {term[:60]!r} alone makes a URL over {max_url_length} characters",
                fix="Shorten the term or raise --max-url-length.",
            )
        if current and length(current + [term]) > max_url_length:
            chunks.append(current)
            current = []
        current.append(term)
    if current:
        chunks.append(current)
    return [StudyQuery(tuple(c), intervention_types, updated_since) for c in chunks]
