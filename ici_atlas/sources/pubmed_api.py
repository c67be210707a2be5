"""NCBI E-utilities client for PubMed: ESearch (with the history server) and EFetch.

* Parameters ``tool`` and ``email`` on every request, ``api_key`` when given.
* NCBI's documented limits: at most 3 requests per second without an API key, 10 with
  one (we stay just under: 2.5 and 9).
* ESearch returns at most 9,999 IDs for one query, so :func:`plan_date_windows` splits a
  query by publication-date windows until every window is under that limit, and
  :func:`fetch_pubmed` reconciles the records received with the counts reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterator

import httpx
import orjson

from ..errors import SourceError
from .http import PoliteHttp, RetryPolicy, Retryable, check_base_url
from .pubmed_xml import ParseProblem, PubmedRecord, iter_pubmed_xml

ESEARCH_LIMIT = 9_999
EFETCH_BATCH = 500
DATE_FMT = "%Y/%m/%d"


@dataclass(frozen=True)
class SearchResult:
    count: int
    ids: list[str]
    webenv: str | None
    query_key: str | None
    translation: str | None


@dataclass(frozen=True)
class DateWindow:
    mindate: date
    maxdate: date
    count: int

    def label(self) -> str:
        return f"{self.mindate:%Y/%m/%d}-{self.maxdate:%Y/%m/%d}"


class EutilsClient:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        email: str | None = None,
        tool: str = "ici-atlas",
        max_rate: float | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        on_retry: Callable[[str, float], None] | None = None,
    ):
        self.base_url = check_base_url(base_url, "--api-url (or $ICI_ATLAS_PUBMED_API)")
        self.api_key = api_key
        self.email = email
        self.tool = tool
        rate = max_rate if max_rate is not None else (9.0 if api_key else 2.5)
        kwargs = {"sleep": sleep} if sleep is not None else {}
        self.http = PoliteHttp("PubMed E-utilities", timeout=timeout, max_rate=rate, retry=retry,
                               on_retry=on_retry, **kwargs)

    def close(self) -> None:
        self.http.close()

    def _params(self, **extra) -> dict:
        params = {"db": "pubmed", "tool": self.tool}
        if self.email:
            params["email"] = self.email
        if self.api_key:
            params["api_key"] = self.api_key
        params.update({k: v for k, v in extra.items() if v is not None})
        return params

    # -- ESearch ---------------------------------------------------------------------
    def esearch(
        self,
        term: str,
        *,
        mindate: date | None = None,
        maxdate: date | None = None,
        datetype: str = "pdat",
        usehistory: bool = False,
        retmax: int = 0,
        retstart: int = 0,
    ) -> SearchResult:
        params = self._params(
            term=term, retmode="json", retmax=retmax, retstart=retstart,
            usehistory="y" if usehistory else None,
            datetype=datetype if (mindate or maxdate) else None,
            mindate=mindate.strftime(DATE_FMT) if mindate else None,
            maxdate=maxdate.strftime(DATE_FMT) if maxdate else None,
        )
        return self.http.request(f"{self.base_url}/esearch.fcgi", params, what=f"ESearch {term[:60]!r}",
                                 parse=_parse_esearch)

    def count(self, term: str, mindate: date | None = None, maxdate: date | None = None) -> int:
        return self.esearch(term, mindate=mindate, maxdate=maxdate).count

    # -- EFetch ----------------------------------------------------------------------
    def efetch_history(self, webenv: str, query_key: str, retstart: int, expected: int) -> bytes:
        """One EFetch batch from the history server; checks the batch is whole."""
        params = self._params(WebEnv=webenv, query_key=query_key, retstart=retstart,
                              retmax=expected, retmode="xml", rettype="abstract")

        def parse(resp: httpx.Response) -> bytes:
            _check_efetch(resp.content, expected)
            return resp.content

        return self.http.request(f"{self.base_url}/efetch.fcgi", params,
                                 what=f"EFetch records {retstart + 1}-{retstart + expected}", parse=parse)

    def efetch_ids(self, pmids: list[str]) -> bytes:
        """EFetch by PMID list (POST, so long lists fit)."""
        data = self._params(id=",".join(pmids), retmode="xml", rettype="abstract")

        def parse(resp: httpx.Response) -> bytes:
            _check_efetch(resp.content, len(pmids))
            return resp.content

        return self.http.request(f"{self.base_url}/efetch.fcgi", None, method="POST", data=data,
                                 what=f"EFetch {len(pmids)} PMIDs", parse=parse)


def _parse_esearch(resp: httpx.Response) -> SearchResult:
    try:
        payload = orjson.loads(resp.content)
    except orjson.JSONDecodeError as exc:
        raise Retryable(f"invalid ESearch JSON ({len(resp.content)} bytes)") from exc
    if "error" in payload:  # e.g. {"error": "API rate limit exceeded"}
        message = str(payload["error"])
        if "rate limit" in message.lower():
            raise Retryable(message)
        raise SourceError(f"ESearch error: {message}", fix="Check the query syntax.")
    result = payload.get("esearchresult")
    if not isinstance(result, dict):
        raise Retryable("ESearch reply without esearchresult")
    if "ERROR" in result:
        raise SourceError(f"ESearch error: {result['ERROR']}", fix="Check the query syntax and dates.")
    try:
        count = int(result["count"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Retryable("ESearch reply without a count") from exc
    return SearchResult(
        count=count,
        ids=[str(i) for i in result.get("idlist", [])],
        webenv=result.get("webenv"),
        query_key=result.get("querykey"),
        translation=result.get("querytranslation"),
    )


def _check_efetch(content: bytes, expected: int) -> None:
    got = content.count(b"<PubmedArticle>") + content.count(b"<PubmedArticle ")
    if b"</PubmedArticleSet>" not in content:
        raise Retryable(f"EFetch reply truncated ({len(content):,} bytes, no closing tag)")
    if got != expected:
        raise Retryable(f"EFetch batch has {got} articles, expected {expected}")
    _check_well_formed(content)


def _check_well_formed(content: bytes) -> None:
    """A reply that is not well-formed XML is asked for again (a garbled transfer). One that
    declares entities is not expanded here: the record parser refuses it, naming the batch."""
    import xml.parsers.expat

    class _Declares(Exception):
        pass

    def stop(*_args):
        raise _Declares

    parser = xml.parsers.expat.ParserCreate()
    parser.EntityDeclHandler = stop
    try:
        parser.Parse(content, True)
    except _Declares:
        return
    except xml.parsers.expat.ExpatError as exc:
        raise Retryable(f"EFetch reply is not well-formed XML ({exc})") from None


def plan_date_windows(
    client: EutilsClient, term: str, mindate: date, maxdate: date, limit: int = ESEARCH_LIMIT,
    count: int | None = None,
) -> list[DateWindow]:
    """Split [mindate, maxdate] into publication-date windows of at most ``limit`` records."""
    if count is None:
        count = client.count(term, mindate, maxdate)
    if count <= limit:
        return [DateWindow(mindate, maxdate, count)]
    if mindate >= maxdate:
        raise SourceError(
            f"{count:,} records were published on {mindate:%Y/%m/%d} alone, over the ESearch limit of {limit:,}",
            fix="Narrow the query (more specific terms) so that one day holds fewer records.",
        )
    middle = mindate + timedelta(days=(maxdate - mindate).days // 2)
    left_count = client.count(term, mindate, middle)
    right_count = client.count(term, middle + timedelta(days=1), maxdate)
    return plan_date_windows(client, term, mindate, middle, limit, left_count) + plan_date_windows(
        client, term, middle + timedelta(days=1), maxdate, limit, right_count
    )


def fetch_window_records(
    client: EutilsClient, term: str, window: DateWindow, problems: list[ParseProblem],
    batch: int = EFETCH_BATCH, start: int = 0,
) -> Iterator[tuple[int, list[PubmedRecord], bytes]]:
    """Yield ``(retstart, records, xml)`` per EFetch batch of one date window."""
    if window.count == 0:
        return
    search = client.esearch(term, mindate=window.mindate, maxdate=window.maxdate, usehistory=True)
    if not search.webenv or not search.query_key:
        raise SourceError("ESearch did not return a history-server key (WebEnv/query_key)",
                          fix="Retry later; the history server may be unavailable.")
    if search.count != window.count:
        window = DateWindow(window.mindate, window.maxdate, search.count)
    for retstart in range(start, window.count, batch):
        expected = min(batch, window.count - retstart)
        xml = client.efetch_history(search.webenv, search.query_key, retstart, expected)
        yield retstart, list(iter_pubmed_xml(xml, problems)), xml
