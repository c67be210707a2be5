"""ClinicalTrials.gov API v2 client: polite, retrying, page-validating.

Network only: this module sends requests and checks what comes back; storing pages,
resuming and reconciling counts is :mod:`ici_atlas.store.ingest`'s job.

* A polite rate: at most ``max_rate`` requests per second (default one per 1.2 s).
* Retries with exponential backoff and jitter on 429, 5xx, timeouts and connection
  errors, honouring ``Retry-After`` (seconds or an HTTP date).
* A page whose body is not valid JSON, or that ends early (no ``nextPageToken`` although
  fewer studies than ``totalCount`` have arrived), is requested again; if it stays bad the
  client raises :class:`~ici_atlas.errors.SourceError` naming the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import httpx
import orjson

from .ctgov_query import StudyQuery
from .http import PoliteHttp, RetryPolicy, Retryable, check_base_url, parse_retry_after

__all__ = ["CtgovClient", "Page", "RetryPolicy", "fetch_counts", "parse_retry_after"]

DEFAULT_MAX_RATE = 1 / 1.2  # requests per second


@dataclass
class Page:
    """One page of ``/studies``."""

    index: int
    token: str | None  # the token sent (None for the first page)
    studies: list
    next_token: str | None
    total: int | None  # totalCount (only on the first page)


class CtgovClient:
    """A client for ``{base_url}/studies``, ``/studies/{nctId}`` and ``/version``.

    Rate limit, retries and ``Retry-After`` come from :class:`~ici_atlas.sources.http.PoliteHttp`;
    ``sleep`` and ``clock`` are injectable so tests run without real waiting.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        max_rate: float = DEFAULT_MAX_RATE,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        seed: int | None = None,
        on_retry: Callable[[str, float], None] | None = None,
    ):
        self.base_url = check_base_url(base_url, "--api-url (or $ICI_ATLAS_CTGOV_API)")
        self.timeout = timeout
        extra = {k: v for k, v in (("sleep", sleep), ("clock", clock)) if v is not None}
        self.http = PoliteHttp("ClinicalTrials.gov", timeout=timeout, max_rate=max_rate, retry=retry,
                               seed=seed, on_retry=on_retry, accept="application/json", **extra)

    @property
    def min_interval(self) -> float:
        return self.http.min_interval

    @property
    def requests_sent(self) -> int:
        return self.http.requests_sent

    @property
    def retry(self) -> RetryPolicy:
        return self.http.retry

    @property
    def on_retry(self) -> Callable[[str, float], None] | None:
        return self.http.on_retry

    @on_retry.setter
    def on_retry(self, callback: Callable[[str, float], None] | None) -> None:
        self.http.on_retry = callback

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "CtgovClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get_json(self, path: str, params: dict | None = None, what: str = "request",
                 check: Callable[[dict], None] | None = None) -> dict:
        """GET ``{base}{path}`` as JSON, retrying; ``check`` may raise ``Retryable``."""

        def parse(resp: httpx.Response) -> dict:
            try:
                data = orjson.loads(resp.content)
            except orjson.JSONDecodeError as exc:
                raise Retryable(f"invalid JSON ({len(resp.content):,} bytes; {str(exc)[:80]})") from exc
            if check is not None:
                check(data)
            return data

        return self.http.request(self.base_url + path, params, what=what, parse=parse)

    # -- API ------------------------------------------------------------------------
    def fetch_version(self) -> dict:
        """``/version``: API version and the data timestamp of the registry snapshot."""
        return self.get_json("/version", what="GET /version")

    def fetch_study(self, nct_id: str) -> dict:
        return self.get_json(f"/studies/{nct_id}", {"format": "json"}, what=f"GET {nct_id}")

    def fetch_count(self, query: StudyQuery) -> int:
        """The number of studies matching ``query`` (one request, pageSize=1)."""
        data = self.get_json(
            "/studies", query.params(page_size=1, count_total=True), what="count request",
            check=_require_total,
        )
        return int(data["totalCount"])

    def fetch_page(
        self,
        query: StudyQuery,
        page_size: int,
        token: str | None,
        index: int,
        total: int | None,
        label: str = "",
        page_length: int | None = None,
    ) -> Page:
        """One page; retried when invalid or when it ends before ``total`` is reached.

        A page with no ``nextPageToken`` must bring the listing to ``total``:
        ``index * page_length + len(studies) >= total``, where ``page_length`` is how many
        studies this server puts on a full page (the first page's length; the server may
        send fewer than ``pageSize``). Studies lost from a page that does continue are
        caught later by the count reconciliation.
        """
        first = token is None
        length = page_length or page_size

        def check(data: dict) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
                raise Retryable("response has no 'studies' list")
            token_next = data.get("nextPageToken")
            if token_next is not None and not isinstance(token_next, str):
                raise Retryable(f"nextPageToken is {type(token_next).__name__}, not text")
            if first:
                _require_total(data)
            expected = int(data["totalCount"]) if first else total
            n = len(data["studies"])
            # Position-based: the last page of a complete listing reaches the total.
            reached = index * length + n
            if expected is not None and not data.get("nextPageToken") and reached < expected:
                raise Retryable(
                    f"page ended early: {n} studies and no nextPageToken, so pages 0-{index} "
                    f"hold at most {reached:,} of {expected:,}"
                )

        what = f"{label}page {index}" if label else f"page {index}"
        data = self.get_json(
            "/studies", query.params(page_size, token, count_total=first), what=what, check=check
        )
        return Page(
            index=index,
            token=token,
            studies=data["studies"],
            next_token=data.get("nextPageToken") or None,
            total=int(data["totalCount"]) if "totalCount" in data else None,
        )


def _require_total(data: dict) -> None:
    if not isinstance(data, dict) or "totalCount" not in data:
        raise Retryable("response has no totalCount although countTotal=true was sent")
    total = data["totalCount"]
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise Retryable(f"totalCount {total!r} is not a count")


def fetch_counts(client: CtgovClient, queries: list[StudyQuery], page_size: int) -> list[dict]:
    """For a dry run: each chunk's study count (one pageSize=1 request) and its exact URL."""
    out = []
    for i, query in enumerate(queries):
        out.append(
            {
                "chunk": i,
                "n_terms": len(query.terms),
                "count": client.fetch_count(query),
                "url": query.url(client.base_url, page_size),
            }
        )
    return out
