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
from .common import db_option, emit, info, output_options, resolve_db
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
    "phenotypes", "partner_classes", "agents", "trials", "highest_phase", "by_phase", "trial_ids",
]
TABLE_COLUMNS = ["id", "category", "intervention", "evidence_level", "references", "trials", "highest_phase", "by_phase"]


@click.group("strategies", invoke_without_command=True)
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
def strategies_group(ctx, category, target, phenotype, evidence, show_trials, db_path, fmt):
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
    kb = ev.load_strategies()
    chosen = ev.query_strategies(kb, category=category, target=target, phenotype=phenotype, evidence=evidence)
    rows, _ = _strategy_rows(db_path, chosen)
    if phenotype:
        answer = ev.query_phenotype(kb, phenotype)
        order = {s["id"]: i for i, s in enumerate(answer["strategies"])}
        rows = sorted((r for r in rows if r["id"] in order), key=lambda r: order[r["id"]])
        if fmt == "json":
            answer["strategies"] = rows
            sys.stdout.write(json.dumps(answer, indent=2) + "\n")
            return
        info(f"{answer['label']}: {answer['description']}")
        info(f"Basis: {answer['basis']}")
        info(ev.RESEARCH_NOTE)
    if fmt == "json":
        emit(rows, "json", STRATEGY_COLUMNS)
        return
    if fmt in ("csv", "tsv"):
        emit([_flat(r) for r in rows], fmt, STRATEGY_COLUMNS)
        return
    columns = TABLE_COLUMNS + (["trial_ids"] if show_trials else [])
    emit([_flat(r) for r in rows], "table", columns)
    info(f"{len(rows)} of {len(kb.strategies)} strategies")


@strategies_group.command("show")
@click.argument("strategy_id")
@db_option
@output_options
def show_cmd(strategy_id, db_path, fmt):
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
    if fmt == "json":
        sys.stdout.write(json.dumps({**s.as_row(), "reference_details": refs, "linked_trials": trials}, indent=2) + "\n")
        return
    if fmt in ("csv", "tsv"):
        emit(trials or [], fmt, ["nct_id", "phase", "status", "start_year", "title", "matched"])
        return
    for key, value in s.as_row().items():
        if value not in ("", [], ()):
            click.echo(f"{key:20} {'; '.join(map(str, value)) if isinstance(value, list) else value}")
    click.echo("")
    emit(refs, "table", ["ref", "citation", "title"])
    if trials is not None:
        click.echo("")
        emit(trials, "table", ["nct_id", "phase", "status", "start_year", "title", "matched"])
        info(f"{len(trials)} linked PD-(L)1 trials")


@strategies_group.command("combinations")
@db_option
@output_options
def combinations_cmd(db_path, fmt):
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
    if fmt == "table":
        cols = ["id", "combination", "outcome", "phase", "references"]
        cols += ["trials", "highest_phase"] if con is not None else []
        emit(rows, "table", cols)
    else:
        emit(rows, fmt)


@strategies_group.command("coverage")
@click.option("--missing", is_flag=True, help="Only references the knowledge base does not use.")
@output_options
def coverage_cmd(missing, fmt):
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
    emit(rows, fmt, ["ref", "citation", "sections", "used", "used_by", "note"])
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
@click.option("--rows", "show_rows", is_flag=True, help="Print the map's rows (with --json/--csv) instead.")
@db_option
@output_options
def map_cmd(out, show_rows, db_path, fmt):
    """The evidence map: strategies by preclinical support against clinical stage, with the
    translation gap (preclinical promise, no trial yet) shaded.

    \b
    Example:
      ici-atlas strategies map --out figures/
    """
    if show_rows:
        emit(ev.query_evidence_map(_strategy_rows(db_path)[0]), fmt)
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
def refs_cmd(numbers, export, fmt):
    """The review's 162 references, parsed into structured records; all of them or the
    numbers given. DOIs/PMIDs are empty where the review gives only link labels.

    \b
    Example:
      ici-atlas refs 57 61 --bibtex > refs.bib
    """
    refs = bib.select_references(list(numbers))
    if export and fmt != "table":
        raise InputError("Choose one output: --bibtex, --ris or --json/--csv/--tsv", fix="drop one of them")
    if export == "bibtex":
        sys.stdout.write(bib.render_bibtex(refs))
        return
    if export == "ris":
        sys.stdout.write(bib.render_ris(refs))
        return
    if fmt == "table":
        emit([{"ref": r.number, "citation": r.short, "title": r.title} for r in refs], "table")
        return
    rows = [{k: v for k, v in vars(r).items()} for r in refs]
    emit(rows, fmt, list(rows[0].keys()) if rows else None)


def register(group: click.Group) -> None:
    group.add_command(strategies_group)
    group.add_command(refs_cmd)


figures_group.add_command(figures_evidence_cmd)
