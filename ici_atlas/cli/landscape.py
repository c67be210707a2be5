"""``ici-atlas landscape ...``: the trial landscape (review Figures 2 and 5) as tables and
figures; ``ici-atlas figures landscape`` and ``ici-atlas export landscape``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from ..store import db
from ..analyses import landscape as ls
from ..progress import Progress
from .common import db_option, emit, info, output_options, resolve_db
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


def filter_options(func: Callable) -> Callable:
    """--class, --cancer, --phase (repeatable), --since, --until."""
    func = click.option("--until", type=int, metavar="YEAR",
                        help="Only trials that started in YEAR or earlier.")(func)
    func = click.option("--since", type=int, metavar="YEAR",
                        help="Only trials that started in YEAR or later.")(func)
    func = click.option("--phase", "phases", multiple=True, metavar="PHASE",
                        help="Only trials in this phase ('Phase 2', '2/3', 'III', 'early1', "
                             "'NA'); repeat for several.")(func)
    func = click.option("--cancer", metavar="GROUP",
                        help="Only trials classified into this cancer group "
                             "(see `ici-atlas landscape cancers`).")(func)
    func = click.option("--class", "target_class", metavar="PD-1|PD-L1",
                        help="Only trials giving an anti-PD-1 (or anti-PD-L1) agent.")(func)
    return func


def figure_dir_option(func: Callable) -> Callable:
    return click.option(
        "--figure-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Also write this analysis's figure(s) (PNG + SVG) into DIR.",
    )(func)


def _open_filtered(db_path: Path | None, target_class, cancer, phases, since, until):
    """The store (read-only, classified) and the checked filter of the common options."""
    con = db.connect(resolve_db(db_path), read_only=True)
    ls.check_store(con)
    flt = ls.check_filter(con, ls.make_filter(target_class, cancer, phases, since, until))
    return con, flt


def _show(con, flt: ls.LandscapeFilter, rows, fmt, figure: tuple[str, ...], figure_dir,
          note: str = "", top: int = 12, columns=None) -> None:
    """One table command: the total on stderr, the rows on stdout, its figure if asked."""
    total = ls.query_total(con, flt)
    where = f" ({flt.describe()})" if flt.describe() else ""
    info(f"{total:,} PD-1/PD-L1 trials{where}; percent = share of these trials.{note}")
    emit(rows, fmt, columns)
    _figures(con, flt, figure, figure_dir, top)


def _figures(con, flt: ls.LandscapeFilter, names, out: Path | None, top: int = 12,
             formats: tuple[str, ...] = ("png", "svg")) -> None:
    if out is None:
        return
    from ..figures.landscape import render_landscape_figures

    bar = Progress("Drawing figures", total=len(names))
    paths = render_landscape_figures(con, out, flt, names, top=top,
                                     on_done=lambda _name: bar.advance(), formats=formats)
    bar.close()
    for path in paths:
        info(f"wrote {path}")


@click.group("landscape")
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
def phases_cmd(target_class, cancer, phases, since, until, fmt, figure_dir, db_path):
    """Trials per phase (Figure 2A); the rows add up to the number of trials.

    \b
    Example:
      ici-atlas landscape phases --cancer NSCLC --json
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    _show(con, flt, ls.query_phases(con, flt), fmt, FIGURE_FOR["phases"], figure_dir)


@landscape_group.command("cancers")
@filter_options
@click.option("--top", type=int, default=None, metavar="N",
              help="Show the N largest cancer groups and fold the rest into 'Others'.")
@output_options
@figure_dir_option
@db_option
def cancers_cmd(target_class, cancer, phases, since, until, top, fmt, figure_dir, db_path):
    """Trials per cancer group (Figures 2B, 2C with --class PD-1 / PD-L1).

    A trial enrolling two cancer groups counts in both, so the rows can add up to more
    than the number of trials. 'Others' counts distinct trials in the groups not shown.

    \b
    Example:
      ici-atlas landscape cancers --class PD-L1 --top 10
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    _show(con, flt, ls.query_cancers(con, flt, top=top), fmt, FIGURE_FOR["cancers"], figure_dir,
          note=" A trial in several cancer groups counts in each.", top=top or 12)


@landscape_group.command("partners")
@filter_options
@click.option("--targets-only", is_flag=True,
              help="Leave out chemotherapy, radiotherapy, surgery and other non-target partners.")
@click.option("--top", type=int, default=None, metavar="N", help="Show the N top-ranked targets.")
@output_options
@figure_dir_option
@db_option
def partners_cmd(target_class, cancer, phases, since, until, targets_only, top, fmt,
                 figure_dir, db_path):
    """Combination partners of the PD-1/PD-L1 agent, ranked (Figure 5A).

    Molecular targets (VEGF, CTLA-4, PARP, HER2, LAG-3, TIGIT ...) come first, then
    non-target partners (kind = non-target), then trials with no partner drug.

    \b
    Example:
      ici-atlas landscape partners --targets-only --top 10
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    _show(con, flt, ls.query_partners(con, flt, targets_only=targets_only, top=top), fmt,
          FIGURE_FOR["partners"], figure_dir,
          note=" A trial with several partner classes counts in each.", top=top or 12)


@landscape_group.command("bispecifics")
@filter_options
@output_options
@figure_dir_option
@db_option
def bispecifics_cmd(target_class, cancer, phases, since, until, fmt, figure_dir, db_path):
    """Bispecific / bifunctional PD-(L)1 agents by highest phase reached (Figure 5B).

    One row per agent: its other target, number of trials and highest trial phase;
    'approved' comes from the curated approvals data (empty when that is unavailable).

    \b
    Example:
      ici-atlas landscape bispecifics --csv
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    _show(con, flt, ls.query_bispecifics(con, flt), fmt, FIGURE_FOR["bispecifics"], figure_dir,
          columns=BISPECIFIC_COLUMNS)


@landscape_group.command("years")
@filter_options
@output_options
@figure_dir_option
@db_option
def years_cmd(target_class, cancer, phases, since, until, fmt, figure_dir, db_path):
    """Trials per start year (empty year = no start date), with anti-PD-1 / anti-PD-L1 counts.

    \b
    Example:
      ici-atlas landscape years --phase 3 --since 2015
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    _show(con, flt, ls.query_years(con, flt), fmt, FIGURE_FOR["years"], figure_dir)


@landscape_group.command("sponsors")
@filter_options
@click.option("--by", type=click.Choice(["class", "name"]), default="class", show_default=True,
              help="Group by lead-sponsor class (INDUSTRY, NIH, OTHER ...) or sponsor name.")
@click.option("--top", type=int, default=None, metavar="N",
              help="Show the N largest and fold the rest into 'Others'.")
@output_options
@figure_dir_option
@db_option
def sponsors_cmd(target_class, cancer, phases, since, until, by, top, fmt, figure_dir, db_path):
    """Trials per lead sponsor class or name; the rows add up to the number of trials.

    \b
    Example:
      ici-atlas landscape sponsors --by name --top 15
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    _show(con, flt, ls.query_sponsors(con, flt, by=by, top=top), fmt, FIGURE_FOR["sponsors"],
          figure_dir)


@landscape_group.command("countries")
@filter_options
@click.option("--top", type=int, default=None, metavar="N",
              help="Show the N largest countries and fold the rest into 'Others'.")
@output_options
@figure_dir_option
@db_option
def countries_cmd(target_class, cancer, phases, since, until, top, fmt, figure_dir, db_path):
    """Trials per location country; a multinational trial counts in each of its countries.

    \b
    Example:
      ici-atlas landscape countries --top 20 --tsv
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    _show(con, flt, ls.query_countries(con, flt, top=top), fmt, FIGURE_FOR["countries"],
          figure_dir, note=" A multinational trial counts in each country.", top=top or 15)


def _write_all_figures(db_path, out, target_class, cancer, phases, since, until, top,
                       formats) -> None:
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    from ..figures.landscape import FIGURE_NAMES

    _figures(con, flt, FIGURE_NAMES, out, top, tuple(formats) or ("png", "svg"))


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
    @click.option("--format", "formats", type=click.Choice(["png", "svg", "pdf"]),
                  multiple=True, help="File format(s) to write (default: png and svg).")
    @filter_options
    @db_option
    def command(out, top, formats, target_class, cancer, phases, since, until, db_path):
        _write_all_figures(db_path, out, target_class, cancer, phases, since, until, top,
                           formats)

    return command


landscape_group.add_command(_figures_command("landscape figures"))


@export_group.command("landscape")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True, help="File format of the tables.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write landscape_<analysis>.<format> into.")
@click.option("--top", type=int, default=None, metavar="N",
              help="Fold all but the N largest cancer groups / countries / targets.")
@filter_options
@db_option
def export_landscape_cmd(fmt, out, top, target_class, cancer, phases, since, until, db_path):
    """Write every landscape table (phases, cancers, cancers_pd1, cancers_pdl1, partners,
    bispecifics, years, sponsors, countries) as Parquet or CSV files.

    \b
    Example:
      ici-atlas export landscape --format parquet --out landscape/
    """
    con, flt = _open_filtered(db_path, target_class, cancer, phases, since, until)
    tables = ls.query_landscape_tables(con, flt, top=top)
    columns = {"bispecifics": BISPECIFIC_COLUMNS}
    for path in ls.render_tables(tables, out, fmt, columns):
        info(f"wrote {path}")


def register(group: click.Group) -> None:
    group.add_command(landscape_group)


figures_group.add_command(_figures_command("figures landscape"))
