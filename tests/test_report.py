"""The report (`ici-atlas report`): sections, self-containment, determinism, figure and
table files, hover lists, methods numbers, and the no-records mode.

The store is the landscape tests' session store (tests/landscape_store.py: two real
subsets of the shared ClinicalTrials.gov data, loaded and classified by the real pipeline).
Expected numbers are counted here from the store with plain SQL, independently of the
report code.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from ici_atlas.store import db
from ici_atlas.cli import cli
from ici_atlas.report import render_report
from ici_atlas.views.charts import nice_ticks, render_chart_svg
from ici_atlas.report.model import HOVER_CAP, Bar, Chart
from ici_atlas.report.render import inline_svg
from ici_atlas.report.sections import build_efficacy, build_literature, query_prisma
from landscape_store import landscape_db  # noqa: F401  (session fixture)

pytestmark = pytest.mark.shared_data

SECTIONS = ("biology", "landscape", "approvals", "efficacy", "strategies", "methods")
LANDSCAPE_FIGURES = ("fig2a_phases", "fig2b_cancers_pd1", "fig2c_cancers_pdl1", "fig5a_partners",
                     "fig5b_bispecifics", "landscape_years", "landscape_sponsors",
                     "landscape_countries")
OTHER_FIGURES = ("fig3_approvals", "fig4_orr", "fig4b_orr_pooled", "fig6_evidence_map",
                 "methods_trial_flow")


@pytest.fixture(scope="module")
def report(landscape_db, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("report") / "first"
    return render_report(landscape_db, out)


@pytest.fixture(scope="module")
def second(landscape_db, report, tmp_path_factory):  # noqa: F811
    """The same store rendered again, into another folder (SVG figures only, for speed)."""
    out = tmp_path_factory.mktemp("report") / "second"
    return render_report(landscape_db, out, formats=("svg",))


@pytest.fixture(scope="module")
def html(report) -> str:
    return report.index.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def store(landscape_db):  # noqa: F811
    con = db.connect(landscape_db, read_only=True)
    yield con
    con.close()


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_section_is_built(report, html):
    assert report.built == {s: True for s in SECTIONS}
    for sec in SECTIONS:
        assert f'<section id="{sec}">' in html
    assert "not built" not in html
    assert "Research tool, not clinical advice" in html


def test_self_contained(html):
    # nothing is loaded from anywhere: no external scripts, styles, images, fonts, frames
    assert not re.search(r"<(script|img|iframe|link|source|embed|object)\b[^>]*\b(src|href)=",
                         html, re.I)
    assert "@import" not in html and not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    # the only absolute URLs are links the reader may follow (<a href>) ...
    for m in re.finditer(r'\b(?:xlink:)?(?:href|src)="([^"]*)"', html):
        if m.group(1).startswith(("http://", "https://", "//")):
            start = html.rfind("<", 0, m.start())
            assert html[start:start + 3] == "<a ", html[start:m.end()]
    # ... and no namespace or DTD URL is left from the SVG files
    assert "www.w3.org" not in html and "purl.org" not in html
    assert "<script>" in html and "<style>" in html
    assert html.count("<svg") >= len(LANDSCAPE_FIGURES) + len(OTHER_FIGURES)


def test_element_ids_are_unique(html):
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert [i for i, k in ids.items() if k > 1] == []


def test_interactive_bars_list_the_trials(html):
    chart = html[html.index('id="chart-fig2a_phases"'):]
    chart = chart[: chart.index("</svg>")]
    titles = re.findall(r"<title>([^<]*)</title>", chart)
    assert titles and any(re.search(r"NCT\d{8}", t) for t in titles)
    assert 'class="bar"' in chart and "data-ids=" in chart


def test_hover_lists_match_bar_counts(report):
    tables = report.index.parent / "tables"
    behind = Counter((r["figure"], r["bar"]) for r in _csv(tables / "landscape_trials_behind_bars.csv"))
    phases = _csv(tables / "landscape_phases.csv")
    assert {r["phase"]: int(r["trials"]) for r in phases} == {
        r["phase"]: behind[("fig2a_phases", r["phase"])] for r in phases}
    for table, fig in (("cancers_pd1", "fig2b_cancers_pd1"), ("cancers_pdl1", "fig2c_cancers_pdl1")):
        for r in _csv(tables / f"landscape_{table}.csv"):
            assert behind[(fig, r["label"])] == int(r["trials"]), (table, r)
    for r in _csv(tables / "landscape_partners.csv"):
        if r["kind"] != "none":
            assert behind[("fig5a_partners", r["partner_class"])] == int(r["trials"]), r
    for r in _csv(tables / "landscape_sponsors.csv"):
        assert behind[("landscape_sponsors", r["sponsor"])] == int(r["trials"]), r
    for r in _csv(tables / "landscape_bispecifics.csv"):
        label = f"{r['agent']} ({r['target_class']}×{r['other_target']})"
        assert behind[("fig5b_bispecifics", label)] == int(r["trials"]), r


def test_byte_identical_across_runs(report, second):
    one, two = report.index.parent, second.index.parent
    assert one.joinpath("index.html").read_bytes() == two.joinpath("index.html").read_bytes()
    for sub, pattern in (("figures", "*.svg"), ("tables", "*.csv")):
        names = sorted(p.name for p in (one / sub).glob(pattern))
        assert names == sorted(p.name for p in (two / sub).glob(pattern))
        for name in names:
            assert (one / sub / name).read_bytes() == (two / sub / name).read_bytes(), name


def test_every_figure_in_three_formats(report):
    figures = report.index.parent / "figures"
    names = {p.stem for p in figures.iterdir()}
    assert set(LANDSCAPE_FIGURES + OTHER_FIGURES) <= names
    for name in names:
        for fmt in ("png", "svg", "pdf"):
            path = figures / f"{name}.{fmt}"
            assert path.stat().st_size > 500, path
        assert b"CreationDate" not in (figures / f"{name}.pdf").read_bytes()
    assert len(report.figures) == 3 * len(names)


def test_tables_written(report):
    tables = report.index.parent / "tables"
    expected = {"landscape_phases", "landscape_cancers_pd1", "landscape_cancers_pdl1",
                "landscape_partners", "landscape_bispecifics", "landscape_years",
                "landscape_sponsors", "landscape_countries", "landscape_trials_behind_bars",
                "approvals_headline_counts", "approval_events", "orr_pooled", "orr_arms",
                "strategies", "evidence_map", "combination_findings", "strategy_trials",
                "methods_flow", "methods_runs", "methods_vocabularies"}
    assert expected <= {p.stem for p in tables.glob("*.csv")}
    events = _csv(tables / "approval_events.csv")
    assert events and all(r["source"].strip() for r in events)


def test_methods_numbers_equal_store_counts(report, html, store):
    raw = store.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
    trials, pd1 = store.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_pd1_pdl1) FROM trials").fetchone()
    quarantined = store.execute(
        "SELECT count(*) FROM quarantine q JOIN runs r USING (run_id) "
        "WHERE r.kind IN ('fetch', 'load')").fetchone()[0]
    reported = store.execute(
        "SELECT sum(reported_total) FROM runs WHERE kind IN ('fetch', 'load')").fetchone()[0]
    latest = store.execute(
        "SELECT max(last_update_posted) FROM raw_studies").fetchone()[0].isoformat()
    flow = {r["step"]: int(r["records"]) for r in _csv(report.index.parent / "tables" / "methods_flow.csv")}
    assert flow["stored (distinct NCT IDs)"] == raw
    assert flow["classified"] == trials
    assert flow["PD-1/PD-L1 trials (in the landscape)"] == pd1
    assert flow["quarantined while loading"] == quarantined
    # each subset was loaded once, so the latest run per source is every load run
    assert flow["reported by the sources (latest run per source)"] == reported
    # the flow adds up: reported = left out on the way + stored
    left_out = sum(flow.get(k, 0) for k in ("quarantined while loading",
                                            "duplicates within a load (kept once)",
                                            "in more than one source (kept once)"))
    assert flow["reported by the sources (latest run per source)"] - left_out == raw
    assert (flow["classified"] - flow["not PD-1/PD-L1 trials (left out)"]
            == flow["PD-1/PD-L1 trials (in the landscape)"])
    assert (f"the sources reported {reported:,}; {raw:,} were stored and {quarantined:,} "
            "quarantined while loading") in html
    assert f"{trials:,} were classified" in html and f"{pd1:,} of them give" in html
    assert f"last updated on {latest}" in html
    assert "CC BY 4.0" in html and "oncotree_2025_10_03" in html
    assert "REML" in html and "Hartung" in html


def test_landscape_prose_is_computed(html, store):
    classified, pd1 = store.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_pd1_pdl1) FROM trials").fetchone()
    assert f"The store holds {classified:,} classified studies; {pd1:,} (" in html


def test_no_records_builds_the_rest(tmp_path):
    result = render_report(tmp_path / "missing.duckdb", tmp_path / "out", formats=("svg",))
    html = result.index.read_text(encoding="utf-8")
    assert result.built == {"biology": True, "landscape": False, "approvals": True,
                            "efficacy": True, "strategies": True, "methods": True}
    assert "no trial records loaded" in result.reasons["landscape"]
    assert "ici-atlas run --from PATH" in result.reasons["landscape"]
    assert '<p class="notbuilt">Not built: no trial records loaded.' in html
    names = {p.stem for p in (tmp_path / "out" / "figures").glob("*.svg")}
    assert {"fig3_approvals", "fig4_orr", "fig6_evidence_map"} <= names
    assert not names & set(LANDSCAPE_FIGURES)
    assert not (tmp_path / "out" / "tables" / "strategy_trials.csv").exists()
    assert not (tmp_path / "missing.duckdb").exists()  # the report never creates a store


def test_unclassified_store_says_so(tmp_path, ctgov_data):
    from ici_atlas.store.ingest import load_files
    from ici_atlas.report import build_sections
    from ici_atlas.report.methods import query_store_state

    con = db.connect(tmp_path / "s.duckdb")
    try:
        load_files(con, ctgov_data / "vrinda2019__NSCLCBench")
        state = query_store_state(con)
        # PROVENANCE.md: the NSCLCBench download is a JSON array of 100 Phase 3 NSCLC trials
        assert state.raw == 100 and state.classified is None
        assert "stored but not classified" in state.landscape_reason
        sections = build_sections(con, state)
    finally:
        con.close()
    assert [s.built for s in sections] == [True, False, True, True, True, True]


def test_prisma_counts_from_a_literature_library(tmp_path, shared_data):
    demo = shared_data / "pubmed" / "asreview__asreview/tests/demo_data/_baseline.ris"
    path = tmp_path / "lit.duckdb"
    result = CliRunner().invoke(cli, ["lit", "import", str(demo), "--db", str(path)])
    assert result.exit_code == 0, result.output
    con = db.connect(path, read_only=True)
    try:
        counts = query_prisma(con)
        section = build_literature(con)
        efficacy = build_efficacy(con)
    finally:
        con.close()
    assert counts.identified == 100  # PROVENANCE.md: the demo RIS file holds 100 records
    assert "prisma_flow" in [f.name for f in section.figures]
    assert "prisma_flow" not in [f.name for f in efficacy.figures]  # its own section now
    assert any("100 records identified" in p for p in section.paragraphs)
    assert [t.name for t in section.tables] == ["prisma_counts", "screening_progress", "excluded_records"]


def test_chart_svg_caps_the_hover_list():
    ids = tuple(f"NCT{i:08d}" for i in range(HOVER_CAP + 7))
    svg = render_chart_svg(Chart([Bar("Phase 2", 57, "57", "#000", ids)]), "c", "t")
    assert f"and 7 more" in svg and ids[HOVER_CAP - 1] in svg and ids[HOVER_CAP] not in svg
    assert svg == render_chart_svg(Chart([Bar("Phase 2", 57, "57", "#000", ids)]), "c", "t")


def test_nice_ticks():
    assert nice_ticks(67) == [0, 20, 40, 60]
    assert nice_ticks(4) == [0, 1, 2, 3, 4]
    assert nice_ticks(0) == [0.0]


def test_inline_svg_prefixes_ids_and_scopes_style():
    text = ('<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "x" "http://www.w3.org/x.dtd">\n'
            '<svg xmlns="http://www.w3.org/2000/svg" version="1.1"><metadata>m</metadata>'
            '<style>*{stroke: red}</style><g id="a" clip-path="url(#c1)"><use xlink:href="#d"/>'
            "</g></svg>")
    out = inline_svg(text, "f")
    assert out.startswith('<svg id="f-svg" class="print"')
    assert 'id="f-a"' in out and "url(#f-c1)" in out and 'xlink:href="#f-d"' in out
    assert "#f-svg *{" in out and "http" not in out and "metadata" not in out


def test_a_failing_section_is_marked_and_the_rest_built(tmp_path):
    from ici_atlas.errors import VocabularyError
    from ici_atlas.report import _guarded

    def broken():
        raise VocabularyError("approval_events.tsv row 3: invalid agency 'XYZ'",
                              fix="Use an agency code listed in docs/approvals.md.")

    sec = _guarded("approvals", broken)
    assert (sec.built, sec.error) == (False, True)
    assert sec.reason == ("Not built: approval_events.tsv row 3: invalid agency 'XYZ' "
                          "Fix: Use an agency code listed in docs/approvals.md.")


def test_html_shows_each_figure(html):
    # full interactive twins replace the print version; companions come under it
    for name in LANDSCAPE_FIGURES:
        assert f'id="chart-{name}"' in html and f'id="fig-{name}-svg"' not in html
    assert 'id="fig-fig6_evidence_map-svg"' in html and 'id="chart-fig6_evidence_map"' in html
    # Figure 3 once: its panel C is not repeated as an interactive chart
    assert 'id="fig-fig3_approvals-svg"' in html and 'id="chart-fig3_approvals"' not in html
    for name in ("fig4_orr", "fig4b_orr_pooled", "methods_trial_flow"):
        assert f'id="fig-{name}-svg"' in html


@pytest.mark.browser
def test_report_in_a_browser(report):
    """Opened from disk in headless chromium: no request leaves the file, no script error,
    and hovering a bar shows its trials (linked), clicking pins the list."""
    import os
    import shutil

    from conftest import skip_or_fail

    exe = os.environ.get("ICI_ATLAS_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.exists(exe) or shutil.which("chromium")):
        skip_or_fail(f"{exe} not found; install Debian's chromium (scripts/setup.sh does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed; pip install -e '.[test]'")
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=exe if os.path.exists(exe) else shutil.which("chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.index.resolve().as_uri())
            bar = page.locator("#chart-fig2a_phases g.bar").nth(3)  # Phase 2
            bar.hover()
            panel = page.locator("#hover-panel")
            assert panel.is_visible()
            head = panel.locator("b").inner_text()
            assert head.startswith("Phase 2: ")
            links = panel.locator("a")
            n_links = links.count()
            assert 0 < n_links <= HOVER_CAP
            href = links.first.get_attribute("href")
            assert re.fullmatch(r"https://clinicaltrials\.gov/study/NCT\d{8}", href)
            bar.click()
            page.mouse.move(5, 5)
            assert panel.is_visible()  # pinned
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
