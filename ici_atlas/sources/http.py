"""Polite HTTP for every source: a request-rate limit, retries with backoff and jitter on
429/5xx/timeouts/connection errors, and ``Retry-After`` honoured (seconds or HTTP date).

``sleep`` and ``clock`` are injectable so tests exercise the waiting without real time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, TypeVar

import httpx

from .. import __version__
from ..errors import SourceError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")


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


class Retryable(Exception):
    """A failure worth another try (raised by the transport or by a response check)."""

    def __init__(self, why: str, retry_after: float | None = None):
        super().__init__(why)
        self.why = why
        self.retry_after = retry_after


def _name_not_resolved(exc: BaseException) -> bool:
    """True when a connection failed because the host name has no DNS answer."""
    import socket

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, socket.gaierror):
            return True
        text = str(exc)
        if ("Name or service not known" in text or "nodename nor servname" in text
                or "Temporary failure in name resolution" in text
                or "No address associated with hostname" in text):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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


class PoliteHttp:
    """GET with a minimum interval between requests and retries on transient failures."""

    def __init__(
        self,
        source_name: str,
        *,
        timeout: float = 60.0,
        max_rate: float = 1.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        on_retry: Callable[[str, float], None] | None = None,
        accept: str = "*/*",
    ):
        self.source_name = source_name
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
            headers={"User-Agent": f"ici-atlas/{__version__}", "Accept": accept},
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def _throttle(self) -> None:
        if self._last_request is not None and self.min_interval:
            wait = self.min_interval - (self._clock() - self._last_request)
            if wait > 0:
                self._sleep(wait)
        self._last_request = self._clock()

    def _send_once(self, method: str, url: str, params: dict | None, data: dict | None) -> httpx.Response:
        self._throttle()
        self.requests_sent += 1
        try:
            resp = self._http.request(method, url, params=params, data=data)
        except httpx.TimeoutException as exc:
            raise Retryable(f"timeout after {self.timeout:g} s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            if _name_not_resolved(exc):  # no DNS answer: retrying will not help, say so now
                host = httpx.URL(url).host
                raise SourceError(
                    f"{self.source_name}: cannot resolve the host {host!r} (no DNS answer; "
                    "offline, or a wrong address?)",
                    fix="Check the network and the API address (--api-url); a dry run shows "
                        "the request without sending it.") from None
            raise Retryable(f"connection error ({type(exc).__name__}: {exc})") from exc
        if resp.status_code in RETRY_STATUSES:
            raise Retryable(f"HTTP {resp.status_code}", parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code >= 400:
            detail = resp.text.strip().replace("\n", " ")[:300]
            raise SourceError(
                f"{self.source_name} refused {resp.request.url} with HTTP {resp.status_code}: {detail!r}",
                fix="Check the query and the API address; a dry run shows the request.",
            )
        return resp

    def request(
        self,
        url: str,
        params: dict | None = None,
        *,
        what: str = "request",
        parse: Callable[[httpx.Response], T] = lambda r: r,  # type: ignore[assignment,return-value]
        method: str = "GET",
        data: dict | None = None,
    ) -> T:
        """Send, retrying transient failures; ``parse`` may raise :class:`Retryable`."""
        attempt = 0
        while True:
            try:
                return parse(self._send_once(method, url, params, data))
            except Retryable as exc:
                if attempt >= self.retry.max_retries:
                    raise SourceError(
                        f"{what} failed after {attempt + 1} attempts: {exc.why} ({method} {url})",
                        fix="Run the same command again later to resume; --retries allows more patience.",
                    ) from None
                if exc.retry_after is not None:
                    if exc.retry_after > self.retry.max_retry_after:
                        raise SourceError(
                            f"{what}: the server asked to wait {exc.retry_after:.0f} s (Retry-After), "
                            f"more than {self.retry.max_retry_after:.0f} s",
                            fix="Run the same command again later to resume.",
                        ) from None
                    wait = exc.retry_after
                else:
                    wait = self.retry.wait(attempt, self._rng)
                if self.on_retry:
                    self.on_retry(f"{what}: {exc.why}; retry {attempt + 1} in {wait:.1f} s", wait)
                self._sleep(wait)
                attempt += 1
