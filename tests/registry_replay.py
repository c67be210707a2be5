"""A local replay of the EU CTIS public API and the ISRCTN API, serving real shared records.

The records are the real CTIS and ISRCTN records in ``../shared/data/registries/rfhb+ctrdata/
decoded`` (ctrdata exports; see that folder's PROVENANCE.md), one per trial ID, the newest
export first (:func:`read_shared_records`). ctrdata built them from exactly these API
answers, so the replay reverses what ctrdata did (rfhb/ctrdata ``R/ctrLoadQueryIntoDbCtis.R``
and ``R/ctrLoadQueryIntoDbIsrctn.R``, snapshot 0d73c237):

* ``POST /ctis-public-api/search`` with ``{"pagination": {"page", "size"}, "sort",
  "searchCriteria": {"containAny": "w1 w2"}}`` answers ``{"pagination": {"totalRecords",
  "currentPage", "totalPages"}, "data": [overview, ...]}`` (the envelope of a real answer
  captured by a third-party test suite); an
  overview holds the search-result fields of the record (``ctNumber``, ``ctTitle``,
  ``ctStatus``, ``decisionDate``, ``trialPhase``, ``trialCountries``, ``startDateEU``,
  ``totalNumberEnrolled`` ..., the fields a real search result carries);
* ``GET /ctis-public-api/retrieve/{ctNumber}`` answers the record *without* the
  overview-only fields (so the client must merge the two as ctrdata does);
* ``GET /isrctn/api/query/format/default?q=&limit=&offset=`` answers
  ``<allTrials xmlns="http://www.67bricks.com/isrctn" totalCount="N">`` with one
  ``<fullTrial><trial lastUpdated=.. version=..><isrctn dateAssigned=..>`` per record (the
  ctrdata JSON written back as XML: objects as elements, lists as repeated elements, plus
  attributes and ``<sponsor>``/``<funder>`` siblings that the conversion must ignore);
  ``limit=0`` answers the count alone.

Search: ``containAny`` words / ``q`` terms (quoted, OR) match as whole words, case-insensitive,
anywhere in the record (both registries search full text); no terms match every record.

Faults (:meth:`RegistryReplay.add_fault`, per endpoint ``search``/``retrieve``/``query`` and
page index, ``times`` None = forever): ``429`` (with ``Retry-After``), ``503``, ``truncated``
(half the body), ``invalid`` (not JSON/XML at all), ``short`` (half the page's records),
``bad_record`` (the first record's ID replaced by junk), ``reset`` (the connection closed
without an answer). Server behaviours: ``extra_total`` (the reported total exceeds what is
delivered), ``ignore_offset`` (ISRCTN answers the first page whatever the offset).
Every request is logged in ``requests`` as ``(endpoint, page index or ID, params/body)``.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

#: Newest export first: a trial found in several exports is served from the newest.
EXPORTS = ("demo.json", "demo@b195accc.json", "demo@1f22b10a.json", "demo@f238e723.json")
#: Fields of a CTIS search result (overview) taken from the record.
CTIS_OVERVIEW = ("ctStatus", "decisionDate", "trialPhase", "trialCountries", "ageGroup",
                 "gender", "totalNumberEnrolled", "startDateEU", "lastUpdated", "sponsorType",
                 "therapeuticAreas", "trialRegion", "resultsFirstReceived")
#: Of those, the ones the retrieve answer does not repeat.
CTIS_OVERVIEW_ONLY = ("trialPhase", "trialCountries", "ageGroup", "gender",
                      "totalNumberEnrolled", "startDateEU", "lastUpdated", "sponsorType",
                      "therapeuticAreas", "trialRegion", "resultsFirstReceived")
CTRDATA_KEYS = ("_id", "ctrname", "record_last_import")
ISRCTN_NS = "http://www.67bricks.com/isrctn"


def read_shared_records(decoded: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(ctis, isrctn)``: trial ID → the ctrdata record, newest export first."""
    ctis: dict[str, dict] = {}
    isrctn: dict[str, dict] = {}
    for name in EXPORTS:
        path = decoded / name
        if not path.is_file():
            continue
        for key, record in json.loads(path.read_bytes()).items():
            if not isinstance(record, dict):
                continue
            target = {"CTIS": ctis, "ISRCTN": isrctn}.get(record.get("ctrname"))
            if target is not None and key not in target:
                target[key] = record
    return dict(sorted(ctis.items())), dict(sorted(isrctn.items()))


def _matcher(words: list[str]):
    pats = [re.compile(r"(?<![A-Za-z0-9])" + re.escape(w) + r"(?![A-Za-z0-9])", re.I)
            for w in words if w]
    return lambda text: not pats or any(p.search(text) for p in pats)


def _xml(tag: str, value) -> str:
    if isinstance(value, list):
        return "".join(_xml(tag, v) for v in value)
    if isinstance(value, dict):
        inner = "".join(_xml(k, v) for k, v in value.items() if k not in CTRDATA_KEYS)
        return f"<{tag}>{inner}</{tag}>" if inner else f"<{tag}/>"
    if value is None or value == "":
        return f"<{tag}/>"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"<{tag}>{escape(text)}</{tag}>"


def isrctn_full_trial(record: dict) -> str:
    """One ``<fullTrial>`` for a ctrdata ISRCTN record (attributes and siblings added)."""
    body = []
    for key, value in record.items():
        if key in CTRDATA_KEYS:
            continue
        if key == "isrctn":
            body.append(f'<isrctn dateAssigned="2020-01-01T00:00:00Z">{escape(str(value))}'
                        "</isrctn>")
        else:
            body.append(_xml(key, value))
    return ('<fullTrial><trial lastUpdated="2026-01-01T00:00:00Z" version="3" '
            f'isPublished="true">{"".join(body)}</trial>'
            '<sponsor id="s1"><organisation>Replay sponsor</organisation><sponsorType/>'
            '</sponsor><funder id="f1"><name>Replay funder</name></funder></fullTrial>')


@dataclass
class Fault:
    kind: str
    endpoint: str  # search | retrieve | query
    page: int | str | None  # page index, a ctNumber for retrieve, None: any
    times: int | None = 1
    retry_after: str = "1"


class RegistryReplay:
    """Serve CTIS and ISRCTN records; use as a context manager."""

    def __init__(self, ctis: dict[str, dict], isrctn: dict[str, dict]):
        self.ctis = ctis
        self.isrctn = isrctn
        self.faults: list[Fault] = []
        self.extra_total = 0
        self.ignore_offset = False
        self.requests: list[tuple[str, object, object]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                server._handle(self, None)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                server._handle(self, self.rfile.read(length))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        port = self._httpd.server_address[1]
        self.ctis_url = f"http://127.0.0.1:{port}/ctis-public-api"
        self.isrctn_url = f"http://127.0.0.1:{port}/isrctn/api"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "RegistryReplay":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add_fault(self, kind: str, endpoint: str, page=None, times: int | None = 1,
                  **kw) -> None:
        self.faults.append(Fault(kind, endpoint, page, times, **kw))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def logged(self, endpoint: str) -> list:
        return [r for r in self.requests if r[0] == endpoint]

    # -- matching --------------------------------------------------------------------------
    def ctis_matching(self, criteria: dict) -> list[dict]:
        match = _matcher((criteria.get("containAny") or "").split())
        found = [r for r in self.ctis.values() if match(json.dumps(r, ensure_ascii=False))]
        return sorted(found, key=lambda r: r["ctNumber"], reverse=True)

    def isrctn_matching(self, q: str) -> list[dict]:
        terms = [t.strip().strip('"') for t in re.split(r"\s+OR\s+", q or "") if t.strip()]
        match = _matcher(terms)
        return [r for _, r in sorted(self.isrctn.items())
                if match(json.dumps(r, ensure_ascii=False))]

    @staticmethod
    def overview(record: dict) -> dict:
        out = {"ctNumber": record["ctNumber"], "ctTitle": record.get("title", "")}
        out.update({k: record[k] for k in CTIS_OVERVIEW if k in record})
        return out

    @staticmethod
    def retrieved(record: dict) -> dict:
        return {k: v for k, v in record.items()
                if k not in CTRDATA_KEYS and k not in CTIS_OVERVIEW_ONLY}

    # -- HTTP --------------------------------------------------------------------------------
    def _take(self, endpoint: str, page) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.endpoint == endpoint and (f.page is None or f.page == page) and (
                        f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def _send(self, h, status: int, body: bytes, ctype: str, headers: dict | None = None):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _fault_answer(self, h, fault: Fault | None, ctype: str) -> bool:
        """Answer a transport-level fault; True when answered."""
        if fault is None:
            return False
        if fault.kind in ("429", "503"):
            headers = {"Retry-After": fault.retry_after} if fault.kind == "429" else {}
            self._send(h, int(fault.kind), b"slow down", ctype, headers)
            return True
        if fault.kind == "reset":
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return True
        if fault.kind == "invalid":
            self._send(h, 200, b"<html>Service temporarily unavailable</html>", ctype)
            return True
        return False

    def _handle(self, h, body: bytes | None) -> None:
        parts = urlsplit(h.path)
        path = parts.path
        if path == "/ctis-public-api/search" and body is not None:
            return self._ctis_search(h, body)
        if m := re.fullmatch(r"/ctis-public-api/retrieve/([0-9-]+)", path):
            return self._ctis_retrieve(h, m.group(1))
        if path == "/isrctn/api/query/format/default":
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            return self._isrctn_query(h, params)
        self._send(h, 404, b'{"message": "no such endpoint"}', "application/json")

    def _ctis_search(self, h, raw: bytes) -> None:
        try:
            req = json.loads(raw)
            page = int(req["pagination"]["page"])
            size = int(req["pagination"]["size"])
            criteria = req.get("searchCriteria") or {}
            if page < 1 or not 1 <= size <= 1000:
                raise ValueError("pagination out of range")
        except (ValueError, KeyError, TypeError) as exc:
            return self._send(h, 400, json.dumps({"message": str(exc)}).encode(),
                              "application/json")
        index = page - 1
        with self._lock:
            self.requests.append(("search", index, req))
        fault = self._take("search", index)
        if self._fault_answer(h, fault, "application/json"):
            return None
        found = self.ctis_matching(criteria)
        chunk = found[index * size:(index + 1) * size]
        if fault and fault.kind == "short":
            chunk = chunk[: len(chunk) // 2]
        items = [self.overview(r) for r in chunk]
        if fault and fault.kind == "bad_record" and items:
            items[0] = {**items[0], "ctNumber": "not-a-number"}
        total = len(found) + self.extra_total
        data = json.dumps({
            "pagination": {"totalRecords": total, "currentPage": page,
                           "totalPages": math.ceil(total / size)},
            "data": items}).encode()
        if fault and fault.kind == "truncated":
            data = data[: len(data) // 2]
        self._send(h, 200, data, "application/json")

    def _ctis_retrieve(self, h, number: str) -> None:
        with self._lock:
            self.requests.append(("retrieve", number, None))
        fault = self._take("retrieve", number)
        if self._fault_answer(h, fault, "application/json"):
            return None
        record = self.ctis.get(number)
        if record is None:
            return self._send(h, 404, b'{"message": "not found"}', "application/json")
        data = json.dumps(self.retrieved(record)).encode()
        if fault and fault.kind == "truncated":
            data = data[: len(data) // 2]
        self._send(h, 200, data, "application/json")

    def _isrctn_query(self, h, params: dict) -> None:
        try:
            limit = int(params.get("limit", "10"))
            offset = int(params.get("offset", "0"))
            if limit < 0 or offset < 0:
                raise ValueError("negative limit or offset")
        except ValueError as exc:
            return self._send(h, 400, str(exc).encode(), "text/plain")
        index = offset // limit if limit else 0
        with self._lock:
            self.requests.append(("query", index, params))
        fault = self._take("query", index) if limit else None
        if self._fault_answer(h, fault, "application/xml"):
            return None
        found = self.isrctn_matching(params.get("q", ""))
        start = 0 if self.ignore_offset else offset
        chunk = found[start:start + limit]
        if fault and fault.kind == "short":
            chunk = chunk[: len(chunk) // 2]
        trials = [isrctn_full_trial(r) for r in chunk]
        if fault and fault.kind == "bad_record" and trials:
            trials[0] = re.sub(r"(<isrctn[^>]*>)\d+(</isrctn>)", r"\1ISRCTN-junk\2", trials[0], 1)
        total = len(found) + self.extra_total
        data = ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<allTrials xmlns="{ISRCTN_NS}" totalCount="{total}">{"".join(trials)}'
                "</allTrials>").encode()
        if fault and fault.kind == "truncated":
            data = data[: len(data) // 2]
        self._send(h, 200, data, "application/xml")
