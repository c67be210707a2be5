"""``ici-atlas orr`` (pooled ORR of PD-1/PD-L1 monotherapy), ``ici-atlas export orr-arms``
and ``ici-atlas figures efficacy`` (Figure 4 and forest plots)."""

from __future__ import annotations

from pathlib import Path

import click

from ..analyses import efficacy as ef
from ..api import LINE_ALIASES
from .common import Choice, atlas_for, export_options, fmt_of, info, output_options, show
from .export import export_group
from .figures import figures_group

_ORR_TABLE_COLUMNS = ("k", "patients", "responders", "orr_pct", "ci_pct", "pi_pct", "i2_pct",
                      "method", "trials")


def _selection_options(func):
    func = click.option("--include-subgroups", is_flag=True,
                        help="Also pool biomarker or other subgroups of a trial's primary "
                             "population (left out by default).")(func)
    func = click.option("--include-haematological", is_flag=True,
                        help="Also pool haematological malignancies (cHL, other lymphomas, "
                             "other haematological); the review's Figure 4 is solid tumours.")(func)
    func = click.option("--include-unverified", is_flag=True,
                        help="Also use rows marked verified = no (left out by default).")(func)
    func = click.option("--class", "target_class", default=None, metavar="PD-1|PD-L1",
                        help="Only anti-PD-1 or only anti-PD-L1 arms.")(func)
    func = click.option("--agent", default=None, metavar="AGENT",
                        help="Only this agent (INN, code name or brand).")(func)
    func = click.option("--line", default=None, metavar="LINE",
                        help="Only first-line, later-line or any-line arms "
                             f"({', '.join(sorted(LINE_ALIASES))}).")(func)
    func = click.option("--cancer", "--tumor", "cancer", default=None, metavar="GROUP",
                        help="Only this cancer group (e.g. NSCLC, melanoma, HCC); --tumor is "
                             "an alias.")(func)
    return func


def _selection(cancer, line, agent, target_class, include_unverified,
               include_haematological=False, include_subgroups=False) -> dict:
    return dict(cancer=cancer, line=line, agent=agent, target_class=target_class,
                include_unverified=include_unverified,
                include_haematological=include_haematological,
                include_subgroups=include_subgroups)


def _pct(x) -> str:
    return "" if x is None or x != x else f"{100 * x:.1f}"


def _interval(lo, hi) -> str:
    return "" if lo is None or hi is None or lo != lo or hi != hi else f"{100 * lo:.1f}-{100 * hi:.1f}"


def _arms(selection: dict):
    from ..api import _select_arms

    return _select_arms(**selection)


def _write_figures(arms, out: Path, by, method, test) -> None:
    from ..figures.efficacy import render_efficacy_figures

    for path in render_efficacy_figures(arms, out, by=by, method=method, test=test):
        info(f"wrote {path}")


@click.command("orr")
@_selection_options
@click.option("--by", default="tumor,line", show_default=True, metavar="KEYS",
              help="Group arms by these keys, comma-separated: tumor (cancer group, MSI-H/dMMR "
                   "arms apart), group (cancer group), line, agent, class, detail, trial; "
                   "'none' pools everything selected.")
@click.option("--method", default="REML", show_default=True,
              type=Choice(["REML", "DL", "PM", "ML", "EB", "SJ", "HE", "HS", "FE", "GLMM"],
                                case_sensitive=False),
              help="Between-study variance estimator, or GLMM (random-intercept logistic model).")
@click.option("--test", type=Choice(["knha", "z"]), default="knha", show_default=True,
              help="Confidence intervals by Hartung-Knapp-Sidik-Jonkman (t) or Wald (z).")
@click.option("--arms", "show_arms", is_flag=True,
              help="List the selected arms instead of pooling them.")
@click.option("--left-out", "show_left_out", is_flag=True,
              help="List every row matching the filters that is NOT pooled, with the reason.")
@click.option("--review", "show_review", is_flag=True,
              help="The review's stated ORRs beside ours (ranges per line; MCC, cSCC, MSI-H "
                   "CRC; gastric and liver).")
@click.option("--figure-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write Figure 4 and a forest plot per subgroup (PNG + SVG) into DIR.")
@output_options
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              hidden=True, help="Accepted for consistency; the curated arms need no store.")
def orr_cmd(cancer, line, agent, target_class, include_unverified, include_haematological,
            include_subgroups, by, method, test, show_arms, show_left_out, show_review,
            figure_dir, fmt, out, db_path):
    """Pooled objective response rate (ORR) of PD-1/PD-L1 monotherapy per subgroup.

    Prints, per tumour group × line (default), the number of arms k, patients, responders,
    pooled ORR with its 95% CI and 95% prediction interval, and I². Pooling: logit
    transform, REML tau², Hartung-Knapp-Sidik-Jonkman CI; a subgroup of one arm shows
    that arm's exact (Clopper-Pearson) CI; groups of k <= 2 are flagged. By default the
    review's scope: verified rows, objective response, advanced disease (maintenance as its
    own line), the trial's primary population, one data cut per arm, solid tumours; stderr
    says how many rows were left out and why (--left-out lists them). The table shows
    percentages; csv/json/parquet give the API's proportions (0-1).

    \b
    Example:
      ici-atlas orr --cancer HCC
      ici-atlas orr --line first --by tumor --format csv
      ici-atlas orr --figure-dir figures/
    """
    atlas = atlas_for(db_path)
    selection = _selection(cancer, line, agent, target_class, include_unverified,
                           include_haematological, include_subgroups)
    if show_review:
        show(atlas.orr_review(include_unverified=include_unverified), fmt, out)
        return
    if show_left_out:
        df = atlas.orr_arms(cancer=cancer, line=line, agent=agent, target_class=target_class,
                            every_row=True)
        df = df[df["left_out_because"].notna()]
        if fmt_of(fmt) == "table":
            df = df[["trial", "arm", "tumor_group", "line", "population", "data_cut", "endpoint",
                     "verified", "left_out_because"]]
        show(df, fmt, out, "rows")
        return
    arms = _arms(selection)
    if show_arms:
        df = atlas.orr_arms(**selection)
        if fmt_of(fmt) == "table":
            df = df[["trial", "arm", "agent", "tumor_group", "line", "n_evaluable",
                     "responders", "orr_percent", "verified", "source"]]
        show(df, fmt, out, "arms")
        return
    if not arms:
        info("No arms match these filters (try --include-unverified or fewer filters).")
    df = atlas.orr(by=by, method=method, test=test, **selection)
    keys = [c for c in df.columns if c not in ("k", "patients", "responders", "orr", "ci_lb",
                                               "ci_ub", "pi_lb", "pi_ub", "i2", "tau2",
                                               "method", "trials", "small_k", "note")]
    if fmt_of(fmt) == "table":
        from ..tables import frame

        rows = []
        for r in df.to_dict("records"):
            row = {k: r[k] for k in keys}
            row.update(k=r["k"], patients=r["patients"], responders=r["responders"],
                       orr_pct=_pct(r["orr"]), ci_pct=_interval(r["ci_lb"], r["ci_ub"]),
                       pi_pct=_interval(r["pi_lb"], r["pi_ub"]),
                       i2_pct="" if r["i2"] != r["i2"] else f"{r['i2']:.0f}",
                       method=r["method"] + (" *" if r["small_k"] else ""),
                       trials="; ".join(r["trials"]))
            rows.append(row)
        show(frame(rows, list(keys) + list(_ORR_TABLE_COLUMNS)), fmt, out)
        if any(df["small_k"]):
            info("* " + ef.SMALL_K_NOTE.format(k="1 or 2"))
    else:
        show(df, fmt, out)
    unverified = sum(1 for a in arms if not a.verified)
    info(f"pooled: {len(arms)} arms ({unverified} unverified) from "
         f"{len({a.trial for a in arms})} trials, "
         f"{sum(a.n_evaluable or 0 for a in arms):,} patients")
    left = atlas.orr_left_out(**selection)
    if len(left):
        info(f"left out: {int(left['rows'].sum())} rows ("
             + "; ".join(f"{r.reason}: {r.rows}" for r in left.itertuples(index=False))
             + "); list them with --left-out")
    if figure_dir is not None:
        _write_figures(arms, figure_dir, keys or ["tumor", "line"], method, test)


@export_group.command("orr-arms")
@export_options()
@_selection_options
def export_orr_arms_cmd(fmt, out, cancer, line, agent, target_class, include_unverified,
                        include_haematological, include_subgroups):
    """Write the curated ORR arms, one row per monotherapy arm, with their sources.

    Columns: trial, nct_id, pmid, doi, agent, target_class, tumor_group, line,
    n_evaluable, responders, orr_percent, verified, source, then arm, tumor_detail,
    setting, biomarker_selection, phase, response_criteria, data_cutoff, where_read,
    derivation, notes, endpoint, population, data cut. Every row matching the filters is
    written (pooled or not): in_default_pool and left_out_because say whether and why
    not it enters the default pool.

    \b
    Example:
      ici-atlas export orr-arms --format csv > orr_arms.csv
    """
    atlas = atlas_for(None)
    df = atlas.orr_arms(cancer=cancer, line=line, agent=agent, target_class=target_class,
                        every_row=True)
    columns = list(ef.EXPORT_COLUMNS) + list(ef.EXPORT_EXTRA_COLUMNS)
    show(df[columns], fmt, out, "arms", default="csv")


@click.command("efficacy")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the figures into (created if missing).")
@_selection_options
def figures_efficacy_cmd(out, cancer, line, agent, target_class, include_unverified,
                         include_haematological, include_subgroups):
    """Write Figure 4 (ORR per tumour type, by line, one circle per arm sized by patients)
    and one forest plot per tumour group × line with two or more arms, as PNG and SVG.

    \b
    Example:
      ici-atlas figures efficacy --out figures/
    """
    arms = _arms(_selection(cancer, line, agent, target_class, include_unverified,
                            include_haematological, include_subgroups))
    _write_figures(arms, out, ["tumor", "line"], "REML", "knha")


def register(group: click.Group) -> None:
    group.add_command(orr_cmd)


figures_group.add_command(figures_efficacy_cmd)
