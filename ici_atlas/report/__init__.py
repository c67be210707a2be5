"""The report: one self-contained HTML file plus every figure (PNG, SVG, PDF) and table (CSV).

Sections mirror the review: the trial landscape (Figures 2 and 5), approvals (Figure 3),
monotherapy efficacy (Figure 4), resistance strategies and the evidence map (Figure 6), and
a methods section generated from the data. :func:`render_report` reads the store
read-only; when it has no trials the landscape section says why it was not built and the
other sections are built from the curated data shipped with the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .. import __version__
from ..store import db
from ..errors import IciAtlasError
from .biology import build_biology
from .landscape import build_landscape
from .model import Section
from .methods import StoreState, build_methods, query_store_state
from .render import FIGURE_FORMATS, all_figures, render_html, write_figure, write_table
from .sections import build_approvals, build_efficacy, build_literature, build_strategies

_OUTPUT_SUFFIXES = {"figures": (".png", ".svg", ".pdf"), "tables": (".csv",)}


@dataclass
class ReportResult:
    index: Path
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    built: dict[str, bool] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # sections not built because of an error
    state: StoreState | None = None


_TITLES = {
    "biology": "The PD-1/PD-L1 axis: regulators and timeline (Figure 1)",
    "landscape": "Trial landscape (Figures 2 and 5)", "approvals": "Approvals (Figure 3)",
    "efficacy": "Monotherapy efficacy (Figure 4)",
    "literature": "Literature search and screening (PRISMA 2020)",
    "changes": "What changed",
    "strategies": "Resistance strategies and evidence map (Figure 6)", "methods": "Methods",
}


def _guarded(section_id: str, build: Callable[[], Section]) -> Section:
    """Build a section; a library error (bad data file, store from another classifier
    version ...) marks that section as not built, with the message and fix, and the rest
    of the report is still written."""
    try:
        return build()
    except IciAtlasError as exc:
        reason = f"Not built: {exc.message}" + (f" Fix: {exc.fix}" if exc.fix else "")
        return Section(section_id, _TITLES[section_id], built=False, reason=reason, error=True)


def build_sections(con, state: StoreState, changes=None) -> list[Section]:
    """Every section, in the review's order (the axis and its timeline, landscape, approvals,
    efficacy, literature, strategies, methods), after "What changed" when ``changes`` (a
    :class:`~ici_atlas.living.diff.Diff`) is given."""
    reason = state.landscape_reason
    landscape_con = None if reason else con
    first = []
    if changes is not None:
        from .changes import build_changes

        first.append(_guarded("changes", lambda: build_changes(changes)))
    literature = _guarded("literature", lambda: build_literature(con))
    sections = first + [s for s in [
        _guarded("biology", lambda: build_biology(landscape_con)),
        _guarded("landscape", lambda: build_landscape(landscape_con, reason,
                                                      state.classified or 0)),
        _guarded("approvals", build_approvals),
        _guarded("efficacy", lambda: build_efficacy(con)),
        literature,
        _guarded("strategies", lambda: build_strategies(landscape_con, trials_known=not reason)),
        _guarded("methods", lambda: build_methods(state)),
    ] if s is not None]
    if literature is None:
        sections[-1].paragraphs.append(
            "Literature: this store holds no literature library, so the report has no PRISMA "
            "section; <code>ici-atlas lit search</code> (PubMed) or <code>ici-atlas lit import "
            "FILE</code>, then <code>ici-atlas lit screen</code>, add it.")
    return sections


def _data_line(state: StoreState) -> str:
    if not state.exists or not state.raw:
        return ("Data: no trial records in the store; curated approvals, efficacy and "
                "strategy data shipped with ici-atlas.")
    text = (f"Data: {state.raw:,} ClinicalTrials.gov records, last updated "
            f"{state.data_date or 'unknown'}")
    if state.last_load:
        text += f", loaded {state.last_load} UTC"
    return text + "; curated approvals, efficacy and strategy data shipped with ici-atlas."


def cite_html(snapshot: dict | None) -> str:
    """The block under the title: which snapshot this is and how to cite it."""
    from ..living.snapshot import REVIEW
    from .model import esc

    review = (f"{', '.join(REVIEW['authors'][:3])} et al. {REVIEW['title']}. "
              f"{REVIEW['journal']} {REVIEW['year']};{REVIEW['volume']}:{REVIEW['start']}. "
              f"doi:{REVIEW['doi']}")
    if snapshot:
        return (f'<p class="cite" id="snapshot-id">Snapshot <strong>{esc(snapshot["version"])}'
                f'</strong> · created {esc(snapshot["created_at"])} · data hash '
                f'<code>{esc(snapshot["data_hash"][:23])}…</code> (manifest.json, '
                "CITATION.cff and zenodo.json are in the snapshot folder).</p>"
                f'<p class="cite" id="how-to-cite">How to cite: {esc(snapshot["how_to_cite"])}</p>')
    return ('<p class="cite" id="snapshot-id">Not a snapshot: this report shows the store as '
            "it was when written. <code>ici-atlas snapshot --out DIR</code> makes a citable, "
            "versioned release.</p>"
            f'<p class="cite" id="how-to-cite">How to cite: ici-atlas (software, '
            f"version {esc(__version__)}) and the review it implements: {esc(review)}</p>")


def _remove_stale(out: Path, written: set[Path]) -> None:
    """Remove figure/table files an earlier report wrote that this one did not."""
    for sub, suffixes in _OUTPUT_SUFFIXES.items():
        folder = out / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.suffix in suffixes and path not in written:
                path.unlink()


def render_report(
    db_path: str | Path | None,
    out_dir: str | Path,
    on_step: Callable[[str], None] | None = None,
    formats: Sequence[str] = FIGURE_FORMATS,
    snapshot: dict | None = None,
    changes=None,
) -> ReportResult:
    """Write ``out_dir/index.html``, ``out_dir/figures/*`` and ``out_dir/tables/*.csv``.

    ``db_path`` None or a missing file: no store (the landscape is not built). ``formats``
    are the figure file formats (SVG is always written: the HTML inlines it). ``snapshot``
    (a snapshot manifest) heads the report with its identifier and how to cite it;
    ``changes`` adds "What changed since" the previous snapshot.
    """
    step = on_step or (lambda message: None)
    out = Path(out_dir)
    con = None
    if db_path is not None and Path(db_path).exists():
        con = db.connect(db_path, read_only=True)
    try:
        state = query_store_state(con)
        step("building sections")
        sections = build_sections(con, state, changes)
    finally:
        if con is not None:
            con.close()
    result = ReportResult(index=out / "index.html", state=state)
    svgs: dict[str, str] = {}
    figures = all_figures(sections)
    for i, fig in enumerate(figures, 1):
        step(f"figure {i}/{len(figures)}: {fig.name}")
        paths, svgs[fig.name] = write_figure(fig, out / "figures", formats)
        result.figures += paths
    for sec in sections:
        for table in sec.tables:
            result.tables.append(write_table(table, out / "tables"))
        result.built[sec.id] = sec.built
        if not sec.built:
            result.reasons[sec.id] = sec.reason
        if sec.error:
            result.errors.append(sec.id)
    _remove_stale(out, set(result.figures) | set(result.tables))
    result.index.write_text(render_html(sections, svgs, _data_line(state), cite_html(snapshot)),
                            encoding="utf-8")
    step(f"wrote {result.index}")
    return result


__all__ = ["FIGURE_FORMATS", "ReportResult", "build_sections", "render_report"]
