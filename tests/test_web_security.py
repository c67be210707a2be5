"""Untrusted text is escaped everywhere and filters never reach SQL as text.

The store holds two hostile records (see web_store.py): registry free text carrying
script, attribute-breaking, template and SQL injection. Every filter of every page is
then sent script- and SQL-injection payloads.
"""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest

from ici_atlas.store import db
from ici_atlas.web import data, explorer
from web_store import (FORMULA_NCT, FORMULA_TITLE, HOSTILE_NCT, HOSTILE_TEXTS, SQL_TITLE,
                       TEMPLATE_TEXT, XSS_ARM_DESCRIPTION, XSS_TITLE, get, web_db,  # noqa: F401
                       web_url)

SCRIPT_PAYLOADS = (
    "<script>window.__xss=9</script>",
    '"><img src=x onerror=window.__xss=9>',
    "'><svg onload=window.__xss=9>",
    "javascript:window.__xss=9",
)
SQL_PAYLOADS = (
    "' OR '1'='1",
    "'; DROP TABLE trials; --",
    "1) OR (1=1",
    "%' OR 1=1 --",
    "NSCLC' UNION SELECT nct_id FROM raw_studies --",
    "\\'; SELECT 1; --",
)
PAYLOADS = SCRIPT_PAYLOADS + SQL_PAYLOADS
#: Every filter of every page (explorer, approvals, ORR, strategies).
PAGE_FILTERS = (
    [("/trials", name) for name in explorer.PARAMETERS]
    + [("/approvals", name) for name in data.APPROVAL_PARAMETERS]
    + [("/orr", name) for name in data.ORR_PARAMETERS]
    + [("/strategies", name) for name in data.STRATEGY_PARAMETERS]
)
#: Every element the dashboard's templates and charts produce.
ALLOWED_TAGS = frozenset("""html head meta title link script body header nav a main h1 h2
    section div span p strong figure figcaption svg g rect text line circle polygon table thead
    tbody tr th td form label select option input button footer details summary fieldset
    legend""".split())


class _MarkupAudit(HTMLParser):
    """Collects what a browser would treat as live markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.texts: list[str] = []

    def handle_data(self, data):
        self.texts.append(data)

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"element <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                    ("javascript:", "data:")):
                self.problems.append(f"{name}={value!r} on <{tag}>")
        if tag == "script" and dict(attrs).get("src") != "/static/app.js":
            self.problems.append(f"script {attrs!r}")


def _assert_no_live_markup(page: str, context: str) -> list[str]:
    """No element, event handler or script URL from a record or a request reaches the page;
    returns the page's text nodes (what a reader sees)."""
    audit = _MarkupAudit()
    audit.feed(page)
    audit.close()
    assert not audit.problems, f"{context}: {audit.problems}"
    return audit.texts


@pytest.fixture(scope="module")
def store_counts(web_db):
    con = db.connect(web_db, read_only=True)
    try:
        yield {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for t in ("trials", "raw_studies", "trial_agents")}
    finally:
        con.close()


# ------------------------------------------------------------------ stored hostile text

def test_hostile_record_is_classified_and_listed(web_url):
    data_ = get(web_url, f"/trials/{HOSTILE_NCT}.json").json()
    assert data_["trial"]["is_pd1_pdl1"] is True
    assert data_["trial"]["brief_title"] == XSS_TITLE  # JSON keeps the text as it is
    assert data_["trial"]["official_title"] == SQL_TITLE
    assert data_["registry"]["arm_groups"][0]["description"] == XSS_ARM_DESCRIPTION


@pytest.mark.parametrize("path", [
    f"/trials/{HOSTILE_NCT}",
    "/trials?" + urlencode({"q": "window.__xss"}),
    "/trials?" + urlencode({"scope": "all", "sort": "nct_id", "order": "desc"}),
    "/trials?" + urlencode({"q": "Evil Pharma"}),
])
def test_hostile_text_is_escaped_in_html(web_url, path):
    resp = get(web_url, path)
    assert resp.status == 200
    texts = _assert_no_live_markup(resp.text, path)
    assert XSS_TITLE in texts  # shown, as text


def test_every_hostile_field_is_shown_escaped_on_the_trial_page(web_url):
    texts = _assert_no_live_markup(get(web_url, f"/trials/{HOSTILE_NCT}").text, HOSTILE_NCT)
    seen = "\n".join(texts)
    for text in HOSTILE_TEXTS:
        assert text in seen, text
    # Template syntax from a record is printed, not evaluated.
    assert TEMPLATE_TEXT in texts and "49" not in seen.replace(HOSTILE_NCT, "")


def test_hostile_trial_in_strategy_pages_is_escaped(web_url):
    listing = get(web_url, "/strategies.json").json()["strategies"]
    for s in listing:
        if s["trial_ids"] and HOSTILE_NCT in s["trial_ids"]:
            page = get(web_url, f"/strategies/{s['id']}").text
            assert XSS_TITLE in _assert_no_live_markup(page, s["id"])
            return
    pytest.fail("no strategy links the hostile pembrolizumab + lenvatinib record")


def test_csv_neutralises_spreadsheet_formulas(web_url):
    resp = get(web_url, "/trials.csv?" + urlencode({"q": FORMULA_NCT}))
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["nct_id"] for r in rows] == [FORMULA_NCT]
    assert rows[0]["brief_title"] == "'" + FORMULA_TITLE


# ------------------------------------------------------------------ payloads in every filter

@pytest.mark.parametrize("page, name", PAGE_FILTERS)
def test_injection_through_every_filter(web_url, store_counts, page, name):
    for payload in PAYLOADS:
        query = urlencode({name: payload})
        for path in (f"{page}?{query}", f"{page}.json?{query}"):
            resp = get(web_url, path)
            assert resp.status in (200, 400), (path, resp.status, resp.text[:300])
            if path.startswith(f"{page}.json"):
                body = resp.json()
                if resp.status == 400:
                    assert set(body["error"]) == {"status", "code", "message", "fix"}
                    assert body["error"]["code"] == "invalid_parameter"
            else:
                _assert_no_live_markup(resp.text, path)


@pytest.mark.parametrize("payload", SQL_PAYLOADS)
def test_sql_in_free_text_is_only_text(web_url, payload):
    # The search is a substring match of the whole text: no record holds these strings
    # except the hostile official title, so a payload matches at most that record.
    data_ = get(web_url, "/trials.json?" + urlencode({"q": payload, "scope": "all"})).json()
    assert {r["nct_id"] for r in data_["rows"]} <= {HOSTILE_NCT}
    exact = get(web_url, "/trials.json?" + urlencode({"q": SQL_TITLE, "scope": "all"})).json()
    assert [r["nct_id"] for r in exact["rows"]] == [HOSTILE_NCT]


def test_store_is_unchanged_after_the_payloads(web_url, web_db, store_counts):
    for payload in PAYLOADS:
        get(web_url, "/trials.json?" + urlencode({"q": payload, "agent": "pembrolizumab"}))
        get(web_url, "/trials.csv?" + urlencode({"q": payload}))
    con = db.connect(web_db, read_only=True)
    try:
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in store_counts}
    finally:
        con.close()
    assert after == store_counts


@pytest.mark.parametrize("payload", SCRIPT_PAYLOADS + ("../../etc/passwd",))
def test_injection_through_the_path(web_url, payload):
    for prefix in ("/trials/", "/strategies/", "/static/", "/"):
        resp = get(web_url, prefix + quote(payload, safe=""))
        assert resp.status == 404
        if resp.headers["content-type"].startswith("text/html"):
            _assert_no_live_markup(resp.text, prefix + payload)
        else:
            assert resp.headers["content-type"] == "application/json"
            assert b"<" not in resp.body and payload in resp.json()["error"]["message"]


def test_static_files_cannot_escape_their_folder(web_url):
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        assert get(web_url, path).status == 404


def test_security_headers_on_every_answer(web_url):
    for path in ("/", "/trials", "/trials.json", "/nowhere", "/static/app.css"):
        headers = get(web_url, path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert headers["x-content-type-options"] == "nosniff"


def test_explorer_sql_has_no_request_text():
    facets = explorer.Facets({"agent": [("pembrolizumab", 1)], "country": [("China", 1)]})
    eq = explorer.parse_explorer_query(
        {"agent": ["pembrolizumab"], "country": ["china"], "q": ["x' OR 1=1 --"],
         "since": ["2020"]}, facets)
    where, params = explorer.explorer_where(eq)
    assert "x'" not in where and "China" not in where and "2020" not in where
    from ici_atlas.analyses.filters import SEARCH_COLUMNS

    n_tests = len(SEARCH_COLUMNS) + 1  # the columns and the agent list
    assert params == ["pembrolizumab", "China", 2020] + ["%x' OR 1=1 --%"] * n_tests
