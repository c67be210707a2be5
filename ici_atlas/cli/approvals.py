"""``ici-atlas approvals``: the curated PD-1/PD-L1 approval events (review Figure 3) as tables;
``ici-atlas figures approvals``; ``ici-atlas export approvals`` and ``export approval-events``.

Approvals come from the curated file ``ici_atlas/data/approval_events.tsv`` (no store needed).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..analyses import approvals as ap
from .common import Choice, atlas_for, export_options, fmt_of, info, output_options, show
from .export import export_group
from .figures import figures_group

AGENT_COLUMNS = ["agent", "target", "first_agency", "first_approval_date", "first_indication",
                 "n_events", "n_cancer_groups"]
SUMMARY_COLUMNS = ["metric", "description", "review", "data_review_date", "data",
                   "data_verified_only", "difference", "why"]


def _load(path: Path | None):
    return ap.load_approval_events(path)


def events_option(func):
    return click.option(
        "--events", "events_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
        default=None, help="Read approval events from this TSV instead of the curated file.",
    )(func)


@click.command("approvals")
@click.option("--agent", metavar="NAME", help="Only this agent (INN, code name or brand).")
@click.option("--agency", metavar="CODE",
              help=f"Only this agency ({', '.join(ap.AGENCIES)}).")
@click.option("--cancer", "--tumor", "cancer", metavar="GROUP|TYPE",
              help="Only this cancer group (e.g. NSCLC) or finer cancer type (e.g. ASPS).")
@click.option("--since", metavar="DATE", help="Only events on or after YYYY[-MM[-DD]].")
@click.option("--status", type=Choice(ap.STATUSES), default=None,
              help="Only events with this label status.")
@click.option("--verified-only", is_flag=True, help="Leave out rows marked verified = no.")
@click.option("--as-of", "as_of", metavar="DATE",
              help="The approvals as they stood on DATE (YYYY[-MM[-DD]]): events approved by "
                   "then, with the status they had then; --summary recomputes every count.")
@click.option("--agents", "per_agent", is_flag=True,
              help="One row per agent (first approval and counts) instead of one per event.")
@click.option("--summary", is_flag=True,
              help="The review's headline counts computed from the data, next to the review's values.")
@click.option("--all-columns", is_flag=True, help="Show every column of the events table.")
@events_option
@output_options
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              hidden=True, help="Accepted for consistency; approvals need no store.")
def approvals_cmd(agent, agency, cancer, since, status, verified_only, as_of, per_agent,
                  summary, all_columns, events_path, fmt, out, db_path):
    """Approval events of PD-1/PD-L1 inhibitors (agency, date, indication, source).

    Every row of the curated table names its source; rows not verified in a public source are
    flagged (verified = no). --summary recomputes the review's counts (32 agents, first approvals
    by agency, indications of pembrolizumab and atezolizumab, NSCLC options, cancer types) from
    the rows, with and without unverified rows. Approvals need no store (--db is accepted
    and not needed).

    \b
    Example:
      ici-atlas approvals --agent pembrolizumab --since 2021 --format csv
      ici-atlas approvals --summary
    """
    atlas = atlas_for(db_path)
    events = _load(events_path)
    if summary:
        if any((agent, agency, cancer, since, status, verified_only, per_agent)):
            info("--summary counts every event; the filters are ignored.")
        df = atlas.approval_summary(as_of=as_of, events=events_path)
        show(df if fmt_of(fmt) != "table" else df[SUMMARY_COLUMNS[:-1]], fmt, out)
        if fmt_of(fmt) == "table":
            for row in df.itertuples(index=False):
                if row.why:
                    info(f"{row.metric}: {row.why}")
        when = f"as of {as_of}" if as_of else "today"
        info(f"review = value stated in {ap.REVIEW_CITATION}; data_review_date = our data as of "
             f"{ap.REVIEW_AS_OF}; data = {when}; computed from {len(events)} events "
             "(docs/approvals.md).")
        return
    filters = dict(agent=agent, agency=agency, cancer=cancer, since=since, status=status,
                   verified_only=verified_only, as_of=as_of, events=events_path)
    if per_agent:
        df = atlas.approvals(**{k: v for k, v in filters.items() if v})
        show(df[AGENT_COLUMNS + ["first_verified"]], fmt, out)
        n = len(ap.query_approvals(events, agent, agency, cancer, since, status, verified_only,
                                   as_of))
    else:
        df = atlas.approval_events(**filters)
        table = fmt_of(fmt) == "table" and not all_columns
        show(df[list(ap.EVENT_TABLE_COLUMNS)] if table else df, fmt, out)
        n = len(df)
    info(f"{n} of {len(events)} approval events" + (f" (as of {as_of})." if as_of else "."))


@click.command("approvals")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write fig3_approvals.png and .svg into.")
@click.option("--as-of", "as_of", metavar="DATE",
              help="Draw the panels as of DATE (YYYY[-MM[-DD]]), e.g. the review's 2025-04-30.")
@events_option
def figures_approvals_cmd(out, as_of, events_path):
    """Figure 3: first-approval timeline by agency, indications per agent and agents per
    cancer type (PNG and SVG).

    \b
    Example:
      ici-atlas figures approvals --out figures/
    """
    from ..figures.approvals import render_approval_figures

    for path in render_approval_figures(ap.events_as_of(_load(events_path), as_of), out):
        info(f"wrote {path}")




@export_group.command("approvals")
@export_options()
@events_option
def export_approvals_cmd(fmt, out, events_path):
    """One row per approved agent: target, first agency, first approval date (YYYY-MM-DD, or
    YYYY-MM where the day is unknown), first indication, number of events and cancer groups.

    \b
    Example:
      ici-atlas export approvals --format csv > approvals.csv
    """
    df = atlas_for(None).approvals(events=events_path)
    show(df[AGENT_COLUMNS], fmt, out, "agents", default="csv")


@export_group.command("approval-events")
@export_options()
@events_option
def export_approval_events_cmd(fmt, out, events_path):
    """Every approval event with all its columns (agent, agency, date, indication, cancer group
    and type, line, biomarker, combination, approval type, trial, source, verified, notes).

    \b
    Example:
      ici-atlas export approval-events --format tsv --out approval_events.tsv
    """
    show(atlas_for(None).approval_events(events=events_path), fmt, out, "events", default="csv")


def register(group: click.Group) -> None:
    group.add_command(approvals_cmd)


figures_group.add_command(figures_approvals_cmd)
