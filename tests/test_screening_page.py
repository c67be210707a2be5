"""The screening session and page (``ici-atlas lit screen --web``), on real records.

The library of the CommonPages PubMed export (1,133 records; 35 pass the rule-based
pre-screening, see test_review_workflow) is screened through the session API, the WSGI app,
a real server process killed with SIGKILL, and headless Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conftest import skip_or_fail
from web_store import web_db  # noqa: F401  (session fixture)
from ici_atlas.cli import cli
from ici_atlas.errors import InputError
from ici_atlas.review.decisions import latest_decisions
from ici_atlas.review.session import ScreeningSession, highlight, _term_pattern
from ici_atlas.review.stopping import labels_in_decision_order, screening_stop_status
from ici_atlas.store import db
from ici_atlas.web.screening_app import ScreeningApp

REPO = Path(__file__).resolve().parent.parent
POOL = 35  # records passing the pre-screening rules (test_review_workflow)


@pytest.fixture(scope="module")
def library(shared_data, tmp_path_factory) -> Path:
    """A store holding the imported, pre-screened CommonPages records (built once)."""
    path = tmp_path_factory.mktemp("screen") / "library.duckdb"
    records = shared_data / "pubmed/CommonPages__common-pages/commonpages_pubmed_abstracts.csv"
    for args in (["lit", "import", str(records)], ["lit", "prescreen"]):
        result = CliRunner().invoke(cli, [*args, "--db", str(path)])
        assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def store(library, tmp_path) -> Path:
    copy = tmp_path / "screen.duckdb"
    shutil.copy(library, copy)
    return copy


def human_log(where) -> list[tuple]:
    """The title-abstract log of a store (a path) or of an open connection."""
    con = db.connect(where, read_only=True) if isinstance(where, Path) else where
    try:
        return con.execute("SELECT record_id, decision, coalesce(reason, ''), reviewer FROM lit_decisions "
                           "WHERE stage = 'title-abstract' ORDER BY seq").fetchall()
    finally:
        if con is not where:
            con.close()


# -- the session ---------------------------------------------------------------------------

def test_each_decision_is_in_the_store_before_the_next_record(store):
    con = db.connect(store)
    session = ScreeningSession(con, "tester")
    first = session.view()
    assert first.record is not None and first.rank == 1 and first.progress.pool == POOL
    after = session.decide(first.record.record_id, "include", "phase 2, monotherapy")
    # the decision is committed: a second connection-free read of the log sees it
    assert latest_decisions(con, "title-abstract")[first.record.record_id] == ("include", "phase 2, monotherapy")
    assert after.record.record_id != first.record.record_id
    assert after.progress.included == 1 and after.progress.left == POOL - 1
    assert after.last["record_id"] == first.record.record_id and after.last["decision"] == "include"
    con.close()


def test_undo_withdraws_the_latest_decision_and_shows_its_record_again(store):
    con = db.connect(store)
    session = ScreeningSession(con, "tester")
    a = session.view().record.record_id
    b = session.decide(a, "include", "").record.record_id
    session.decide(b, "exclude", "combination arm only")
    view = session.undo()
    assert view.record.record_id == b and view.rank is None  # pinned, not ranked
    assert view.previous_note == "combination arm only"  # the note comes back with it
    assert view.progress.excluded == 0 and view.progress.included == 1
    assert view.last["record_id"] == a  # the next undo would withdraw the inclusion
    log = [(r[0], r[1]) for r in human_log(con)]
    assert log[-3:] == [(a, "include"), (b, "exclude"), (b, "undone")]  # append-only
    # a new session (server restarted) sees the same state and can undo further
    again = ScreeningSession(con, "tester")
    assert again.progress().included == 1 and again.progress().excluded == 0
    assert again.undo().record.record_id == a
    with pytest.raises(InputError, match="Nothing to undo"):
        ScreeningSession(con, "someone else").undo()
    con.close()


def test_skipped_records_come_back_only_at_the_end(store):
    con = db.connect(store)
    session = ScreeningSession(con, "tester")
    skipped = session.view().record.record_id
    view = session.decide(skipped, "skip")
    seen = set()
    while view.record is not None and view.record.record_id != skipped:
        seen.add(view.record.record_id)
        view = session.decide(view.record.record_id, "exclude")
    assert len(seen) == POOL - 1 and view.skipped_before
    view = session.decide(skipped, "include")
    assert view.record is None and view.progress.left == 0 and view.progress.decided == POOL
    con.close()


def test_bad_decisions_are_refused_and_nothing_is_written(store):
    con = db.connect(store)
    session = ScreeningSession(con, "tester")
    before = len(human_log(con))
    with pytest.raises(InputError, match="Invalid decision 'maybe'"):
        session.decide(session.view().record.record_id, "maybe")
    with pytest.raises(InputError, match="not in the title-abstract screening pool"):
        session.decide("pmid:0", "include")
    with pytest.raises(InputError, match="not-retrieved"):
        session.decide(session.view().record.record_id, "not-retrieved")  # full-text only
    assert len(human_log(con)) == before
    con.close()


def test_stopping_status_follows_the_decisions_in_force(store):
    con = db.connect(store)
    session = ScreeningSession(con, "tester")
    for decision in ("include", "exclude", "exclude"):
        session.decide(session.view().record.record_id, decision)
    session.undo()
    mine = session.stopping()
    stored = screening_stop_status(con)  # the CLI's reading of the same log
    assert (mine.screened, mine.found, mine.total) == (stored.screened, stored.found, stored.total) == (2, 1, POOL)
    assert mine.p_value == stored.p_value
    con.close()


def test_labels_in_decision_order_uses_the_decision_in_force():
    log = [("a", "include"), ("b", "exclude"), ("a", "undone"), ("c", "skip"), ("c", "include"),
           ("a", "exclude"), ("b", "include")]
    # b keeps its first place (re-decided, never withdrawn) with its latest label;
    # a was withdrawn, so it counts from its new decision; c counts once included
    assert labels_in_decision_order(log) == [1, 1, 0]


def test_highlighting_marks_terms_without_overlap():
    marks = highlight("Pembrolizumab monotherapy in mice: a phase 2 trial review",
                      _term_pattern(["pembrolizumab", "phase 2", "trial"]),
                      _term_pattern(["mice", "review", "trial review"]))
    kinds = [(h.text, h.kind) for h in marks if h.kind]
    assert kinds == [("Pembrolizumab", "include"), ("mice", "exclude"), ("phase 2", "include"),
                     ("trial", "include"), ("review", "exclude")]
    assert "".join(h.text for h in marks) == "Pembrolizumab monotherapy in mice: a phase 2 trial review"


def test_agent_names_are_highlighted_for_inclusion(store):
    con = db.connect(store)
    session = ScreeningSession(con, "tester", include_terms=[], exclude_terms=[])
    for _ in range(POOL):
        view = session.view()
        named = [h.text.lower() for h in view.title_marks + view.abstract_marks if h.kind == "include"]
        if any(n in ("pembrolizumab", "nivolumab", "atezolizumab", "durvalumab") for n in named):
            break
        session.decide(view.record.record_id, "exclude")
    else:
        pytest.fail("no record of the pool has an agent name highlighted")
    con.close()


def test_duplicates_merged_into_the_record_are_listed(shared_data, tmp_path):
    """Donners_2021 and Meijboom_2021 share records (test_review_workflow); the canonical
    record shows what was merged into it."""
    path = tmp_path / "dups.duckdb"
    synergy = shared_data / "pubmed/asreview__synergy-dataset"
    con = db.connect(path)
    from ici_atlas.review.library import deduplicate, import_files

    import_files(con, [synergy / "Donners_2021/Donners_2021_records.csv",
                       synergy / "Meijboom_2021/Meijboom_2021_records.csv"])
    deduplicate(con)
    canonical, merged, rule = con.execute(
        "SELECT canonical_id, record_id, rule FROM lit_duplicates ORDER BY 1 LIMIT 1").fetchone()
    session = ScreeningSession(con, "tester")
    found = session.duplicates_of(canonical)
    assert (merged, rule) in [(d.record_id, d.rule) for d in found]
    assert all(d.title and d.origin for d in found)
    con.close()


# -- the app ---------------------------------------------------------------------------------

def call(app, method="GET", path="/", body=b"", headers=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_HOST": "127.0.0.1:8766",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": __import__("io").BytesIO(body)}
    environ.update(headers or {})
    out = {}

    def start(status, hdrs, exc_info=None):
        out["status"], out["headers"] = status, dict(hdrs)

    out["body"] = b"".join(app(environ, start))
    return out


def test_app_refuses_foreign_hosts_origins_and_missing_tokens(store):
    from urllib.parse import urlencode

    con = db.connect(store)
    app = ScreeningApp(ScreeningSession(con, "tester"), token="secret")
    record = app.session.view().record.record_id
    form = urlencode({"token": "secret", "record_id": record, "decision": "include"}).encode()
    assert call(app, headers={"HTTP_HOST": "evil.example"})["status"].startswith("400")
    assert call(app, "POST", "/decide", urlencode({"record_id": record, "decision": "include"}).encode())[
        "status"].startswith("403")
    assert call(app, "POST", "/decide", form, {"HTTP_ORIGIN": "https://evil.example"})["status"].startswith("403")
    assert call(app, "GET", "/decide")["status"].startswith("405")
    assert call(app, "GET", "/nowhere")["status"].startswith("404")
    assert len([r for r in human_log(con) if r[3] == "tester"]) == 0  # nothing was written
    bad = call(app, "POST", "/decide", urlencode({"token": "secret", "record_id": record,
                                                   "decision": "maybe"}).encode())
    assert bad["status"].startswith("400") and b"Invalid decision" in bad["body"]
    ok = call(app, "POST", "/decide", form, {"HTTP_ORIGIN": "http://127.0.0.1:8766"})
    assert ok["status"].startswith("303") and ok["headers"]["Location"] == "/"
    assert [r[:2] for r in human_log(con) if r[3] == "tester"] == [(record, "include")]
    page = call(app)
    assert page["status"].startswith("200") and b'name="token" value="secret"' in page["body"]
    assert "script-src 'self'" in page["headers"]["Content-Security-Policy"]
    state = call(app, "GET", "/state.json")
    assert b'"included": 1' in state["body"] or b'"included":1' in state["body"]
    con.close()


def test_record_text_is_escaped_on_the_page(store):
    con = db.connect(store)
    record = ScreeningSession(con, "tester").view().record.record_id
    con.execute("UPDATE lit_imported SET title = '<script>alert(1)</script> PD-1 trial' WHERE record_id = ?",
                [record])
    app = ScreeningApp(ScreeningSession(con, "tester"), token="t")
    body = call(app)["body"].decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    con.close()


# -- the server, killed ----------------------------------------------------------------------

def start_server(store: Path):
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ici_atlas.cli import main; main()", "lit", "screen", "--web", "--port", "0",
         "--reviewer", "tester", "--db", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
    return proc, url


def test_killing_the_server_loses_no_decision(store):
    proc, url = start_server(store)
    decided = []
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            for decision in ("include", "exclude", "include", "skip"):
                page = client.get("/").text
                token = re.search(r'name="token" value="([^"]+)"', page).group(1)
                record = re.search(r'name="record_id" value="([^"]+)"', page).group(1)
                answer = client.post("/decide", data={"token": token, "record_id": record,
                                                      "decision": decision, "note": f"note {len(decided)}"})
                assert answer.status_code == 303
                decided.append((record, decision, f"note {len(decided)}"))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert [r[:3] for r in human_log(store) if r[3] == "tester"] == decided
    # and a new server resumes after them
    proc, url = start_server(store)
    try:
        page = httpx.get(url, timeout=30).text
        shown = re.search(r'name="record_id" value="([^"]+)"', page).group(1)
        assert shown not in {r for r, d, _ in decided if d != "skip"}
        assert "3 of 35 decided" in re.sub(r"\s+", " ", page)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_web_refuses_a_non_loopback_host(store):
    from ici_atlas.web.screening_app import make_screening_server

    con = db.connect(store)
    with pytest.raises(InputError, match="served on this machine only"):
        make_screening_server(ScreeningSession(con, "tester"), host="0.0.0.0", port=0)
    con.close()


# -- in a browser ----------------------------------------------------------------------------

CHROMIUM = os.environ.get("ICI_ATLAS_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.browser
def test_screening_with_the_keyboard_in_chromium(store):
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail(f"{CHROMIUM} not found; install Debian's chromium (scripts/setup.sh does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed; pip install -e '.[test]'")
    proc, url = start_server(store)
    errors, foreign = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM)
                                        else shutil.which("chromium"),
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith(url) else foreign.append(r.url))
            page.goto(url)

            def shown() -> str:
                return page.get_attribute("#record", "data-record-id")

            assert "0 of 35 decided" in page.inner_text("#progress")
            assert page.locator("#stopping").inner_text().startswith("Stopping rule: keep screening")
            assert page.locator("#title").inner_text() and page.locator("#journal").inner_text()
            assert page.locator("mark.include").count() > 0  # PD-1 terms / agent names
            first = shown()
            with page.expect_navigation():
                page.keyboard.press("i")
            second = shown()
            assert second != first and "1 of 35 decided" in page.inner_text("#progress")
            page.keyboard.press("n")  # write a note, leave the field, exclude
            page.keyboard.type("single-arm, combination with chemotherapy")
            assert page.input_value("#note") == "single-arm, combination with chemotherapy"
            page.keyboard.press("Escape")
            with page.expect_navigation():
                page.keyboard.press("e")
            assert "2 of 35 decided" in page.inner_text("#progress")
            assert "exclude" in page.inner_text("#last")
            with page.expect_navigation():
                page.keyboard.press("u")  # undo: the excluded record comes back with its note
            assert shown() == second and "1 of 35 decided" in page.inner_text("#progress")
            assert page.input_value("#note") == "single-arm, combination with chemotherapy"
            with page.expect_navigation():
                page.keyboard.press("s")
            assert shown() != second
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert errors == [] and foreign == []
    log = [r[:3] for r in human_log(store) if r[3] == "tester"]
    assert log == [(first, "include", ""), (second, "exclude", "single-arm, combination with chemotherapy"),
                   (second, "undone", "undo of exclude"), (second, "skip",
                                                           "single-arm, combination with chemotherapy")]


# -- the same through the API, the CLI, the report and the dashboard -------------------------

def test_api_screening_progress_and_session(store):
    from ici_atlas import Atlas

    atlas = Atlas(store)
    with atlas.screening("tester") as s:
        first = s.view().record.record_id
        s.decide(first, "include", "eligible")
        s.decide(s.view().record.record_id, "exclude")
    progress = atlas.screening_progress()
    ta = progress.set_index("stage").loc["title-abstract"]
    assert list(progress["stage"]) == ["title-abstract", "full-text"]
    assert (ta["pool"], ta["included"], ta["excluded"], ta["undecided"]) == (POOL, 1, 1, POOL - 2)
    assert str(progress["pool"].dtype) == "Int64" and str(progress["should_stop"].dtype) == "boolean"
    assert ta["should_stop"] is False or not ta["should_stop"]
    assert 0 < ta["p_value"] <= 1 and ta["max_missed"] <= POOL - 2
    # the full-text pool is what was included at title/abstract
    assert progress.set_index("stage").loc["full-text", "pool"] == 1


def test_cli_status_and_report_and_dashboard_show_the_stopping_rule(store, tmp_path):
    import json

    con = db.connect(store)
    s = ScreeningSession(con, "tester")
    s.decide(s.view().record.record_id, "include")
    con.close()
    result = CliRunner().invoke(cli, ["lit", "status", "--format", "json", "--db", str(store)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["stage"] == "title-abstract" and rows[0]["included"] == 1
    assert rows[0]["rule"].startswith("hypergeometric")
    assert "keep screening" in result.stderr
    con = db.connect(store, read_only=True)
    from ici_atlas.report.sections import build_literature

    sec = build_literature(con)
    assert any("Stopping rule" in p and "1 of 35 records decided" in p.replace(",", "")
               for p in sec.paragraphs)
    assert "screening_progress" in [t.name for t in sec.tables]
    con.close()


def test_cli_status_without_a_library_says_what_to_do(tmp_path):
    path = tmp_path / "empty.duckdb"
    db.connect(path).close()
    result = CliRunner().invoke(cli, ["lit", "status", "--db", str(path)])
    assert result.exit_code != 0 and "no literature library" in result.output
    assert "Traceback" not in result.output


def test_screening_simulation_on_a_data_frame_matches_the_csv(shared_data):
    import pandas as pd

    from ici_atlas import screening_simulation

    path = shared_data / "pubmed/asreview__synergy-dataset/Donners_2021/Donners_2021_records.csv"
    from_csv = screening_simulation(path, seeds=[3])
    frame = pd.read_csv(path)
    from_frame = screening_simulation(frame, seeds=[3])
    assert from_csv.drop(columns="seconds_per_decision").equals(from_frame.drop(columns="seconds_per_decision"))
    row = from_csv.iloc[0]
    assert row["n_records"] == len(frame) and row["n_included"] == int(frame["label_included"].sum())
    assert 0 < row["wss95"] < 1 and row["stop_screened"] <= row["n_records"]
    bad = frame.assign(label_included=frame["label_included"].astype(object))
    bad.loc[5, "label_included"] = "yes"
    with pytest.raises(InputError, match="Row 5: label_included 'yes' is not 0 or 1"):
        screening_simulation(bad)


def test_dashboard_overview_shows_the_screening(web_db, shared_data, tmp_path):
    """The read-only dashboard shows how far screening has come (a store with trials and a
    literature library)."""
    from web_store import get  # noqa: F401  (helper)

    from ici_atlas.review.library import import_files
    from ici_atlas.web.server import start_in_thread

    path = tmp_path / "both.duckdb"
    shutil.copy(web_db, path)
    con = db.connect(path)
    import_files(con, [shared_data / "pubmed/CommonPages__common-pages/commonpages_pubmed_abstracts.csv"])
    from ici_atlas.review.screening import prescreen_library

    prescreen_library(con)
    s = ScreeningSession(con, "tester")
    s.decide(s.view().record.record_id, "include")
    con.close()
    url, stop = start_in_thread(path)
    try:
        data = get(url, "/index.json").json()["screening"]
        assert data["stages"][0]["stage"] == "title-abstract" and data["stages"][0]["included"] == 1
        assert "keep screening" in data["summary"]
        html = get(url, "/").text
        assert 'id="screening-table"' in html and "lit screen --web" in html
    finally:
        stop()


def test_screening_an_empty_library_is_one_line_with_the_fix(tmp_path):
    path = tmp_path / "empty.duckdb"
    db.connect(path).close()
    result = CliRunner().invoke(cli, ["lit", "screen", "--web", "--reviewer", "tester", "--db", str(path)])
    assert result.exit_code != 0 and "No records to screen at the title-abstract stage" in result.output
    assert "lit import" in result.output and "Traceback" not in result.output


def test_several_clients_at_once_lose_no_decision(store):
    """Four browser tabs deciding at the same time: every posted decision is in the log,
    none answered with an error (the session serialises them)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from ici_atlas.web.screening_app import make_screening_server

    con = db.connect(store)
    server, app, url = make_screening_server(ScreeningSession(con, "tester"), port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def client(_):
        statuses = []
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(5):
                record = app.session.view().record.record_id
                answer = c.post("/decide", data={"token": app.token, "record_id": record,
                                                 "decision": "exclude"})
                statuses.append(answer.status_code)
        return statuses

    try:
        with ThreadPoolExecutor(4) as pool:
            statuses = [s for r in pool.map(client, range(4)) for s in r]
    finally:
        server.close()
        thread.join(timeout=10)
    assert statuses == [303] * 20
    assert len([r for r in human_log(con) if r[3] == "tester"]) == 20
    con.close()
