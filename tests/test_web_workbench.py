"""The dashboard as a workbench: every facet filterable (several values at once) with live
counts, the landscape page with linked charts and its CSVs, the time view and the as-of
date, the ORR explorer's method choices and downloads, and every run of the store.

Counts are checked against independent SQL over the same store (the web test store:
two shared ClinicalTrials.gov subsets classified by the real pipeline).
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from web_store import get, web_db, web_url  # noqa: F401  (session fixtures)


@pytest.fixture(scope="module")
def con(web_db):  # noqa: F811
    from ici_atlas.store import db

    c = db.connect(web_db, read_only=True)  # the app's configuration (one per process)
    yield c
    c.close()


def _n(con, sql, params=()):
    return con.execute(sql, list(params)).fetchone()[0]


def test_several_values_of_a_facet_select_any_of_them(web_url, con):  # noqa: F811
    both = get(web_url, "/trials.json?" + urlencode(
        [("phase", "Phase 2"), ("phase", "Phase 3"), ("per_page", 200)])).json()
    expected = _n(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND representative AND "
                       "phase_label IN ('Phase 2', 'Phase 3')")
    assert both["total"] == expected > 0
    assert {r["phase_label"] for r in both["rows"]} <= {"Phase 2", "Phase 3"}


@pytest.mark.parametrize("query, column, value", [
    ("line=first-line", "line_of_therapy", "first-line"),
    ("setting=advanced", "setting", "advanced"),
    ("exposure=assigned", "exposure", "assigned"),
])
def test_every_classified_field_is_a_filter(web_url, con, query, column, value):  # noqa: F811
    data = get(web_url, f"/trials.json?{query}").json()
    expected = _n(con, f"SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND representative "
                       f"AND {column} = ?", [value])
    assert data["total"] == expected


def test_first_posted_years_and_the_as_of_date_restrict_the_selection(web_url, con):  # noqa: F811
    data = get(web_url, "/trials.json?posted_since=2020&posted_until=2022").json()
    assert data["total"] == _n(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND "
                                    "representative AND year(first_posted) BETWEEN 2020 AND 2022")
    as_of = get(web_url, "/landscape.json?posted_by=2019-12-31").json()
    assert as_of["total"] == _n(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND "
                                     "representative AND first_posted <= DATE '2019-12-31'")
    assert sum(r["trials"] for r in as_of["tables"]["phases"]) == as_of["total"]


def test_facet_counts_are_live_and_ignore_their_own_choice(web_url, con):  # noqa: F811
    data = get(web_url, "/trials.json?phase=Phase%203").json()
    facets = data["facets"]
    # phase counts ignore the phase choice: every phase keeps its whole-store count
    by_phase = {f["value"]: f["trials"] for f in facets["phase"]}
    assert by_phase["Phase 2"] == _n(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND "
                                          "representative AND phase_label = 'Phase 2'")
    # other facets count within Phase 3
    nsclc = next(f["trials"] for f in facets["cancer"] if f["value"] == "NSCLC")
    assert nsclc == _n(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND representative "
                            "AND phase_label = 'Phase 3' AND list_contains(cancer_groups, 'NSCLC')")
    yes = {f["value"]: f["trials"] for f in facets["bispecific"]}.get("yes", 0)
    assert yes == _n(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND representative "
                          "AND phase_label = 'Phase 3' AND bispecific")


def test_landscape_page_tables_match_the_selection(web_url, con):  # noqa: F811
    data = get(web_url, "/landscape.json?cancer=NSCLC").json()
    assert set(data["tables"]) == {"phases", "cancers_pd1", "cancers_pdl1", "partners",
                                   "bispecifics"}
    total = _n(con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND representative AND "
                    "list_contains(cancer_groups, 'NSCLC')")
    assert data["total"] == total == sum(r["trials"] for r in data["tables"]["phases"])
    years = data["time"]["years"]
    assert sum(sum(v for k, v in y.items() if k != "year") for y in years) == _n(
        con, "SELECT count(*) FROM trials WHERE is_pd1_pdl1 AND representative AND "
             "list_contains(cancer_groups, 'NSCLC') AND start_year IS NOT NULL")


def test_the_hover_text_names_the_trials_behind_each_bar(web_url, con):  # noqa: F811
    data = get(web_url, "/landscape.json?class=PD-1").json()
    members = data["members"]
    base = "is_pd1_pdl1 AND representative AND list_contains(target_class, 'PD-1')"
    for row in data["tables"]["phases"]:
        expected = [r[0] for r in con.execute(
            f"SELECT nct_id FROM trials WHERE {base} AND coalesce(phase_label, 'NA') = ? "
            "ORDER BY nct_id LIMIT 20", [row["phase"]]).fetchall()]
        assert members["phases"].get(row["phase"], []) == expected
    for row in data["tables"]["partners"][:3]:
        expected = [r[0] for r in con.execute(
            f"SELECT nct_id FROM trials WHERE {base} AND list_contains(partner_classes, ?) "
            "ORDER BY nct_id LIMIT 20", [row["partner_class"]]).fetchall()]
        assert members["partners"][row["partner_class"]] == expected
    for row in data["tables"]["bispecifics"]:
        expected = [r[0] for r in con.execute(
            "SELECT DISTINCT t.nct_id FROM trials t JOIN trial_agents a USING (nct_id) WHERE "
            "t.is_pd1_pdl1 AND t.representative AND list_contains(t.target_class, 'PD-1') "
            "AND a.bispecific AND a.agent_id = ? "
            "ORDER BY 1 LIMIT 20", [row["agent"]]).fetchall()]
        assert members["bispecifics"][row["agent"]] == expected
    assert members["cancers_pdl1"] == {} or data["tables"]["cancers_pdl1"] == []


def test_every_bar_links_to_the_page_filtered_by_it(web_url):  # noqa: F811
    html = get(web_url, "/landscape").text
    links = re.findall(r'<a class="bar-link" href="([^"]+)"', html)
    phase_links = [l.replace("&amp;", "&") for l in links if "phase=" in l]
    assert phase_links
    query = dict(parse_qsl(urlsplit(phase_links[0]).query))
    target = get(web_url, "/landscape.json?" + urlencode(query)).json()
    bar = next(r for r in get(web_url, "/landscape.json").json()["tables"]["phases"]
               if r["phase"] == query["phase"])
    assert target["total"] == bar["trials"]


def test_each_chart_table_downloads_as_csv(web_url):  # noqa: F811
    for table in ("phases", "partners", "time"):
        res = get(web_url, f"/landscape.csv?table={table}&class=PD-1")
        assert res.status == 200 and res.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(res.text)))
        assert rows
        if table == "phases":  # the chart's own rows, in order
            shown = get(web_url, "/landscape.json?class=PD-1").json()["tables"]["phases"]
            assert [(r["phase"], int(r["trials"])) for r in rows] == [
                (r["phase"], r["trials"]) for r in shown]
    assert get(web_url, "/landscape.csv?table=nope").status == 400


def test_orr_method_choice_is_the_pooling_the_api_does(web_url):  # noqa: F811
    from ici_atlas import Atlas

    page = get(web_url, "/orr.json?cancer=melanoma&by=line&method=DL&test=z").json()
    api = Atlas().orr(by="line", cancer="melanoma", method="DL", test="z")
    ours = {g["line"]: round(g["orr"], 6) for g in page["subgroups"]}
    theirs = {r.line: round(r.orr, 6) for r in api.itertuples()}
    assert ours == theirs and page["method"] == {"method": "DL", "test": "z", "measure": "PLO"}
    assert get(web_url, "/orr?method=Bayes").status == 400


def test_orr_forest_and_table_download(web_url):  # noqa: F811
    svg = get(web_url, "/orr/forest.svg?cancer=melanoma")
    png = get(web_url, "/orr/forest.png?cancer=melanoma")
    table = get(web_url, "/orr.csv?cancer=melanoma")
    assert svg.status == png.status == table.status == 200
    assert svg.text.lstrip().startswith("<svg") and png.body[:4] == b"\x89PNG"
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {r["row"] for r in rows} == {"pooled", "arm"}


def test_forest_labels_keep_their_full_text(web_url):  # noqa: F811
    svg = get(web_url, "/orr/forest.svg").text
    for shown, full in re.findall(r"<text [^>]*><title>([^<]*)</title>([^<]*)</text>", svg):
        assert full.endswith("…") and full[:-1] in shown  # a clipped label carries its full text


def test_every_run_is_listed_paged_and_filterable(web_url, con):  # noqa: F811
    data = get(web_url, "/runs.json").json()
    assert data["total"] == _n(con, "SELECT count(*) FROM runs")
    loads = get(web_url, "/runs.json?kind=load").json()
    assert loads["total"] == _n(con, "SELECT count(*) FROM runs WHERE kind = 'load'")
    assert all(r["kind"] == "load" for r in loads["runs"])
    assert get(web_url, "/runs?status=odd").status == 400


# --- in a browser -------------------------------------------------------------------------


@pytest.mark.browser
def test_linked_clicks_as_of_and_a_readable_forest(web_url):  # noqa: F811
    import os
    import shutil

    from conftest import skip_or_fail
    from test_web_browser import CHROMIUM, CHROMIUM_ARGS

    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail(f"{CHROMIUM} not found; install Debian's chromium (scripts/setup.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM)
                                    else shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        # 1. two values of one facet, ticked in the page
        page.goto(web_url + "/trials")
        page.click("#facet-phase summary")
        with page.expect_navigation():
            page.check("input[name=phase][value='Phase 2']")
        page.click("#facet-phase summary") if not page.locator("#facet-phase[open]").count() else None
        with page.expect_navigation():
            page.check("input[name=phase][value='Phase 3']")
        assert page.url.count("phase=") == 2
        phases = set(page.locator("#trials-table tbody tr td:nth-child(3)").all_inner_texts())
        assert phases <= {"Phase 2", "Phase 3"} and phases
        # 2. a bar of the landscape filters the whole page
        page.goto(web_url + "/landscape")
        total = int(page.locator("#total").inner_text().replace(",", ""))
        with page.expect_navigation():
            page.locator("#chart-phases a.bar-link").nth(3).click()
        assert "phase=" in page.url
        filtered = int(page.locator("#total").inner_text().replace(",", ""))
        assert 0 < filtered < total
        # 3. the as-of date restricts every view
        page.goto(web_url + "/landscape")
        page.fill("#as-of", "2018-12-31")
        with page.expect_navigation():
            page.click("#apply")
        assert "posted_by=2018-12-31" in page.url
        assert int(page.locator("#total").inner_text().replace(",", "")) < total
        # 4. the ORR explorer's header and labels do not overlap
        page.goto(web_url + "/orr")
        boxes = page.evaluate("""Array.from(document.querySelectorAll('#orr-forest text'))
            .map(t => { const b = t.getBBox(); return [b.x, b.y, b.width, b.height,
                                                      t.textContent]; })""")
        page.screenshot(path=os.environ.get("ICI_ATLAS_SCREENSHOT", "/tmp/orr-forest.png"))
        browser.close()
    header = [b for b in boxes if b[1] + b[3] <= 18]  # the first line of the plot
    assert len(header) == 3  # three column headers, nothing else on that line

    def overlap(a, b) -> bool:
        return not (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1]
                    or b[1] + b[3] <= a[1])

    clashes = [(a[4], b[4]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
               if overlap(a, b)]
    assert clashes == [], clashes[:5]
    assert errors == []
