"""``ici-atlas snapshot``, ``diff`` and ``update``: the living evidence base — citable
releases, what changed between two of them, and the one-command monthly update."""

from __future__ import annotations

from pathlib import Path

import click

from .common import atlas_for, db_option, fmt_of, info, output_options, show
from .fetch import fetch_network_options


@click.command("snapshot")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="New (or empty) folder for the release.")
@click.option("--no-report", is_flag=True, help="Tables and metadata only, no report.")
@db_option
def snapshot_cmd(out_dir, no_report, db_path):
    """Write a citable release of the store: every table (Parquet and CSV), the report,
    manifest.json (version YY.MINOR, data hash, exact queries with their counts, curated-file
    fingerprints, software), CITATION.cff and zenodo.json. The same store gives the same
    data hash (and keeps its version).

    \b
    Example:
      ici-atlas snapshot --db atlas.duckdb --out releases/26.1
    """
    result = atlas_for(db_path).snapshot(out_dir, report=not no_report,
                                         on_step=lambda m: None)
    info(result.summary())


@click.command("diff")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@output_options(formats=("table", "csv", "tsv", "json"))
def diff_cmd(old, new, fmt, out):
    """What changed from OLD to NEW (each a store file or a snapshot folder): PD-(L)1 trials
    added and removed, every changed field of the others (before, after), approval events
    and ORR arms added or changed, and every landscape count that moved.

    \b
    Examples:
      ici-atlas diff releases/26.1 releases/26.2
      ici-atlas diff last-month.duckdb atlas.duckdb --format json > changes.json
    """
    import json
    import sys

    from ..living.diff import diff

    result = diff(old, new)
    if fmt_of(fmt) == "json":
        text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
        if out is None:
            sys.stdout.write(text)
        else:
            Path(out).write_text(text, encoding="utf-8")
            info(f"wrote {out}")
    else:
        show(result.to_frame(), fmt, out, "changes")
    for note in result.notes:
        info(f"Note: {note}")
    info(result.summary())


@click.command("update")
@click.option("--snapshots", "snapshots_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder of the releases: each update adds <version>/ and "
                                  "refreshes feeds/.")
@click.option("--from", "from_path", type=click.Path(exists=True, path_type=Path),
              help="Load these local ClinicalTrials.gov records instead of fetching.")
@click.option("--watch", "watch_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML or JSON file of saved watches (agent, partner, cancer, phase, "
                   "target_class): one Atom and one JSON feed each.")
@click.option("--no-report", is_flag=True, help="Skip the report.")
@fetch_network_options
@db_option
def update_cmd(snapshots_dir, from_path, watch_file, no_report, db_path, **fetch_options):
    """Fetch what changed since the last run (or load --from), classify, write a snapshot,
    compare it with the previous one, write the alert feeds and the report with "What
    changed since". One command for the monthly update (see docs/living.md for a cron or
    systemd timer).

    \b
    Example:
      ici-atlas update --db atlas.duckdb --snapshots releases/ --watch watches.yaml
    """
    options = {k: v for k, v in fetch_options.items() if v is not None}
    result = atlas_for(db_path).update(snapshots_dir, from_path=from_path, watch=watch_file,
                                       report=not no_report, on_step=info, **options)
    info(result.summary())


def register(group: click.Group) -> None:
    group.add_command(snapshot_cmd)
    group.add_command(diff_cmd)
    group.add_command(update_cmd)
