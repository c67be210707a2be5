"""Loading into the store: resume, reconciliation, incremental update, quarantine, reloads."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctgov_replay import ReplayServer
from ici_atlas.store import db
from ici_atlas.errors import InputError, ReconciliationError
from ici_atlas.store.ingest import (
    Counts,
    content_hash,
    load_from_api,
    plan_update,
    store_studies,
)
from ici_atlas.store.runs import query_quarantine, query_runs
from ici_atlas.sources.ctgov_query import build_queries, query_key
from test_ctgov_api import TERMS, client_for, expected_ids, server, studies  # noqa: F401


class Stop(KeyboardInterrupt):
    """Raised from the page hook to simulate Ctrl-C after some pages."""


def _stop_after(n_pages: int):
    def hook(chunk: int, page: int) -> None:
        if page + 1 >= n_pages:
            raise Stop()
    return hook


def test_interrupted_run_resumes_without_duplicates(server, db_path):
    client, _ = client_for(server)
    queries = build_queries(TERMS, server.url, page_size=10)
    want = expected_ids(server, queries[0])
    with db.connect(db_path) as con:
        with pytest.raises(Stop):
            load_from_api(con, client, queries, page_size=10, on_page=_stop_after(3),
                          show_progress=False)
        first = con.execute("SELECT run_id, status, stored_total FROM runs").fetchone()
        assert first[1] == "interrupted" and first[2] == 30
        sent_before = len(server.study_requests())

        result = load_from_api(con, client, queries, page_size=10, show_progress=False)
        stored = con.execute("SELECT count(*), count(DISTINCT nct_id) FROM raw_studies").fetchone()
        records = con.execute(
            "SELECT count(*), count(DISTINCT nct_id) FROM run_records WHERE run_id = ?",
            [result.run_id],
        ).fetchone()
    assert result.resumed_from == first[0] and result.status == "ok"
    assert result.stored_total == result.reported_total == len(want)
    assert stored == (len(want), len(want)) and records == (len(want), len(want))
    assert result.counts.new == len(want)  # the first 30 carried over, none counted twice
    resumed = server.study_requests()[sent_before]
    assert resumed.get("pageToken")  # continued from page 3, did not start over
    assert len(server.study_requests()) - sent_before == -(-len(want) // 10) - 3


def test_a_killed_run_left_running_is_resumed(server, db_path):
    client, _ = client_for(server)
    queries = build_queries(TERMS, server.url, page_size=10)
    with db.connect(db_path) as con:
        with pytest.raises(Stop):
            load_from_api(con, client, queries, page_size=10, on_page=_stop_after(2),
                          show_progress=False)
        # A SIGKILL leaves no chance to record the interruption:
        con.execute("UPDATE runs SET status = 'running', finished_at = NULL")
        result = load_from_api(con, client, queries, page_size=10, show_progress=False)
        statuses = [r["status"] for r in query_runs(con)]
    assert result.resumed_from == 1 and statuses == ["ok", "interrupted"]


def test_restart_ignores_the_interrupted_run(server, db_path):
    client, _ = client_for(server)
    queries = build_queries(TERMS, server.url, page_size=10)
    with db.connect(db_path) as con:
        with pytest.raises(Stop):
            load_from_api(con, client, queries, page_size=10, on_page=_stop_after(2),
                          show_progress=False)
        result = load_from_api(con, client, queries, page_size=10, restart=True,
                               show_progress=False)
    assert result.resumed_from is None and result.counts.unchanged == 20


def test_a_silently_short_page_is_a_reconciliation_error(server, db_path):
    client, _ = client_for(server)
    server.add_fault("drop", page=1, times=None)
    queries = build_queries(TERMS, server.url, page_size=20)
    want = len(expected_ids(server, queries[0]))
    with db.connect(db_path) as con:
        with pytest.raises(ReconciliationError) as info:
            load_from_api(con, client, queries, page_size=20, show_progress=False)
        status, message = con.execute("SELECT status, message FROM runs").fetchone()
    err = info.value
    assert err.exit_code == 4 and err.reported == want and err.stored == want - 10
    assert f"reported {want:,}" in str(err) and "missing 10" in str(err)
    assert status == "incomplete" and "missing 10" in message


def test_bad_api_record_is_quarantined_and_counted(server, db_path):
    client, _ = client_for(server)
    server.add_fault("bad_record", page=0)
    queries = build_queries(TERMS, server.url, page_size=20)
    want = len(expected_ids(server, queries[0]))
    with db.connect(db_path) as con:
        result = load_from_api(con, client, queries, page_size=20, show_progress=False)
        rows = query_quarantine(con)
    assert result.status == "ok" and result.counts.quarantined == 1
    assert result.stored_total == want - 1
    assert rows[0]["record_ref"] == "chunk 0 page 0 item 0"
    assert rows[0]["field"] == "protocolSection" and "pwned" in rows[0]["raw"]


def test_update_fetches_only_changed_records(studies, db_path):
    served = list(studies)  # the two records changed below are replaced by copies
    with ReplayServer(served) as server:
        client, _ = client_for(server)
        queries = build_queries(TERMS, server.url, page_size=50)
        ids = sorted(expected_ids(server, queries[0]))
        with db.connect(db_path) as con:
            load_from_api(con, client, queries, page_size=50, show_progress=False)
            key = query_key(server.url, queries)
            since = plan_update(con, key)
            assert since == datetime.now(timezone.utc).date()
            # Two records change on the registry today; every other record is older.
            today = since.isoformat()
            for i, s in enumerate(served):
                if s["protocolSection"]["identificationModule"]["nctId"] not in ids[:2]:
                    continue
                s = served[i] = copy.deepcopy(s)
                s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = today
                s["protocolSection"]["statusModule"]["overallStatus"] = "TERMINATED"
            updates = build_queries(TERMS, server.url, page_size=50, updated_since=since)
            result = load_from_api(con, client, updates, page_size=50, base_key=key,
                                   show_progress=False)
            statuses = con.execute(
                "SELECT json_extract_string(study_json(json_zstd), '$.protocolSection.statusModule.overallStatus')"
                " FROM raw_studies WHERE nct_id IN (?, ?)", ids[:2],
            ).fetchall()
            total = con.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
    assert result.reported_total == result.stored_total == 2
    assert (result.counts.updated, result.counts.new) == (2, 0)
    assert statuses == [("TERMINATED",), ("TERMINATED",)] and total == len(ids)
    last = server.study_requests()[-1]
    assert f"AREA[LastUpdatePostDate]RANGE[{today},MAX]" in last["filter.advanced"]


def test_update_needs_an_earlier_successful_run(db_path):
    with db.connect(db_path) as con:
        with pytest.raises(InputError, match="No successful earlier fetch"):
            plan_update(con, "0123456789abcdef")


# --- store invariants -------------------------------------------------------------------------


def _ids(sample):
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in sample]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reloading_in_any_order_changes_nothing(studies, tmp_path_factory, data):
    sample = data.draw(st.lists(st.sampled_from(studies[:60]), min_size=1, max_size=15,
                                unique_by=lambda s: s["protocolSection"]["identificationModule"]["nctId"]))
    order = data.draw(st.permutations(sample))
    path = tmp_path_factory.mktemp("reload") / "s.duckdb"
    with db.connect(path) as con:
        first = Counts()
        store_studies(con, 1, "test", [(s, "v2-json", None) for s in sample], first)
        before = con.execute("SELECT * FROM raw_studies ORDER BY nct_id").fetchall()
        again = Counts()
        store_studies(con, 2, "test", [(s, "v2-json", None) for s in order], again)
        after = con.execute("SELECT * FROM raw_studies ORDER BY nct_id").fetchall()
    assert first.new == len(sample) and again.unchanged == len(sample)
    assert again.new == again.updated == 0 and before == after


def test_content_hash_ignores_key_order(studies):
    study = studies[0]
    reordered = dict(reversed(list(study.items())))
    assert content_hash(study) == content_hash(reordered)
    changed = copy.deepcopy(study)
    changed["hasResults"] = not study.get("hasResults")
    assert content_hash(changed) != content_hash(study)


def test_an_older_copy_does_not_overwrite_a_newer_one(studies, db_path):
    newer = studies[0]
    older = copy.deepcopy(newer)
    older["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2001-01-01"
    older["protocolSection"]["statusModule"]["overallStatus"] = "WITHDRAWN"
    with db.connect(db_path) as con:
        store_studies(con, 1, "a", [(newer, "v2-json", None)], Counts())
        counts = Counts()
        store_studies(con, 2, "b", [(older, "v2-json", None)], counts)
        kept = con.execute("SELECT content_hash FROM raw_studies").fetchone()[0]
    assert counts.kept_newer == 1 and counts.unchanged == 1 and kept == content_hash(newer)


def test_streaming_batches_resolve_duplicates_like_one_batch(ctgov_data, tmp_path, monkeypatch):
    """Loading in tiny batches (duplicates spread over batches) stores exactly what one big
    batch stores. dgg32__clinical-trials-public holds 61 v2 records of 51 studies."""
    from ici_atlas.store import db, ingest

    folder = ctgov_data / "dgg32__clinical-trials-public"
    results = {}
    for size in (1, 10_000):
        monkeypatch.setattr(ingest, "_FILE_BATCH", size)
        con = db.connect(tmp_path / f"b{size}.duckdb")
        run = ingest.load_files(con, folder)
        rows = con.execute("SELECT nct_id, content_hash, last_update_posted FROM raw_studies ORDER BY 1").fetchall()
        results[size] = (run.counts.stored, run.duplicates, rows)
        con.close()
    assert results[1] == results[10_000]
    stored, duplicates, rows = results[1]
    assert len(rows) == stored == 51 and duplicates == 10
