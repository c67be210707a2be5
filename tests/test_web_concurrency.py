"""The dashboard under concurrent use: many threads at once, idle connections, and the
stored-JSON decompression every trial page needs (issue 13: the old server crashed with 4
clients, and 1,000 idle connections stalled it)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from web_store import web_db  # noqa: F401  (session fixture)


@pytest.fixture()
def server(web_db):  # noqa: F811
    """A fresh server per test (its page cache empty), on a free loopback port."""
    from ici_atlas.web import start_in_thread

    url, stop = start_in_thread(web_db, "127.0.0.1", 0)
    yield url
    stop()


def _pd1_ids(web_db, n: int = 40) -> list[str]:  # noqa: F811
    from ici_atlas.store.db import open_store

    with open_store(web_db, read_only=True) as con:
        return [r[0] for r in con.execute(
            "SELECT nct_id FROM trials WHERE is_pd1_pdl1 ORDER BY nct_id LIMIT ?", [n]).fetchall()]


def _hammer(url: str, paths: list[str], threads: int, per_thread: int) -> list[str]:
    """Every thread sends ``per_thread`` requests over one keep-alive connection; returns
    the problems (status other than 200, or an exception)."""
    parts = urlsplit(url)
    problems: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            for j in range(per_thread):
                path = paths[(i * 7 + j) % len(paths)]
                try:
                    conn.request("GET", path, headers={"Host": parts.netloc})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 200:
                        with lock:
                            problems.append(f"{resp.status} {path}")
                except Exception as exc:  # noqa: BLE001 - what a client would see
                    with lock:
                        problems.append(f"{type(exc).__name__}: {exc} ({path})")
                    conn.close()
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        finally:
            conn.close()

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return problems


def test_many_clients_on_trial_pages_get_every_answer(server, web_db):  # noqa: F811
    """16 threads reading trial pages (each decompresses the stored record) and explorer
    JSON at once: every request answered 200, and the server still answers afterwards."""
    ids = _pd1_ids(web_db)
    paths = [f"/trials/{n}" for n in ids] + [f"/trials/{n}.json" for n in ids]
    paths += ["/trials.json?phase=Phase%202", "/trials?cancer=NSCLC", "/index.json"]
    assert _hammer(server, paths, threads=16, per_thread=25) == []
    assert _hammer(server, ["/index.json"], threads=1, per_thread=1) == []


def test_idle_connections_do_not_starve_a_real_request(server):
    """300 connections opened and left idle; a new client is still answered promptly."""
    parts = urlsplit(server)
    idle = []
    try:
        for _ in range(300):
            s = socket.create_connection((parts.hostname, parts.port), timeout=5)
            idle.append(s)
        start = time.monotonic()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
        conn.request("GET", "/index.json", headers={"Host": parts.netloc})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 200
        assert time.monotonic() - start < 10  # not a timing target: "not stalled for minutes"
    finally:
        for s in idle:
            s.close()


def test_cached_pages_equal_fresh_pages(server, web_db):  # noqa: F811
    """The page cache (the store is read-only while served) never changes an answer."""
    from web_store import get

    first = get(server, "/trials.json?cancer=NSCLC&sort=nct_id").body
    again = get(server, "/trials.json?cancer=NSCLC&sort=nct_id").body
    assert first == again
    from ici_atlas.web.app import DashboardApp

    fresh = DashboardApp(web_db)
    try:
        fresh.responses.max_bytes = 0  # no cache
        import io

        body = b"".join(fresh({"REQUEST_METHOD": "GET", "PATH_INFO": "/trials.json",
                               "QUERY_STRING": "cancer=NSCLC&sort=nct_id",
                               "HTTP_HOST": "127.0.0.1", "wsgi.input": io.BytesIO()},
                              lambda s, h: None))
    finally:
        fresh.close()
    assert body == first


def test_ipv6_loopback_host_is_accepted(web_db):  # noqa: F811
    """`ici-atlas serve --host ::1` (documented) serves, where the machine has IPv6."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    from ici_atlas.web import start_in_thread

    try:
        url, stop = start_in_thread(web_db, "::1", 0)
    except Exception as exc:  # noqa: BLE001
        if "Cannot assign requested address" in str(exc) or "not an address" in str(exc):
            pytest.skip("IPv6 loopback not configured")
        raise
    try:
        assert url.startswith("http://[::1]:")
        parts = urlsplit(url)
        conn = http.client.HTTPConnection("::1", parts.port, timeout=10)
        conn.request("GET", "/index.json", headers={"Host": parts.netloc})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        stop()
