"""The dashboard as a WSGI application: routing, JSON twins, one error shape, headers.

Every page answers at its URL as HTML and, at the same URL with ``.json`` (or with an
``Accept: application/json`` header), as JSON built from the same rows. Errors share
one JSON shape::

    {"error": {"status": 404, "code": "not_found", "message": "...", "fix": "..."}}

The store is opened read-only once; each request reads through its own cursor. Only GET
and HEAD are answered. A Content-Security-Policy allows scripts, styles and images from
this server only, so a page makes no request anywhere else.
"""

from __future__ import annotations

import re
import sys
import os
import threading
from collections import OrderedDict
import traceback
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

import duckdb
import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .. import __version__
from ..config import package_path
from ..store.db import connect
from ..errors import IciAtlasError, InputError, StoreError
from . import routes
from .data import NotFound

STATIC_DIR = package_path("web", "static")
TEMPLATE_DIR = package_path("web", "templates")
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}
SECURITY_HEADERS = [
    ("Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
     "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

#: Error codes per HTTP status (the ``code`` of the error shape).
ERROR_CODES = {400: "invalid_parameter", 404: "not_found", 405: "method_not_allowed",
               421: "misdirected_request", 500: "internal_error", 503: "store_unavailable"}


class WebError(Exception):
    """An HTTP error with the fields of the shared error shape."""

    def __init__(self, status: int, message: str, fix: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.fix = status, message, fix
        self.code = code or ERROR_CODES.get(status, "error")

    def as_json(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code, "message": self.message,
                          "fix": self.fix}}


def error_from(exc: BaseException) -> WebError:
    """The WebError for any exception (library errors keep their message and fix)."""
    if isinstance(exc, WebError):
        return exc
    if isinstance(exc, NotFound):
        return WebError(404, exc.message, exc.fix or "check the address")
    if isinstance(exc, InputError):
        return WebError(400, exc.message, exc.fix or "check the parameters")
    if isinstance(exc, StoreError):
        return WebError(503, exc.message, exc.fix or "check the store")
    if isinstance(exc, IciAtlasError):
        return WebError(500, exc.message, exc.fix or "see the server log", "data_error")
    return WebError(500, f"Internal error ({type(exc).__name__}) while answering this request",
                    "see the server's log; report it if it repeats")


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    accept: str = ""
    query_string: str = ""
    want_json: bool = False

    def single(self, allowed: Iterable[str], max_chars: int = 200) -> dict[str, str]:
        """One value per parameter (the last), checked against ``allowed`` names."""
        allowed = list(allowed)
        unknown = sorted(set(self.params) - set(allowed))
        if unknown:
            raise InputError(f"Invalid parameter {unknown[0]!r}; expected one of {allowed}",
                             fix="remove it; each page's parameters are listed in /openapi.json")
        out = {}
        for name, values in self.params.items():
            value = values[-1].strip() if values else ""
            if len(value) > max_chars:
                raise InputError(f"Invalid {name}: longer than {max_chars} characters",
                                 fix=f"shorten {name}")
            out[name] = value
        return out


@dataclass
class Page:
    """A handler's answer: the JSON twin (``data``) and what the HTML template adds."""

    data: dict[str, Any]
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Raw:
    """A non-page answer (CSV download, static file)."""

    content_type: str
    body: Iterable[bytes]
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_bytes(value: Any) -> bytes:
    """Indented JSON with ``<``, ``>`` and ``&`` written as ``\\u`` escapes (they can only
    occur inside strings), so no JSON answer can be read as markup by anything."""
    body = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                        default=str)
    return body.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


class DashboardApp:
    """WSGI callable over one store, opened read-only."""

    def __init__(self, db_path: str | Path, allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
                 log: Callable[[str], None] | None = None):
        self.db_path = Path(db_path)
        self.con = connect(self.db_path, read_only=True)
        self.allowed_hosts = frozenset(allowed_hosts) if allowed_hosts is not None else None
        self.log = log or (lambda message: print(message, file=sys.stderr))
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                               autoescape=select_autoescape(["html"], default=True),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        routes.install_filters(self.env)
        self.env.globals["version"] = __version__
        self._cache: dict[str, Any] = {}
        self._lock = threading.RLock()
        self.static = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES}

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------------ helpers for routes
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one request (DuckDB connections are not shared
        between threads); close it when done."""
        with self._lock:
            return self.con.cursor()

    def read(self, query: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """``query(cursor)`` on a fresh cursor, closed afterwards."""
        cur = self.cursor()
        try:
            return query(cur)
        finally:
            cur.close()

    @property
    def responses(self) -> "ResponseCache":
        cache = self.__dict__.get("_responses")
        if cache is None:
            cache = self.__dict__["_responses"] = ResponseCache(
                0 if os.environ.get("ICI_ATLAS_WEB_CACHE", "1") == "0" else RESPONSE_CACHE_BYTES)
        return cache

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """A value computed once per app (the store cannot change while it is open
        read-only: DuckDB then refuses writers)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        req = self._request(environ)
        try:
            self._check_request(req, environ)
            hit = self.responses.get((req.path, req.query_string, req.want_json))
            if hit is not None:
                return self._send_page(req, hit[0], hit[1], start_response)
            answer = self._dispatch(req)
        except BaseException as exc:  # one error shape for everything
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            err = error_from(exc)
            if err.status >= 500:
                self.log("".join(traceback.format_exception(exc)).rstrip())
            return self._send_error(req, err, start_response)
        if isinstance(answer, Raw):
            headers = [("Content-Type", answer.content_type), *SECURITY_HEADERS, *answer.headers]
            start_response("200 OK", headers)
            return [] if req.method == "HEAD" else answer.body
        body = self._render(req, answer)
        ctype = "application/json" if req.want_json else "text/html; charset=utf-8"
        self.responses.put((req.path, req.query_string, req.want_json), (ctype, body))
        return self._send_page(req, ctype, body, start_response)

    def _send_page(self, req: Request, ctype: str, body: bytes,
                   start_response: Callable) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body))),
                                  ("Vary", "Accept"), *SECURITY_HEADERS])
        return [] if req.method == "HEAD" else [body]

    def _request(self, environ: dict) -> Request:
        path = environ.get("PATH_INFO") or "/"
        try:  # WSGI gives latin-1 decoded bytes; recover UTF-8 paths
            path = path.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        query = environ.get("QUERY_STRING", "")
        accept = environ.get("HTTP_ACCEPT", "")
        want_json = path.endswith(".json") or _prefers_json(accept)
        params = parse_qs(query, keep_blank_values=True, max_num_fields=200)
        return Request(environ.get("REQUEST_METHOD", "GET").upper(), path, params, accept,
                       query, want_json)

    def _check_request(self, req: Request, environ: dict) -> None:
        if req.method not in ("GET", "HEAD"):
            raise WebError(405, f"Method {req.method} is not allowed: the dashboard is read-only",
                           "use GET")
        if self.allowed_hosts is not None:
            host = _host_name(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
            if host not in self.allowed_hosts:
                raise WebError(421, f"Host {host!r} is not served here",
                               "open the dashboard at the address `ici-atlas serve` printed")

    def _dispatch(self, req: Request) -> Page | Raw:
        if req.path.startswith("/static/"):
            return self._static(req.path[len("/static/"):])
        if req.path == "/favicon.ico":
            return self._static("favicon.svg")
        for route in routes.ROUTES:
            match = route.match(req.path)
            if match is not None:
                return route.handler(self, req, **match)
        raise WebError(404, f"No page at {req.path!r}",
                       "see / for the pages and /openapi.json for the JSON endpoints")

    def _static(self, name: str) -> Raw:
        path = self.static.get(name)
        if path is None:
            raise WebError(404, f"No static file {name!r}", "see the page's source for its assets")
        return Raw(STATIC_TYPES[path.suffix], [path.read_bytes()],
                   [("Content-Length", str(path.stat().st_size))])

    def _render(self, req: Request, page: Page) -> bytes:
        if req.want_json:
            return json_bytes(page.data)
        template = self.env.get_template(page.template)
        html = template.render(data=page.data, title=page.title, json_url=_json_url(req),
                               path=req.path, **page.context)
        return html.encode("utf-8")

    def _send_error(self, req: Request, err: WebError, start_response: Callable) -> list[bytes]:
        status = f"{err.status} {HTTPStatus(err.status).phrase}"
        if req.want_json or not req.path or req.path.startswith("/static/"):
            body, ctype = json_bytes(err.as_json()), "application/json"
        else:
            body = self.env.get_template("error.html").render(
                error=err.as_json()["error"], title=f"Error {err.status}", json_url=None,
                path=req.path).encode("utf-8")
            ctype = "text/html; charset=utf-8"
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
                   ("Vary", "Accept"), *SECURITY_HEADERS]
        if err.status == 405:
            headers.append(("Allow", "GET, HEAD"))
        start_response(status, headers)
        return [] if req.method == "HEAD" else [body]


#: Bytes of rendered pages kept (least recently used dropped first). The store is open
#: read-only, so a page for the same path and query cannot change while the app runs.
#: ``ICI_ATLAS_WEB_CACHE=0`` turns the cache off (benchmarks of uncached rendering).
RESPONSE_CACHE_BYTES = 64 * 1024 * 1024


class ResponseCache:
    """A bounded, thread-safe LRU of rendered 200 pages keyed by (path, query, JSON?)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: "OrderedDict[tuple, tuple[str, bytes]]" = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[str, bytes] | None:
        if not self.max_bytes:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, item: tuple[str, bytes]) -> None:
        size = len(item[1])
        if not self.max_bytes or size > self.max_bytes // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._items[key] = item
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped[1])


def _prefers_json(accept: str) -> bool:
    """True when the Accept header asks for JSON and not for HTML."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    return "application/json" in kinds and "text/html" not in kinds


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return re.sub(r":\d+$", "", host)


def _json_url(req: Request) -> str:
    base = "/index" if req.path == "/" else req.path.rstrip("/")
    url = base if base.endswith(".json") else base + ".json"
    return url + ("?" + req.query_string if req.query_string else "")

