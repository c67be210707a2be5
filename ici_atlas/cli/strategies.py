"""``ici-atlas strategies``: the review's resistance-strategy knowledge base (Figure 6) and
its links to PD-(L)1 trials; ``ici-atlas refs``: the review's bibliography; and
``ici-atlas figures evidence``: the evidence map."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..analyses import bibliography as bib
from ..store import db
from ..analyses import evidence as ev
from ..errors import InputError
from ..tables import frame
from .common import SuggestingGroup, atlas_for, db_option, fmt_of, info, output_options, resolve_db, show
from .figures import figures_group

NEEDS_TRIALS = (
    "Trial counts need a classified store: run `ici-atlas fetch --from ../shared/data/ctgov` "
    "then `ici-atlas classify` (or pass --db PATH)."
)


def _open_store(db_path: Path | None):
    """A read-only connection to a classified store, or None (with a message on stderr)."""
    path = resolve_db(db_path)
    if not path.exists():
        info(NEEDS_TRIALS)
        return None
    con = db.connect(path, read_only=True)
    if not ev.store_is_classified(con):
        info(NEEDS_TRIALS)
        con.close()
        return None
    return con


def _flat(row: dict) -> dict:
    """Make a strategy row printable as a table/CSV cell per field."""
    out = dict(row)
    if isinstance(out.get("by_phase"), dict):
        out["by_phase"] = "; ".join(f"{p}: {n}" for p, n in out["by_phase"].items())
    return out


STRATEGY_COLUMNS = [
    "id", "category", "subcategory", "section", "mechanism", "target", "intervention", "direction",
    "evidence_level", "evidence_note", "preclinical_support", "tumour_types", "finding", "references",
    "phenotypes", "partner_classes", "agents", "links_by", "evidence_level_review", "approved_by",
    "trials", "highest_phase", "by_phase", "trial_ids", "trial_note",
]
TABLE_COLUMNS = ["id", "category", "intervention", "evidence_level", "references", "trials", "highest_phase", "by_phase"]


@click.group("strategies", cls=SuggestingGroup, invoke_without_command=True)
@click.option("--category", metavar="C", help="Only this Figure 6 category (name or part of it).")
@click.option("--target", metavar="T", help="Only strategies whose target, intervention, class or agent mentions T.")
@click.option("--phenotype", metavar="P",
              help="Strategies for a tumour phenotype or host factor: immune-excluded, exhausted, "
                   "immune-desert, antibiotic-exposure, sex, age.")
@click.option("--evidence", metavar="LEVEL",
              help="Only this evidence level (preclinical, 'clinical association', 'phase 1' ... approved); "
                   "add '+' for that level or stronger.")
@click.option("--trials", "show_trials", is_flag=True, help="Table: add the linked NCT IDs.")
@db_option
@output_options
@click.pass_context
def strategies_group(ctx, category, target, phenotype, evidence, show_trials, db_path, fmt, out):
    """Strategies to overcome anti-PD-1/PD-L1 resistance (review Figure 6), each with its
    evidence level, the review's reference numbers and the number of PD-(L)1 trials in the
    store that give its drugs, by highest phase.

    Research evidence, not treatment advice.

    \b
    Example:
      ici-atlas strategies --phenotype immune-excluded --evidence 'phase 1+'
    """
    if ctx.invoked_subcommand is not None:
        return
    atlas = atlas_for(db_path)
    if not _store_ready(db_path):
        info(NEEDS_TRIALS)
    df = atlas.strategies(category=category, target=target, phenotype=phenotype,
                          evidence=evidence)
    kb = ev.load_strategies()
    if phenotype:
        answer = ev.query_phenotype(kb, phenotype)
        info(f"{answer['label']}: {answer['description']}")
        info(f"Basis: {answer['basis']}")
    info(ev.RESEARCH_NOTE)
    if fmt_of(fmt) == "table":
        columns = TABLE_COLUMNS + (["trial_ids"] if show_trials else [])
        show(df[columns], fmt, out)
    else:
        show(df, fmt, out)
    info(f"{len(df)} of {len(kb.strategies)} strategies")


def _store_ready(db_path) -> bool:
    path = resolve_db(db_path)
    if not path.exists():
        return False
    with db.open_store(path, read_only=True) as con:
        return ev.store_is_classified(con)


TRIAL_LINK_COLUMNS = {"nct_id": "str", "phase": "str", "status": "str", "start_year": "int",
                      "title": "str", "matched": "str"}


@strategies_group.command("show")
@click.argument("strategy_id")
@db_option
@output_options
def show_cmd(strategy_id, db_path, fmt, out):
    """One strategy in full: its fields, the references behind it and its linked trials.

    \b
    Example:
      ici-atlas strategies show cxcr4-antagonist
    """
    kb = ev.load_strategies()
    s = kb.get(strategy_id)
    con = _open_store(db_path)
    try:
        trials = ev.query_strategy_trials(con, s) if con is not None else None
    finally:
        if con is not None:
            con.close()
    refs = [{"ref": r.number, "citation": r.short, "title": r.title} for r in bib.select_references(s.references)]
    fmt = fmt_of(fmt)
    if fmt == "json":
        sys.stdout.write(json.dumps({**s.as_row(), "reference_details": refs, "linked_trials": trials}, indent=2) + "\n")
        return
    if fmt != "table":
        show(frame(trials or [], TRIAL_LINK_COLUMNS), fmt, out)
        return
    for key, value in s.as_row().items():
        if value not in ("", [], ()):
            click.echo(f"{key:20} {'; '.join(map(str, value)) if isinstance(value, list) else value}")
    click.echo("")
    show(frame(refs, {"ref": "int", "citation": "str", "title": "str"}), "table")
    if trials is not None:
        click.echo("")
        show(frame(trials, TRIAL_LINK_COLUMNS), "table")
        info(f"{len(trials)} linked PD-(L)1 trials")


@strategies_group.command("combinations")
@db_option
@output_options
def combinations_cmd(db_path, fmt, out):
    """The review's clinical combination findings: which PD-(L)1 combinations succeeded
    and which failed or raised safety concerns, with references and linked trial counts.

    \b
    Example:
      ici-atlas strategies combinations --csv > combinations.csv
    """
    findings = ev.load_combination_findings()
    con = _open_store(db_path)
    rows = []
    try:
        for f in findings:
            row = f.as_row()
            if con is not None:
                trials = ev.query_strategy_trials(con, f)
                row.update(ev.summarize_trials(trials))
            else:
                row.update({"trials": None, "highest_phase": None, "by_phase": None})
            rows.append(_flat(row))
    finally:
        if con is not None:
            con.close()
    df = frame(rows)
    if fmt_of(fmt) == "table":
        cols = ["id", "combination", "outcome", "phase", "references"]
        cols += ["trials", "highest_phase"] if con is not None else []
        df = df[cols]
    show(df, fmt, out)


@strategies_group.command("coverage")
@click.option("--missing", is_flag=True, help="Only references the knowledge base does not use.")
@output_options
def coverage_cmd(missing, fmt, out):
    """Every reference cited in the review's combination and preclinical sections, and
    the knowledge-base entries that use it.

    \b
    Example:
      ici-atlas strategies coverage --missing
    """
    rows = ev.query_coverage(ev.load_strategies(), ev.load_combination_findings())
    used, total = sum(r["used"] for r in rows), len(rows)
    if missing:
        rows = [r for r in rows if not r["used"]]
    show(frame(rows, ["ref", "citation", "sections", "used", "used_by", "note"]), fmt, out)
    info(f"{used} of {total} cited references used by the knowledge base")


def _strategy_rows(db_path: Path | None, strategies=None) -> tuple[list[dict], bool]:
    """The table of ``strategies`` (default: all), with trial counts when a store is there
    (and whether it was)."""
    if strategies is None:
        strategies = ev.load_strategies().strategies
    con = _open_store(db_path)
    try:
        return ev.query_strategy_table(con, strategies), con is not None
    finally:
        if con is not None:
            con.close()


def _write_map(db_path: Path | None, out: Path) -> None:
    from ..figures import save_figure
    from ..figures.evidence import plot_evidence_map

    rows, trials_known = _strategy_rows(db_path)
    fig = plot_evidence_map(ev.query_evidence_map(rows), trials_known=trials_known)
    for path in save_figure(fig, out, "evidence_map"):
        info(f"wrote {path}")


@strategies_group.command("map")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("figures"),
              show_default=True, help="Folder for evidence_map.png and .svg.")
@click.option("--rows", "show_rows", is_flag=True, help="Print the map's rows (any --format) instead.")
@db_option
@output_options(formats=("table", "csv", "tsv", "json"), dest="output")
def map_cmd(out, show_rows, db_path, fmt, output):
    """The evidence map: strategies by preclinical support against clinical stage, with the
    translation gap (preclinical promise, no trial yet) shaded.

    \b
    Example:
      ici-atlas strategies map --out figures/
    """
    if show_rows:
        show(frame(ev.query_evidence_map(_strategy_rows(db_path)[0])), fmt, output)
        return
    _write_map(db_path, out)


@click.command("evidence")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("figures"),
              show_default=True, help="Folder for evidence_map.png and .svg.")
@db_option
def figures_evidence_cmd(out, db_path):
    """The evidence map of resistance strategies (preclinical support vs clinical stage).

    \b
    Example:
      ici-atlas figures evidence --out figures/
    """
    _write_map(db_path, out)


@click.command("refs")
@click.argument("numbers", nargs=-1, type=int)
@click.option("--bibtex", "export", flag_value="bibtex", help="BibTeX entries (keys ref<N>).")
@click.option("--ris", "export", flag_value="ris", help="RIS records.")
@output_options
def refs_cmd(numbers, export, fmt, out):
    """The review's 162 references, parsed into structured records; all of them or the
    numbers given. DOIs/PMIDs are empty where the review gives only link labels.

    \b
    Example:
      ici-atlas refs 57 61 --bibtex > refs.bib
    """
    refs = bib.select_references(list(numbers))
    fmt = fmt_of(fmt)
    if export and fmt != "table":
        raise InputError("Choose one output: --bibtex, --ris or --format", fix="drop one of them")
    if export == "bibtex":
        sys.stdout.write(bib.render_bibtex(refs))
        return
    if export == "ris":
        sys.stdout.write(bib.render_ris(refs))
        return
    if fmt == "table":
        show(frame([{"ref": r.number, "citation": r.short, "title": r.title} for r in refs]),
             "table", out)
        return
    rows = [{k: v for k, v in vars(r).items()} for r in refs]
    show(frame(rows), fmt, out, "references")


def register(group: click.Group) -> None:
    group.add_command(strategies_group)
    group.add_command(refs_cmd)


figures_group.add_command(figures_evidence_cmd)
