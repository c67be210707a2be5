"""The screening page (``ici-atlas lit screen --web``): one record at a time, decided with
the keyboard, every decision written to the store before the next record is shown.

Unlike the dashboard this app writes, so it is never served beyond the machine: it binds a
loopback address only, answers only requests whose Host header is a loopback name (no DNS
rebinding), and accepts a decision only with the session token embedded in its own page
(another web site open in the same browser cannot post decisions to it) and, when the
browser sends an Origin header, only from its own origin.

Routes: ``GET /`` (the page), ``GET /state.json`` (the same as JSON), ``POST /decide``
(form: ``token``, ``record_id``, ``decision`` = include | exclude | skip [| not-retrieved],
``note``), ``POST /undo`` (form: ``token``). A POST answers ``303 See Other`` to ``/`` (or
the new state as JSON when the request accepts only JSON).
"""

from __future__ import annotations

import secrets
from http import HTTPStatus
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .. import __version__
from ..errors import InputError
from ..review.session import ScreeningSession
from .app import (LOOPBACK_HOSTS, SECURITY_HEADERS, WebError, _host_name, _prefers_json,
                  error_from, json_bytes)

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
#: The page's own files (the Content-Security-Policy allows no inline script or style).
STATIC = {"/static/screen.js": "text/javascript; charset=utf-8",
          "/static/screen.css": "text/css; charset=utf-8", "/static/favicon.svg": "image/svg+xml"}
MAX_FORM = 64 * 1024


class ScreeningApp:
    """WSGI app over one :class:`~ici_atlas.review.session.ScreeningSession`."""

    def __init__(self, session: ScreeningSession, token: str | None = None,
                 log: Callable[[str], None] | None = None):
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        self.log = log or (lambda message: None)
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                               autoescape=select_autoescape(["html"], default=True),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/") or "/"
        want_json = path.endswith(".json") or _prefers_json(environ.get("HTTP_ACCEPT", ""))
        try:
            self._check_host(environ)
            if path == "/" and method in ("GET", "HEAD"):
                return self._page(start_response, method)
            if path in STATIC and method in ("GET", "HEAD"):
                return self._static(start_response, path, method)
            if path == "/state.json" and method in ("GET", "HEAD"):
                return self._json(start_response, self.session.view().to_dict(), method)
            if path in ("/decide", "/undo"):
                if method != "POST":
                    raise WebError(405, f"{path} takes POST", "Use the buttons on the page.")
                form = self._form(environ)
                if not secrets.compare_digest(form.get("token", ""), self.token):
                    raise WebError(403, "The page's session token is missing or wrong",
                                     "Reload the screening page and decide again.")
                if path == "/decide":  # the session serialises decisions (its lock)
                    view = self.session.decide(form.get("record_id", ""), form.get("decision", ""),
                                               form.get("note", ""))
                else:
                    view = self.session.undo()
                if want_json:
                    return self._json(start_response, view.to_dict(), method)
                start_response("303 See Other", [("Location", "/"), ("Content-Length", "0"),
                                                 *SECURITY_HEADERS])
                return []
            raise WebError(404, f"No page {path}", "Open / for the screening page.")
        except Exception as exc:  # one error shape, as the dashboard's (web.app.error_from)
            err = error_from(exc)
            if err.status >= 500:
                self.log(f"screening page error: {err.message}")
            return self._error(start_response, err, want_json, method)

    # -- checks ---------------------------------------------------------------------------

    def _check_host(self, environ: dict) -> None:
        host = _host_name(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
        if host not in LOOPBACK_HOSTS:
            raise WebError(400, f"Invalid Host header {host!r}: the screening page answers only "
                             "on this machine", "Open it at the 127.0.0.1 address it printed.")
        origin = environ.get("HTTP_ORIGIN")
        if environ.get("REQUEST_METHOD", "GET").upper() == "POST" and origin and origin != "null":
            origin_host = _host_name(origin.split("://", 1)[-1].split("/", 1)[0])
            if origin_host not in LOOPBACK_HOSTS:
                raise WebError(403, f"Decision posted from another site ({origin})",
                                 "Decide on the screening page itself.")

    def _form(self, environ: dict) -> dict[str, str]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise WebError(400, "Invalid Content-Length", "Send a form.") from None
        if length > MAX_FORM:
            raise WebError(413, f"Form larger than {MAX_FORM:,} bytes", "Shorten the note.")
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebError(400, "Form is not UTF-8", "Send the form from the page.") from None
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=20)
        return {k: v[-1] for k, v in fields.items()}

    # -- answers --------------------------------------------------------------------------

    def _page(self, start_response: Callable, method: str) -> list[bytes]:
        view = self.session.view()
        html = self.env.get_template("screen.html").render(
            view=view, data=view.to_dict(), token=self.token, stage=self.session.stage,
            reviewer=self.session.reviewer, version=__version__).encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(html))), *SECURITY_HEADERS])
        return [] if method == "HEAD" else [html]

    def _static(self, start_response: Callable, path: str, method: str) -> list[bytes]:
        ctype = STATIC[path]
        body = (STATIC_DIR / path.rsplit("/", 1)[1]).read_bytes()
        start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body))),
                                  *SECURITY_HEADERS])
        return [] if method == "HEAD" else [body]

    def _json(self, start_response: Callable, data: dict, method: str) -> list[bytes]:
        body = json_bytes(data)
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), *SECURITY_HEADERS])
        return [] if method == "HEAD" else [body]

    def _error(self, start_response: Callable, err: WebError, want_json: bool,
               method: str) -> list[bytes]:
        if want_json:
            body, ctype = json_bytes(err.as_json()), "application/json"
        else:
            body = self.env.get_template("screen_error.html").render(
                status=err.status, message=err.message, fix=err.fix).encode("utf-8")
            ctype = "text/html; charset=utf-8"
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body))), *SECURITY_HEADERS]
        if err.status == 405:
            headers.append(("Allow", "POST"))
        start_response(f"{err.status} {HTTPStatus(err.status).phrase}", headers)
        return [] if method == "HEAD" else [body]


def make_screening_server(session: ScreeningSession, host: str = "127.0.0.1", port: int = 8766,
                          log: Callable[[str], None] | None = None):
    """Bind the screening page on a loopback address (port 0: any free port). Returns
    ``(server, app, url)``; ``server.run()`` answers requests, ``server.close()`` stops."""
    from waitress.server import create_server

    from .server import is_loopback

    bare = host.strip().strip("[]")
    if not is_loopback(bare):
        raise InputError(f"Invalid host {host!r}: the screening page writes to the store, so it is "
                         "served on this machine only", fix="Use 127.0.0.1 (the default) or ::1.")
    shown = f"[{bare}]" if ":" in bare else bare
    app = ScreeningApp(session, log=log)
    try:
        server = create_server(app, listen=f"{shown}:{port}", threads=2, channel_timeout=30,
                               max_request_body_size=MAX_FORM, ident="ici-atlas-screen",
                               expose_tracebacks=False, clear_untrusted_proxy_headers=True)
    except OSError as exc:
        fix = ("pick another --port (or stop what uses this one)" if exc.errno in (98, 48, 10048)
               else "check --host and --port")
        raise InputError(f"Cannot listen on {shown}:{port}: {exc.strerror or exc}", fix=fix) from exc
    return server, app, f"http://{shown}:{server.effective_port}/"
