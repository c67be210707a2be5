"""Benchmark: dashboard query latency for the trials explorer's filters.

Builds two stores:

1. **base** — every study record in the shared ClinicalTrials.gov data
   ($ICI_ATLAS_SHARED_DATA/ctgov, default ../shared/data/ctgov) loaded with
   ``ingest.load_files`` and classified with ``classify_store``: the stored PD-(L)1 set;
2. **replicated** — the base store's classified trials replicated to ``--n`` trials
   (default 200,000) with distinct NCT IDs. ``--replicate sql`` (default) copies the
   derived tables (``trials`` and its five explanation tables) with each copy's NCT ID
   rewritten to NCT9xxxxxxx, the same numbering as ``bench/bench_pipeline.py``
   (copy *i* of the base records sorted by NCT ID is ``NCT{90000000 + i:08d}``).
   Classification is deterministic per record and reads no NCT ID, so each copy's rows
   are those of its base record. ``--replicate pipeline`` instead classifies replicated
   raw records through ``bench_pipeline.write_input`` + ``load_files`` +
   ``classify_store`` (slower; it cycles only the v2 JSON records, as bench_pipeline
   does, and also stores the replicated raw JSON).

Then it times requests through the WSGI app in-process (``DashboardApp``, no socket):
each explorer filter as ``/trials.json?...`` (``--repeats`` times after two warm-up
requests), and prints p50/p95 per filter and the ratio of each p50 to the same run's
baseline, the unfiltered ``/trials.json``. Aim: p95 < 100 ms at 200,000 trials.

    .venv/bin/python bench/bench_web.py                 # --n 200000 --repeats 30
    .venv/bin/python bench/bench_web.py --quick         # 20,000 trials, 10 repeats
    .venv/bin/python bench/bench_web.py --json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

TARGET_P95_MS = 100.0
NCT_BASE = 90_000_000  # as bench_pipeline.py: NCT9xxxxxxx, not issued by ClinicalTrials.gov


def shared_ctgov() -> Path:
    env = os.environ.get("ICI_ATLAS_SHARED_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    return root / "ctgov"


# ----------------------------------------------------------------------------- stores

def build_base(ctgov: Path, db_path: Path) -> dict:
    from ici_atlas.store import db
    from ici_atlas.concepts.classify import classify_store
    from ici_atlas.store.ingest import load_files

    t0 = time.perf_counter()
    con = db.connect(db_path)
    try:
        load_files(con, ctgov)
        report = classify_store(con)
    finally:
        con.close()
    return {"trials": report.trials, "pd1_trials": report.pd1_trials,
            "seconds": time.perf_counter() - t0}


def replicate_sql(base_db: Path, db_path: Path, n: int) -> dict:
    """Copy the base store's derived tables to ``n`` trials (NCT IDs rewritten)."""
    from ici_atlas.store import db
    from ici_atlas.store.schema import DERIVED

    t0 = time.perf_counter()
    con = db.connect(db_path)
    try:
        path = str(base_db).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS base (READ_ONLY)")
        n_base = con.execute("SELECT count(*) FROM base.trials").fetchone()[0]
        copies = -(-n // n_base)
        con.execute(
            """CREATE TEMP TABLE idmap AS
               SELECT b.nct_id AS base_id, c.k * ? + b.i AS seq,
                      printf('NCT%08d', ? + c.k * ? + b.i) AS new_id
               FROM (SELECT nct_id, row_number() OVER (ORDER BY nct_id) - 1 AS i
                     FROM base.trials) b, range(?) c(k)
               WHERE c.k * ? + b.i < ?""",
            [n_base, NCT_BASE, n_base, copies, n_base, n])
        for table, columns in DERIVED.items():
            con.execute(f"CREATE TABLE {table} ({columns})")
            con.execute(f"INSERT INTO {table} SELECT t.* REPLACE (m.new_id AS nct_id) "
                        f"FROM base.{table} t JOIN idmap m ON t.nct_id = m.base_id "
                        f"ORDER BY m.seq")
        # The base raw records (not replicated: the explorer never reads them) and runs.
        con.execute("INSERT INTO raw_studies SELECT * FROM base.raw_studies")
        con.execute("INSERT INTO runs SELECT * FROM base.runs")
        trials, pd1 = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_pd1_pdl1) FROM trials").fetchone()
        con.execute("DETACH base")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"trials": trials, "pd1_trials": pd1, "seconds": time.perf_counter() - t0}


def replicate_pipeline(ctgov: Path, work: Path, db_path: Path, n: int) -> dict:
    """Replicated raw records written as API v2 pages, loaded and classified."""
    import bench_pipeline as bp

    from ici_atlas.store import db
    from ici_atlas.concepts.classify import classify_store
    from ici_atlas.store.ingest import load_files

    t0 = time.perf_counter()
    bp.write_input(bp.read_base_studies(ctgov), n, work / "input")
    con = db.connect(db_path)
    try:
        load_files(con, work / "input")
        report = classify_store(con)
    finally:
        con.close()
    return {"trials": report.trials, "pd1_trials": report.pd1_trials,
            "seconds": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- timing

def explorer_cases(facets) -> list[tuple[str, dict]]:
    """(label, query) per explorer filter, values chosen as the most common in the base."""
    def top(name: str) -> str:
        return facets.values[name][0][0]

    return [
        ("baseline: no filter", {}),
        ("agent", {"agent": top("agent")}),
        ("class", {"class": "PD-L1"}),
        ("bispecific", {"bispecific": "yes"}),
        ("cancer group", {"cancer": top("cancer")}),
        ("phase", {"phase": "Phase 3"}),
        ("status", {"status": "RECRUITING"}),
        ("partner class", {"partner": top("partner")}),
        ("start year", {"since": 2020, "until": 2023}),
        ("sponsor class", {"sponsor": "INDUSTRY"}),
        ("country", {"country": top("country")}),
        ("free text", {"q": "lung"}),
        ("three filters", {"agent": top("agent"), "cancer": top("cancer"), "phase": "Phase 2"}),
        ("sort by enrollment", {"sort": "enrollment", "order": "desc"}),
        ("last page (50 rows a page)", {"page": "last"}),
        ("scope: all trials", {"scope": "all"}),
    ]


def _environ(path: str, query: str) -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
            "HTTP_HOST": "127.0.0.1", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "0",
            "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http"}


def time_request(app, path: str, query: dict, repeats: int) -> list[float]:
    """Milliseconds per request (status checked, body consumed), after two warm-ups."""
    qs = urlencode(query, doseq=True)
    out = []
    for i in range(repeats + 2):
        status = []
        t0 = time.perf_counter()
        body = b"".join(app(_environ(path, qs), lambda s, h: status.append(s)))
        elapsed = (time.perf_counter() - t0) * 1000
        if not status[0].startswith("200"):
            raise SystemExit(f"{path}?{qs} answered {status[0]}: {body[:300]!r}")
        if i >= 2:
            out.append(elapsed)
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))]


def bench_store(db_path: Path, repeats: int, cases: list[tuple[str, dict]]) -> list[dict]:
    from ici_atlas.web import DashboardApp

    app = DashboardApp(db_path)
    try:
        total = lambda q: json.loads(b"".join(  # noqa: E731
            app(_environ("/trials.json", urlencode(q, doseq=True)), lambda s, h: None)))["total"]
        rows = []
        for label, query in cases:
            if query.get("page") == "last":
                query = {**query, "page": max(1, -(-total({}) // 50))}
            ms = time_request(app, "/trials.json", query, repeats)
            rows.append({"case": label, "query": urlencode(query, doseq=True), "matches": total(query),
                         "p50_ms": statistics.median(ms), "p95_ms": percentile(ms, 95),
                         "max_ms": max(ms)})
        html = time_request(app, "/trials", {}, repeats)
        rows.append({"case": "HTML page (table + 2 SVG charts)", "query": "", "matches": None,
                     "p50_ms": statistics.median(html), "p95_ms": percentile(html, 95),
                     "max_ms": max(html)})
        csv_case = {"cancer": cases[4][1]["cancer"]}
        csv_ms = time_request(app, "/trials.csv", csv_case, max(3, repeats // 5))
        rows.append({"case": "CSV of a selection (every row)",
                     "query": urlencode(csv_case), "matches": total(csv_case),
                     "p50_ms": statistics.median(csv_ms), "p95_ms": percentile(csv_ms, 95),
                     "max_ms": max(csv_ms)})
    finally:
        app.close()
    base = rows[0]["p50_ms"]
    for r in rows:
        r["ratio_p50"] = r["p50_ms"] / base
    return rows


def _print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'case':<34}{'matches':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'p50/base':>10}")
    for r in rows:
        matches = "" if r["matches"] is None else f"{r['matches']:,}"
        print(f"{r['case']:<34}{matches:>9}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}"
              f"{r['max_ms']:>9.1f}{r['ratio_p50']:>10.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="trials in the replicated store")
    ap.add_argument("--repeats", type=int, default=30, help="timed requests per case")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20,000 trials, 10 repeats")
    ap.add_argument("--replicate", choices=["sql", "pipeline"], default="sql")
    ap.add_argument("--workdir", help="folder for the stores (default: a temp dir)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ap.add_argument("--check", action="store_true", help="exit 1 when p95 >= 100 ms at --n")
    ap.add_argument("--concurrency", action="store_true",
                    help="instead: 1, 10 and 50 concurrent clients against the served dashboard "
                         "(waitress, and the old wsgiref server as the baseline of the same run)")
    ap.add_argument("--per-client", type=int, default=100, help="requests per client "
                    "(--concurrency)")
    ap.add_argument("--pages", action="store_true",
                    help="instead: every page and JSON twin, unfiltered and with combinations "
                         "of three filters, page cache off (target p95 <= 150 ms)")
    args = ap.parse_args(argv)
    n, repeats = (20_000, 10) if args.quick else (args.n, args.repeats)
    ctgov = shared_ctgov()
    if not ctgov.is_dir():
        raise SystemExit(f"shared data not found at {ctgov}; set ICI_ATLAS_SHARED_DATA")
    log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True))

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        log(f"building the base store from {ctgov} ...")
        base = build_base(ctgov, work / "base.duckdb")
        log(f"  {base['trials']:,} trials ({base['pd1_trials']:,} PD-(L)1) in "
            f"{base['seconds']:.1f} s; replicating to {n:,} ({args.replicate}) ...")
        if args.replicate == "sql":
            big = replicate_sql(work / "base.duckdb", work / "big.duckdb", n)
        else:
            big = replicate_pipeline(ctgov, work, work / "big.duckdb", n)
        log(f"  {big['trials']:,} trials ({big['pd1_trials']:,} PD-(L)1) in "
            f"{big['seconds']:.1f} s; timing {repeats} requests per case ...")
        from ici_atlas.store import db
        from ici_atlas.web.explorer import query_facets

        con = db.connect(work / "base.duckdb", read_only=True)
        cases = explorer_cases(query_facets(con))
        if args.concurrency:
            facets = query_facets(con)
            con.close()
            return _concurrency(work, base, big, n, facets, args, log)
        if args.pages:
            facets = query_facets(con)
            con.close()
            return _pages(work, big, n, facets, repeats, args, log)
        con.close()
        # every request computed (the page cache, on by default, would answer the repeats)
        os.environ["ICI_ATLAS_WEB_CACHE"] = "0"
        load_before = os.getloadavg()[0]
        base_rows = bench_store(work / "base.duckdb", repeats, cases)
        big_rows = bench_store(work / "big.duckdb", repeats, cases)
        load_after = os.getloadavg()[0]

    explorer_big = [r for r in big_rows if not r["case"].startswith(("HTML", "CSV"))]
    worst = max(r["p95_ms"] for r in explorer_big)
    result = {"base": {**base, "rows": base_rows}, "replicated": {**big, "n": n, "rows": big_rows},
              "replicate": args.replicate, "repeats": repeats, "cpus": os.cpu_count(),
              "load_average": [round(load_before, 2), round(load_after, 2)],
              "worst_explorer_p95_ms": worst, "target_p95_ms": TARGET_P95_MS,
              "target_met": worst < TARGET_P95_MS}
    if args.json:
        print(json.dumps(result))
    else:
        _print_table(f"stored PD-(L)1 set: {base['trials']:,} trials, {base['pd1_trials']:,} "
                     "PD-(L)1 (explorer default scope)", base_rows)
        _print_table(f"replicated: {big['trials']:,} trials, {big['pd1_trials']:,} PD-(L)1 "
                     f"({args.replicate})", big_rows)
        print(f"\nworst explorer p95 at {n:,} trials: {worst:.1f} ms (target < "
              f"{TARGET_P95_MS:g} ms: {'met' if result['target_met'] else 'MISSED'})")
        print(f"machine: {os.cpu_count()} CPUs, 1-min load average {load_before:.1f} before, "
              f"{load_after:.1f} after")
    return 1 if args.check and not result["target_met"] else 0


PAGES_TARGET_MS = 150.0


def page_cases(facets) -> list[tuple[str, str, dict]]:
    """(label, path, query): every page and JSON twin; the filterable ones unfiltered and
    with three-filter combinations."""
    def top(name: str, i: int = 0) -> str:
        values = facets.values[name]
        return values[min(i, len(values) - 1)][0]

    combos = [
        {"agent": top("agent"), "cancer": top("cancer"), "phase": "Phase 2"},
        {"partner": top("partner"), "class": "PD-1", "since": 2019},
        {"country": top("country"), "sponsor": "INDUSTRY", "line": top("line")},
        {"phase": ["Phase 2", "Phase 3"], "cancer": [top("cancer"), top("cancer", 1)],
         "posted_by": "2022-12-31"},
    ]
    out = []
    for path in ("/trials", "/landscape"):
        for fmt in ("", ".json"):
            out.append((f"{path}{fmt} unfiltered", path + fmt, {}))
            out += [(f"{path}{fmt} 3 filters #{i + 1}", path + fmt, c)
                    for i, c in enumerate(combos)]
    for path in ("/", "/index.json", "/orr", "/orr.json", "/approvals", "/approvals.json",
                 "/strategies", "/strategies.json", "/regulators", "/regulators.json",
                 "/changes", "/changes.json", "/runs", "/runs.json"):
        out.append((f"{path}", path, {}))
    out.append(("/orr.json 3 filters", "/orr.json",
                {"cancer": "NSCLC", "line": "later-line", "class": "PD-1"}))
    out.append(("/trials.csv 3 filters", "/trials.csv", combos[0]))
    return out


def _pages(work: Path, big: dict, n: int, facets, repeats: int, args, log) -> int:
    from ici_atlas.web import DashboardApp

    os.environ["ICI_ATLAS_WEB_CACHE"] = "0"  # every request computed, as a new query is
    log(f"timing every page at {big['trials']:,} trials (page cache off) ...")
    app = DashboardApp(work / "big.duckdb")
    rows = []
    try:
        for label, path, query in page_cases(facets):
            ms = time_request(app, path, query, repeats)
            rows.append({"case": label, "p50_ms": statistics.median(ms),
                         "p95_ms": percentile(ms, 95), "max_ms": max(ms)})
    finally:
        app.close()
    base = next(r for r in rows if r["case"] == "/trials.json unfiltered")["p50_ms"]
    worst = max(rows, key=lambda r: r["p95_ms"])
    if args.json:
        print(json.dumps({"n": n, "rows": rows, "worst": worst, "target_ms": PAGES_TARGET_MS}))
    else:
        print(f"\nevery page at {big['trials']:,} trials, one client, page cache off, "
              f"{repeats} requests each")
        print(f"{'case':<36}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'p50/base':>10}")
        for r in rows:
            print(f"{r['case']:<36}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['max_ms']:>9.1f}"
                  f"{r['p50_ms'] / base:>10.2f}")
        print(f"\nworst p95: {worst['case']} {worst['p95_ms']:.1f} ms (target <= "
              f"{PAGES_TARGET_MS:g} ms: {'met' if worst['p95_ms'] <= PAGES_TARGET_MS else 'MISSED'}); "
              f"base = /trials.json unfiltered, p50 {base:.1f} ms")
    return 0


def _concurrency(work: Path, base: dict, big: dict, n: int, facets, args, log) -> int:
    import web_load

    from ici_atlas.store import db

    levels = (1, 10, 50)
    agents = [v for v, _ in facets.values["agent"][:4]]
    cancers = [v for v, _ in facets.values["cancer"][:4]]
    result = {"per_client": args.per_client, "levels": levels, "cpus": os.cpu_count(),
              "stores": {}}
    for name, db_file, info in (("base", work / "base.duckdb", base),
                                ("replicated", work / "big.duckdb", big)):
        result["stores"][name] = {"trials": info["trials"], "servers": []}
        con = db.connect(db_file, read_only=True)
        ids = [r[0] for r in con.execute(  # trial pages spread over the whole store
            "SELECT nct_id FROM trials WHERE is_pd1_pdl1 ORDER BY hash(nct_id) LIMIT 40").fetchall()]
        con.close()
        paths = web_load.request_mix(ids, agents, cancers)
        for kind, cache in (("wsgiref", True), ("waitress", True), ("waitress", False)):
            log(f"{name} store ({info['trials']:,} trials): {kind} (page cache {cache}), "
                f"clients {levels} ...")
            result["stores"][name]["servers"].append(
                web_load.bench_server(db_file, kind, paths, levels, args.per_client, cache))
    base_runs = {s["server"]: s for s in result["stores"]["base"]["servers"]}
    w50 = base_runs["waitress"]["levels"][-1]
    o50 = base_runs["wsgiref"]["levels"][-1]
    result["targets"] = {
        "no_errors_no_crash_at_50": all(s["survived"] and s["levels"][-1]["errors"] == 0
                                        for st in result["stores"].values()
                                        for s in st["servers"] if s["server"].startswith("waitress")),
        "p95_at_50_uncached_base_ms": base_runs["waitress (no page cache)"]["levels"][-1]["p95_ms"],
        "p95_at_50_le_1s_base": w50["p95_ms"] <= 1000,
        "throughput_ratio_at_50_base": round(w50["throughput_rps"] / o50["throughput_rps"], 2)
        if o50["throughput_rps"] else None,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    for name, st in result["stores"].items():
        print(f"\n{name} store: {st['trials']:,} trials")
        print(f"{'server':<26}{'clients':>8}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
              f"{'p99 ms':>9}{'errors':>8}  survived")
        for s in st["servers"]:
            for lv in s["levels"]:
                print(f"{s['server']:<26}{lv['clients']:>8}{lv['requests']:>10}"
                      f"{lv['throughput_rps']:>9}{lv['p50_ms']:>9}{lv['p95_ms']:>9}"
                      f"{lv['p99_ms']:>9}{lv['errors']:>8}  {s['survived']}")
    t = result["targets"]
    print(f"\nat 50 clients on the base store: waitress/wsgiref throughput "
          f"{t['throughput_ratio_at_50_base']}x (target >= 3); p95 {w50['p95_ms']} ms "
          f"(target <= 1000); no errors and no crash (both stores): {t['no_errors_no_crash_at_50']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
