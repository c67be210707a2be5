"""Concurrency load for the dashboard: N client threads against a server in its own process.

Used by ``bench_web.py --concurrency``. The server under test runs in a subprocess (so the
clients' work does not share its interpreter): either ``waitress`` (what ``ici-atlas serve``
uses) or ``wsgiref`` (the standard library's threaded server the dashboard used before,
kept here only as the baseline measured in the same run). Each client keeps one HTTP/1.1
connection (reopened after an error) and sends a mix of explorer pages, trial pages and
JSON twins; the run reports throughput, p50/p95/p99 latency, errors and whether the server
process survived.
"""

from __future__ import annotations

import http.client
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent

_SERVER = r"""
import socketserver, sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
sys.path.insert(0, {repo!r})
from ici_atlas.web.app import DashboardApp

db, kind = sys.argv[1], sys.argv[2]
if kind == "waitress":
    from ici_atlas.web.server import make_dashboard_server
    server, app, url = make_dashboard_server(db, "127.0.0.1", 0)
    print(url, flush=True)
    server.run()
else:
    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True
        allow_reuse_address = True
    class Quiet(WSGIRequestHandler):
        def log_message(self, *a):
            pass
    app = DashboardApp(db)
    server = make_server("127.0.0.1", 0, app, server_class=Server, handler_class=Quiet)
    print(f"http://127.0.0.1:{{server.server_address[1]}}/", flush=True)
    server.serve_forever()
"""


def start_server(db_path: Path, kind: str, cache: bool = True) -> tuple[subprocess.Popen, str]:
    import os

    import tempfile

    env = {**os.environ, "ICI_ATLAS_WEB_CACHE": "1" if cache else "0"}
    # The server's log goes to a file: a pipe nobody reads fills up and blocks the server
    # (waitress warns on stderr when its task queue grows).
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([sys.executable, "-c", _SERVER.format(repo=str(REPO)), str(db_path),
                             kind], stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        log.seek(0)
        raise SystemExit(f"{kind} server did not start: {log.read()[:500]}")
    return proc, url


def request_mix(nct_ids: list[str], agents: list[str], cancers: list[str]) -> list[str]:
    """Paths of the mix: explorer HTML and JSON with filters, trial pages and their JSON,
    the overview."""
    paths = ["/", "/trials", "/trials.json", "/trials?phase=Phase%203",
             "/trials.json?per_page=200", "/index.json"]
    for a in agents[:4]:
        paths += [f"/trials?agent={a}", f"/trials.json?agent={a}&phase=Phase%202"]
    for c in cancers[:4]:
        paths += [f"/trials.json?cancer={c}", f"/trials?cancer={c}&sort=enrollment"]
    for n in nct_ids[:40]:
        paths += [f"/trials/{n}", f"/trials/{n}.json"]
    return paths


def run_load(url: str, paths: list[str], clients: int, per_client: int, timeout: float = 30.0,
             seed: int = 0) -> dict:
    parts = urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        conn = None
        mine, bad = [], []
        for _ in range(per_client):
            path = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
                conn.request("GET", path, headers={"Host": parts.netloc})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    bad.append(f"{resp.status} {path}")
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as exc:  # connection reset, timeout, server gone
                bad.append(f"{type(exc).__name__} {path}")
                if conn is not None:
                    conn.close()
                conn = None
            mine.append((time.perf_counter() - t0) * 1000)
        if conn is not None:
            conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))]

    return {"clients": clients, "requests": len(latencies), "seconds": round(wall, 2),
            "throughput_rps": round(len(latencies) / wall, 1) if wall else None,
            "p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(pct(95), 1),
            "p99_ms": round(pct(99), 1), "errors": len(errors), "error_samples": errors[:5]}


def bench_server(db_path: Path, kind: str, paths: list[str], levels: tuple[int, ...],
                 per_client: int, cache: bool = True) -> dict:
    proc, url = start_server(db_path, kind, cache)
    try:
        run_load(url, paths[:10], 2, 5)  # warm-up
        rows = [run_load(url, paths, c, per_client) for c in levels]
        alive = proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    return {"server": kind + ("" if cache else " (no page cache)"), "levels": rows,
            "survived": alive}
