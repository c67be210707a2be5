"""EU CTIS public API client: search pages, then each trial's full record.

Network and record shape only; paging into the store, resume and count reconciliation are
:mod:`ici_atlas.store.registry_fetch`'s job. Rate limit, retries with backoff on
429/5xx/timeouts (``Retry-After`` honoured), the whole-response timeout, the body size cap
and redirects come from :class:`~ici_atlas.sources.http.PoliteHttp`.

The endpoints and request shapes are those the R package ctrdata sends (rfhb/ctrdata,
``R/ctrLoadQueryIntoDbCtis.R``, snapshot 0d73c237 of 2026-08-11, MIT; the CTIS relaunch of
2024-06-17 introduced them):

* ``POST {base}/search`` with the JSON body
  ``{"pagination": {"page": P, "size": S}, "sort": {"property": "decisionDate",
  "direction": "DESC"}, "searchCriteria": {...}}`` (pages numbered from 1) answers
  ``{"pagination": {"totalRecords": N, ...}, "data": [overview, ...]}``;
* ``GET {base}/retrieve/{ctNumber}`` answers the trial's full JSON record (Part I, Parts II,
  events, applications ...).

ctrdata stores a trial as the retrieved record updated with the search overview's fields
except ``id``, ``ctNumber``, ``product``, ``endPoint``, ``eudraCtInfo``, ``ctTitle``,
``primaryEndPoint``, ``sponsor`` and ``conditions`` (:func:`merge_record` does the same), so
a record fetched here reads exactly like the same record in a ctrdata export
(:func:`~ici_atlas.sources.registries.ctis.registration_from_ctis`).

The query: the search terms go to ``searchCriteria.containAny`` as one space-separated word
list (:func:`ctis_words`; a multi-word name is represented by one of its words unless another
term already covers it). CTIS serves at most 10,000 records per query and sort order
(ctrdata issue #59): a larger total is refused with the advice to split the terms. Not
verified against the live service from here (no internet): how ``containAny`` tokenises
hyphenated codes, and the fields of ``pagination`` other than ``totalRecords``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import httpx
import orjson

from ..errors import IciAtlasError, SourceError
from .http import PoliteHttp, RetryPolicy, Retryable, check_base_url
from .registries.ctis import registration_from_ctis
from .registries.model import BadRecord, Registration, classify_id
from .registry_paging import MAX_RECORDS_PER_QUERY, ApiPage, RegistryClient, check_full, check_total

__all__ = ["CTIS_API_DEFAULT", "CtisClient", "CtisQuery", "build_ctis_queries", "ctis_words",
           "merge_record"]

from ..config import CTIS_API_DEFAULT  # noqa: E402  (https://euclinicaltrials.eu/ctis-public-api)
DEFAULT_MAX_RATE = 1.0  # requests per second
SORT = {"property": "decisionDate", "direction": "DESC"}
#: Overview fields ctrdata drops before merging the overview into the full record.
OVERVIEW_DROPPED = ("id", "ctNumber", "product", "endPoint", "eudraCtInfo", "ctTitle",
                    "primaryEndPoint", "sponsor", "conditions")
#: Words of multi-word names that would match far too much on their own.
_WEAK_WORDS = frozenset({"and", "alfa", "subcutaneous", "hyaluronidase", "berahyaluronidase",
                         "qlex", "hybreza", "qvantig"})
_RAW_LIMIT = 2_000_000


def ctis_words(terms: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The search terms as CTIS ``containAny`` words: each one-word term, and for a
    multi-word term that no one-word term covers, its longest distinctive word."""
    words: list[str] = []
    seen: set[str] = set()

    def add(word: str) -> None:
        if word.casefold() not in seen:
            seen.add(word.casefold())
            words.append(word)

    split = [t.split() for t in terms if t and t.strip()]
    for parts in split:
        if len(parts) == 1:
            add(parts[0])
    for parts in split:
        if len(parts) == 1 or any(p.casefold() in seen for p in parts):
            continue
        strong = [p for p in parts if p.casefold() not in _WEAK_WORDS and len(p) >= 4]
        if strong:
            add(max(strong, key=len))
    return tuple(words)


@dataclass(frozen=True)
class CtisQuery:
    """One chunk of the CTIS search: its ``containAny`` words."""

    words: tuple[str, ...]

    def criteria(self) -> dict:
        return {"containAny": " ".join(self.words)} if self.words else {}

    def body(self, page_size: int, index: int = 0) -> dict:
        """The JSON body of page ``index`` (0-based; CTIS numbers pages from 1)."""
        return {"pagination": {"page": index + 1, "size": page_size}, "sort": dict(SORT),
                "searchCriteria": self.criteria()}

    def describe(self) -> str:
        return orjson.dumps(self.criteria()).decode()


def build_ctis_queries(terms: list[str] | tuple[str, ...], max_length: int) -> list[CtisQuery]:
    """The words split into chunks whose ``containAny`` text stays within ``max_length``."""
    words = ctis_words(terms)
    chunks: list[list[str]] = [[]]
    for word in words:
        if chunks[-1] and len(" ".join([*chunks[-1], word])) > max_length:
            chunks.append([])
        chunks[-1].append(word)
    return [CtisQuery(tuple(c)) for c in chunks]


def merge_record(overview: dict, full: dict) -> dict:
    """The full record updated with the overview's fields, as ctrdata stores a trial."""
    merged = dict(full)
    for key, value in overview.items():
        if key not in OVERVIEW_DROPPED:
            merged[key] = value
    if "ctNumber" not in merged and isinstance(overview.get("ctNumber"), str):
        merged["ctNumber"] = overview["ctNumber"]
    return merged


def _json(resp: httpx.Response):
    """The answer's JSON, or :class:`Retryable` (a truncated or garbled page is asked again)."""
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError as exc:
        raise Retryable(f"invalid JSON ({len(resp.content):,} bytes; {str(exc)[:80]})") from exc


class CtisClient(RegistryClient):
    """``POST {base}/search`` and ``GET {base}/retrieve/{ctNumber}``, politely."""

    registry = "CTIS"
    source_format = "ctis-api"

    def __init__(self, base_url: str, *, timeout: float = 60.0,
                 max_rate: float = DEFAULT_MAX_RATE, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] | None = None, seed: int | None = None,
                 on_retry: Callable[[str, float], None] | None = None):
        self.base_url = check_base_url(base_url, "--api-url (or $ICI_ATLAS_CTIS_API)")
        extra = {k: v for k, v in (("sleep", sleep), ("clock", clock)) if v is not None}
        self.http = PoliteHttp("CTIS", timeout=timeout, max_rate=max_rate, retry=retry,
                               seed=seed, on_retry=on_retry, accept="application/json", **extra)

    # -- requests ---------------------------------------------------------------------------
    def request_text(self, query: CtisQuery, page_size: int, index: int = 0) -> str:
        """The exact request of a page, for a dry run (nothing is sent)."""
        body = orjson.dumps(query.body(page_size, index)).decode()
        return f"POST {self.base_url}/search {body}"

    def _post(self, body: dict, what: str, check: Callable[[dict], None]) -> dict:
        def parse(resp: httpx.Response) -> dict:
            data = _json(resp)
            check(data)
            return data

        return self.http.request(self.base_url + "/search", what=what, parse=parse,
                                 method="POST", json_body=body)

    @staticmethod
    def _total(data: object) -> int:
        if not isinstance(data, dict) or not isinstance(data.get("pagination"), dict):
            raise Retryable("response has no 'pagination' object")
        if not isinstance(data.get("data"), list):
            raise Retryable("response has no 'data' list")
        return check_total(data["pagination"].get("totalRecords"), "pagination.totalRecords")

    def count(self, query: CtisQuery) -> int:
        """How many trials match (one request, page size 1)."""
        data = self._post(query.body(1), "CTIS count request", self._total)
        return self._total(data)

    def page(self, query: CtisQuery, index: int, before: int, page_size: int,
             length: int | None = None, label: str = "") -> ApiPage:
        """Page ``index`` (0-based) with the overviews it lists; a page that ends before the
        total without being full is asked for again, and taken as the last page when it
        stays short (see :mod:`~ici_atlas.sources.registry_paging`)."""
        what = f"CTIS {label}page {index}"
        body = query.body(page_size, index)
        state: dict = {}

        def check(data: dict, strict: bool = True) -> None:
            total = self._total(data)
            if total > MAX_RECORDS_PER_QUERY:
                raise SourceError(
                    f"CTIS lists {total:,} trials for {query.describe()}; it serves at most "
                    f"{MAX_RECORDS_PER_QUERY:,} per query",
                    fix="Give fewer or narrower --terms (each chunk is its own search).")
            n = len(data["data"])
            state["last"], state["short"] = check_full(n, before, total, length, page_size,
                                                       strict)

        try:
            data = self._post(body, what, check)
        except SourceError as exc:
            if "page ended early" not in exc.message:
                raise
            data = self._post(body, what, lambda d: check(d, strict=False))
        total = self._total(data)
        return ApiPage(index=index, position=index + 1, items=data["data"], total=total,
                       consumed=before + len(data["data"]), last=state["last"],
                       short=state["short"])

    def retrieve(self, ct_number: str) -> dict:
        """The full record of one trial."""

        def parse(resp: httpx.Response) -> dict:
            data = _json(resp)
            if not isinstance(data, dict):
                raise Retryable("the record is not a JSON object")
            return data

        return self.http.request(f"{self.base_url}/retrieve/{ct_number}",
                                 what=f"CTIS retrieve {ct_number}", parse=parse)

    # -- records ----------------------------------------------------------------------------
    def records(self, page: ApiPage, label: str = "") -> list[Registration | BadRecord]:
        """Each overview of ``page`` as a Registration (its full record retrieved and merged),
        or a BadRecord naming the field."""
        out: list[Registration | BadRecord] = []
        for pos, overview in enumerate(page.items):
            ref = f"CTIS {label}page {page.index} item {pos}"
            if not isinstance(overview, dict):
                out.append(BadRecord(ref, "record", "search result is not a JSON object",
                                     str(overview)[:20_000]))
                continue
            number = overview.get("ctNumber")
            found = classify_id(number) if isinstance(number, str) else None
            if found is None or found[0] != "CTIS":
                out.append(BadRecord(ref, "ctNumber", f"not an EU CT number: "
                                     f"{str(number)[:40]!r}", orjson.dumps(overview).decode()))
                continue
            try:
                full = self.retrieve(found[1])
            except SourceError as exc:
                if exc.status not in (404, 410):
                    raise
                out.append(BadRecord(f"CTIS {found[1]}", "ctNumber",
                                     f"listed by the search but retrieve answered HTTP "
                                     f"{exc.status}", orjson.dumps(overview).decode()))
                continue
            record = merge_record(overview, full)
            raw = orjson.dumps({"search": overview, "retrieve": full}).decode()
            out.append(_registration(record, f"CTIS {found[1]}", raw))
        return out


def _registration(record: dict, ref: str, raw: str) -> Registration | BadRecord:
    try:
        reg = registration_from_ctis(record, ref, raw[:_RAW_LIMIT])
    except IciAtlasError as exc:
        return BadRecord(ref, "record", exc.message, raw[:20_000])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return BadRecord(ref, "record", f"unreadable CTIS record: {exc!r}", raw[:20_000])
    if isinstance(reg, Registration):
        reg.source_format = CtisClient.source_format
    return reg
