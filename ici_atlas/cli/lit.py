"""``ici-atlas lit``: the systematic literature pipeline (PubMed → screening → PRISMA)."""

from __future__ import annotations

from pathlib import Path

import click

import textwrap

from .. import config
from ..errors import IciAtlasError, InputError
from ..figures import save_figure
from ..figures.prisma import plot_prisma
from ..review.decisions import (
    Decision,
    export_decisions_csv,
    import_decisions_csv,
    query_decision_log,
    record_decisions,
)
from ..review.export import render_library_csv_rows, render_ris, render_orr_template_rows
from ..review.library import load_imported
from ..review.prisma import compute_prisma
from ..review.screening import next_to_screen, prescreen_library
from ..store.runs import finish_run, quarantine_record, start_run, update_run
from ..sources.bibfiles import read_bibfile
from ..sources.pubmed_xml import ParseProblem
from ..review.search import parse_date, plan_search, run_search
from ..review.simulate import load_labelled_csv, simulate_random, simulate_screening
from ..sources.pubmed_api import EutilsClient
from .common import Choice, SuggestingGroup, command_store, db_option, emit, fmt_of, info, output_options


@click.group("lit", cls=SuggestingGroup)
def lit_group() -> None:
    """Systematic literature search, screening and PRISMA flow.

    \b
    Example:
      ici-atlas lit simulate --labels Nelson_2002_records.csv --json
    """


@lit_group.command("simulate")
@click.option("--labels", "labels_path", required=True, type=click.Path(path_type=Path),
              help="CSV with title, abstract, label_included (SYNERGY layout).")
@click.option("--seed", default=0, show_default=True, help="Seed for the random start and tie-breaks.")
@click.option("--batch-size", default=5, show_default=True, help="Labels between model refits.")
@click.option("--curve", is_flag=True, help="Print the recall curve (20 points) instead of the summary.")
@output_options
def simulate_command(labels_path: Path, seed: int, batch_size: int, curve: bool, fmt: str,
                     out: Path | None) -> None:
    """Replay a labelled screening set through the prioritisation model.

    Prints the number of records and inclusions, work saved over sampling at 95%
    recall (WSS@95) and recall after screening 10% and 25% of the records, next to
    the same numbers for screening in random order (same seed).

    \b
    Example:
      ici-atlas lit simulate --labels ../shared/data/pubmed/asreview__synergy-dataset/Nelson_2002/Nelson_2002_records.csv --json
    """
    records, labels = load_labelled_csv(labels_path)
    if sum(labels) == 0:
        info(f"{labels_path.name}: no included records; recall is undefined.")
    result = simulate_screening(records, labels, seed=seed, batch_size=batch_size)
    fmt = fmt_of(fmt)
    if curve:
        emit(result.curve(), fmt, out=out)
        return
    summary = result.summary()
    baseline = simulate_random(labels, seed=seed).summary()
    summary["random_wss95"] = baseline["wss95"]
    summary["random_recall_at_10pct"] = baseline["recall_at_10pct"]
    summary["random_recall_at_25pct"] = baseline["recall_at_25pct"]
    summary["seed"] = seed
    if fmt == "json" and out is None:  # one object, keys as documented
        import json
        click.echo(json.dumps(summary, indent=2))
    else:
        emit([summary], fmt, out=out)


@lit_group.command("search")
@click.argument("query")
@click.option("--mindate", help="Earliest publication date (YYYY, YYYY/MM or YYYY/MM/DD).")
@click.option("--maxdate", help="Latest publication date (default: two years ahead).")
@click.option("--dry-run", is_flag=True, help="Print the count and the date windows; download nothing.")
@click.option("--api-url", help="E-utilities base URL (default: $ICI_ATLAS_PUBMED_API or NCBI's).")
@click.option("--api-key", envvar="NCBI_API_KEY", help="NCBI API key (raises the limit to 10 requests/s).")
@click.option("--email", envvar="NCBI_EMAIL", help="Contact e-mail sent to NCBI as asked by its usage policy.")
@click.option("--batch", default=500, show_default=True, help="Records per EFetch request.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds to wait for one whole response.")
@click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
              help="Retries per request on 429/5xx/timeouts.")
@db_option
def search_command(query, mindate, maxdate, dry_run, api_url, api_key, email, batch, timeout,
                   retries, db_path):
    """Search PubMed and store every record found, reconciling the count.

    ESearch gives at most 9,999 IDs per query, so the search is split by publication
    date windows automatically; the run fails loudly if the records stored differ from
    the count PubMed reported.

    \b
    Example:
      ici-atlas lit search '(pembrolizumab OR nivolumab) AND "objective response"' --mindate 2014 --dry-run
    """
    from ..sources.http import RetryPolicy

    client = EutilsClient(config.pubmed_api_url(api_url), api_key=api_key, email=email,
                          timeout=timeout, retry=RetryPolicy(max_retries=retries),
                          on_retry=lambda msg, _wait: info(msg))
    try:
        plan = plan_search(client, query, parse_date(mindate, "mindate"), parse_date(maxdate, "maxdate"))
        info(f"PubMed: {plan.reported_total:,} records for {query!r} "
             f"({plan.mindate:%Y/%m/%d}-{plan.maxdate:%Y/%m/%d}); {len(plan.windows)} date window(s)")
        if plan.translation:
            info(f"PubMed translated the query as: {plan.translation}")
        if dry_run:
            emit([{"window": w.label(), "records": w.count} for w in plan.windows], "table")
            return
        con = command_store(db_path)
        run = run_search(con, client, plan, batch=batch)
        info(run.summary())
    finally:
        client.close()


@lit_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
def import_command(files, db_path):
    """Import records exported by hand (PubMed MEDLINE format or RIS) into the library.

    \b
    Example:
      ici-atlas lit import embase_export.ris pubmed_export.txt
    """
    # Each file is read on its own: one that cannot be read (not UTF-8/UTF-16 text, empty,
    # binary, a directory, an unknown format) is reported and skipped, the others are
    # imported, and the command then exits non-zero. Per file: records read, imported
    # (new / already imported) and rejected, with the reason of each rejection and warning.
    con = command_store(db_path)
    failed: list[str] = []
    for path in files:
        problems: list[ParseProblem] = []
        warnings: list[ParseProblem] = []
        try:
            records = read_bibfile(path, problems, warnings)
        except IciAtlasError as exc:
            failed.append(str(path))
            run_id = start_run(con, "lit-import", str(path), None, {"format": None})
            finish_run(con, run_id, "failed", exc.message)
            if len(files) == 1:
                raise
            info(f"Error: {exc.message}; file skipped")
            if exc.fix:
                info(f"Fix: {exc.fix}")
            continue
        run_id = start_run(con, "lit-import", str(path), None, {"format": records[0].format if records else None})
        new, known = load_imported(con, records, run_id)
        update_run(con, run_id, reported_total=len(records) + len(problems), stored_total=len(records),
                   new_records=new, unchanged_records=known, quarantined=len(problems))
        for p in problems:
            quarantine_record(con, run_id, str(path), p.record_ref, p.field, p.reason, None)
        finish_run(con, run_id, "ok", _import_message(warnings))
        info(f"{Path(path).name}: {len(records) + len(problems):,} records read: {len(records):,} imported "
             f"({new:,} new, {known:,} already imported), {len(problems)} rejected"
             + (f", {len(warnings)} warning(s)" if warnings else ""))
        _list_problems("rejected", problems, f"ici-atlas quarantine --run {run_id}")
        _list_problems("warning", warnings, f"ici-atlas runs --kind lit-import --format json (run {run_id})")
    if failed:
        imported = len(files) - len(failed)
        rest = ("none was imported" if not imported else
                f"the other {imported} {'was' if imported == 1 else 'were'} imported")
        raise InputError(
            f"{len(failed)} of {len(files)} files could not be imported ({', '.join(failed)}); {rest}",
            fix="Fix the files named above and import them again (records already imported are not added twice).")


_LISTED = 20


def _list_problems(kind: str, problems: list[ParseProblem], where: str) -> None:
    for p in problems[:_LISTED]:
        info(f"  {kind}: {p.record_ref} (field {p.field}): {p.reason}")
    if len(problems) > _LISTED:
        info(f"  ... and {len(problems) - _LISTED:,} more ({where})")


def _import_message(warnings: list[ParseProblem]) -> str | None:
    """The run's message: every warning (records kept with something dropped or guessed)."""
    if not warnings:
        return None
    return f"{len(warnings)} warning(s): " + "; ".join(
        f"{w.record_ref} (field {w.field}): {w.reason}" for w in warnings)


@lit_group.command("prescreen")
@db_option
def prescreen_command(db_path):
    """De-duplicate the library (PMID, DOI, title + year) and apply the pre-screening rules.

    Every automated exclusion names the rule that fired; run it again after each search
    or import (decisions are only added when they change).

    \b
    Example:
      ici-atlas lit prescreen && ici-atlas lit prisma
    """
    con = command_store(db_path)
    s = prescreen_library(con)
    merged = ", ".join(f"{k}: {v}" for k, v in sorted(s.merged.items())) or "none"
    rules = ", ".join(f"{k}: {v}" for k, v in sorted(s.excluded_by_rule.items())) or "none"
    info(f"{s.identified:,} records identified; duplicates merged ({merged}); {s.canonical:,} unique")
    info(f"excluded by rule ({rules}); {s.passed:,} passed to title/abstract screening; "
         f"{s.new_decisions:,} decisions logged")


@lit_group.command("screen")
@click.option("--stage", type=Choice(["title-abstract", "full-text"]), default="title-abstract",
              show_default=True)
@click.option("--reviewer", required=True, help="Your name, logged with every decision.")
@click.option("--seed", default=0, show_default=True)
@db_option
def screen_command(stage, reviewer, seed, db_path):
    """Screen records one at a time, most likely relevant first; resumes where you stopped.

    Keys: i = include, e = exclude (asks the reason), s = skip, n = not retrieved
    (full-text stage), q = quit. The ranking is refitted after every decision.

    \b
    Example:
      ici-atlas lit screen --reviewer "A. Reviewer"
    """
    con = command_store(db_path)
    done = 0
    skipped: set[str] = set()
    while True:
        queue = [r for r in next_to_screen(con, stage, seed) if r.record_id not in skipped]
        if not queue:
            info(f"Nothing left to screen at stage {stage}. {done} decisions made this session.")
            return
        r = queue[0]
        click.echo("")
        click.echo(click.style(f"[{len(queue):,} left] {r.record_id}  {r.year or ''}  {r.journal}", bold=True))
        click.echo(textwrap.fill(r.title, 100))
        if r.abstract:
            click.echo(textwrap.fill(r.abstract, 100))
        keys = "i/e/s/n/q" if stage == "full-text" else "i/e/s/q"
        choice = click.prompt(f"Decision ({keys})", type=Choice(keys.split("/")), show_choices=False)
        if choice == "q":
            info(f"Stopped. {done} decisions made this session; run the same command to resume.")
            return
        if choice == "s":
            record_decisions(con, [Decision(r.record_id, stage, "skip", "", reviewer)])
            skipped.add(r.record_id)
            continue
        decision = {"i": "include", "e": "exclude", "n": "not-retrieved"}[choice]
        reason = click.prompt("Reason", default="" if decision != "exclude" else None,
                              show_default=False) if decision != "include" else ""
        record_decisions(con, [Decision(r.record_id, stage, decision, reason or "", reviewer)])
        done += 1


@lit_group.command("decisions")
@click.option("--export", "export_path", type=click.Path(path_type=Path), help="Write the whole log as CSV.")
@click.option("--import", "import_path", type=click.Path(path_type=Path), help="Append decisions from a CSV.")
@output_options
@db_option
def decisions_command(export_path, import_path, fmt, out, db_path):
    """Show, export or import the screening log (every decision, with stage, reason, who, when).

    \b
    Example:
      ici-atlas lit decisions --export decisions.csv
    """
    con = command_store(db_path)
    if import_path:
        info(f"{import_decisions_csv(con, import_path):,} decisions imported from {import_path}")
    if export_path:
        info(f"{export_decisions_csv(con, export_path):,} decisions written to {export_path}")
    if not import_path and not export_path:
        emit(query_decision_log(con), fmt, out=out)


@lit_group.command("prisma")
@click.option("--figure-dir", type=click.Path(path_type=Path), help="Write prisma_flow.png/.svg here.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@db_option
def prisma_command(figure_dir, as_json, db_path):
    """PRISMA 2020 flow counts from the screening log, checked for consistency.

    Exits with code 1 when counts do not add up (the problems are printed).

    \b
    Example:
      ici-atlas lit prisma --figure-dir figures/
    """
    import json

    con = command_store(db_path, read_only=True)
    counts = compute_prisma(con)
    if as_json:
        click.echo(json.dumps(counts.to_dict(), indent=2))
    else:
        rows = [{"box": k, "n": v} for k, v in counts.to_dict().items() if isinstance(v, int)]
        rows += [{"box": f"identified: {k}", "n": v} for k, v in counts.identified_by_source.items()]
        rows += [{"box": f"full-text excluded: {k}", "n": v} for k, v in counts.full_text_excluded.items()]
        emit(rows, "table")
    if figure_dir:
        paths = save_figure(plot_prisma(counts), figure_dir, "prisma_flow")
        info("wrote " + ", ".join(str(p) for p in paths))
    for problem in counts.problems:
        info(f"Inconsistent: {problem}")
    if counts.problems:
        raise SystemExit(1)


@lit_group.command("export")
@click.option("--format", "out_format", type=Choice(["csv", "ris", "orr-template"]), default="csv",
              show_default=True)
@click.option("--stage", type=Choice(["all", "included"]), default="all", show_default=True,
              help="Every unique record, or only those included at full text.")
@db_option
def export_command(out_format, stage, db_path):
    """Export the library with its latest decisions (CSV or RIS), or included studies as a
    template of ORR rows (PMID as source) for the efficacy dataset.

    \b
    Example:
      ici-atlas lit export --format ris --stage included > included.ris
    """
    con = command_store(db_path, read_only=True)
    if out_format == "ris":
        click.echo(render_ris(con, stage), nl=False)
    elif out_format == "orr-template":
        emit(render_orr_template_rows(con), "csv")
    else:
        emit(render_library_csv_rows(con, stage), "csv")


def register(group: click.Group) -> None:
    group.add_command(lit_group)
