"""Serving the dashboard: a threaded WSGI server from the standard library.

Bound to 127.0.0.1 by default. A host that is not a loopback address needs
``allow_remote=True``; the dashboard then also accepts requests whose Host header names
that address.
"""

from __future__ import annotations

import ipaddress
import socketserver
import threading
from pathlib import Path
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..errors import InputError
from .app import LOOPBACK_HOSTS, DashboardApp


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """Logs one line per request through the app's logger (stderr), not the default."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        app = self.server.get_app()
        if getattr(app, "log_requests", False):
            app.log("%s - %s" % (self.address_string(), format % args))


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_dashboard_server(db_path: str | Path, host: str = "127.0.0.1", port: int = 8765,
                          allow_remote: bool = False, log_requests: bool = False,
                          log: Callable[[str], None] | None = None):
    """Open the store read-only and bind the server (port 0: any free port).

    Returns ``(server, app, url)``; call ``server.serve_forever()`` to answer requests.
    """
    if not is_loopback(host) and not allow_remote:
        raise InputError(
            f"Invalid host {host!r}: not a loopback address, so other machines could read "
            "the dashboard",
            fix="bind to 127.0.0.1 (the default), or pass --allow-remote to serve on "
                f"{host} on purpose",
        )
    allowed = None if not is_loopback(host) else LOOPBACK_HOSTS | {host.lower()}
    app = DashboardApp(db_path, allowed_hosts=allowed, log=log)
    app.log_requests = log_requests
    try:
        server = make_server(host, port, app, server_class=_ThreadingWSGIServer,
                             handler_class=_QuietHandler)
    except OSError as exc:
        app.close()
        raise InputError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}",
                         fix="pick another --port (or stop what uses this one)") from exc
    bound_port = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    return server, app, f"http://{shown}:{bound_port}/"


def start_in_thread(db_path: str | Path, host: str = "127.0.0.1", port: int = 0):
    """Start a server in a daemon thread (tests, benchmarks). Returns
    ``(url, stop)``; ``stop()`` shuts the server down and closes the store."""
    server, app, url = make_dashboard_server(db_path, host, port)
    thread = threading.Thread(target=server.serve_forever, name="ici-atlas-serve", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.close()

    return url, stop
