"""Polite HTTP for every source: a request-rate limit, retries with backoff and jitter on
429/5xx/timeouts/connection errors, and ``Retry-After`` honoured (seconds or HTTP date).

Every response is read as a stream with two bounds, so a hostile or broken server cannot
hang a run or fill memory: the whole response must arrive within ``timeout`` seconds (not
only each read), and its body may not exceed ``max_bytes`` (after decompression). A base
URL that is not ``http(s)://host`` is refused before anything is sent.

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
from ..errors import InputError, SourceError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The largest response body accepted (bytes, decoded). A page of 1,000 studies is ~30-60 MB.
MAX_RESPONSE_BYTES = 256 * 1024**2
MAX_REDIRECTS = 5
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


def check_base_url(url: str, option: str) -> str:
    """``url`` without a trailing slash, or :class:`InputError` when it is not
    ``http(s)://host[:port][/path]``."""
    text = (url or "").strip().rstrip("/")
    try:
        parsed = httpx.URL(text)
        ok = parsed.scheme in ("http", "https") and bool(parsed.host)
    except (httpx.InvalidURL, TypeError, ValueError):
        ok = False
    if not ok or any(c.isspace() for c in text):
        raise InputError(f"Invalid {option} {url!r}: expected http(s)://host[:port]/path",
                         fix=f"Pass {option} a full http:// or https:// address.")
    return text


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
        max_bytes: int = MAX_RESPONSE_BYTES,
    ):
        self.source_name = source_name
        self.timeout = timeout
        self.max_bytes = max_bytes
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
            max_redirects=MAX_REDIRECTS,
        )

    def close(self) -> None:
        self._http.close()

    def _throttle(self) -> None:
        if self._last_request is not None and self.min_interval:
            wait = self.min_interval - (self._clock() - self._last_request)
            if wait > 0:
                self._sleep(wait)
        self._last_request = self._clock()

    def _send_once(self, method: str, url: str, params: dict | None, data: dict | None,
                   json_body: object = None) -> httpx.Response:
        self._throttle()
        self.requests_sent += 1
        try:
            with self._http.stream(method, url, params=params, data=data,
                                   json=json_body) as resp:
                if resp.status_code in RETRY_STATUSES:
                    raise Retryable(f"HTTP {resp.status_code}",
                                    parse_retry_after(resp.headers.get("Retry-After")))
                body = self._read_body(resp, time.monotonic() + self.timeout)
        except httpx.TimeoutException as exc:
            raise Retryable(f"timeout after {self.timeout:g} s ({type(exc).__name__})") from exc
        except httpx.TooManyRedirects:
            raise SourceError(
                f"{self.source_name}: {url} redirects more than {MAX_REDIRECTS} times",
                fix="Check the API address (--api-url); it should answer without redirects.",
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise SourceError(f"{self.source_name}: cannot send to {url}: {exc}",
                              fix="Pass an http:// or https:// API address.") from None
        except httpx.TransportError as exc:
            if _name_not_resolved(exc):  # no DNS answer: retrying will not help, say so now
                host = httpx.URL(url).host
                raise SourceError(
                    f"{self.source_name}: cannot resolve the host {host!r} (no DNS answer; "
                    "offline, or a wrong address?)",
                    fix="Check the network and the API address (--api-url); a dry run shows "
                        "the request without sending it.") from None
            raise Retryable(f"connection error ({type(exc).__name__}: {exc})") from exc
        except httpx.DecodingError as exc:  # e.g. a broken gzip body
            raise Retryable(f"undecodable response body ({exc})") from exc
        headers = [(k, v) for k, v in resp.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        done = httpx.Response(resp.status_code, headers=headers, content=body,
                              request=resp.request)
        if done.status_code >= 400:
            detail = done.text.strip().replace("\n", " ")[:300]
            raise SourceError(
                f"{self.source_name} refused {done.request.url} with HTTP {done.status_code}: "
                f"{detail!r}",
                fix="Check the query and the API address; a dry run shows the request.",
                status=done.status_code,
            )
        return done

    def _read_body(self, resp: httpx.Response, deadline: float) -> bytes:
        """The decoded body, within the deadline and the size cap."""
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_big(resp, int(declared))
        parts: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_big(resp, size)
            if time.monotonic() > deadline:
                raise Retryable(f"the whole response took longer than {self.timeout:g} s "
                                f"({size:,} bytes so far)")
            parts.append(chunk)
            if resp.status_code >= 400 and size > 65_536:  # enough to say what went wrong
                break
        return b"".join(parts)

    def _too_big(self, resp: httpx.Response, size: int) -> SourceError:
        return SourceError(
            f"{self.source_name}: the response to {resp.request.url} is larger than "
            f"{self.max_bytes:,} bytes ({size:,} bytes at least); not read further",
            fix="Ask for fewer records per request (a smaller page or batch size), or check "
                "the API address.",
        )

    def request(
        self,
        url: str,
        params: dict | None = None,
        *,
        what: str = "request",
        parse: Callable[[httpx.Response], T] = lambda r: r,  # type: ignore[assignment,return-value]
        method: str = "GET",
        data: dict | None = None,
        json_body: object = None,
    ) -> T:
        """Send, retrying transient failures; ``parse`` may raise :class:`Retryable`.
        ``data`` is sent form-encoded, ``json_body`` as a JSON request body."""
        attempt = 0
        while True:
            try:
                return parse(self._send_once(method, url, params, data, json_body))
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
