"""Landscape figures (Figures 2A–C, 5A–B, years, sponsors, countries) from a real store."""

from __future__ import annotations

import pytest

from ici_atlas.store import db
from ici_atlas.analyses import landscape as ls
from ici_atlas.figures import landscape as figs
from landscape_store import landscape_db  # noqa: F401  (session fixture)

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def rendered(landscape_db, tmp_path_factory):  # noqa: F811
    """Every figure rendered twice into two folders from the same store."""
    con = db.connect(landscape_db, read_only=True)
    try:
        a = tmp_path_factory.mktemp("figs_a")
        b = tmp_path_factory.mktemp("figs_b")
        paths_a = figs.render_landscape_figures(con, a)
        paths_b = figs.render_landscape_figures(con, b, formats=("svg",))
    finally:
        con.close()
    return paths_a, paths_b


def test_every_figure_written_as_png_and_svg(rendered):
    paths, _ = rendered
    names = sorted(p.name for p in paths)
    expected = sorted(f"{n}.{ext}" for n in figs.FIGURE_NAMES for ext in ("png", "svg"))
    assert names == expected
    for name in ("fig2a_phases", "fig2b_cancers_pd1", "fig2c_cancers_pdl1",
                 "fig5a_partners", "fig5b_bispecifics"):
        assert name in figs.FIGURE_NAMES
    for p in paths:
        assert p.stat().st_size > 2000, f"{p.name} is (nearly) empty"
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_svg_identical_across_runs(rendered):
    paths_a, paths_b = rendered
    svg_a = [p for p in paths_a if p.suffix == ".svg"]
    assert [p.name for p in svg_a] == [p.name for p in paths_b]
    for a, b in zip(svg_a, paths_b):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two runs"


def test_figures_carry_the_counts(landscape_db, rendered):  # noqa: F811
    """The SVG text (fonts kept as text) shows the totals the queries return."""
    paths, _ = rendered
    con = db.connect(landscape_db, read_only=True)
    try:
        total = ls.query_total(con)
        top_cancer = ls.query_cancers(con, ls.make_filter("PD-1"), top=12)[0]
        top_target = next(r for r in ls.query_partners(con) if r["kind"] == "target")
    finally:
        con.close()
    svg = {p.stem: p.read_text(encoding="utf-8") for p in paths if p.suffix == ".svg"}
    assert f"(n = {total:,})" in svg["fig2a_phases"]
    assert top_cancer["label"] in svg["fig2b_cancers_pd1"]
    assert top_target["partner_class"] in svg["fig5a_partners"]
    for phase in ls.PHASE_LABELS:
        assert phase in svg["fig2a_phases"]


def test_empty_selection_still_draws(landscape_db, tmp_path):  # noqa: F811
    con = db.connect(landscape_db, read_only=True)
    try:
        flt = ls.make_filter(since=2200)
        assert ls.query_total(con, flt) == 0
        paths = figs.render_landscape_figures(con, tmp_path, flt, formats=("svg",))
    finally:
        con.close()
    assert len(paths) == len(figs.FIGURE_NAMES)
    assert all(p.stat().st_size > 0 for p in paths)
