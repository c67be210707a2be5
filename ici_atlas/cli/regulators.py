"""``ici-atlas regulators`` and ``ici-atlas timeline``: the review's Figure 1 (the regulatory
network of the PD-1/PD-L1 axis) and Supplementary Figure 1 (the discovery timeline) as cited
data, with their figures and exports."""

from __future__ import annotations

from pathlib import Path

import click

from ..analyses.regulators import CELLS, LEVELS
from ..analyses.timeline import KINDS
from .common import Choice, atlas_for, db_option, export_options, fmt_of, info, output_options, show
from .export import export_group
from .figures import figures_group

_NODE_TABLE = ("node_id", "symbol", "cell", "level", "druggable", "example_agents", "verified")
_EDGE_TABLE = ("edge_id", "source", "effect", "target", "cell", "verified", "references")
_DRUGGED_TABLE = ("node_id", "cell", "level", "agents", "trials", "trials_by_phase")
_TIMELINE_TABLE = ("date", "kind", "event", "reference", "verified")


@click.command("regulators")
@click.option("--drugged", is_flag=True,
              help="Only druggable regulators, with their agents (and --with-trials).")
@click.option("--with-trials", is_flag=True,
              help="With --drugged: the PD-(L)1 trials in the store that give each agent.")
@click.option("--edges", "show_edges", is_flag=True,
              help="List the relations (source, effect, target, references) instead.")
@click.option("--verified/--unverified", "verified", default=None,
              help="With --edges: only relations checked against their reference, or only "
                   "the others.")
@click.option("--node", metavar="ID", help="With --edges: only relations of this regulator.")
@click.option("--cell", type=Choice(list(CELLS)), help="Only regulators of this cell.")
@click.option("--level", type=Choice(list(LEVELS)), help="Only regulators at this level.")
@db_option
@output_options
def regulators_cmd(drugged, with_trials, show_edges, verified, node, cell, level, db_path,
                   fmt, out):
    """The regulators of the PD-1/PD-L1 axis (the review's Figure 1), each relation with
    its PMID/DOI; druggable ones linked to agents and to the trials that test them.

    \b
    Examples:
      ici-atlas regulators --cell tumour
      ici-atlas regulators --drugged --with-trials
      ici-atlas regulators --edges --node CMTM6 --format json
    """
    atlas = atlas_for(db_path)
    table = fmt_of(fmt) == "table"
    if show_edges:
        df = atlas.regulator_edges(verified=verified, node=node)
        show(df[list(_EDGE_TABLE)] if table else df, fmt, out, "relations")
        info(f"{len(df)} relations ({int(df['verified'].sum())} verified)")
        return
    if drugged:
        df = atlas.drugged_regulators(with_trials=with_trials)
        show(df[list(_DRUGGED_TABLE)] if table else df, fmt, out, "regulators")
        if with_trials:
            info(f"{len(df)} druggable regulators; {int((df['trials'] > 0).sum())} with "
                 "PD-(L)1 trials in the store (trials: distinct trials giving one of the "
                 "agents; link_bases says how each agent was matched)")
        return
    df = atlas.regulators(cell=cell, level=level)
    show(df[list(_NODE_TABLE)] if table else df, fmt, out, "regulators")
    info(f"{len(df)} regulators; {int((~df['verified']).sum())} without a verified relation "
         "(`--edges --unverified` says why)")


@click.command("timeline")
@click.option("--kind", "kinds", multiple=True, type=Choice(list(KINDS)),
              help="Only events of this kind (repeatable).")
@click.option("--until", metavar="DATE", help="Only events up to DATE (YYYY[-MM[-DD]]).")
@click.option("--verified-only", is_flag=True, help="Leave out events not verified.")
@output_options
def timeline_cmd(kinds, until, verified_only, fmt, out):
    """Dated events from PD-1's cloning (1992) to the latest first approval (the review's
    Supplementary Figure 1): curated milestones with references, and each agent's first
    approval from the approvals table.

    \b
    Example:
      ici-atlas timeline --kind discovery --kind award
    """
    df = atlas_for(None).timeline(kinds=kinds, until=until, verified_only=verified_only)
    show(df[list(_TIMELINE_TABLE)] if fmt_of(fmt) == "table" else df, fmt, out, "events")


@click.command("network")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write fig1_network and suppfig1_timeline (PNG, SVG) into.")
def figures_network_cmd(out):
    """Figure 1 (the regulatory network, verified relations only) and Supplementary Figure 1
    (the timeline), drawn from the curated data.

    \b
    Example:
      ici-atlas figures network --out figures/
    """
    from ..figures import save_figure
    from ..figures.regulators import plot_network, plot_timeline

    atlas = atlas_for(None)
    for name, fig in (
            ("fig1_network", plot_network(atlas.regulators().to_dict("records"),
                                          atlas.regulator_edges().to_dict("records"))),
            ("suppfig1_timeline", plot_timeline(atlas.timeline().to_dict("records")))):
        for path in save_figure(fig, out, name):
            info(f"wrote {path}")


@export_group.command("regulators")
@export_options()
def export_regulators_cmd(fmt, out):
    """Every regulator of Figure 1 with its columns (symbol, cell, level, druggability,
    agents, references).

    \b
    Example:
      ici-atlas export regulators --format csv -o regulators.csv
    """
    show(atlas_for(None).regulators(), fmt, out, "regulators", default="csv")


@export_group.command("regulator-edges")
@export_options()
def export_regulator_edges_cmd(fmt, out):
    """Every relation of Figure 1 (source, effect, target, references, verified, evidence).

    \b
    Example:
      ici-atlas export regulator-edges --format csv -o regulator_edges.csv
    """
    show(atlas_for(None).regulator_edges(), fmt, out, "relations", default="csv")


@export_group.command("timeline")
@export_options()
def export_timeline_cmd(fmt, out):
    """Every dated event of the timeline (Supplementary Figure 1).

    \b
    Example:
      ici-atlas export timeline --format csv -o timeline.csv
    """
    show(atlas_for(None).timeline(), fmt, out, "events", default="csv")


def register(group: click.Group) -> None:
    group.add_command(regulators_cmd)
    group.add_command(timeline_cmd)


figures_group.add_command(figures_network_cmd)
