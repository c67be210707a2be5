"""``ici-atlas fetch / runs / quarantine`` as a user runs them: output, exit codes, resume."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time

import duckdb
from click.testing import CliRunner

from ici_atlas.cli import cli
from test_ctgov_api import TERMS, expected_ids, server, studies  # noqa: F401
from ici_atlas.sources.ctgov_query import build_queries

TERM_ARG = ",".join(TERMS)
FAST = ["--max-rate", "1000", "--backoff", "0.01"]


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_fetch_from_api_then_runs(server, db_path):
    res = run("fetch", "--db", str(db_path), "--api-url", server.url, "--terms", TERM_ARG,
              "--page-size", "40", *FAST, "--json")
    assert res.exit_code == 0, res.output
    want = len(expected_ids(server, build_queries(TERMS, server.url)[0]))
    rows = json.loads(res.stdout)
    assert rows[0]["reported"] == rows[0]["received"] == want
    assert rows[-1] == {"chunk": "union", "reported": None, "received": want, "quarantined": 0}
    assert f"run 1 ok: reported {want:,}, stored {want:,}" in res.stderr

    runs = json.loads(run("runs", "--db", str(db_path), "--json").stdout)
    assert runs[0]["status"] == "ok" and runs[0]["reported_total"] == runs[0]["stored_total"]
    assert runs[0]["query"].startswith('"pembrolizumab" OR "nivolumab"')
    assert runs[0]["params"]["page_size"] == 40 and runs[0]["tool_version"].startswith("ici-atlas")
    table = run("runs", "--db", str(db_path)).stdout
    assert table.splitlines()[0].split()[:3] == ["run_id", "kind", "status"]


def test_env_var_sets_the_api_url(server, db_path):
    res = run("fetch", "--db", str(db_path), "--terms", "nivolumab", *FAST, "--dry-run",
              env={"ICI_ATLAS_CTGOV_API": server.url})
    assert res.exit_code == 0 and server.url in res.stdout


def test_dry_run_prints_the_urls_without_touching_the_network(server, tmp_path):
    db_file = tmp_path / "never.duckdb"
    res = run("fetch", "--db", str(db_file), "--api-url", server.url, "--terms", TERM_ARG,
              *FAST, "--dry-run", "--format", "csv")
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader(io.StringIO(res.stdout)))
    assert "query.intr=%22pembrolizumab%22" in row["url"] and row["url"].startswith(server.url)
    assert server.study_requests() == []  # no request at all
    assert "nothing downloaded" in res.stderr and not db_file.exists()
    # an unreachable host does not matter to a dry run
    res = run("fetch", "--db", str(db_file), "--api-url", "http://no-such-host.invalid/api/v2",
              "--dry-run")
    assert res.exit_code == 0 and "no-such-host.invalid" in res.stderr


def test_count_asks_the_registry_and_downloads_nothing(server, tmp_path):
    db_file = tmp_path / "never.duckdb"
    res = run("fetch", "--db", str(db_file), "--api-url", server.url, "--terms", TERM_ARG,
              *FAST, "--count", "--format", "csv")
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader(io.StringIO(res.stdout)))
    want = len(expected_ids(server, build_queries(TERMS, server.url)[0]))
    assert int(row["count"]) == want and "query.intr=%22pembrolizumab%22" in row["url"]
    assert [p["pageSize"] for p in server.study_requests()] == ["1"]
    assert "nothing downloaded" in res.stderr and not db_file.exists()


def test_count_gap_exits_4_with_one_line(server, db_path):
    server.add_fault("drop", page=0, times=None)
    res = run("fetch", "--db", str(db_path), "--api-url", server.url, "--terms", TERM_ARG,
              "--page-size", "20", *FAST)
    assert res.exit_code == 4
    err = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(err) == 1 and "reported" in err[0] and "stored" in err[0] and "missing 10" in err[0]
    assert "Traceback" not in res.output


def test_persistent_server_error_exits_3(server, db_path):
    server.add_fault("503", page=0, times=None)
    res = run("fetch", "--db", str(db_path), "--api-url", server.url, "--terms", TERM_ARG,
              *FAST, "--retries", "1")
    assert res.exit_code == 3
    assert "page 0 failed after 2 attempts: HTTP 503" in res.stderr
    assert "Fix: Run the same command again" in res.stderr


def test_update_without_a_first_run_exits_2(server, db_path):
    res = run("fetch", "--db", str(db_path), "--api-url", server.url, "--terms", TERM_ARG,
              *FAST, "--update")
    assert res.exit_code == 2 and "No successful earlier fetch" in res.stderr


def test_fetch_from_files_and_quarantine(ctgov_data, db_path):
    res = run("fetch", "--db", str(db_path), "--from",
              str(ctgov_data / "partrita__clinicaltrial-watch-tigit"), "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert row["stored"] + row["quarantined"] + row["duplicates"] == row["found"]
    assert row["quarantined"] == 1 and "skipped" in res.stderr
    out = run("quarantine", "--db", str(db_path), "--csv").stdout
    (q,) = list(csv.DictReader(io.StringIO(out)))
    assert q["record_ref"].endswith("evil_latest.json") and q["field"] == "protocolSection"


def test_missing_input_and_missing_store(tmp_path):
    res = run("fetch", "--db", str(tmp_path / "x.duckdb"), "--from", str(tmp_path / "nope"))
    assert res.exit_code == 2 and res.stderr.startswith("Error: No such file")
    res = run("runs", "--db", str(tmp_path / "absent.duckdb"))
    assert res.exit_code != 0 and "No ici-atlas database" in res.stderr


def test_help_ends_with_examples():
    for command in ("fetch", "runs", "quarantine"):
        text = run(command, "--help").stdout
        assert "ici-atlas " + command in text.split("Example")[-1]


_DOWNLOADER = """
import sys
from ici_atlas.store import db
from ici_atlas.store.ingest import load_from_api
from ici_atlas.sources.ctgov_api import CtgovClient
from ici_atlas.sources.ctgov_query import build_queries
db_path, url, terms = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
client = CtgovClient(url, max_rate=8)
with db.connect(db_path) as con:
    load_from_api(con, client, build_queries(terms, url, page_size=5), page_size=5)
"""


def test_killed_process_resumes_on_rerun(server, db_path):
    """SIGKILL a download mid-way, run `ici-atlas fetch` again: it resumes, nothing lost or
    doubled. (The killed process runs the library directly: importing the whole CLI in a
    fresh interpreter takes seconds.)"""
    want = len(expected_ids(server, build_queries(TERMS, server.url)[0]))
    proc = subprocess.Popen(
        [sys.executable, "-c", _DOWNLOADER, str(db_path), server.url, TERM_ARG],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(server.study_requests()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_after = len(server.study_requests())
    assert 6 <= killed_after < -(-want // 5)  # killed part-way through the pages
    res = run("fetch", "--db", str(db_path), "--api-url", server.url, "--terms", TERM_ARG,
              "--page-size", "5", *FAST)
    assert res.exit_code == 0, res.output
    assert "resumed from run 1" in res.stderr
    con = duckdb.connect(str(db_path), read_only=True)
    runs = con.execute("SELECT run_id, status, resumed_from, stored_total, reported_total "
                       "FROM runs ORDER BY run_id").fetchall()
    n, distinct = con.execute("SELECT count(*), count(DISTINCT nct_id) FROM raw_studies").fetchone()
    con.close()
    assert runs[0][1] == "interrupted" and runs[1][1:] == ("ok", 1, want, want)
    assert n == distinct == want
    # Only pages not committed before the kill were requested (at most one was in flight).
    assert len(server.study_requests()) - killed_after <= -(-want // 5) - killed_after + 1
