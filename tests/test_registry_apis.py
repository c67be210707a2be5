"""The CTIS and ISRCTN API clients (``ici-atlas fetch --registry ctis|isrctn``) against a
local replay of the real shared records (tests/registry_replay.py): full fetch equal to a
file load of the same records, paging, retries, count reconciliation, resume, quarantine,
dry run."""

from __future__ import annotations

import dataclasses
import json
import math

import duckdb
import pytest
from click.testing import CliRunner

from conftest import skip_or_fail
from registry_replay import RegistryReplay, read_shared_records
from ici_atlas import Atlas
from ici_atlas.cli import cli
from ici_atlas.errors import SourceError
from ici_atlas.sources.ctis_api import CtisClient, ctis_words, merge_record
from ici_atlas.sources.http import RetryPolicy
from ici_atlas.sources.isrctn_api import IsrctnClient, parse_page, trial_record
from ici_atlas.store.db import open_store
from ici_atlas.store.registrations import query_registrations
from ici_atlas.store.registry_fetch import fetch_registry, plan_registry_fetch

FAST = ["--max-rate", "1000", "--backoff", "0.01"]
N = {"ctis": 8, "isrctn": 10}  # the shared records (PROVENANCE.md): 8 CTIS, 10 ISRCTN


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def records(shared_data):
    decoded = shared_data / "registries" / "rfhb+ctrdata" / "decoded"
    if not decoded.is_dir():
        skip_or_fail(f"{decoded} not found (shared registry records)")
    ctis, isrctn = read_shared_records(decoded)
    if len(ctis) != N["ctis"] or len(isrctn) != N["isrctn"]:
        skip_or_fail(f"expected 8 CTIS and 10 ISRCTN records in {decoded}, found "
                     f"{len(ctis)} and {len(isrctn)}")
    return ctis, isrctn


@pytest.fixture()
def replay(records):
    with RegistryReplay(*records) as server:
        yield server


def _url(server, registry: str) -> str:
    return server.ctis_url if registry == "ctis" else server.isrctn_url


def _fields(reg) -> dict:
    """What a registration says, without where it was read from."""
    data = dataclasses.asdict(reg)
    for key in ("ref", "source_format", "raw"):
        data.pop(key)
    return data


def _stored(db) -> dict:
    with open_store(db, read_only=True) as con:
        return {r.display_id: r for r in query_registrations(con)}


def _studies(db) -> dict:
    from ici_atlas.store.registrations import registration_study

    with open_store(db, read_only=True) as con:
        return {d: registration_study(b) for d, b in con.execute(
            "SELECT display_id, study_zstd FROM registrations").fetchall()}


@pytest.fixture(scope="module")
def from_files(records, tmp_path_factory):
    """The same records loaded with ``ici-atlas fetch --from`` (a ctrdata JSON file)."""
    ctis, isrctn = records
    root = tmp_path_factory.mktemp("files")
    (root / "records").mkdir()
    (root / "records" / "served.json").write_text(json.dumps({**ctis, **isrctn}))
    db = root / "files.duckdb"
    res = run("fetch", "--db", str(db), "--from", str(root / "records"))
    assert res.exit_code == 0, res.output
    return _stored(db), _studies(db)


def _client(registry: str, server, waits: list, retries: int = 5):
    cls = CtisClient if registry == "ctis" else IsrctnClient
    # the retry waits are recorded (on_retry), not slept
    return cls(_url(server, registry), max_rate=1000, sleep=lambda s: None,
               on_retry=lambda msg, wait: waits.append(wait),
               retry=RetryPolicy(max_retries=retries, backoff=0.01))


def _fetch(db, registry, server, waits=None, page_size=3, retries=5, restart=False,
           on_page=None, terms="trial"):
    plan = plan_registry_fetch(registry, terms=terms, page_size=page_size,
                               api_url=_url(server, registry))
    with open_store(db) as con:
        return fetch_registry(con, _client(registry, server, waits if waits is not None else [],
                                           retries),
                              plan.queries, page_size=page_size, restart=restart,
                              on_page=on_page, show_progress=False)


def _assert_same_as_files(db, registry, from_files):
    files, studies = from_files
    got = _stored(db)
    want = {k: v for k, v in files.items() if v.registry == registry.upper()}
    assert sorted(got) == sorted(want)
    for key, reg in got.items():
        assert _fields(reg) == _fields(want[key]), key
        assert reg.source_format == f"{registry}-api"
    got_studies = _studies(db)
    assert {k: got_studies[k] for k in got} == {k: studies[k] for k in got}


# --- a full fetch ------------------------------------------------------------------------------

@pytest.mark.parametrize("registry,page_size", [("ctis", 3), ("ctis", 1), ("isrctn", 4),
                                                ("isrctn", 1000)])
def test_full_fetch_stores_what_a_file_load_stores(registry, page_size, replay, from_files,
                                                   db_path):
    res = run("fetch", "--registry", registry, "--db", str(db_path), "--api-url",
              _url(replay, registry), "--terms", "trial", "--page-size", str(page_size),
              *FAST, "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    n = N[registry]
    assert rows[0]["reported"] == rows[0]["received"] == n
    assert rows[-1] == {"chunk": "union", "reported": None, "received": n, "quarantined": 0}
    assert f"run 1 ok: reported {n}, stored {n} (new {n}," in res.stderr
    _assert_same_as_files(db_path, registry, from_files)
    # paged to the end, each page asked once
    pages = math.ceil(n / page_size)
    endpoint = "search" if registry == "ctis" else "query"
    assert [r[1] for r in replay.logged(endpoint)] == list(range(pages))
    if registry == "ctis":  # each listed trial retrieved once, and merged with its overview
        assert sorted(r[1] for r in replay.logged("retrieve")) == sorted(replay.ctis)
        assert replay.logged("search")[0][2]["searchCriteria"] == {"containAny": "trial"}
    else:
        assert replay.logged("query")[0][2]["q"] == '"trial"'
    runs = json.loads(run("runs", "--db", str(db_path), "--json").stdout)
    assert runs[0]["kind"] == "fetch-registry" and runs[0]["status"] == "ok"
    assert runs[0]["reported_total"] == runs[0]["stored_total"] == n
    assert runs[0]["params"]["registry"] == registry.upper()
    # again: nothing changes, everything counted unchanged
    res = run("fetch", "--registry", registry, "--db", str(db_path), "--api-url",
              _url(replay, registry), "--terms", "trial", "--page-size", str(page_size), *FAST)
    assert res.exit_code == 0 and f"unchanged {n})" in res.stderr


def test_a_narrow_search_and_the_api_entry_point(replay, db_path):
    atlas = Atlas(db_path)
    plan = atlas.fetch_plan(registry="ctis", terms="nivolumab", api_url=replay.ctis_url)
    assert list(plan.columns) == ["chunk", "query", "request"] and replay.requests == []
    result = atlas.fetch(registry="ctis", terms="nivolumab", api_url=replay.ctis_url,
                         max_rate=1000, backoff=0.01)
    assert result.status == "ok" and result.reported_total == result.stored_total == 1
    assert list(_stored(db_path)) == ["CTIS2022-500676-59-00"]  # NPC-Nivo (PROVENANCE.md)
    counts = atlas.fetch_counts(registry="isrctn", terms="trial", api_url=replay.isrctn_url)
    assert counts["count"].tolist() == [10]
    assert replay.logged("query")[-1][2]["limit"] == "0"
    with pytest.raises(Exception, match="ClinicalTrials.gov only"):
        atlas.fetch(registry="isrctn", update=True, api_url=replay.isrctn_url)


# --- transient faults ---------------------------------------------------------------------------

def test_ctis_faults_are_retried_and_the_result_is_identical(replay, from_files, db_path):
    replay.add_fault("429", "search", 0, retry_after="7")
    replay.add_fault("503", "search", 1)
    replay.add_fault("truncated", "search", 2)
    replay.add_fault("invalid", "search", 1)
    replay.add_fault("short", "search", 0)
    replay.add_fault("503", "retrieve", "2022-500676-59-00")
    replay.add_fault("truncated", "retrieve", "2023-505613-24-00")
    replay.add_fault("reset", "retrieve", "2024-510663-34-00")
    waits: list[float] = []
    result = _fetch(db_path, "ctis", replay, waits)
    assert result.status == "ok" and result.reported_total == result.stored_total == 8
    assert 7.0 in waits  # Retry-After honoured
    assert len(waits) == 8  # one retry per injected fault
    _assert_same_as_files(db_path, "ctis", from_files)
    assert sorted(r[1] for r in replay.logged("search")) == [0, 0, 0, 1, 1, 1, 2, 2]


def test_isrctn_faults_are_retried_and_the_result_is_identical(replay, from_files, db_path):
    replay.add_fault("429", "query", 1, retry_after="7")
    replay.add_fault("503", "query", 0)
    replay.add_fault("truncated", "query", 2)
    replay.add_fault("invalid", "query", 2)
    replay.add_fault("reset", "query", 1)
    replay.add_fault("short", "query", 0)
    waits: list[float] = []
    result = _fetch(db_path, "isrctn", replay, waits)
    assert result.status == "ok" and result.reported_total == result.stored_total == 10
    assert 7.0 in waits and len(waits) == 6
    _assert_same_as_files(db_path, "isrctn", from_files)


def test_a_page_that_stays_bad_fails_the_run_naming_the_page(replay, db_path):
    replay.add_fault("truncated", "search", 1, times=None)
    with pytest.raises(SourceError, match=r"CTIS page 1 failed after 3 attempts: invalid JSON"):
        _fetch(db_path, "ctis", replay, retries=2)
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT status FROM runs").fetchone()[0] == "failed"


# --- count reconciliation -----------------------------------------------------------------------

@pytest.mark.parametrize("registry", ["ctis", "isrctn"])
def test_a_registry_reporting_more_than_it_delivers_is_not_ok(registry, replay, db_path):
    replay.extra_total = 3
    n = N[registry]
    res = run("fetch", "--registry", registry, "--db", str(db_path), "--api-url",
              _url(replay, registry), "--terms", "trial", "--page-size", "3", *FAST,
              "--retries", "1")
    assert res.exit_code == 4, res.output
    assert (f"{registry.upper()} reported {n + 3} trials, received {n}, stored {n}, "
            f"quarantined 0") in res.stderr
    assert "missing 3" in res.stderr and "reported more than it delivered" in res.stderr
    runs = json.loads(run("runs", "--db", str(db_path), "--json").stdout)
    assert runs[0]["status"] == "incomplete"
    assert (runs[0]["reported_total"], runs[0]["stored_total"]) == (n + 3, n)
    assert len(_stored(db_path)) == n  # what did arrive is kept


def test_a_server_that_ignores_the_offset_is_caught(replay, db_path):
    replay.ignore_offset = True
    with pytest.raises(SourceError, match="ignore the paging parameter"):
        _fetch(db_path, "isrctn", replay)


# --- resume ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("registry", ["ctis", "isrctn"])
def test_a_server_that_dies_then_comes_back_resumes_without_double_counting(
        registry, replay, from_files, db_path):
    endpoint = "search" if registry == "ctis" else "query"
    replay.add_fault("503", endpoint, 2, times=None)  # down from page 2 on
    with pytest.raises(SourceError, match="HTTP 503"):
        _fetch(db_path, registry, replay, retries=1)
    assert len(_stored(db_path)) == 6  # pages 0 and 1 were committed
    replay.clear_faults()
    before = len(replay.logged(endpoint))
    result = _fetch(db_path, registry, replay)
    n = N[registry]
    assert result.status == "ok" and result.resumed_from == 1
    assert result.reported_total == result.stored_total == n
    assert result.counts.new == n and result.counts.unchanged == 0  # nothing twice
    assert [r[1] for r in replay.logged(endpoint)[before:]] == list(range(2, math.ceil(n / 3)))
    _assert_same_as_files(db_path, registry, from_files)
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT run_id, status FROM runs ORDER BY run_id").fetchall() == [
            (1, "failed"), (2, "ok")]


def test_an_interrupted_run_resumes_from_the_next_page(replay, from_files, db_path):
    def stop(chunk, page):
        if page == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fetch(db_path, "ctis", replay, on_page=stop)
    retrieved = len(replay.logged("retrieve"))
    assert retrieved == 6
    result = _fetch(db_path, "ctis", replay)
    assert result.resumed_from == 1 and result.counts.new == 8 and result.stored_total == 8
    assert len(replay.logged("retrieve")) == 8  # only the trials of the remaining page
    _assert_same_as_files(db_path, "ctis", from_files)
    # --restart starts over: everything again, unchanged
    result = _fetch(db_path, "ctis", replay, restart=True)
    assert result.resumed_from is None and result.counts.unchanged == 8


# --- quarantine -----------------------------------------------------------------------------------

@pytest.mark.parametrize("registry,field", [("ctis", "ctNumber"), ("isrctn", "isrctn")])
def test_a_malformed_record_is_quarantined_naming_the_field(registry, field, replay, db_path):
    replay.add_fault("bad_record", "search" if registry == "ctis" else "query", 0)
    n = N[registry]
    res = run("fetch", "--registry", registry, "--db", str(db_path), "--api-url",
              _url(replay, registry), "--terms", "trial", "--page-size", "3", *FAST)
    assert res.exit_code == 0, res.output
    assert f"reported {n}, stored {n - 1} (new {n - 1}," in res.stderr
    assert "quarantined 1" in res.stderr
    rows = json.loads(run("quarantine", "--db", str(db_path), "--json").stdout)
    assert [r["field"] for r in rows] == [field]
    reason = "not an EU CT number" if registry == "ctis" else "not an ISRCTN number"
    assert reason in rows[0]["reason"]
    assert len(_stored(db_path)) == n - 1


# --- dry run and count ----------------------------------------------------------------------------

def test_dry_run_prints_the_exact_requests_without_network(replay, tmp_path):
    db_file = tmp_path / "never.duckdb"
    res = run("fetch", "--registry", "ctis", "--db", str(db_file), "--api-url", replay.ctis_url,
              "--terms", "pembrolizumab,BI 754091,atezolizumab and hyaluronidase", "--dry-run",
              "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)[0]
    method, url, body = row["request"].split(" ", 2)
    assert (method, url) == ("POST", replay.ctis_url + "/search")
    assert json.loads(body) == {"pagination": {"page": 1, "size": 100},
                                "sort": {"property": "decisionDate", "direction": "DESC"},
                                "searchCriteria": {"containAny":
                                                   "pembrolizumab 754091 atezolizumab"}}
    res = run("fetch", "--registry", "isrctn", "--db", str(db_file), "--api-url",
              replay.isrctn_url, "--terms", "pembrolizumab,MK-3475", "--page-size", "50",
              "--dry-run")
    assert res.exit_code == 0 and ("GET " + replay.isrctn_url + "/query/format/default?q="
                                   "%22pembrolizumab%22+OR+%22MK-3475%22&limit=50") in res.stderr
    assert replay.requests == [] and not db_file.exists()
    res = run("fetch", "--registry", "isrctn", "--api-url", "http://no-such-host.invalid/api",
              "--db", str(db_file), "--dry-run")
    assert res.exit_code == 0 and "no-such-host.invalid" in res.stderr
    # the default query: every name of every PD-1/PD-L1 agent
    res = run("fetch", "--registry", "ctis", "--db", str(db_file), "--dry-run", "--json")
    words = json.loads(json.loads(res.stdout)[0]["request"].split(" ", 2)[2])[
        "searchCriteria"]["containAny"].split()
    assert {"pembrolizumab", "nivolumab", "MK-3475", "durvalumab"} <= set(words)
    assert "and" not in words and not db_file.exists()


def test_count_asks_once_and_downloads_nothing(replay, tmp_path):
    db_file = tmp_path / "never.duckdb"
    res = run("fetch", "--registry", "ctis", "--db", str(db_file), "--api-url", replay.ctis_url,
              "--terms", "trial", "--count", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["count"] == 8
    assert [r[2]["pagination"]["size"] for r in replay.logged("search")] == [1]
    assert replay.logged("retrieve") == [] and not db_file.exists()


def test_options_that_do_not_apply_are_refused(tmp_path):
    for extra in (["--types", "DRUG"], ["--update"], ["--from", str(tmp_path)]):
        res = run("fetch", "--registry", "isrctn", "--db", str(tmp_path / "x.duckdb"), *extra)
        assert res.exit_code == 2, (extra, res.output)


# --- record shapes --------------------------------------------------------------------------------

def test_ctis_words_and_merge():
    assert ctis_words(["nivolumab", "nivolumab and relatlimab", "bintrafusp alfa",
                       "Keytruda Qlex", "Keytruda", "SCH 900475"]) == (
        "nivolumab", "Keytruda", "bintrafusp", "900475")
    merged = merge_record({"ctNumber": "2022-500676-59-00", "ctTitle": "t", "trialPhase": "p",
                           "sponsor": "s"}, {"ctNumber": "2022-500676-59-00", "x": 1})
    assert merged == {"ctNumber": "2022-500676-59-00", "x": 1, "trialPhase": "p"}


def test_isrctn_xml_reads_as_ctrdata_stores_it():
    body = (b'<allTrials xmlns="http://www.67bricks.com/isrctn" totalCount="1"><fullTrial>'
            b'<trial lastUpdated="x"><isrctn dateAssigned="y">12345678</isrctn>'
            b'<trialDescription><title> T </title><acronym/></trialDescription>'
            b'<participants><recruitmentCountries><country>France</country></recruitmentCountries>'
            b'</participants><externalRefs><secondaryNumbers><secondaryNumber numberType="a">1'
            b'</secondaryNumber><secondaryNumber>2</secondaryNumber></secondaryNumbers>'
            b'</externalRefs></trial><sponsor><organisation>S</organisation></sponsor>'
            b'</fullTrial></allTrials>')
    total, trials = parse_page(body)
    assert total == 1 and trial_record(trials[0]) == {
        "isrctn": "12345678", "trialDescription": {"title": "T", "acronym": ""},
        "participants": {"recruitmentCountries": {"country": "France"}},
        "externalRefs": {"secondaryNumbers": {"secondaryNumber": ["1", "2"]}}}
    with pytest.raises(SourceError, match="DOCTYPE"):
        parse_page(b'<!DOCTYPE x [<!ENTITY a "b">]><allTrials totalCount="0"/>')
