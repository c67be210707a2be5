"""Serving the dashboard with waitress: a production WSGI server (pure Python) with a
fixed pool of worker threads, a connection limit, and timeouts for idle and slow clients.

Bound to 127.0.0.1 by default. A host that is not a loopback address needs
``allow_remote=True``; the dashboard then also accepts requests whose Host header names
that address. IPv6 hosts (``::1``) are accepted as written or in brackets.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from .app import LOOPBACK_HOSTS, DashboardApp

#: Worker threads answering requests (the store is read through one cursor each); more
#: connections than this wait in waitress's queue instead of each getting a thread.
THREADS = 8
#: Open connections at most (idle ones cost a socket, not a thread); past this waitress stops
#: accepting until some close. Bounded by the process's file-descriptor limit (raised to its
#: hard limit at start where the system allows).
CONNECTION_LIMIT = 10_000
#: Seconds an idle or stalled connection (a slow client sending or reading) is kept open.
CHANNEL_TIMEOUT = 30
#: Largest request body / header accepted (the dashboard only answers GET and HEAD).
MAX_BODY = 64 * 1024
MAX_HEADER = 64 * 1024


@dataclass(frozen=True)
class ServerSettings:
    threads: int = THREADS
    connection_limit: int = CONNECTION_LIMIT
    channel_timeout: int = CHANNEL_TIMEOUT


def _connection_limit(wanted: int) -> int:
    """``wanted``, within the file descriptors this process may open (raising the soft
    limit to the hard one first)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted + 256)
        if soft != resource.RLIM_INFINITY and soft < target:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError):
                pass
        if soft == resource.RLIM_INFINITY:
            return wanted
        return max(16, min(wanted, soft - 128))
    except ImportError:  # not on this platform
        return min(wanted, 500)


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bare(host: str) -> str:
    return host.strip().strip("[]")


def make_dashboard_server(db_path: str | Path, host: str = "127.0.0.1", port: int = 8765,
                          allow_remote: bool = False, log_requests: bool = False,
                          log: Callable[[str], None] | None = None,
                          settings: ServerSettings = ServerSettings()):
    """Open the store read-only and bind the server (port 0: any free port).

    Returns ``(server, app, url)``; call ``server.run()`` to answer requests and
    ``server.close()`` to stop.
    """
    from waitress.server import create_server

    bare = _bare(host)
    if not is_loopback(bare) and not allow_remote:
        raise InputError(
            f"Invalid host {host!r}: not a loopback address, so other machines could read "
            "the dashboard",
            fix="bind to 127.0.0.1 (the default), or pass --allow-remote to serve on "
                f"{host} on purpose",
        )
    shown = f"[{bare}]" if ":" in bare else bare
    allowed = None if not is_loopback(bare) else LOOPBACK_HOSTS | {bare.lower(), shown.lower()}
    app = DashboardApp(db_path, allowed_hosts=allowed, log=log)
    app.log_requests = log_requests
    wsgi = _logged(app) if log_requests else app
    try:
        server = create_server(
            wsgi, listen=f"{shown}:{port}", threads=settings.threads,
            connection_limit=_connection_limit(settings.connection_limit),
            channel_timeout=settings.channel_timeout, cleanup_interval=5,
            max_request_body_size=MAX_BODY, max_request_header_size=MAX_HEADER,
            ident="ici-atlas", expose_tracebacks=False, clear_untrusted_proxy_headers=True,
            asyncore_use_poll=True)
    except OSError as exc:
        app.close()
        reason = exc.strerror or str(exc)
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            fix = "pick another --port (or stop what uses this one)"
        elif exc.errno in (99, 49, 10049, -2, -3, -5):  # address not available / unknown
            fix = f"{host} is not an address of this machine: use 127.0.0.1 or ::1"
        else:
            fix = "check --host and --port"
        raise InputError(f"Cannot listen on {shown}:{port}: {reason}", fix=fix) from exc
    bound_port = server.effective_port
    return server, app, f"http://{shown}:{bound_port}/"


def _logged(app: DashboardApp):
    """The app, logging one line per request through its logger (stderr)."""

    def wsgi(environ, start_response):
        def start(status, headers, exc_info=None):
            app.log(f"{environ.get('REMOTE_ADDR', '-')} - {environ.get('REQUEST_METHOD')} "
                    f"{environ.get('PATH_INFO')} {status.split(' ', 1)[0]}")
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


def start_in_thread(db_path: str | Path, host: str = "127.0.0.1", port: int = 0,
                    settings: ServerSettings = ServerSettings()):
    """Start a server in a daemon thread (tests, benchmarks). Returns
    ``(url, stop)``; ``stop()`` shuts the server down and closes the store."""
    server, app, url = make_dashboard_server(db_path, host, port, settings=settings)
    thread = threading.Thread(target=server.run, name="ici-atlas-serve", daemon=True)
    thread.start()

    def stop() -> None:
        server.close()
        thread.join(timeout=10)
        app.close()

    return url, stop
