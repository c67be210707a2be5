"""The dashboard in a real headless browser (Debian ``chromium`` driven by Playwright).

Pages load without console errors and without any request leaving 127.0.0.1; choosing a
filter changes the table and the chart; a trial page opens from the explorer; a record
carrying script text runs no script. Playwright uses the system browser
(``/usr/bin/chromium``) and never downloads one.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlencode

import pytest

from conftest import skip_or_fail
from web_store import HOSTILE_NCT, XSS_TITLE, web_db, web_url  # noqa: F401  (session fixtures)

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ICI_ATLAS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = ["/", "/trials", "/trials?" + urlencode({"phase": "Phase 2", "cancer": "NSCLC"}),
         f"/trials/{HOSTILE_NCT}", "/approvals", "/approvals?agency=NMPA", "/orr",
         "/orr?by=agent", "/strategies", "/strategies/oncolytic-virus", "/regulators",
         "/regulators?cell=tumour&druggable=yes", "/changes", "/landscape",
         "/landscape?" + urlencode({"stack": "partner", "time": "posted"}), "/runs",
         "/orr?method=DL&measure=PAS"]


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail(f"{CHROMIUM} not found; install Debian's chromium (scripts/setup.sh does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed; pip install -e '.[test]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM)
                              else shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A page with every console error, page error, dialog and foreign request recorded."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console",
                     lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", self._request)

    def _request(self, request) -> None:
        if not request.url.startswith(self.base + "/"):
            self.foreign.append(request.url)

    def goto(self, path: str):
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, path
        return self.page

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.foreign == [], f"requests left 127.0.0.1: {self.foreign}"
        assert self.dialogs == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def watched(browser, web_url):
    w = Watched(browser, web_url)
    yield w
    w.close()


def test_pages_load_without_console_errors_or_outside_requests(watched):
    for path in PAGES:
        page = watched.goto(path)
        assert page.locator("h1").count() == 1, path
        page.wait_for_load_state("load")
    watched.check_clean()


def _phase_bars(page) -> dict[str, str]:
    return {g.locator("title").text_content(): g.locator("rect").get_attribute("width")
            for g in page.locator("#chart-phases g.bar").all()}


def test_a_filter_changes_the_table_and_the_chart(watched):
    page = watched.goto("/trials")
    total_before = int(page.locator("#total").inner_text().replace(",", ""))
    bars_before = _phase_bars(page)
    rows_before = page.locator("#trials-table tbody tr").count()
    page.click("#facet-phase summary")  # open the phase facet
    with page.expect_navigation():
        page.check("input[name=phase][value='Phase 3']")  # app.js submits on change
    assert "phase=Phase+3" in page.url
    total_after = int(page.locator("#total").inner_text().replace(",", ""))
    assert 0 < total_after < total_before
    phases = set(page.locator("#trials-table tbody tr td:nth-child(3)").all_inner_texts())
    assert phases == {"Phase 3"}
    assert page.locator("#trials-table tbody tr").count() == min(total_after, 50) != rows_before
    bars_after = _phase_bars(page)
    assert bars_after != bars_before
    drawn = [t for t, w in bars_after.items() if float(w) > 0]
    assert drawn == [f"Phase 3: {total_after}"]
    # The free-text search narrows further through the Apply button.
    page.fill("input[name=q]", "pembrolizumab")
    with page.expect_navigation():
        page.click("#apply")
    assert int(page.locator("#total").inner_text().replace(",", "")) <= total_after
    watched.check_clean()


def test_a_trial_page_opens_from_the_explorer(watched):
    page = watched.goto("/trials?" + urlencode({"sort": "nct_id", "order": "asc"}))
    link = page.locator("a.trial-link").first
    nct = link.inner_text()
    with page.expect_navigation():
        link.click()
    assert page.url.endswith(f"/trials/{nct}")
    assert page.locator("h1").inner_text() == nct
    assert page.locator("#registry-link").get_attribute("href") == \
        f"https://clinicaltrials.gov/study/{nct}"
    assert page.locator("#agents-table tbody tr").count() >= 1
    watched.check_clean()


def test_script_text_in_a_record_does_not_run(watched):
    page = watched.goto(f"/trials/{HOSTILE_NCT}")
    assert page.locator("#trial-title").inner_text() == XSS_TITLE
    page.locator("#registry-arms td").first.hover()  # would fire an onmouseover
    assert page.evaluate("typeof window.__xss") == "undefined"
    page = watched.goto("/trials?" + urlencode({"q": "window.__xss"}))
    assert page.evaluate("typeof window.__xss") == "undefined"
    watched.check_clean()


def test_sorting_and_paging_in_the_browser(watched):
    page = watched.goto("/trials?per_page=25")
    with page.expect_navigation():
        page.click("a[data-sort=nct_id]")
    ids = page.locator("#trials-table tbody td:first-child").all_inner_texts()
    assert ids == sorted(ids, reverse=True) and len(ids) == 25
    with page.expect_navigation():
        page.click("#next")
    more = page.locator("#trials-table tbody td:first-child").all_inner_texts()
    assert more and max(more) < min(ids)
    watched.check_clean()
