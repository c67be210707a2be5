"""A local replay of the ClinicalTrials.gov API v2 surface, serving real recorded studies.

``ReplayServer(studies)`` runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (random port)
in a daemon thread and answers:

* ``GET /studies`` with ``query.intr`` (quoted terms joined by OR, matched case-insensitively
  as whole words in intervention names, other names, arm group labels and descriptions),
  ``filter.advanced`` (``AREA[InterventionType](A OR B)`` and
  ``AREA[LastUpdatePostDate]RANGE[from,to]`` joined by AND), ``pageSize``, ``pageToken``,
  ``countTotal`` (``totalCount`` on the first page only, as the real API does);
* ``GET /studies/{nctId}`` and ``GET /version``.

Faults are injected per page index with :meth:`ReplayServer.add_fault`: ``"429"`` (with a
``Retry-After``), ``"503"``, ``"timeout"`` (sleeps before answering), ``"truncated"`` (half
of the JSON body), ``"short"`` (half the studies and no ``nextPageToken``: the page ends
early), ``"drop"`` (half the studies, paging continues: a silent loss the reconciliation must
catch) and ``"bad_record"`` (the first study replaced by a non-study object). Hostile
answers, for the client's hardening: ``"drip"`` (the body trickles out a few bytes at a time,
each read well inside the per-read timeout), ``"huge"`` (a Content-Length far beyond any
page), ``"redirect_loop"`` (a redirect to itself), ``"bad_total"`` (totalCount as text),
``"token_loop"`` (the nextPageToken of the page before), ``"stuck"`` (the first page's
studies again under a new token) and ``"expired_token"`` (HTTP 400 for
a page token, as the API answers a stale one). Every request is logged in
``server.requests``.

The studies come from the real v2 JSON records in ``../shared/data/ctgov``
(:func:`read_v2_studies`); nothing is synthesised except the fault responses.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


def read_v2_studies(folder: Path) -> list[dict]:
    """Every v2 study (file, JSON array or page) under ``folder``, one per NCT ID (the later
    lastUpdatePostDate wins), sorted by NCT ID as the replay serves them."""
    best: dict[str, dict] = {}
    for path in sorted(folder.rglob("*.json")):
        try:
            doc = json.loads(path.read_bytes())
        except ValueError:
            continue
        items = doc if isinstance(doc, list) else doc.get("studies", [doc]) if isinstance(doc, dict) else []
        for study in items:
            if not isinstance(study, dict) or "protocolSection" not in study:
                continue
            nct = study["protocolSection"].get("identificationModule", {}).get("nctId")
            if not nct:
                continue
            if nct not in best or _updated(study) > _updated(best[nct]):
                best[nct] = study
    return [best[k] for k in sorted(best)]


def _updated(study: dict) -> str:
    return (
        study.get("protocolSection", {}).get("statusModule", {})
        .get("lastUpdatePostDateStruct", {}).get("date", "")
    )


def _intervention_texts(study: dict) -> list[str]:
    arms = study.get("protocolSection", {}).get("armsInterventionsModule", {})
    texts: list[str] = []
    for iv in arms.get("interventions", []):
        texts.append(iv.get("name", ""))
        texts.extend(iv.get("otherNames", []))
    for arm in arms.get("armGroups", []):
        texts.append(arm.get("label", ""))
        texts.append(arm.get("description", ""))
    return texts


def _types(study: dict) -> set[str]:
    arms = study.get("protocolSection", {}).get("armsInterventionsModule", {})
    return {iv.get("type", "") for iv in arms.get("interventions", [])}


def parse_intr(expr: str) -> list[tuple[str, re.Pattern]]:
    """``"a" OR "b c"`` → [(term, whole-word case-insensitive pattern), ...]."""
    terms = [t.strip().strip("()").strip().strip('"') for t in re.split(r"\s+OR\s+", expr)]
    return [
        (t, re.compile(r"(?<![A-Za-z0-9])" + re.escape(t) + r"(?![A-Za-z0-9])", re.IGNORECASE))
        for t in terms if t
    ]


_TYPE_RE = re.compile(r"^AREA\[InterventionType\]\(([A-Z_ ]+(?: OR [A-Z_ ]+)*)\)$")
_DATE_RE = re.compile(r"^AREA\[LastUpdatePostDate\]RANGE\[([0-9-]+|MIN),\s*([0-9-]+|MAX)\]$")


def parse_advanced(expr: str):
    """A predicate for the supported filter.advanced forms; ValueError for anything else."""
    checks = []
    for part in re.split(r"\s+AND\s+", expr.strip()):
        part = part.strip()
        if m := _TYPE_RE.match(part):
            wanted = {t.strip() for t in m.group(1).split(" OR ")}
            checks.append(lambda s, w=wanted: bool(_types(s) & w))
        elif m := _DATE_RE.match(part):
            lo = "" if m.group(1) == "MIN" else m.group(1)
            hi = "9999-12-31" if m.group(2) == "MAX" else m.group(2)
            checks.append(lambda s, lo=lo, hi=hi: lo <= _updated(s) <= hi)
        else:
            raise ValueError(f"unsupported filter.advanced part {part!r}")
    return lambda s: all(c(s) for c in checks)


_MATCH_CACHE: dict = {}  # shared by servers over the same study list (tests reuse it)
_CACHE_LOCK = threading.Lock()


@dataclass
class Fault:
    kind: str  # 429 | 503 | timeout | truncated | short | drop | bad_record
    page: int
    times: int | None = 1  # None: forever
    retry_after: str = "1"
    delay: float = 1.0


class ReplayServer:
    """Serve ``studies`` through the API v2 surface; use as a context manager."""

    def __init__(self, studies: list[dict], data_timestamp: str = "replay",
                 api_version: str = "2.0.3-replay"):
        self.studies = studies
        self.api_version = api_version
        self.data_timestamp = data_timestamp
        self.faults: list[Fault] = []
        # Server behaviours (not faults): send at most this many studies per page whatever
        # pageSize asks; give a nextPageToken after an exactly full last page (leading to an
        # empty page), as users of other clients report the real API doing.
        self.max_page_size: int | None = None
        self.empty_tail = False
        self.requests: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):  # noqa: N802 (stdlib name)
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api/v2"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ReplayServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add_fault(self, kind: str, page: int, times: int | None = 1, **kw) -> None:
        self.faults.append(Fault(kind, page, times, **kw))

    def study_requests(self) -> list[dict]:
        return [p for path, p in self.requests if path.endswith("/studies")]

    def matching(self, params: dict) -> list[dict]:
        key = (id(self.studies), params.get("query.intr"), params.get("filter.advanced"))
        with _CACHE_LOCK:
            if key in _MATCH_CACHE:
                return _MATCH_CACHE[key][1]
        found = self._match(params)
        with _CACHE_LOCK:  # the list is kept in the value so its id is never reused
            _MATCH_CACHE[key] = (self.studies, found)
        return found

    def _match(self, params: dict) -> list[dict]:
        terms = [(t.lower(), p) for t, p in parse_intr(params.get("query.intr") or "")]
        pred = parse_advanced(params["filter.advanced"]) if params.get("filter.advanced") else None
        out = []
        for s in self.studies:
            if terms:
                text = "\n".join(t for t in _intervention_texts(s) if t)
                low = text.lower()
                # cheap substring test first, then the whole-word check
                if not any(t in low and p.search(text) for t, p in terms):
                    continue
            if pred and not pred(s):
                continue
            out.append(s)
        return out

    # -- HTTP -----------------------------------------------------------------------------
    def _send(self, h, status: int, body: bytes, headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _take_fault(self, page: int) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.page == page and (f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def _handle(self, h) -> None:
        parts = urlsplit(h.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append((parts.path, params))
        path = parts.path.removeprefix("/api/v2")
        if path == "/version":
            return self._send(h, 200, json.dumps(
                {"apiVersion": self.api_version, "dataTimestamp": self.data_timestamp}).encode())
        if m := re.fullmatch(r"/studies/(NCT\d{8})", path):
            hit = [s for s in self.studies
                   if s["protocolSection"]["identificationModule"]["nctId"] == m.group(1)]
            if not hit:
                return self._send(h, 404, b'{"message": "not found"}')
            return self._send(h, 200, json.dumps(hit[0]).encode())
        if path != "/studies":
            return self._send(h, 404, b'{"message": "no such endpoint"}')
        try:
            found = self.matching(params)
            size = int(params.get("pageSize", "10"))
            if not 1 <= size <= 1000:
                raise ValueError(f"pageSize {size} out of range")
            if self.max_page_size:
                size = min(size, self.max_page_size)
            offset = 0
            if params.get("pageToken"):
                offset = int(base64.urlsafe_b64decode(params["pageToken"]).decode().split(":")[1])
        except (ValueError, KeyError) as exc:
            return self._send(h, 400, json.dumps({"message": str(exc)}).encode())
        page = offset // size
        fault = self._take_fault(page)
        if fault and fault.kind == "expired_token" and params.get("pageToken"):
            return self._send(h, 400, b'{"message": "pageToken is expired or invalid"}')
        if fault and fault.kind == "redirect_loop":
            return self._send(h, 302, b"", {"Location": h.path})
        if fault and fault.kind == "huge":
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(10**12))
            h.end_headers()
            return None
        if fault and fault.kind in ("429", "503"):
            headers = {"Retry-After": fault.retry_after} if fault.kind == "429" else {}
            return self._send(h, int(fault.kind), b'{"message": "slow down"}', headers)
        if fault and fault.kind == "timeout":
            time.sleep(fault.delay)
        chunk = found[offset : offset + size]
        body: dict = {"studies": chunk}
        if offset + size < len(found) or (self.empty_tail and offset < len(found)):
            body["nextPageToken"] = base64.urlsafe_b64encode(
                f"o:{min(offset + size, len(found))}".encode()).decode()
        if params.get("countTotal") == "true" and not params.get("pageToken"):
            body["totalCount"] = len(found)
        if fault and fault.kind == "short":  # ends early: no nextPageToken
            body["studies"] = chunk[: len(chunk) // 2]
            body.pop("nextPageToken", None)
        if fault and fault.kind == "drop":  # loses studies but keeps paging
            body["studies"] = chunk[: len(chunk) // 2]
        if fault and fault.kind == "bad_record" and chunk:  # first study replaced by junk
            body["studies"] = [{"status": "pwned"}] + chunk[1:]
        if fault and fault.kind == "stuck":  # the first page's studies again, paging goes on
            body["studies"] = found[:size]
        if fault and fault.kind == "bad_total" and "totalCount" in body:
            body["totalCount"] = "many"
        if fault and fault.kind == "token_loop" and page > 0:  # sends the previous token again
            body["nextPageToken"] = params["pageToken"]
        data = json.dumps(body).encode()
        if fault and fault.kind == "drip":
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            try:
                for start in range(0, len(data), 64):
                    h.wfile.write(data[start:start + 64])
                    h.wfile.flush()
                    time.sleep(fault.delay)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if fault and fault.kind == "truncated":
            data = data[: len(data) // 2]
        self._send(h, 200, data)
