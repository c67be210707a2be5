"""``ici-atlas serve``: the local, read-only web dashboard over the store."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import db_option, info, resolve_db


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Only loopback addresses unless --allow-remote.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port; the URL printed says which).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback --host: anyone who can reach it can read the store.")
@click.option("--log-requests", is_flag=True, help="Log one line per request on stderr.")
@db_option
def serve_cmd(host: str, port: int, allow_remote: bool, log_requests: bool,
              db_path: Path | None) -> None:
    """Serve the dashboard: overview, trials explorer (filters, search, CSV), one page per
    trial, approvals timeline, ORR explorer with forest plots, and strategies. Every page
    has a JSON twin (same URL + .json); /openapi.json describes them. The store is opened
    read-only. Prints the URL on stdout; stop with Ctrl+C.

    \b
    Example:
      ici-atlas serve --db atlas.duckdb --port 8765
      # then open http://127.0.0.1:8765/trials?agent=pembrolizumab&phase=Phase%203
    """
    from ..web.server import is_loopback, make_dashboard_server

    server, app, url = make_dashboard_server(resolve_db(db_path), host, port, allow_remote,
                                             log_requests=log_requests, log=info)
    if not is_loopback(host.strip("[]")):
        info(f"Warning: serving on {host}, not a loopback address: anyone who can reach "
             "this machine on that address can read the store.")
    click.echo(url)
    sys.stdout.flush()
    info(f"ici-atlas dashboard (read-only) at {url} ; press Ctrl+C to stop.")
    try:
        server.run()
    except KeyboardInterrupt:
        info("Stopped.")
    finally:
        server.close()
        app.close()


def register(group: click.Group) -> None:
    group.add_command(serve_cmd)
