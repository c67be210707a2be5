"""``ici-atlas lit``: the systematic literature pipeline (PubMed → screening → PRISMA)."""

from __future__ import annotations

from pathlib import Path

import click

import textwrap

from .. import config
from ..errors import InputError
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
from ..review.prisma import compute_prisma
from ..review.screening import next_to_screen, prescreen_library
from ..sources.pubmed_xml import ParseProblem
from ..review.search import parse_date, plan_search, run_search
from ..review.simulate import load_labelled_csv, simulate_random, simulate_screening
from ..review.stopping import screening_stop_status
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
@click.option("--seed", default=0, show_default=True,
              help="Seed for the start records (one included, one excluded) and tie-breaks.")
@click.option("--batch-size", default=1, show_default=True, help="Labels between model refits.")
@click.option("--target-recall", default=0.95, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Recall the stopping rule must show before it says stop.")
@click.option("--alpha", default=0.05, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Significance level of the stopping rule.")
@click.option("--curve", is_flag=True, help="Print the recall curve (20 points) instead of the summary.")
@output_options
def simulate_command(labels_path: Path, seed: int, batch_size: int, target_recall: float, alpha: float,
                     curve: bool, fmt: str, out: Path | None) -> None:
    """Replay a labelled screening set through the prioritisation model.

    Starts from one random included and one random excluded record (seeded, counted as
    screened), then screens the top-ranked record, refitting after every decision. Prints
    the number of records and inclusions, work saved over sampling at 95% recall (WSS@95),
    recall after screening 10% and 25% of the records, seconds per decision (refit +
    ranking), where the stopping rule would have stopped (stop_screened, stop_recall,
    stop_work_saved), and the same recall numbers for a random order (same seed).

    \b
    Example:
      ici-atlas lit simulate --labels ../shared/data/pubmed/asreview__synergy-dataset/Nelson_2002/Nelson_2002_records.csv --json
    """
    records, labels = load_labelled_csv(labels_path)
    if sum(labels) == 0:
        info(f"{labels_path.name}: no included records; recall is undefined.")
    result = simulate_screening(records, labels, seed=seed, batch_size=batch_size,
                                target_recall=target_recall, alpha=alpha)
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
        summary["start_records"] = " ".join(str(i) for i in summary["start_records"])
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
@click.option("--duplicates", "list_duplicates", is_flag=True,
              help="Write the duplicates table (every record matching another file's or the "
                   "library's) instead of the per-file table.")
@output_options(default="none: only the per-file lines on stderr; table with --duplicates")
@db_option
def import_command(files, list_duplicates, fmt, out, db_path):
    """Import records exported by hand into the screening library.

    Accepted, recognised from the content (not the file name; gzip-compressed files too):
    PubMed XML and MEDLINE ("PubMed" format), RIS (EndNote, Zotero, Embase, Ovid ...), Web
    of Science plain text, tab-delimited and CSV, the native CSV exports of Scopus and
    Embase (their own column names), and a plain CSV with a title column.

    Prints one line per file (stderr): the format recognised, records read, new, already
    in the library, merged as duplicates of other files or the library, rejected (each
    with its reason; quarantined) and warnings; then the duplicates found, with the record
    each matches and on what (pmid, doi, title+year). A file that cannot be read is
    reported and skipped, the others are imported, and the command exits 2. With
    --format the per-file table (or, with --duplicates, the duplicates table) goes to
    stdout or -o FILE.

    \b
    Examples:
      ici-atlas lit import pubmed.xml embase.csv scopus.csv savedrecs.txt
      ici-atlas lit import *.ris *.csv --format csv -o import_report.csv
      ici-atlas lit import scopus.csv wos.txt --duplicates --format csv
    """
    from ..review.library import IMPORT_DUPLICATE_TABLE, IMPORT_FILE_TABLE, import_files
    from ..tables import frame
    from .common import show

    con = command_store(db_path)
    report = import_files(con, files, on_file=lambda item: _report_file(item, single=len(files) == 1))
    failed = report.failed
    if len(files) == 1 and failed and failed[0].exception is not None:
        raise failed[0].exception  # one file: just its error
    _report_duplicates(report.duplicates)
    fmt = fmt_of(fmt, default=None)
    if list_duplicates:
        show(frame(report.duplicate_rows(), IMPORT_DUPLICATE_TABLE), fmt or "table", out, noun="duplicates")
    elif fmt is not None:
        show(frame(report.file_rows(), IMPORT_FILE_TABLE), fmt, out, noun="files")
    if failed:
        names = [f.file for f in failed]
        imported = len(files) - len(failed)
        rest = ("none was imported" if not imported else
                f"the other {imported} {'was' if imported == 1 else 'were'} imported")
        raise InputError(
            f"{len(failed)} of {len(files)} files could not be imported ({', '.join(names)}); {rest}",
            fix="Fix the files named above and import them again (records already imported are not added twice).")


_LISTED = 20


def _report_file(item, single: bool) -> None:
    """The per-file lines of ``lit import`` (stderr), printed as each file is done."""
    if item.status == "failed":
        if not single:
            info(f"Error: {item.error}; file skipped")
            if item.fix:
                info(f"Fix: {item.fix}")
        return
    name = Path(item.file).name
    info(f"{name} ({item.format_label}): {item.read:,} records read: {item.imported_new:,} new, "
         f"{item.already_in_library:,} already in library, {item.merged_duplicates:,} merged as "
         f"duplicates, {item.rejected:,} rejected"
         + (f", {len(item.warnings):,} warning(s)" if item.warnings else ""))
    _list_problems("rejected", item.problems, f"ici-atlas quarantine --run {item.run_id}")
    _list_problems("warning", item.warnings, f"ici-atlas runs --kind lit-import --format json (run {item.run_id})")


def _report_duplicates(duplicates) -> None:
    """How many records of this import are the same work as another, the first 20 of them
    with the record each matches, and how to get them all."""
    if not duplicates:
        return
    n = len(duplicates)
    info(f"{n:,} record{'s' if n != 1 else ''} duplicate{'' if n != 1 else 's'} records of other "
         "files or the library (kept, and linked by `ici-atlas lit prescreen`):")
    for d in duplicates[:_LISTED]:
        value = d.value if len(d.value) <= 60 else d.value[:60] + "..."
        info(f"  {d.record_id} = {d.duplicate_of_id} ({Path(d.duplicate_of_file).name}), "
             f"same {d.matched_on}: {value}")
    if n > _LISTED:
        info(f"  ... and {n - _LISTED:,} more: add `--duplicates --format csv -o FILE` to the "
             "import to get the whole table")


def _list_problems(kind: str, problems: list[ParseProblem], where: str) -> None:
    for p in problems[:_LISTED]:
        info(f"  {kind}: {p.record_ref} (field {p.field}): {p.reason}")
    if len(problems) > _LISTED:
        info(f"  ... and {len(problems) - _LISTED:,} more ({where})")


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
@click.option("--web", is_flag=True,
              help="Screen on a local web page (one record at a time, keyboard keys, undo, notes).")
@click.option("--port", default=8766, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the --web page on 127.0.0.1 (0: any free port).")
@click.option("--include-terms", metavar="TERMS",
              help="--web: comma-separated terms highlighted as speaking for inclusion "
                   "(default: PD-1/PD-L1, response rate, phase, trial, monotherapy ...; agent names always).")
@click.option("--exclude-terms", metavar="TERMS",
              help="--web: comma-separated terms highlighted as speaking against inclusion "
                   "(default: review, case report, retrospective, mice, in combination ...).")
@db_option
def screen_command(stage, reviewer, seed, web, port, include_terms, exclude_terms, db_path):
    """Screen records one at a time, most likely relevant first; resumes where you stopped.

    Keys: i = include, e = exclude (asks for a note; needed at the full-text stage), s = skip,
    n = not retrieved (full-text stage), q = quit. The ranking is refitted after every
    decision; at the title-abstract stage the stopping rule's verdict is shown after each one.

    With --web, serves the same screening on http://127.0.0.1:PORT/ (this machine only):
    title, journal, year and abstract with highlighted keywords, duplicates merged into the
    record, progress and the stopping rule; keys i / e / s (r: not retrieved), u = undo,
    n = write a note. Each decision is saved before the next record is shown. Stop with Ctrl+C.

    \b
    Example:
      ici-atlas lit screen --reviewer "A. Reviewer"
      ici-atlas lit screen --reviewer "A. Reviewer" --web
    """
    con = command_store(db_path)
    if web:
        _serve_screening(con, stage, reviewer, seed, port, include_terms, exclude_terms)
        return
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
        needed = decision == "exclude" and stage == "full-text"
        reason = click.prompt("Reason" if needed else "Note (optional)", default=None if needed else "",
                              show_default=False) if decision != "include" else ""
        record_decisions(con, [Decision(r.record_id, stage, decision, reason or "", reviewer)])
        done += 1
        if stage == "title-abstract":
            info(screening_stop_status(con, stage).text)


def _terms(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _serve_screening(con, stage, reviewer, seed, port, include_terms, exclude_terms) -> None:
    import sys

    from ..review.session import ScreeningSession
    from ..web.screening_app import make_screening_server

    info("Preparing the screening pool and its ranking model ...")
    session = ScreeningSession(con, reviewer, stage, seed, _terms(include_terms), _terms(exclude_terms))
    server, _app, url = make_screening_server(session, port=port, log=info)
    progress = session.progress()
    click.echo(url)
    sys.stdout.flush()
    info(f"Screening page for {reviewer} at {url} ({progress.left:,} of {progress.pool:,} records "
         f"left at stage {stage}); decisions are saved as you make them; press Ctrl+C to stop.")
    try:
        server.run()
    except KeyboardInterrupt:
        info("Stopped. Run the same command to resume.")
    finally:
        server.close()


@lit_group.command("status")
@click.option("--target-recall", default=0.95, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Recall the stopping rule must show before it says stop.")
@click.option("--alpha", default=0.05, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Significance level of the stopping rule.")
@output_options
@db_option
def status_command(target_recall, alpha, fmt, out, db_path):
    """How far screening has come, per stage, and whether the stopping rule says stop.

    Per stage (title-abstract, full-text): the pool, the decisions in force (included,
    excluded, not retrieved, skipped, undecided); at title-abstract the hypergeometric
    stopping rule (Callaghan & Müller-Hansen 2020): should_stop, p_value, max_missed (with
    confidence 1 - alpha, at most this many relevant records are unscreened) and
    recall_lower_bound.

    \b
    Example:
      ici-atlas lit status
      ici-atlas lit status --target-recall 0.99 --format json
    """
    from ..review.progress import progress_sentence, query_screening_progress

    con = command_store(db_path, read_only=True)
    rows = query_screening_progress(con, target_recall, alpha)
    if not rows:
        raise InputError("The store holds no literature library yet",
                         fix="Run `ici-atlas lit search` or `ici-atlas lit import FILE`, then `ici-atlas lit prescreen`.")
    sentence = progress_sentence(rows)
    if sentence:
        info(sentence)
    emit(rows, fmt_of(fmt), out=out)


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
