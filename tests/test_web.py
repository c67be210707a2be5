"""The dashboard over a real store: pages and their JSON twins, the explorer's filters,
sorting, pagination and CSV, the trial page, the error shape, OpenAPI, and `serve`.

Expected counts are recomputed from the store through other tables or the analyses'
own functions (never copied from the app), so a wrong query fails here.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import duckdb
import pytest
from click.testing import CliRunner

from ici_atlas.store import db
from ici_atlas.analyses import evidence, landscape
from ici_atlas.cli import cli
from ici_atlas.web import explorer
from ici_atlas.web.openapi import build_openapi
from ici_atlas.web.routes import ROUTES
from web_store import BASE_NCT, get, web_db, web_url  # noqa: F401  (session fixtures)

PAGES = ["/", "/trials", f"/trials/{BASE_NCT}", "/approvals", "/orr", "/strategies",
         "/strategies/oncolytic-virus"]
ERROR_KEYS = {"status", "code", "message", "fix"}


@pytest.fixture(scope="module")
def con(web_db):
    c = db.connect(web_db, read_only=True)
    yield c
    c.close()


def _json_path(page: str) -> str:
    return "/index.json" if page == "/" else page + ".json"


def _trials(web_url, **params) -> dict:
    resp = get(web_url, "/trials.json?" + urlencode(params, doseq=True))
    assert resp.status == 200, resp.text
    return resp.json()


# ------------------------------------------------------------------------ pages and twins

@pytest.mark.parametrize("page", PAGES)
def test_page_has_html_and_json_twin(web_url, page):
    html = get(web_url, page)
    assert html.status == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text or page.startswith(("/trials/", "/strategies"))
    assert f'href="{_json_path(page)}"' in html.text  # the page links its twin
    twin = get(web_url, _json_path(page))
    assert twin.status == 200 and twin.headers["content-type"] == "application/json"
    by_accept = get(web_url, page, {"Accept": "application/json"})
    assert by_accept.headers["content-type"] == "application/json"
    assert by_accept.json() == twin.json()


def test_overview_counts_match_the_landscape(web_url, con):
    data = get(web_url, "/index.json").json()
    assert data["store"]["pd1_pdl1_trials"] == landscape.query_total(con)
    assert data["store"]["trials"] == con.execute("SELECT count(*) FROM trials").fetchone()[0]
    assert sum(r["trials"] for r in data["phases"]) == landscape.query_total(con)
    assert [r["kind"] for r in data["runs"]][:1] == ["classify"]


# ------------------------------------------------------------------------ explorer filters

def _count(con, sql: str, params=()) -> int:
    return con.execute(sql, list(params)).fetchone()[0]


def test_unfiltered_explorer_is_every_pd1_trial(web_url, con):
    data = _trials(web_url)
    assert data["total"] == _count(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1")
    assert _trials(web_url, scope="all")["total"] == _count(con, "SELECT count(*) FROM trials")
    assert sum(r["trials"] for r in data["by_phase"]) == data["total"]
    assert sum(r["trials"] for r in data["by_year"]) == data["total"]


def test_agent_filter_matches_trial_agents_table(web_url, con):
    expected = _count(con, "SELECT count(DISTINCT a.nct_id) FROM trial_agents a JOIN trials t "
                           "USING (nct_id) WHERE t.is_pd1_pdl1 AND a.agent_id = 'pembrolizumab'")
    data = _trials(web_url, agent="pembrolizumab", per_page=200)
    assert data["total"] == expected > 0
    assert all("pembrolizumab" in r["agents"] for r in data["rows"])
    # brand and code names resolve as in the CLI and the API
    assert _trials(web_url, agent="Keytruda", per_page=200)["total"] == expected
    assert _trials(web_url, agent="mk-3475", per_page=200)["total"] == expected
    both = _trials(web_url, agent=["pembrolizumab", "nivolumab"])["total"]
    assert both > data["total"]  # repeated values: any of them


def test_country_filter_matches_trial_countries_table(web_url, con):
    expected = _count(con, "SELECT count(DISTINCT c.nct_id) FROM trial_countries c JOIN trials t "
                           "USING (nct_id) WHERE t.is_pd1_pdl1 AND c.country = 'China'")
    assert _trials(web_url, country="china")["total"] == expected > 0  # case-insensitive


def test_cancer_and_partner_filters_match_explanation_tables(web_url, con):
    cancer = _count(con, "SELECT count(DISTINCT c.nct_id) FROM trial_cancers c JOIN trials t "
                         "USING (nct_id) WHERE t.is_pd1_pdl1 AND c.cancer_group = 'NSCLC'")
    assert _trials(web_url, cancer="NSCLC")["total"] == cancer > 0
    # Partner classes per arm (a co-formulated PD-1/TIGIT product gives TIGIT with no
    # separate partner drug row, so trial_partners alone would miss it).
    partner = _count(con, "SELECT count(DISTINCT a.nct_id) FROM trial_arms a JOIN trials t "
                          "USING (nct_id) WHERE t.is_pd1_pdl1 AND list_contains("
                          "a.partner_classes, 'TIGIT')")
    assert _trials(web_url, partner="TIGIT")["total"] == partner > 0


@pytest.mark.parametrize("params, sql", [
    ({"class": "PD-L1"}, "list_contains(target_class, 'PD-L1')"),
    ({"bispecific": "yes"}, "bispecific"),
    ({"bispecific": "no"}, "NOT bispecific"),
    ({"phase": "III"}, "phase_label = 'Phase 3'"),
    ({"phase": ["2", "3"]}, "phase_label IN ('Phase 2', 'Phase 3')"),
    ({"status": "RECRUITING"}, "overall_status = 'RECRUITING'"),
    ({"sponsor": "INDUSTRY"}, "sponsor_class = 'INDUSTRY'"),
    ({"since": 2020, "until": 2022}, "start_year BETWEEN 2020 AND 2022"),
    ({"q": "TIGIT"}, "(brief_title ILIKE '%tigit%' OR official_title ILIKE '%tigit%' "
                     "OR acronym ILIKE '%tigit%' OR lead_sponsor ILIKE '%tigit%')"),
    ({"q": "nct05078931"}, "nct_id = 'NCT05078931'"),
])
def test_single_valued_filters(web_url, con, params, sql):
    expected = _count(con, f"SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND {sql}")
    assert _trials(web_url, **params)["total"] == expected > 0


def test_filters_combine_and_change_the_charts(web_url):
    every = _trials(web_url)
    some = _trials(web_url, phase="Phase 3", cancer="NSCLC")
    assert 0 < some["total"] < every["total"]
    assert [r["phase"] for r in some["by_phase"] if r["trials"]] == ["Phase 3"]
    html = get(web_url, "/trials?" + urlencode({"phase": "Phase 3", "cancer": "NSCLC"})).text
    assert f'<strong id="total">{some["total"]}</strong>' in html
    assert "Phase 1: 0</title>" in html and "Phase 3: " + str(some["total"]) + "</title>" in html


def test_sort_whitelist_and_order(web_url):
    rows = _trials(web_url, sort="enrollment", order="desc", per_page=200)["rows"]
    values = [r["enrollment"] for r in rows if r["enrollment"] is not None]
    assert values == sorted(values, reverse=True)
    rows = _trials(web_url, sort="nct_id", order="asc", per_page=200)["rows"]
    assert [r["nct_id"] for r in rows] == sorted(r["nct_id"] for r in rows)
    bad = get(web_url, "/trials.json?sort=brief_title;DROP")
    assert bad.status == 400 and bad.json()["error"]["code"] == "invalid_parameter"
    assert "nct_id" in bad.json()["error"]["message"]  # lists the allowed keys


def test_pagination_covers_the_selection_once(web_url):
    total = _trials(web_url)["total"]
    seen = []
    page = 1
    while True:
        data = _trials(web_url, per_page=40, page=page, sort="nct_id")
        seen += [r["nct_id"] for r in data["rows"]]
        if page >= data["pages"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == total
    assert _trials(web_url, page=10_000)["rows"] == []
    capped = get(web_url, f"/trials.json?per_page={explorer.PER_PAGE_MAX + 1}")
    assert capped.status == 400 and "per_page" in capped.json()["error"]["message"]


def test_csv_download_is_the_whole_selection(web_url):
    params = {"cancer": "NSCLC", "sort": "nct_id", "order": "asc"}
    data = _trials(web_url, per_page=200, **params)
    resp = get(web_url, "/trials.csv?" + urlencode(params))
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["nct_id"] for r in rows] == [r["nct_id"] for r in data["rows"]]
    from ici_atlas.analyses.trials import TRIAL_TABLE

    assert list(rows[0]) == list(TRIAL_TABLE)  # the trial table's one schema
    html = get(web_url, "/trials?" + urlencode(params)).text
    assert 'href="/trials.csv?scope=pd1&amp;cancer=NSCLC&amp;sort=nct_id&amp;order=asc"' in html


# ------------------------------------------------------------------------ trial page

def test_trial_page_shows_what_matched_and_links_the_registry(web_url, con):
    data = get(web_url, f"/trials/{BASE_NCT}.json").json()
    assert data["trial"]["nct_id"] == BASE_NCT
    terms = {a["agent_id"]: a["matched_term"] for a in data["explain"]["agents"]}
    stored = dict(con.execute("SELECT agent_id, matched_term FROM trial_agents WHERE nct_id = ?",
                              [BASE_NCT]).fetchall())
    assert terms == stored and "pembrolizumab" in terms
    assert data["links"]["registry"] == f"https://clinicaltrials.gov/study/{BASE_NCT}"
    assert data["registry"]["arm_groups"], "arms from the registry record"
    html = get(web_url, f"/trials/{BASE_NCT}").text
    assert f'href="https://clinicaltrials.gov/study/{BASE_NCT}"' in html
    for a in data["explain"]["agents"]:
        assert f"<td>{a['matched_term']}</td>" in html


def test_explorer_links_to_trial_pages(web_url):
    html = get(web_url, "/trials?" + urlencode({"q": BASE_NCT})).text
    assert f'href="/trials/{BASE_NCT}"' in html


def test_strategy_page_lists_linked_trials(web_url, con):
    kb = evidence.load_strategies()
    item = next(s for s in kb.strategies if evidence.query_strategy_trials(con, s))
    expected = [t["nct_id"] for t in evidence.query_strategy_trials(con, item)]
    data = get(web_url, f"/strategies/{item.id}.json").json()
    assert [t["nct_id"] for t in data["trials"]] == expected
    listed = {s["id"]: s for s in get(web_url, "/strategies.json").json()["strategies"]}
    assert listed[item.id]["trials"] == len(expected)


def test_orr_pools_per_subgroup(web_url):
    data = get(web_url, "/orr.json?" + urlencode({"tumor": "NSCLC", "by": "line"})).json()
    assert data["subgroups"] and all(g["k"] == len(g["arms"]) for g in data["subgroups"])
    for g in data["subgroups"]:
        assert 0 <= g["ci_lb"] <= g["orr"] <= g["ci_ub"] <= 1
    html = get(web_url, "/orr?" + urlencode({"tumor": "NSCLC", "by": "line"})).text
    assert 'id="orr-forest"' in html


def test_approvals_filter(web_url):
    every = get(web_url, "/approvals.json").json()
    fda = get(web_url, "/approvals.json?agency=FDA").json()
    assert 0 < len(fda["events"]) < len(every["events"])
    assert {e["agency"] for e in fda["events"]} == {"FDA"}


# ------------------------------------------------------------------------ errors

def test_error_shape_is_pinned(web_url):
    resp = get(web_url, "/trials/NCT00000001.json")
    assert resp.status == 404
    assert resp.json() == {"error": {
        "status": 404, "code": "not_found",
        "message": "Trial 'NCT00000001' is not in the store",
        "fix": "check the NCT ID, or load it with `ici-atlas fetch` and run `ici-atlas classify`",
    }}


@pytest.mark.parametrize("path, headers, method, status, code", [
    ("/nowhere.json", {}, "GET", 404, "not_found"),
    ("/nowhere", {"Accept": "application/json"}, "GET", 404, "not_found"),
    ("/trials.json?phase=Phase%209", {}, "GET", 400, "invalid_parameter"),
    ("/trials.json?colour=red", {}, "GET", 400, "invalid_parameter"),
    ("/trials.json?since=2022&until=2020", {}, "GET", 400, "invalid_parameter"),
    ("/approvals.json?agency=XYZ", {}, "GET", 400, "invalid_parameter"),
    ("/orr.json?by=colour", {}, "GET", 400, "invalid_parameter"),
    ("/strategies/no-such-strategy.json", {}, "GET", 404, "not_found"),
    ("/trials.json", {}, "POST", 405, "method_not_allowed"),
    ("/trials.json", {"Host": "attacker.example"}, "GET", 421, "misdirected_request"),
])
def test_every_error_has_the_one_shape(web_url, path, headers, method, status, code):
    resp = get(web_url, path, headers, method)
    assert resp.status == status
    err = resp.json()["error"]
    assert set(err) == ERROR_KEYS and err["status"] == status and err["code"] == code
    assert err["message"] and err["fix"]


def test_html_errors_are_pages(web_url):
    resp = get(web_url, "/trials/NCT00000001")
    assert resp.status == 404 and resp.headers["content-type"].startswith("text/html")
    assert "not_found" in resp.text and "is not in the store" in resp.text


def test_head_answers_without_a_body(web_url):
    resp = get(web_url, "/trials", method="HEAD")
    assert resp.status == 200 and resp.body == b""


# ------------------------------------------------------------------------ OpenAPI

def test_openapi_describes_every_json_route(web_url):
    spec = get(web_url, "/openapi.json").json()
    assert spec == build_openapi() and spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {r.json_path for r in ROUTES}
    trials_op = spec["paths"]["/trials.json"]["get"]
    assert {p["name"] for p in trials_op["parameters"]} == set(explorer.PARAMETERS)
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == ERROR_KEYS


def test_every_described_path_answers_as_described(web_url):
    spec = get(web_url, "/openapi.json").json()
    for path, item in spec["paths"].items():
        op = item["get"]
        url = path
        for p in op["parameters"]:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", p["example"])
        resp = get(web_url, url)
        assert resp.status == 200, (path, resp.text[:300])
        content = op["responses"]["200"]["content"]
        (ctype, media), = content.items()
        assert resp.headers["content-type"].startswith(ctype), path
        if ctype == "application/json":
            assert set(media["schema"]["required"]) <= set(resp.json()), path
        for code, response in op["responses"].items():
            if code != "200":
                assert response["content"]["application/json"]["schema"]["$ref"] == \
                    "#/components/schemas/Error"


# ------------------------------------------------------------------------ the command

def test_serve_refuses_a_public_host_without_the_flag(web_db):
    result = CliRunner().invoke(cli, ["serve", "--db", str(web_db), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output and "--allow-remote" in result.output


def test_serve_reports_a_missing_store(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code != 0 and "No ici-atlas database" in result.output


def test_app_never_writes(web_db, web_url):
    get(web_url, "/trials.json")
    # The server holds the store open read-only, so DuckDB refuses a writer elsewhere.
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(web_db), read_only=False).execute("CREATE TABLE x (a INT)")


@pytest.mark.parametrize("text", ["%", "_", "a_b", "100%"])
def test_search_wildcards_are_plain_text(web_url, con, text):
    # ILIKE would treat % and _ as wildcards; the search must stay a substring match.
    expected = _count(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND strpos(lower("
                           "concat_ws(' ', nct_id, brief_title, official_title, acronym, "
                           "lead_sponsor, agents)), ?) > 0", [text])
    data = _trials(web_url, q=text)
    assert data["total"] == expected < _trials(web_url)["total"]


def test_serve_prints_the_url_and_answers(web_db):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", "from ici_atlas.cli import main; main()", "serve", "--db",
         str(web_db), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        resp = get(url.rstrip("/"), "/index.json")
        assert resp.status == 200 and resp.json()["store"]["trials"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_parallel_requests(web_url):
    from concurrent.futures import ThreadPoolExecutor

    paths = ["/trials.json?phase=2", "/trials.json?q=lung", f"/trials/{BASE_NCT}.json",
             "/index.json", "/trials.csv?cancer=NSCLC", "/orr.json", "/strategies.json"] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda p: get(web_url, p).status, paths))
    assert statuses == [200] * len(paths)


def test_orr_page_takes_the_cli_filter_names_in_any_spelling(web_url):
    data = get(web_url, "/orr.json?cancer=nsclc&agent=Opdivo&line=later").json()
    arms = [a for g in data["subgroups"] for a in g["arms"]]
    assert arms and {a["tumor_group"] for a in arms} == {"NSCLC"}
    assert {a["agent"] for a in arms} == {"nivolumab"} and {a["line"] for a in arms} == {"later-line"}
    assert data["left_out"] and all(r["rows"] > 0 for r in data["left_out"])
    assert get(web_url, "/orr.json?tumor=NSCLC").json()["arms"] == get(web_url, "/orr.json?cancer=NSCLC").json()["arms"]
