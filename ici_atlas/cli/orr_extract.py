"""``ici-atlas orr-extract``, ``ici-atlas orr-compare`` and ``ici-atlas export orr-extracted``:
ORR read automatically from ClinicalTrials.gov posted results, kept apart from the curated
rows and compared with them."""

from __future__ import annotations

from pathlib import Path

import click

from ..analyses import registry_orr as ox
from ..store.db import connect
from .common import db_option, emit, export_options, fmt_of, info, output_options, resolve_db
from .export import export_group

#: Columns of the human-readable table (JSON/CSV/TSV give every column).
_TABLE_COLUMNS = ("nct_id", "outcome_type", "rule", "group_title", "subgroup", "n", "responders",
                  "orr_percent", "responders_source", "arm_label", "arm_match_confidence",
                  "is_pd1_monotherapy", "preferred")
_MAX_PROBLEMS_SHOWN = 10


def _filters(func):
    func = click.option("--nct", "nct_id", default=None, metavar="NCT",
                        help="Only this trial.")(func)
    func = click.option("--preferred", is_flag=True,
                        help="Only the headline row of each outcome group.")(func)
    func = click.option("--monotherapy", is_flag=True,
                        help="Only arms the trial classifier calls PD-(L)1 monotherapy.")(func)
    return func


@click.command("orr-extract")
@_filters
@output_options
@db_option
def orr_extract_cmd(nct_id, preferred, monotherapy, fmt, out, db_path: Path | None) -> None:
    """Rebuild the table orr_extracted from the posted results of the stored studies and
    print its rows: one per outcome group of every objective/overall response outcome, with
    n, responders, ORR %, CI, the rule that matched, the protocol arm the group maps to (and
    how confidently) and whether that arm is a PD-(L)1 monotherapy arm.

    Needs `ici-atlas classify` first (monotherapy flags). Malformed parts of a results
    section are reported (record and field) and skipped; the rest continues. The curated
    dataset (orr_arms.tsv) is never written.

    \b
    Example:
      ici-atlas orr-extract --db atlas.duckdb --monotherapy --preferred
    """
    con = connect(resolve_db(db_path))
    try:
        report = ox.load_orr_extracted(con)
        rows = ox.query_orr_extracted(con, monotherapy=monotherapy, preferred=preferred,
                                      nct_id=nct_id)
    finally:
        con.close()
    info(report.summary())
    for p in report.problems[:_MAX_PROBLEMS_SHOWN]:
        info(f"  problem {p.nct_id}: {p.field}: {p.reason}")
    if len(report.problems) > _MAX_PROBLEMS_SHOWN:
        info(f"  ... and {len(report.problems) - _MAX_PROBLEMS_SHOWN} more "
             f"(table {ox.PROBLEMS_TABLE})")
    emit(rows, fmt, _TABLE_COLUMNS if fmt_of(fmt) == "table" else ox.COLUMNS, out)


@click.command("orr-compare")
@click.option("--curated", "curated_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Curated ORR file (default: the packaged orr_arms.tsv).")
@output_options
@db_option
def orr_compare_cmd(curated_path, fmt, out, db_path: Path | None) -> None:
    """Compare the curated ORR arms with the rows extracted from posted results (run
    `ici-atlas orr-extract` first): matched by NCT ID and arm, one row per pair, saying
    whether n and responders agree.

    \b
    Example:
      ici-atlas orr-compare --db atlas.duckdb --csv > orr_compare.csv
    """
    from ..analyses.efficacy import load_orr_arms

    curated = load_orr_arms(curated_path)
    con = connect(resolve_db(db_path), read_only=True)
    try:
        extracted = ox.query_orr_extracted(con)
    finally:
        con.close()
    rows = ox.compare_orr_arms(extracted, curated)
    with_nct = {a.nct_id for a in curated if a.nct_id}
    overlap = with_nct & {r["nct_id"] for r in extracted}
    info(f"{len(curated)} curated arms ({len(with_nct)} trials with an NCT ID); "
         f"{len(overlap)} of those trials have extracted ORR rows; {len(rows)} comparison rows"
         + (": " + ", ".join(f"{s} {sum(r['status'] == s for r in rows)}"
                             for s in sorted({r['status'] for r in rows})) if rows else ""))
    emit(rows, fmt, ox.COMPARE_COLUMNS, out)


@export_group.command("orr-extracted")
@export_options()
@_filters
@db_option
def export_orr_extracted_cmd(fmt, out, nct_id, preferred, monotherapy,
                             db_path: Path | None) -> None:
    """Write the table orr_extracted (built by `ici-atlas orr-extract`), every column.

    \b
    Example:
      ici-atlas export orr-extracted --format tsv --monotherapy > orr_extracted.tsv
    """
    con = connect(resolve_db(db_path), read_only=True)
    try:
        rows = ox.query_orr_extracted(con, monotherapy=monotherapy, preferred=preferred,
                                      nct_id=nct_id)
    finally:
        con.close()
    emit(rows, fmt or "csv", ox.COLUMNS, out)


def register(group: click.Group) -> None:
    group.add_command(orr_extract_cmd)
    group.add_command(orr_compare_cmd)
