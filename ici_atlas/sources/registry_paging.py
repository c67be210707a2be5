"""What the CTIS and ISRCTN API clients share: the HTTP plumbing (:class:`RegistryClient`),
one page of a search, and the check that a page which does not reach the reported total is
full.

Both registries page by position (CTIS: a page number, ISRCTN: an offset) and report the
total on every page, so a page is the last one when it brings the listing to the total
or is empty. A page that is neither full nor the last is *short*: the client asks for it
again (:class:`~ici_atlas.sources.http.Retryable`); when it stays short after every retry
the fetch takes it as the end of the listing, and the count reconciliation of
:mod:`ici_atlas.store.registry_fetch` says how many records are missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .http import PoliteHttp, Retryable

#: The most records either registry lists for one query (CTIS serves at most 10,000 per
#: sort order, ctrdata issue #59; ctrdata refuses more than 10,000 from ISRCTN too).
MAX_RECORDS_PER_QUERY = 10_000


class RegistryClient:
    """Base of the registry API clients: ``self.http`` is their
    :class:`~ici_atlas.sources.http.PoliteHttp` (rate limit, retries, timeouts, size caps);
    this gives both the same attributes and closes it (also as a context manager)."""

    http: PoliteHttp

    @property
    def on_retry(self):
        return self.http.on_retry

    @on_retry.setter
    def on_retry(self, callback) -> None:
        self.http.on_retry = callback

    @property
    def requests_sent(self) -> int:
        return self.http.requests_sent

    @property
    def min_interval(self) -> float:
        return self.http.min_interval

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class ApiPage:
    """One page of a registry search, as received."""

    index: int  # 0-based page index within the chunk
    position: int  # what was sent: CTIS page number (1-based) or ISRCTN offset
    items: list  # the page's records as received (registry-specific)
    total: int  # the total the registry reported with this page
    consumed: int  # records listed before this page plus this page's records
    last: bool = False
    short: bool = False  # accepted although it ends before the total (after retries)
    notes: list[str] = field(default_factory=list)


def check_total(value: object, what: str) -> int:
    """The reported total as a count, or :class:`Retryable`."""
    if isinstance(value, bool):
        raise Retryable(f"{what} is {value!r}, not a count")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value < 0:
        raise Retryable(f"{what} is {value!r}, not a count")
    return value


def check_full(n: int, before: int, total: int, length: int | None, page_size: int,
               strict: bool) -> tuple[bool, bool]:
    """``(last, short)`` for a page of ``n`` records after ``before`` listed ones.

    ``length`` is how many records a full page holds (the first page's length; None for the
    first page itself, which should hold ``page_size``). Strict: a page that neither reaches
    ``total`` nor is full raises :class:`Retryable` (asked again). Not strict (after the
    retries): a short first page is taken as the server's page length (a server may send
    fewer records than asked for), a later short page as the last page, marked short.
    """
    reached = before + n
    if n == 0 or reached >= total:
        return True, reached < total
    if n < (length or page_size):
        if strict:
            raise Retryable(f"page ended early: {n} records, so {reached:,} of {total:,} "
                            "listed and the page is not full")
        return (False, False) if length is None else (True, True)
    return False, False
