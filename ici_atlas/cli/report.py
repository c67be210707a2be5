"""``ici-atlas report`` (write the report) and ``ici-atlas run`` (the whole job: set up the
store, load records from ClinicalTrials.gov or local files, classify, write the report)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import config
from ..store import db
from ..concepts.classify import classify_store
from ..errors import ReconciliationError, SourceError
from ..store.ingest import last_successful_fetch
from ..concepts.pipeline import load_and_classify_files
from ..report import FIGURE_FORMATS, ReportResult, render_report
from .common import db_option, info, resolve_db

DEFAULT_OUT = Path("ici-atlas-report")


def _parse_formats(ctx, param, value: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in value.split(",") if f.strip())
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad or not formats:
        raise click.BadParameter(
            f"invalid figure format {(bad or [value])[0]!r}; expected some of "
            f"{list(FIGURE_FORMATS)} (SVG is always written)")
    return formats


def _out_option(func):
    func = click.option(
        "--figure-formats", "formats", default=",".join(FIGURE_FORMATS), show_default=True,
        callback=_parse_formats,
        help="Figure files to write (comma-separated; SVG is always written, the HTML "
             "inlines it).",
    )(func)
    return click.option(
        "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_OUT, show_default=True,
        help="Folder for index.html, figures/ (PNG, SVG, PDF) and tables/ (CSV).",
    )(func)


def _write_report(db_path: Path, out_dir: Path, formats: tuple[str, ...]) -> ReportResult:
    result = render_report(db_path, out_dir, on_step=lambda m: info(f"  {m}"),
                           formats=formats)
    for section, reason in result.reasons.items():
        info(f"  {section}: {reason}")
    info(f"report: {len(result.figures)} figure files, {len(result.tables)} tables")
    return result


@click.command("report")
@db_option
@_out_option
def report_cmd(db_path: Path | None, out_dir: Path, formats: tuple[str, ...]) -> None:
    """Write the report: one self-contained HTML file (opens offline) plus every figure
    (PNG, SVG, PDF) and every table (CSV).

    Sections: trial landscape (Figures 2 and 5), approvals (Figure 3), monotherapy
    efficacy (Figure 4), resistance strategies and evidence map (Figure 6), and methods
    generated from the data. Without trial records in the store the landscape is marked
    as not built and the other sections are still written. Prints the path of index.html.

    \b
    Example:
      ici-atlas report --db atlas.duckdb --out report/
    """
    path = resolve_db(db_path)
    if not path.exists():
        info(f"no store at {path}: the landscape sections will not be built")
    result = _write_report(path, out_dir, formats)
    click.echo(str(result.index))
    _exit_on_errors(result)


def _exit_on_errors(result: ReportResult) -> None:
    """Exit 1 (after the report is written) when a section failed with an error."""
    if result.errors:
        info(f"Error: section(s) not built because of an error: {', '.join(result.errors)}")
        click.get_current_context().exit(1)


def _count_raw(con) -> int:
    return con.execute("SELECT count(*) FROM raw_studies").fetchone()[0]


def _fetch_registry(con, api_url: str | None, timeout: float) -> None:
    """Count first (one short request); fetch only when the registry answers."""
    from ..store.fetch import plan_fetch

    held = _count_raw(con)
    plan = plan_fetch(api_url=api_url, timeout=timeout, retries=1, backoff=1.0)
    try:
        counts = plan.counts()
    except SourceError as exc:
        then = (f"the report uses the {held:,} records already in the store"
                if held else "the landscape sections will not be built")
        info(f"ClinicalTrials.gov unreachable ({exc.message}); {then}. "
             "To use local records: ici-atlas run --from PATH")
        return
    info(f"  ClinicalTrials.gov reports {sum(c['count'] for c in counts):,} studies for "
         f"{len(plan.terms)} agent names ({len(plan.queries)} chunk(s))")
    plan = plan_fetch(api_url=api_url, timeout=max(timeout, 60.0),
                      on_retry=lambda m, w: info(f"  {m}"))
    if last_successful_fetch(con, plan.key) is not None:
        plan = plan.with_update(con)
        info(f"  update: records changed since {plan.updated_since.isoformat()}")
    try:
        result = plan.run(con)
        info(f"  {result.summary()}")
    except ReconciliationError as exc:
        info(f"  warning: {exc.message} (the records received are stored; see the methods "
             "section)")
    except SourceError as exc:
        info(f"  fetch stopped: {exc.message}; continuing with the records stored so far "
             "(run the same command again to resume)")


@click.command("run")
@click.option("--from", "from_path", type=click.Path(exists=True, path_type=Path),
              help="Load local ClinicalTrials.gov records (a folder, JSON array, bulk ZIP, "
                   "v1 JSON or XML) instead of fetching from the registry.")
@click.option("--api-url", default=None,
              help=f"API v2 base URL (default: ${config.ENV_CTGOV_API} or "
                   f"{config.CTGOV_API_DEFAULT}).")
@click.option("--offline", is_flag=True, help="Do not contact the registry.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=20.0,
              show_default=True, help="Seconds to wait for the registry's first answer.")
@db_option
@_out_option
def run_cmd(from_path: Path | None, api_url: str | None, offline: bool, timeout: float,
            db_path: Path | None, out_dir: Path, formats: tuple[str, ...]) -> None:
    """The whole job: set up the store, load records, classify them, write the report.

    Records come from --from PATH, else from ClinicalTrials.gov (a count request first;
    an update of the last fetch when there was one). When the registry cannot be reached
    (or with --offline) and no records are given, it says so in one line and writes every
    section that needs no registry data (approvals, efficacy, strategies), marking the
    landscape as not built. Progress goes to stderr; the path of index.html to stdout.

    \b
    Examples:
      ici-atlas run
      ici-atlas run --from ../shared/data/ctgov/vrinda2019__NSCLCBench --out report/
      ici-atlas run --offline
    """
    path = resolve_db(db_path)
    info(f"[1/4] store: {path}")
    con = db.connect(path)
    try:
        classified = None
        if from_path is not None:
            info(f"[2/4] records: loading {from_path} (classifying while loading)")
            result, classified = load_and_classify_files(con, from_path)
            info(f"  {result.summary()}")
        elif offline:
            held = _count_raw(con)
            info("[2/4] records: offline, registry not contacted; "
                 + (f"using the {held:,} records already in the store" if held else
                    "no records, so the landscape sections will not be built "
                    "(give local records with --from PATH)"))
        else:
            info(f"[2/4] records: ClinicalTrials.gov ({config.ctgov_api_url(api_url)})")
            _fetch_registry(con, api_url, timeout)
        held = _count_raw(con)
        if classified is not None:
            info(f"[3/4] classify: {held:,} records (classified while loading)")
            info(f"  {classified.summary()}")
        elif held:
            info(f"[3/4] classify: {held:,} records")
            info(f"  {classify_store(con).summary()}")
        else:
            info("[3/4] classify: skipped (no records in the store)")
    finally:
        con.close()
    info(f"[4/4] report: {out_dir}")
    result = _write_report(path, out_dir, formats)
    click.echo(str(result.index))
    _exit_on_errors(result)


def register(group: click.Group) -> None:
    group.add_command(report_cmd)
    group.add_command(run_cmd)
