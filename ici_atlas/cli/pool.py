"""``ici-atlas pool``: meta-analysis of single proportions from a table file (the
command-line face of :func:`ici_atlas.pool`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..meta.tau2 import METHODS
from ..meta.transforms import MEASURES
from .common import Choice, fmt_of, info, output_options, show


@click.command("pool")
@click.option("--csv", "--file", "csv_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Table with one row per study: CSV/TSV (UTF-8 or UTF-16), Parquet or XLSX.")
@click.option("--events", "events_col", required=True, metavar="COL",
              help="Column with the number of events (e.g. responders).")
@click.option("--total", "total_col", required=True, metavar="COL",
              help="Column with the number of patients.")
@click.option("--measure", type=Choice(MEASURES, case_sensitive=False), default="PLO",
              show_default=True, help="Transformation (metafor escalc measure).")
@click.option("--method", type=Choice(list(METHODS) + ["GLMM"], case_sensitive=False),
              default="REML", show_default=True, help="tau² estimator, FE, or GLMM.")
@click.option("--test", type=Choice(["z", "knha"]), default="z", show_default=True,
              help="Wald (z) or Hartung-Knapp-Sidik-Jonkman (knha) intervals.")
@click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.95, show_default=True, help="Confidence level.")
@click.option("--by", default=None, metavar="COL",
              help="Pool within subgroups of this column and test for differences.")
@click.option("--label", default=None, metavar="COL", help="Study label column (messages, forest).")
@click.option("--forest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the forest plot into this file (.png, .svg or .pdf).")
@output_options(deprecated=("json", "tsv"))
def pool_command(csv_path, events_col, total_col, measure, method, test, level, by, label,
                 forest, fmt, out):
    """Pool proportions (e.g. response rates) across studies in a table file.

    The table format prints the model as R metafor does (tau², I², H², Q, estimate on the
    transformed scale, and the pooled proportion with its confidence and prediction
    intervals); csv/tsv/json/parquet/xlsx give one row per subgroup and the overall model
    (proportions 0-1), as ``ici_atlas.pool(...).to_frame()``. With --by, each subgroup has
    its own tau² and the subgroups are tested against each other. Research tool: not
    clinical advice.

    \b
    Example:
      ici-atlas pool --csv arms.csv --events responders --total patients \\
          --method REML --test knha --by line --format json
    """
    from ..pooling import pool

    res = pool(csv_path, events=events_col, total=total_col, measure=measure, method=method,
               test=test, level=level, by=by, label=label)
    if fmt_of(fmt) == "table" and out is None:
        click.echo(res.summary())  # includes the warnings
    else:
        for w in res.warnings:
            info(f"Warning: {w}")
        show(res.to_frame(), fmt, out)
    if forest is not None:
        fig = res.forest(title=f"Pooled {events_col}/{total_col}")
        forest.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(forest, bbox_inches="tight")
        info(f"wrote {forest}")


def register(group: click.Group) -> None:
    group.add_command(pool_command)
