"""ClinicalTrials.gov API v2 client: polite, retrying, page-validating.

Network only: this module sends requests and checks what comes back; storing pages,
resuming and reconciling counts is :mod:`ici_atlas.ingest`'s job.

* A polite rate: at most ``max_rate`` requests per second (default one per 1.2 s).
* Retries with exponential backoff and jitter on 429, 5xx, timeouts and connection
  errors, honouring ``Retry-After`` (seconds or an HTTP date).
* A page whose body is not valid JSON, or that ends early (no ``nextPageToken`` although
  fewer studies than ``totalCount`` have arrived), is requested again; if it stays bad the
  client raises :class:`~ici_atlas.errors.SourceError` naming the page.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

import httpx
import orjson

from .. import __version__
from ..errors import SourceError
from .ctgov_query import StudyQuery

DEFAULT_MAX_RATE = 1 / 1.2  # requests per second
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failing request."""

    max_retries: int = 5
    backoff: float = 2.0  # first wait, seconds; doubles each attempt
    backoff_max: float = 120.0
    max_retry_after: float = 600.0  # longest Retry-After the client is willing to honour

    def wait(self, attempt: int, rng: random.Random) -> float:
        base = min(self.backoff * (2**attempt), self.backoff_max)
        return base + rng.uniform(0, self.backoff)  # jitter


@dataclass
class Page:
    """One page of ``/studies``."""

    index: int
    token: str | None  # the token sent (None for the first page)
    studies: list
    next_token: str | None
    total: int | None  # totalCount (only on the first page)


class _Retryable(Exception):
    def __init__(self, why: str, retry_after: float | None = None):
        super().__init__(why)
        self.why = why
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class CtgovClient:
    """A client for ``{base_url}/studies``, ``/studies/{nctId}`` and ``/version``.

    ``sleep`` and ``clock`` are injectable so tests run without real waiting.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        max_rate: float = DEFAULT_MAX_RATE,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        on_retry: Callable[[str, float], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.min_interval = 1.0 / max_rate if max_rate and max_rate > 0 else 0.0
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)
        self._last_request: float | None = None
        self.on_retry = on_retry
        self.requests_sent = 0
        self._http = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": f"ici-atlas/{__version__}", "Accept": "application/json"},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "CtgovClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- low level ---------------------------------------------------------------
    def _throttle(self) -> None:
        if self._last_request is not None and self.min_interval:
            wait = self.min_interval - (self._clock() - self._last_request)
            if wait > 0:
                self._sleep(wait)
        self._last_request = self._clock()

    def _get_once(self, url: str, params: dict | None) -> dict:
        self._throttle()
        self.requests_sent += 1
        try:
            resp = self._http.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout after {self.timeout:g} s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from exc
        if resp.status_code in RETRY_STATUSES:
            raise _Retryable(
                f"HTTP {resp.status_code}", parse_retry_after(resp.headers.get("Retry-After"))
            )
        if resp.status_code >= 400:
            detail = resp.text.strip().replace("\n", " ")[:300]
            raise SourceError(
                f"ClinicalTrials.gov refused {resp.request.url} with HTTP {resp.status_code}: "
                f"{detail!r}",
                fix="Check the query terms and --api-url; run with --dry-run to see the URL.",
            )
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise _Retryable(
                f"invalid JSON ({len(resp.content):,} bytes; {str(exc)[:80]})"
            ) from exc

    def get_json(self, path: str, params: dict | None = None, what: str = "request",
                 check: Callable[[dict], None] | None = None) -> dict:
        """GET ``{base}{path}`` as JSON, retrying; ``check`` may raise ``_Retryable``."""
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                data = self._get_once(url, params)
                if check is not None:
                    check(data)
                return data
            except _Retryable as exc:
                if attempt >= self.retry.max_retries:
                    raise SourceError(
                        f"{what} failed after {attempt + 1} attempts: {exc.why} "
                        f"(GET {url})",
                        fix="Run the same command again later to resume; "
                        "--retries/--backoff allow more patience.",
                    ) from None
                if exc.retry_after is not None:
                    if exc.retry_after > self.retry.max_retry_after:
                        raise SourceError(
                            f"{what}: the server asked to wait {exc.retry_after:.0f} s "
                            f"(Retry-After), more than {self.retry.max_retry_after:.0f} s",
                            fix="Run the same command again later to resume.",
                        ) from None
                    wait = exc.retry_after
                else:
                    wait = self.retry.wait(attempt, self._rng)
                if self.on_retry:
                    self.on_retry(f"{what}: {exc.why}; retry {attempt + 1} in {wait:.1f} s", wait)
                self._sleep(wait)
                attempt += 1

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
    ) -> Page:
        """One page; retried when invalid or when it ends before ``total`` is reached.

        A page with no ``nextPageToken`` must bring the listing to ``total``
        (``index * page_size + len(studies) >= total``); studies lost from a page that
        does continue are caught later by the count reconciliation.
        """
        first = token is None

        def check(data: dict) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
                raise _Retryable("response has no 'studies' list")
            if first:
                _require_total(data)
            expected = int(data["totalCount"]) if first else total
            n = len(data["studies"])
            # Position-based: the last page of a complete listing reaches the total.
            reached = index * page_size + n
            if expected is not None and not data.get("nextPageToken") and reached < expected:
                raise _Retryable(
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
        raise _Retryable("response has no totalCount although countTotal=true was sent")


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
