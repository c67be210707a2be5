"""``ici-atlas pool``: meta-analysis of single proportions from a CSV file."""

from __future__ import annotations

import csv
import json
import math
import sys
import warnings
from pathlib import Path

import click

from ..errors import InputError
from ..meta import pool_by_subgroup, pool_proportions
from ..meta.tau2 import METHODS
from ..meta.transforms import MEASURES
from .common import info, render_rows

_JSON_KEYS = ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "I2", "H2", "Q", "Q_p",
              "k", "events", "total", "yi_estimate", "se", "method", "measure", "test", "level")


def _read_counts(path: Path, events_col: str, total_col: str, by: str | None, label: str | None):
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"Cannot read CSV {str(path)!r}: {exc.strerror}",
                         fix="Check the path given to --csv.") from exc
    with fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(fh, dialect=dialect)
        header = reader.fieldnames or []
        for opt, col in (("--events", events_col), ("--total", total_col), ("--by", by),
                         ("--label", label)):
            if col is not None and col not in header:
                raise InputError(
                    f"Invalid column {col!r} for {opt} in {path.name}; expected one of {header}",
                    fix=f"Pass the exact column name to {opt}.",
                )
        events, totals, groups, labels = [], [], [], []
        try:
            rows = list(reader)
        except csv.Error as exc:
            raise InputError(f"Malformed CSV {path.name}: {exc}",
                             fix="Save the file as plain comma-separated values.") from exc
    if not rows:
        raise InputError(f"No data rows in {path.name}", fix="Add one row per study.")
    for i, row in enumerate(rows):
        line = i + 2  # header is line 1
        vals = []
        for col in (events_col, total_col):
            raw = (row.get(col) or "").strip()
            try:
                val = float(raw)
                if not math.isfinite(val) or val < 0 or val != int(val):
                    raise ValueError
            except ValueError:
                raise InputError(
                    f"Invalid value {raw!r} in {path.name} row {line}, column {col!r}; "
                    "expected a non-negative whole number",
                    fix=f"Correct row {line} or remove it.",
                ) from None
            vals.append(int(val))
        ev, n = vals
        if n == 0:
            raise InputError(f"Invalid total 0 in {path.name} row {line}, column {total_col!r}",
                             fix=f"Remove row {line} (a study without patients) or correct it.")
        if ev > n:
            raise InputError(
                f"Invalid events {ev} in {path.name} row {line}, column {events_col!r}: "
                f"larger than {total_col!r} = {n}",
                fix=f"Check both columns in row {line}.",
            )
        events.append(ev)
        totals.append(n)
        if by is not None:
            g = (row.get(by) or "").strip()
            if not g:
                raise InputError(f"Missing subgroup in {path.name} row {line}, column {by!r}",
                                 fix=f"Fill in {by!r} for row {line} or remove the row.")
            groups.append(g)
        labels.append(row.get(label) if label else f"row {line}")
    return events, totals, groups, labels


def _clean(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


@click.command("pool")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file with one row per study.")
@click.option("--events", "events_col", required=True, metavar="COL",
              help="Column with the number of events (e.g. responders).")
@click.option("--total", "total_col", required=True, metavar="COL",
              help="Column with the number of patients.")
@click.option("--measure", type=click.Choice(MEASURES, case_sensitive=False), default="PLO",
              show_default=True, help="Transformation (metafor escalc measure).")
@click.option("--method", type=click.Choice(list(METHODS) + ["GLMM"], case_sensitive=False),
              default="REML", show_default=True, help="tau² estimator, FE, or GLMM.")
@click.option("--test", type=click.Choice(["z", "knha"]), default="z", show_default=True,
              help="Wald (z) or Hartung-Knapp-Sidik-Jonkman (knha) intervals.")
@click.option("--level", type=float, default=0.95, show_default=True, help="Confidence level.")
@click.option("--by", default=None, metavar="COL",
              help="Pool within subgroups of this column and test for differences.")
@click.option("--label", default=None, metavar="COL", help="Study label column for messages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--tsv", "as_tsv", is_flag=True, help="Print a tab-separated table.")
def pool_command(csv_path, events_col, total_col, measure, method, test, level, by, label,
                 as_json, as_tsv):
    """Pool proportions (e.g. response rates) across studies in a CSV file.

    Prints the pooled proportion with its confidence and prediction interval, tau²,
    I², H² and Cochran's Q. With --by, pools each subgroup and tests for subgroup
    differences (each subgroup with its own tau²). Methods follow R metafor
    (see docs/methods-meta.md). Research tool: not clinical advice.

    \b
    Example:
      ici-atlas pool --csv arms.csv --events responders --total patients \\
          --method REML --test knha --by line --json
    """
    fmt = "json" if as_json else ("tsv" if as_tsv else "table")
    events, totals, groups, labels = _read_counts(csv_path, events_col, total_col, by, label)
    kw = dict(measure=measure.upper(), method=method.upper(), test=test, level=level,
              labels=labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if by is None:
            res = pool_proportions(events, totals, **kw)
            sub = None
        else:
            sub = pool_by_subgroup(events, totals, groups, **kw)
    for w in {str(w.message) for w in caught}:
        info(f"Warning: {w}")
    if by is None:
        row = _clean({k: getattr(res, k) for k in _JSON_KEYS})
        if fmt == "json":
            sys.stdout.write(json.dumps(row, indent=2) + "\n")
        elif fmt == "tsv":
            sys.stdout.write(render_rows([row], fmt))
        else:
            sys.stdout.write(res.summary() + "\n")
        return
    rows = []
    for g, r in sub.groups.items():
        rows.append(_clean({by: g, **{k: getattr(r, k) for k in _JSON_KEYS}}))
    between = {"Q_between": sub.Q_between, "df": sub.df_between, "p": sub.p_between,
               "test": sub.test_between}
    if fmt == "json":
        out = {"subgroups": rows, "overall": _clean({k: getattr(sub.overall, k)
                                                     for k in _JSON_KEYS}),
               "subgroup_difference": _clean(between)}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif fmt == "tsv":
        sys.stdout.write(render_rows(rows, fmt))
    else:
        sys.stdout.write(sub.summary() + "\n")


def register(group: click.Group) -> None:
    group.add_command(pool_command)
