"""ISRCTN API client: query pages of full trial records (XML).

Network and record shape only; paging into the store, resume and count reconciliation are
:mod:`ici_atlas.store.registry_fetch`'s job. Rate limit, retries with backoff on
429/5xx/timeouts (``Retry-After`` honoured), the whole-response timeout, the body size cap
and redirects come from :class:`~ici_atlas.sources.http.PoliteHttp`.

The endpoint is the one the R package ctrdata calls (rfhb/ctrdata,
``R/ctrLoadQueryIntoDbIsrctn.R``, snapshot 0d73c237 of 2026-08-11, MIT; "ISRCTN API draft
v0.6", the ``default`` format replacing the deprecated ``internal`` one):

* ``GET {base}/query/format/default?q=...&limit=L&offset=O`` answers
  ``<allTrials xmlns="http://www.67bricks.com/isrctn" totalCount="N">`` holding one
  ``<fullTrial>`` per trial (its ``<trial>``, then ``<sponsor>``/``<funder>``/``<contact>``);
  ``limit=0`` gives the count alone (ctrdata's count request).

ctrdata converts the XML with xml2js (``trim: true, ignoreAttrs: true, explicitArray:
false``) and stores ``.allTrials.fullTrial[].trial``; :func:`trial_record` does the same
conversion (attributes dropped, text trimmed, an empty element ``""``, a repeated element a
list, the namespace dropped), so a record fetched here reads exactly like the same record in
a ctrdata export (:func:`~ici_atlas.sources.registries.isrctn.registration_from_isrctn`).
The stored raw record is the ``<fullTrial>`` element as received.

The query: every search term quoted and joined with ``OR`` in ``q`` (ISRCTN's search
accepts ``OR`` and quoted phrases); ``q`` searches the whole record, so it is broader than
ClinicalTrials.gov's intervention-only search and the classifiers decide afterwards. Paging:
``limit``/``offset``. ctrdata asks for everything in one request (``limit`` = the count);
``offset`` is used by other clients but is not in a document read here, so a server that
ignores it is detected (a page bringing no new trial) instead of looping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

import httpx

from ..errors import IciAtlasError, SourceError
from .ctgov_query import format_term
from .http import PoliteHttp, RetryPolicy, Retryable, check_base_url
from .registries.isrctn import registration_from_isrctn
from .registries.model import BadRecord, Registration
from .registry_paging import MAX_RECORDS_PER_QUERY, ApiPage, RegistryClient, check_full, check_total

__all__ = ["ISRCTN_API_DEFAULT", "IsrctnClient", "IsrctnQuery", "build_isrctn_queries",
           "trial_record"]

from ..config import ISRCTN_API_DEFAULT  # noqa: E402  (https://www.isrctn.com/api)
ISRCTN_NS = "http://www.67bricks.com/isrctn"
DEFAULT_MAX_RATE = 1.0  # requests per second
_PATH = "/query/format/default"
_OFFSET_ALLOWANCE = 40  # room in a URL for &limit=...&offset=...
_RAW_LIMIT = 200_000


@dataclass(frozen=True)
class IsrctnQuery:
    """One chunk of the ISRCTN search: its terms, quoted and joined with OR."""

    terms: tuple[str, ...]

    def q(self) -> str:
        return " OR ".join(format_term(t) for t in self.terms)

    def params(self, limit: int, offset: int = 0) -> dict:
        out: dict = {"q": self.q(), "limit": limit}
        if offset:
            out["offset"] = offset
        return out

    def url(self, base_url: str, limit: int, offset: int = 0) -> str:
        return f"{base_url}{_PATH}?{urlencode(self.params(limit, offset))}"

    def describe(self) -> str:
        return self.q()


def build_isrctn_queries(terms: list[str] | tuple[str, ...], base_url: str, page_size: int,
                         max_url_length: int) -> list[IsrctnQuery]:
    """The terms split into chunks whose request URLs stay within ``max_url_length``."""
    chunks: list[list[str]] = [[]]
    for term in terms:
        trial = IsrctnQuery(tuple([*chunks[-1], term]))
        if chunks[-1] and len(trial.url(base_url, page_size)) + _OFFSET_ALLOWANCE > max_url_length:
            chunks.append([])
        chunks[-1].append(term)
    return [IsrctnQuery(tuple(c)) for c in chunks if c]


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def element_value(el: ET.Element) -> object:
    """An element as xml2js gives it with ``trim``, ``ignoreAttrs`` and no
    ``explicitArray``: text for a leaf (``""`` when empty), else an object of its children,
    a repeated child a list."""
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return (el.text or "").strip()
    out: dict = {}
    for child in children:
        key, value = _local(child.tag), element_value(child)
        if key not in out:
            out[key] = value
        elif isinstance(out[key], list):
            out[key].append(value)
        else:
            out[key] = [out[key], value]
    return out


def trial_record(full_trial: ET.Element) -> dict | None:
    """The ``<trial>`` of a ``<fullTrial>`` as ctrdata stores it (None when absent)."""
    trial = next((c for c in full_trial if _local(c.tag) == "trial"), None)
    if trial is None:
        return None
    value = element_value(trial)
    return value if isinstance(value, dict) else {}


def _xml_text(el: ET.Element) -> str:
    try:
        return ET.tostring(el, encoding="unicode", default_namespace=ISRCTN_NS)
    except ValueError:  # an element outside the ISRCTN namespace
        return ET.tostring(el, encoding="unicode")


def parse_page(body: bytes) -> tuple[int, list[ET.Element]]:
    """``(totalCount, fullTrial elements)`` of a query answer, or :class:`Retryable`."""
    head = body[:4096].lstrip()
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise SourceError("ISRCTN answered XML with a DOCTYPE or entity declarations; not read",
                          fix="Check the API address (--api-url).")
    if not head.startswith(b"<"):
        raise Retryable(f"not XML ({len(body):,} bytes)")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise Retryable(f"invalid XML ({len(body):,} bytes; {exc})") from exc
    if _local(root.tag) != "allTrials":
        raise Retryable(f"the answer's root is <{_local(root.tag)}>, not <allTrials>")
    total = check_total(root.get("totalCount"), "allTrials/@totalCount")
    return total, [c for c in root if _local(c.tag) == "fullTrial"]


class IsrctnClient(RegistryClient):
    """``GET {base}/query/format/default``, politely."""

    registry = "ISRCTN"
    source_format = "isrctn-api"

    def __init__(self, base_url: str, *, timeout: float = 60.0,
                 max_rate: float = DEFAULT_MAX_RATE, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] | None = None, seed: int | None = None,
                 on_retry: Callable[[str, float], None] | None = None):
        self.base_url = check_base_url(base_url, "--api-url (or $ICI_ATLAS_ISRCTN_API)")
        extra = {k: v for k, v in (("sleep", sleep), ("clock", clock)) if v is not None}
        self.http = PoliteHttp("ISRCTN", timeout=timeout, max_rate=max_rate, retry=retry,
                               seed=seed, on_retry=on_retry,
                               accept="application/xml, text/xml", **extra)

    # -- requests ---------------------------------------------------------------------------
    def request_text(self, query: IsrctnQuery, page_size: int, index: int = 0) -> str:
        """The exact request of a page, for a dry run (nothing is sent)."""
        return f"GET {query.url(self.base_url, page_size, index * page_size)}"

    def _get(self, params: dict, what: str, check: Callable[[int, list], None]):
        def parse(resp: httpx.Response):
            total, trials = parse_page(resp.content)
            check(total, trials)
            return total, trials

        return self.http.request(self.base_url + _PATH, params, what=what, parse=parse)

    def count(self, query: IsrctnQuery) -> int:
        """How many trials match (``limit=0``, as ctrdata asks)."""
        total, _ = self._get(query.params(0), "ISRCTN count request", lambda t, x: None)
        return total

    def page(self, query: IsrctnQuery, index: int, before: int, page_size: int,
             length: int | None = None, label: str = "") -> ApiPage:
        """The page at ``offset = before``; a page that ends before the total without being
        full is asked for again, and taken as the last page when it stays short."""
        what = f"ISRCTN {label}page {index}"
        params = query.params(page_size, before)
        state: dict = {}

        def check(total: int, trials: list, strict: bool = True) -> None:
            if total > MAX_RECORDS_PER_QUERY:
                raise SourceError(
                    f"ISRCTN lists {total:,} trials for {query.describe()[:200]}; more than "
                    f"{MAX_RECORDS_PER_QUERY:,} in one query is refused",
                    fix="Give fewer or narrower --terms (each chunk is its own search).")
            n = len(trials)
            state["last"], state["short"] = check_full(n, before, total, length, page_size,
                                                       strict)

        try:
            total, trials = self._get(params, what, check)
        except SourceError as exc:
            if "page ended early" not in exc.message:
                raise
            total, trials = self._get(params, what, lambda t, x: check(t, x, strict=False))
        return ApiPage(index=index, position=before, items=trials, total=total,
                       consumed=before + len(trials), last=state["last"], short=state["short"])

    # -- records ----------------------------------------------------------------------------
    def records(self, page: ApiPage, label: str = "") -> list[Registration | BadRecord]:
        """Each ``<fullTrial>`` of ``page`` as a Registration, or a BadRecord naming the
        field."""
        out: list[Registration | BadRecord] = []
        for pos, full_trial in enumerate(page.items):
            ref = f"ISRCTN {label}page {page.index} item {pos}"
            raw = _xml_text(full_trial)
            record = trial_record(full_trial)
            if record is None:
                out.append(BadRecord(ref, "trial", "<fullTrial> has no <trial>", raw[:20_000]))
                continue
            number = record.get("isrctn")
            if isinstance(number, str) and number.strip().isdigit():
                ref = f"ISRCTN{number.strip()}"
            try:
                reg = registration_from_isrctn(record, ref, raw[:_RAW_LIMIT])
            except IciAtlasError as exc:
                reg = BadRecord(ref, "record", exc.message, raw[:20_000])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                reg = BadRecord(ref, "record", f"unreadable ISRCTN record: {exc!r}",
                                raw[:20_000])
            if isinstance(reg, Registration):
                reg.source_format = self.source_format
            out.append(reg)
        return out
