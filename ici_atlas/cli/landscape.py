"""``ici-atlas landscape ...``: the trial landscape (review Figures 2 and 5) as tables and
figures; ``ici-atlas figures landscape`` and ``ici-atlas export landscape``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import click

from ..progress import Progress
from .common import Choice, SuggestingGroup, atlas_for, db_option, info, output_options, show
from .export import export_group
from .figures import figures_group

BISPECIFIC_COLUMNS = ("agent", "target_class", "other_target", "trials", "highest_phase",
                      "approved", "first_approval", "status")
FIGURE_FOR = {
    "phases": ("fig2a_phases",),
    "cancers": ("fig2b_cancers_pd1", "fig2c_cancers_pdl1"),
    "partners": ("fig5a_partners",),
    "bispecifics": ("fig5b_bispecifics",),
    "years": ("landscape_years",),
    "sponsors": ("landscape_sponsors",),
    "countries": ("landscape_countries",),
}


def _repeatable(metavar: str, help: str) -> dict:
    return {"multiple": True, "metavar": metavar, "help": help}


#: The trial filters, in the order ``--help`` lists them: (the API's name, the option's
#: flags, click's settings). The same names as the API and the dashboard.
FILTER_OPTIONS: tuple[tuple[str, tuple[str, ...], dict], ...] = (
    ("target_class", ("--class",), {"metavar": "PD-1|PD-L1",
     "help": "Only trials giving an anti-PD-1 (or anti-PD-L1) agent."}),
    ("cancer", ("--cancer", "--tumor"), _repeatable(
        "GROUP", "Only trials classified into this cancer group (see `ici-atlas landscape "
        "cancers`); repeatable. --tumor is an alias.")),
    ("phase", ("--phase",), _repeatable(
        "PHASE", "Only trials in this phase ('Phase 2', '2/3', 'III', 'early1', 'NA'); repeat "
        "for several.")),
    ("agent", ("--agent",), _repeatable(
        "NAME", "Only trials giving this agent (INN, code name or brand); repeatable.")),
    ("partner", ("--partner",), _repeatable(
        "CLASS", "Only trials with this partner class (e.g. CTLA-4); repeatable.")),
    ("since", ("--since",), {"type": int, "metavar": "YEAR",
     "help": "Only trials that started in YEAR or later."}),
    ("until", ("--until",), {"type": int, "metavar": "YEAR",
     "help": "Only trials that started in YEAR or earlier."}),
    ("posted_by", ("--as-of", "--posted-by"), {"metavar": "DATE",
     "help": "The landscape as of DATE (YYYY[-MM[-DD]]): only trials first posted on or "
             "before it."}),
    ("exposure", ("--exposure",), {"type": Choice(["assigned", "observed"]), "default": None,
     "help": "Only studies that assign the PD-(L)1 agent (interventional) or only those that "
             "observe it (observational); default both, as the review counted."}),
    ("registry", ("--registry",), _repeatable(
        "NAME", "Only registrations in this registry (CTGOV, CHICTR, EUCTR, CTIS, ISRCTN ...); "
        "repeatable. Default: every registry, each trial counted once (see `ici-atlas "
        "landscape registries`).")),
    ("posted_since", ("--posted-since",), {"type": int, "metavar": "YEAR",
     "help": "Only trials first posted in YEAR or later."}),
    ("posted_until", ("--posted-until",), {"type": int, "metavar": "YEAR",
     "help": "Only trials first posted in YEAR or earlier."}),
    ("status", ("--status",), _repeatable(
        "STATUS", "Only trials with this overall status (e.g. RECRUITING); repeatable.")),
    ("sponsor", ("--sponsor",), _repeatable(
        "CLASS", "Only trials whose lead sponsor has this class (e.g. INDUSTRY); repeatable.")),
    ("country", ("--country",), _repeatable(
        "COUNTRY", "Only trials with a site in this country; repeatable.")),
    ("line", ("--line",), _repeatable(
        "LINE", "Only trials in this line of therapy (e.g. first-line); repeatable.")),
    ("setting", ("--setting",), _repeatable(
        "SETTING", "Only trials in this treatment setting (e.g. advanced, neoadjuvant); "
        "repeatable.")),
    ("monotherapy", ("--monotherapy",), {"type": Choice(["yes", "no"]), "default": None,
     "help": "Only trials with (yes) or without (no) a PD-(L)1 monotherapy arm."}),
    ("bispecific", ("--bispecific",), {"type": Choice(["yes", "no"]), "default": None,
     "help": "Only trials that give (yes) or do not give (no) a bispecific PD-(L)1 agent."}),
    ("q", ("--text",), {"metavar": "TEXT",
     "help": "Only trials whose NCT ID, titles, acronym, sponsor or agents contain TEXT "
             "(case-insensitive)."}),
)


def filter_options(command: Callable) -> Callable:
    """The trial filters of :data:`FILTER_OPTIONS`, handed to the command as one
    ``filters`` dict with the API's names (repeatable options as lists)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        filters = {}
        for name, _, settings in FILTER_OPTIONS:
            value = kwargs.pop(f"filter_{name}")
            filters[name] = list(value) if settings.get("multiple") else value
        return command(*args, filters=filters, **kwargs)

    func = wrapper
    for name, flags, settings in reversed(FILTER_OPTIONS):  # the first listed is applied last
        func = click.option(*flags, f"filter_{name}", **settings)(func)
    return func


def figure_dir_option(func: Callable) -> Callable:
    return click.option(
        "--figure-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Also write this analysis's figure(s) (PNG + SVG) into DIR.",
    )(func)


def _table(kind: str, db_path, filters: dict, fmt, out, figure_dir, note: str = "",
           top: int | None = None, **extra) -> None:
    """One table command: the total on stderr, the table on stdout (or -o), its figure."""
    atlas = atlas_for(db_path)
    df = atlas.landscape(kind, top=top, **extra, **filters)
    flt = atlas.filter(**filters)
    total = atlas.landscape_total(**filters)
    where = f" ({flt.describe()})" if flt.describe() else ""
    info(f"{total:,} PD-1/PD-L1 trials{where}; percent = share of these trials.{note}")
    columns = BISPECIFIC_COLUMNS if kind == "bispecifics" else None
    show(df[list(columns)] if columns else df, fmt, out)
    if figure_dir is not None:
        _figures(atlas, flt, FIGURE_FOR[kind], figure_dir, top or 12)


def _figures(atlas, flt, names, out: Path, top: int = 12,
             formats: tuple[str, ...] = ("png", "svg")) -> None:
    from ..analyses import landscape as ls
    from ..figures.landscape import render_landscape_figures

    bar = Progress("Drawing figures", total=len(names))
    with atlas.reading() as con:
        paths = render_landscape_figures(con, out, ls.check_filter(con, flt), names, top=top,
                                         on_done=lambda _name: bar.advance(), formats=formats)
    bar.close()
    for path in paths:
        info(f"wrote {path}")


@click.group("landscape", cls=SuggestingGroup)
def landscape_group() -> None:
    """The PD-1/PD-L1 trial landscape (review Figures 2 and 5), from the classified store.

    Counts PD-1/PD-L1 trials (`is_pd1_pdl1`) by phase, cancer group, combination partner,
    bispecific agent, start year, sponsor and country. A trial in several cancer groups,
    partner classes or countries counts once in each.

    \b
    Example:
      ici-atlas landscape phases --class PD-1 --since 2020
    """


@landscape_group.command("phases")
@filter_options
@output_options
@figure_dir_option
@db_option
def phases_cmd(filters, fmt,
               out, figure_dir, db_path):
    """Trials per phase (Figure 2A); the rows add up to the number of trials.

    \b
    Example:
      ici-atlas landscape phases --cancer NSCLC --format json
    """
    _table("phases", db_path, filters, fmt, out, figure_dir)


@landscape_group.command("cancers")
@filter_options
@click.option("--top", type=int, default=None, metavar="N",
              help="Show the N largest cancer groups and fold the rest into 'Others'.")
@output_options
@figure_dir_option
@db_option
def cancers_cmd(filters, top,
                fmt, out, figure_dir, db_path):
    """Trials per cancer group (Figures 2B, 2C with --class PD-1 / PD-L1).

    A trial enrolling two cancer groups counts in both, so the rows can add up to more
    than the number of trials. 'Others' counts distinct trials in the groups not shown.

    \b
    Example:
      ici-atlas landscape cancers --class PD-L1 --top 10
    """
    _table("cancers", db_path, filters, fmt, out, figure_dir,
           note=" A trial in several cancer groups counts in each.", top=top)


@landscape_group.command("partners")
@filter_options
@click.option("--targets-only", is_flag=True,
              help="Leave out chemotherapy, radiotherapy, surgery and other non-target partners.")
@click.option("--top", type=int, default=None, metavar="N", help="Show the N top-ranked targets.")
@output_options
@figure_dir_option
@db_option
def partners_cmd(filters,
                 targets_only, top, fmt, out, figure_dir, db_path):
    """Combination partners of the PD-1/PD-L1 agent, ranked (Figure 5A).

    Molecular targets (VEGF, CTLA-4, PARP, HER2, LAG-3, TIGIT ...) come first, then
    non-target partners (modalities and procedures), then trials with no partner drug.

    \b
    Example:
      ici-atlas landscape partners --targets-only --top 10
    """
    _table("partners", db_path, filters, fmt, out, figure_dir,
           note=" A trial with several partner classes counts in each.", top=top,
           targets_only=targets_only)


@landscape_group.command("bispecifics")
@filter_options
@output_options
@figure_dir_option
@db_option
def bispecifics_cmd(filters,
                    fmt, out, figure_dir, db_path):
    """Bispecific / bifunctional PD-(L)1 agents by highest phase reached (Figure 5B).

    One row per agent: its other target, number of trials and highest trial phase;
    'approved' comes from the curated approvals data (empty when that is unavailable).

    \b
    Example:
      ici-atlas landscape bispecifics --format csv
    """
    _table("bispecifics", db_path, filters, fmt, out, figure_dir)


@landscape_group.command("years")
@filter_options
@output_options
@figure_dir_option
@db_option
def years_cmd(filters, fmt,
              out, figure_dir, db_path):
    """Trials per start year (empty year = no start date), with anti-PD-1 / anti-PD-L1 counts.

    \b
    Example:
      ici-atlas landscape years --phase 3 --since 2015
    """
    _table("years", db_path, filters, fmt, out, figure_dir)


@landscape_group.command("sponsors")
@filter_options
@click.option("--by", type=Choice(["class", "name"]), default="class", show_default=True,
              help="Group by lead-sponsor class (INDUSTRY, NIH, OTHER ...) or sponsor name.")
@click.option("--top", type=int, default=None, metavar="N",
              help="Show the N largest and fold the rest into 'Others'.")
@output_options
@figure_dir_option
@db_option
def sponsors_cmd(filters, by,
                 top, fmt, out, figure_dir, db_path):
    """Trials per lead sponsor class or name; the rows add up to the number of trials.

    \b
    Example:
      ici-atlas landscape sponsors --by name --top 15
    """
    _table("sponsors", db_path, filters, fmt, out, figure_dir, top=top, by=by)


@landscape_group.command("countries")
@filter_options
@click.option("--top", type=int, default=None, metavar="N",
              help="Show the N largest countries and fold the rest into 'Others'.")
@output_options
@figure_dir_option
@db_option
def countries_cmd(filters, top,
                  fmt, out, figure_dir, db_path):
    """Trials per location country; a multinational trial counts in each of its countries.

    \b
    Example:
      ici-atlas landscape countries --top 20 --format tsv
    """
    _table("countries", db_path, filters, fmt, out, figure_dir,
           note=" A multinational trial counts in each country.", top=top or None)


@landscape_group.command("registries")
@filter_options
@output_options
@db_option
def registries_cmd(filters, fmt, out, db_path):
    """PD-1/PD-L1 registrations per registry, how many stand for their trial in the
    de-duplicated union, how many are registered elsewhere too, and the union (each trial
    once). See docs/registries.md.

    \b
    Example:
      ici-atlas landscape registries --cancer NSCLC
    """
    _table("registries", db_path, filters, fmt, out, None,
           note=" A trial registered in several registries counts once in the union.")


@landscape_group.command("unmapped")
@filter_options
@click.option("--top", type=int, default=None, metavar="N", help="Show the N most frequent.")
@output_options
@db_option
def unmapped_cmd(filters, top, fmt, out, db_path):
    """Partner intervention names that map to no partner class ("other"), ranked by the
    number of PD-1/PD-L1 trials naming them in an arm that gives the PD-(L)1 agent: what
    ici_atlas/vocab/partners.tsv does not cover yet.

    \b
    Example:
      ici-atlas landscape unmapped --top 20
    """
    from ..analyses import landscape as ls

    atlas = atlas_for(db_path)
    df = atlas.landscape_unmapped(top=top, **filters)
    with atlas.reading() as con:
        share = ls.query_other_share(con, ls.check_filter(con, atlas._filter(con, filters)))
    info(f"{share['with_other_partner']:,} of {share['trials']:,} PD-1/PD-L1 trials "
         f"({share['percent']}%) have a partner of class 'other'.")
    show(df, fmt, out)


_FIGURES_HELP = """Write every landscape figure (Figures 2A–C, 5A–B, start year, sponsor,
country) as PNG and SVG into DIR.

\b
Example:
  ici-atlas {path} --out figures/
"""


def _figures_command(path: str) -> click.Command:
    @click.command("figures" if path.startswith("landscape") else "landscape",
                   help=_FIGURES_HELP.format(path=path))
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                  help="Folder to write the figures into (created if missing).")
    @click.option("--top", type=int, default=12, show_default=True, metavar="N",
                  help="Bars shown in the ranked figures before 'Others'.")
    @click.option("--figure-format", "--format", "formats", type=Choice(["png", "svg", "pdf"]),
                  multiple=True, help="File format(s) to write (default: png and svg).")
    @filter_options
    @db_option
    def command(out, top, formats, filters, db_path):
        from ..figures.landscape import FIGURE_NAMES

        atlas = atlas_for(db_path)
        flt = atlas.filter(**filters)
        _figures(atlas, flt, FIGURE_NAMES, out, top, tuple(formats) or ("png", "svg"))

    return command


landscape_group.add_command(_figures_command("landscape figures"))


@export_group.command("landscape")
@click.option("--format", "fmt", type=Choice(["parquet", "csv"]), default="parquet",
              show_default=True, help="File format of the tables.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write landscape_<analysis>.<format> into.")
@click.option("--top", type=int, default=None, metavar="N",
              help="Fold all but the N largest cancer groups / countries / targets.")
@filter_options
@db_option
def export_landscape_cmd(fmt, out, top, filters, db_path):
    """Write every landscape table (phases, cancers, cancers_pd1, cancers_pdl1, partners,
    bispecifics, years, sponsors, countries) as Parquet or CSV files.

    \b
    Example:
      ici-atlas export landscape --format parquet --out landscape/
    """
    from ..tables import write_table

    atlas = atlas_for(db_path)
    filters = filters
    tables = {kind: atlas.landscape(kind, top=top if kind in ("cancers", "partners", "countries")
                                    else None, **filters)
              for kind in ("phases", "cancers", "partners", "bispecifics", "years", "sponsors",
                           "countries")}
    pd1 = {k: v for k, v in filters.items() if k != "target_class"}
    tables["cancers_pd1"] = atlas.landscape("cancers", top=top, target_class="PD-1", **pd1)
    tables["cancers_pdl1"] = atlas.landscape("cancers", top=top, target_class="PD-L1", **pd1)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("phases", "cancers", "cancers_pd1", "cancers_pdl1", "partners", "bispecifics",
                 "years", "sponsors", "countries"):
        df = tables[name]
        if name == "bispecifics":
            df = df[list(BISPECIFIC_COLUMNS)]
        path = write_table(df, fmt, out / f"landscape_{name}.{fmt}")
        info(f"wrote {path}")


def register(group: click.Group) -> None:
    group.add_command(landscape_group)


figures_group.add_command(_figures_command("figures landscape"))
