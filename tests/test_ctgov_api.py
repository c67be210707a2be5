"""The API v2 client and query builder, run against the local replay of real records."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ctgov_replay import ReplayServer, read_v2_studies
from ici_atlas.store import db
from ici_atlas.errors import InputError, SourceError
from ici_atlas.store.ingest import load_from_api
from ici_atlas.sources.ctgov_api import (
    CtgovClient,
    RetryPolicy,
    fetch_counts,
    parse_retry_after,
)
from ici_atlas.sources.ctgov_query import (
    StudyQuery,
    build_queries,
    format_term,
    query_terms_from_vocab,
)

# PD-1/PD-L1 names listed in ../shared/data/ctgov/PROVENANCE.md (its heuristic term list).
TERMS = (
    "pembrolizumab", "nivolumab", "atezolizumab", "durvalumab", "avelumab", "cemiplimab",
    "camrelizumab", "sintilimab", "tislelizumab", "toripalimab", "dostarlimab",
    "Keytruda", "Opdivo", "Tecentriq", "Imfinzi", "MK-3475", "BMS-936558", "MPDL3280A",
    "MEDI4736",
)


@lru_cache(maxsize=1)
def _studies(folder: str) -> tuple:
    return tuple(read_v2_studies(Path(folder)))


@pytest.fixture(scope="module")
def studies(ctgov_data):
    return list(_studies(str(ctgov_data)))


@pytest.fixture()
def server(studies):
    with ReplayServer(studies) as srv:
        yield srv


def client_for(server, **kw) -> tuple[CtgovClient, list[float]]:
    waits: list[float] = []
    kw.setdefault("timeout", 10.0)
    kw.setdefault("max_rate", 0)
    kw.setdefault("retry", RetryPolicy(max_retries=3, backoff=0.01))
    return CtgovClient(server.url, sleep=waits.append, seed=1, **kw), waits


def expected_ids(server, query: StudyQuery) -> set[str]:
    """What the replay itself says matches (computed independently of the client)."""
    found = server.matching(query.params(1000))
    return {s["protocolSection"]["identificationModule"]["nctId"] for s in found}


# --- query builder ---------------------------------------------------------------------------


def test_query_quotes_terms_and_scopes_types():
    (q,) = build_queries(["nivolumab", "MK-3475", "BI 754091"], "https://x/api/v2")
    assert q.intr_expression() == '"nivolumab" OR "MK-3475" OR "BI 754091"'
    assert q.advanced_filter() == "AREA[InterventionType](DRUG OR BIOLOGICAL OR COMBINATION_PRODUCT)"
    params = parse_qs(urlsplit(q.url("https://x/api/v2", 1000)).query)
    assert params["pageSize"] == ["1000"] and params["countTotal"] == ["true"]
    assert params["query.intr"] == [q.intr_expression()]


def test_update_window_is_added_to_the_type_filter():
    (q,) = build_queries(["nivolumab"], "https://x/api/v2", updated_since=date(2026, 1, 5))
    assert q.advanced_filter() == (
        "AREA[InterventionType](DRUG OR BIOLOGICAL OR COMBINATION_PRODUCT) AND "
        "AREA[LastUpdatePostDate]RANGE[2026-01-05,MAX]"
    )


def test_long_term_lists_are_split_under_the_url_limit():
    terms = [f"agent-{i:03d}-mab" for i in range(400)]
    queries = build_queries(terms, "https://clinicaltrials.gov/api/v2", max_url_length=2000)
    assert len(queries) > 1
    assert [t for q in queries for t in q.terms] == terms  # nothing lost, order kept
    for q in queries:
        assert len(q.url("https://clinicaltrials.gov/api/v2", 1000, "T" * 100)) < 2000


def test_bad_inputs_are_refused():
    with pytest.raises(InputError):
        build_queries([], "https://x")
    with pytest.raises(InputError, match="DRUGS"):
        build_queries(["nivolumab"], "https://x", intervention_types=("DRUGS",))
    with pytest.raises(InputError, match="alone makes a URL"):
        build_queries(["x" * 500], "https://x", max_url_length=300)
    assert format_term('say "hi"  there') == '"say hi there"'


def test_vocabulary_terms_fit_one_request():
    terms = query_terms_from_vocab()
    lowered = {t.casefold() for t in terms}
    # The INNs and brands of the agents the review names must all be searched for.
    for name in ("pembrolizumab", "nivolumab", "atezolizumab", "durvalumab", "avelumab",
                 "cemiplimab", "keytruda", "opdivo", "mk-3475", "bms-936558"):
        assert name in lowered
    base = "https://clinicaltrials.gov/api/v2"
    for q in build_queries(terms, base):
        assert len(q.url(base, 1000, "T" * 100)) < 6000


# --- Retry-After ---------------------------------------------------------------------------


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Sun, 29 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Sun, 29 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- paging against the replay ----------------------------------------------------------


def test_full_paging_stores_exactly_what_was_reported(server, db_path):
    client, _ = client_for(server)
    queries = build_queries(TERMS, server.url, page_size=9)
    want = expected_ids(server, queries[0])
    assert len(want) > 50  # the shared snapshot holds 160 PD-1/PD-L1-like v2 studies
    with db.connect(db_path) as con:
        result = load_from_api(con, client, queries, page_size=9, show_progress=False)
        stored = {r[0] for r in con.execute("SELECT nct_id FROM raw_studies").fetchall()}
        pages = con.execute("SELECT count(*) FROM run_pages").fetchone()[0]
        run = con.execute("SELECT status, reported_total, stored_total FROM runs").fetchone()
    assert result.status == "ok" and stored == want
    assert result.reported_total == result.stored_total == len(want)
    assert pages == math.ceil(len(want) / 9)
    assert run == ("ok", len(want), len(want))
    first = server.study_requests()[0]
    assert first["countTotal"] == "true" and "pageToken" not in first


def test_type_filter_drops_trials_without_drug_interventions(server):
    client, _ = client_for(server)
    scoped = StudyQuery(TERMS)
    unscoped = StudyQuery(TERMS, intervention_types=())
    assert client.fetch_count(scoped) <= client.fetch_count(unscoped)
    assert client.fetch_count(scoped) == len(expected_ids(server, scoped))


@pytest.mark.parametrize(
    "kind, extra, expect",
    [
        ("429", {"retry_after": "3"}, "HTTP 429"),
        ("503", {}, "HTTP 503"),
        ("truncated", {}, "invalid JSON"),
        ("short", {}, "page ended early"),
    ],
)
def test_each_fault_is_retried_and_recovered(server, db_path, kind, extra, expect):
    messages: list[str] = []
    client, waits = client_for(server)
    client.on_retry = lambda msg, wait: messages.append(msg)
    server.add_fault(kind, page=1, **extra)
    queries = build_queries(TERMS, server.url, page_size=20)
    with db.connect(db_path) as con:
        result = load_from_api(con, client, queries, page_size=20, show_progress=False)
    assert result.status == "ok"
    assert result.stored_total == len(expected_ids(server, queries[0]))
    assert len(messages) == 1 and "page 1" in messages[0] and expect in messages[0]
    if kind == "429":
        assert waits == [3.0]  # Retry-After honoured exactly


def test_timeout_is_retried(server, db_path):
    client, waits = client_for(server, timeout=0.4)
    server.add_fault("timeout", page=0, delay=1.0)
    queries = build_queries(TERMS, server.url, page_size=50)
    server.matching(queries[0].params(50))  # warm the replay's cache so only the fault is slow
    with db.connect(db_path) as con:
        result = load_from_api(con, client, queries, page_size=50, show_progress=False)
    assert result.status == "ok" and len(waits) == 1


def test_a_page_that_stays_bad_fails_loudly_with_its_index(server, db_path):
    client, waits = client_for(server)
    server.add_fault("truncated", page=2, times=None)
    queries = build_queries(TERMS, server.url, page_size=10)
    with db.connect(db_path) as con:
        with pytest.raises(SourceError, match=r"page 2 failed after 4 attempts: invalid JSON"):
            load_from_api(con, client, queries, page_size=10, show_progress=False)
        status, message = con.execute("SELECT status, message FROM runs").fetchone()
        pages = con.execute("SELECT count(*) FROM run_pages").fetchone()[0]
    assert status == "failed" and "page 2" in message
    assert pages == 2  # pages 0 and 1 were committed
    assert len(waits) == 3
    assert waits[0] < waits[1] < waits[2]  # exponential backoff


def test_client_errors_are_not_retried(server):
    client, waits = client_for(server)
    bad = StudyQuery(TERMS, extra=(("filter.advanced", "AREA[Nonsense]x"),))
    with pytest.raises(SourceError, match="HTTP 400"):
        client.fetch_count(bad)
    assert waits == [] and len(server.study_requests()) == 1


def test_rate_limit_spaces_requests(server):
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    client = CtgovClient(server.url, max_rate=1 / 1.2, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        client.fetch_version()
    assert waits == [pytest.approx(1.2), pytest.approx(1.2)]


def test_chunks_are_reconciled_one_by_one_and_stored_as_a_union(server, db_path):
    client, _ = client_for(server)
    queries = build_queries(TERMS, server.url, page_size=25, max_url_length=520)
    assert len(queries) >= 2
    per_chunk = [expected_ids(server, q) for q in queries]
    union = set().union(*per_chunk)
    with db.connect(db_path) as con:
        result = load_from_api(con, client, queries, page_size=25, show_progress=False)
        stored = {r[0] for r in con.execute("SELECT nct_id FROM raw_studies").fetchall()}
    assert [c["reported"] for c in result.chunks] == [len(ids) for ids in per_chunk]
    assert [c["received"] for c in result.chunks] == [len(ids) for ids in per_chunk]
    assert stored == union and result.stored_total == len(union)
    assert result.counts.new == len(union)  # a study in two chunks is stored once


def test_dry_run_counts_send_one_small_request_per_chunk(server):
    client, _ = client_for(server)
    queries = build_queries(TERMS, server.url, max_url_length=520)
    rows = fetch_counts(client, queries, 1000)
    assert [r["count"] for r in rows] == [len(expected_ids(server, q)) for q in queries]
    assert all(p["pageSize"] == "1" for p in server.study_requests())
    assert len(server.study_requests()) == len(queries)
    assert rows[0]["url"].startswith(server.url + "/studies?format=json&query.intr=")


def test_study_and_version_endpoints(server, studies):
    client, _ = client_for(server)
    nct = studies[0]["protocolSection"]["identificationModule"]["nctId"]
    assert client.fetch_study(nct)["protocolSection"]["identificationModule"]["nctId"] == nct
    assert "apiVersion" in client.fetch_version()
