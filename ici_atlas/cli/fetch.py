"""``ici-atlas fetch``, ``runs``, ``quarantine`` and ``warnings``: get trial records into the
store, and see how."""

from __future__ import annotations

from pathlib import Path

import click

from .. import config
from ..errors import InputError
from ..sources.ctgov_api import DEFAULT_MAX_RATE
from ..sources.ctgov_query import DEFAULT_INTERVENTION_TYPES, DEFAULT_MAX_URL_LENGTH
from .common import atlas_for, db_option, fmt_of, info, output_options, show

_RUN_TABLE_COLUMNS = (
    "run_id", "kind", "status", "reported_total", "stored_total", "new_records",
    "updated_records", "unchanged_records", "quarantined", "resumed_from", "started_at",
    "finished_at", "source",
)


def _load_summary(result):
    from ..tables import frame

    return frame([{
        "run_id": result.run_id, "status": result.status, "found": result.reported_total,
        "stored": result.stored_total, "new": result.counts.new,
        "updated": result.counts.updated, "unchanged": result.counts.unchanged,
        "quarantined": result.counts.quarantined,
        "kept_with_warnings": result.counts.warned, "duplicates": result.duplicates,
        "files_skipped": len(result.skipped_files),
    }])


def fetch_network_options(func):
    """The options of a registry fetch (shared by ``fetch`` and ``update``)."""
    options = [
        click.option("--api-url", default=None, help=f"API v2 base URL (default: "
                     f"${config.ENV_CTGOV_API} or {config.CTGOV_API_DEFAULT})."),
        click.option("--terms", default=None,
                     help="Comma-separated search terms (default: every name of every "
                          "PD-1/PD-L1 agent in the drug vocabulary)."),
        click.option("--types", default=",".join(DEFAULT_INTERVENTION_TYPES), show_default=True,
                     help="Intervention types to keep (API v2 enum names, comma-separated; "
                          "'' for all)."),
        click.option("--page-size", type=click.IntRange(1, 1000), default=1000,
                     show_default=True),
        click.option("--max-rate", type=click.FloatRange(min=0, min_open=True),
                     default=round(DEFAULT_MAX_RATE, 3), show_default=True,
                     help="At most this many requests per second."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
                     show_default=True, help="Seconds to wait for one whole response."),
        click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
                     help="Retries per request on 429/5xx/timeouts/bad pages."),
        click.option("--backoff", type=click.FloatRange(min=0), default=2.0, show_default=True,
                     help="First retry wait in seconds (doubles each retry, plus jitter)."),
        click.option("--max-url-length", type=click.IntRange(200, 100_000),
                     default=DEFAULT_MAX_URL_LENGTH, show_default=True,
                     help="Split the terms into chunks so no request URL is longer."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("fetch")
@click.option("--from", "from_path", type=click.Path(path_type=Path),
              help="Load local files instead of the API: a directory (recursive) of v2 JSON "
                   "studies, a JSON array download, a bulk ZIP, v1 JSON or legacy XML.")
@click.option("--classify", "classify_too", is_flag=True,
              help="With --from: classify while loading (one pass; same tables as `ici-atlas classify`).")
@click.option("--registry", type=click.Choice(["ctgov", "ctis", "isrctn"], case_sensitive=False),
              default="ctgov", show_default=True,
              help="Whose API to fetch from: ClinicalTrials.gov (API v2), the EU CTIS public "
                   "API or the ISRCTN API. CTIS and ISRCTN records go to the registrations "
                   "table, as from their files (default page size 100; --api-url or "
                   "$ICI_ATLAS_CTIS_API / $ICI_ATLAS_ISRCTN_API; see docs/registries.md).")
@fetch_network_options
@click.option("--dry-run", is_flag=True, help="Print the exact query URL(s); download nothing "
              "and do not contact the registry.")
@click.option("--count", "count_only", is_flag=True, help="Ask the registry how many studies each "
              "query chunk has (one short request per chunk); download nothing.")
@click.option("--update", is_flag=True, help="Only records changed since the last successful "
              "run of the same query (LastUpdatePostDate).")
@click.option("--restart", is_flag=True, help="Do not resume an interrupted run; start over.")
@db_option
@output_options
def fetch_command(from_path, classify_too, registry, api_url, terms, types, page_size,
                  max_rate, timeout, retries, backoff, max_url_length, dry_run, count_only,
                  update, restart, db_path, fmt, out):
    """Fetch PD-1/PD-L1 trials from ClinicalTrials.gov, EU CTIS or ISRCTN, or load files.

    The API search puts every agent name into query.intr (intervention fields only) and
    keeps DRUG/BIOLOGICAL/COMBINATION_PRODUCT interventions; it pages 1,000 at a time,
    retries politely, commits every page (so an interrupted run resumes when the same
    command is run again) and checks that the number stored equals the number the API
    reported (exit code 4 if not). See docs/retrieval.md.

    --registry ctis / isrctn sends the same names to the EU CTIS public API (containAny)
    or the ISRCTN API (q), 100 trials a page, with the same retries, resume and count
    check; the trials are stored as registrations, as from their files. See
    docs/registries.md.

    \b
    Examples:
      ici-atlas fetch --dry-run
      ici-atlas fetch --count
      ici-atlas fetch --db atlas.duckdb
      ici-atlas fetch --db atlas.duckdb --update
      ici-atlas fetch --db atlas.duckdb --from ../shared/data/ctgov --classify
      ici-atlas fetch --registry ctis --terms pembrolizumab --dry-run
      ici-atlas fetch --registry isrctn --db atlas.duckdb
    """
    atlas = atlas_for(db_path)
    registry = registry.lower()
    if registry != "ctgov":
        return _fetch_registry(atlas, registry, from_path, api_url, terms, types, page_size,
                               max_rate, timeout, retries, backoff, max_url_length, dry_run,
                               count_only, update, restart, fmt, out)
    if classify_too and from_path is None:
        raise InputError("--classify works with --from only",
                         fix="Run `ici-atlas classify` after an API fetch.")
    if from_path is not None:
        if not from_path.exists():
            raise InputError(f"No such file or folder {str(from_path)!r}",
                             fix="Give the path of ClinicalTrials.gov records to --from.")
        result = atlas.load(from_path, classify=classify_too)
        if classify_too:
            info(result.classified.summary())
        if result.skipped_files:
            reasons: dict[str, int] = {}
            for s in result.skipped_files:
                reasons[s["reason"]] = reasons.get(s["reason"], 0) + 1
            for reason, n in sorted(reasons.items(), key=lambda x: -x[1]):
                info(f"skipped {n} file(s): {reason}")
        info(result.summary())
        show(_load_summary(result), fmt, out)
        return
    options = dict(terms=terms, types=types, page_size=page_size, max_rate=max_rate,
                   timeout=timeout, retries=retries, backoff=backoff,
                   max_url_length=max_url_length, api_url=api_url, update=update)
    _plan_or_fetch(atlas, options, restart, dry_run, count_only, fmt, out,
                   lambda row: f"GET {row.url}", "studies")


def _plan_or_fetch(atlas, options: dict, restart: bool, dry_run: bool, count_only: bool, fmt, out,
                   request, unit: str) -> None:
    """``--dry-run`` (the requests, no network), ``--count`` (one request per chunk) or the
    fetch itself, for any registry; ``request(row)`` shows a plan row's request."""
    if dry_run or count_only:
        df = atlas.fetch_counts(**options) if count_only else atlas.fetch_plan(**options)
        for row in df.itertuples(index=False):
            info(f"chunk {row.chunk}: {request(row)}"
                 + (f"  ({row.count:,} {unit} reported)" if count_only else ""))
        info(f"{len(df)} query chunk(s); nothing downloaded"
             + ("" if count_only else "; the registry was not contacted (--count asks it "
                                      "for the numbers)"))
        show(df, fmt, out)
        return
    result = atlas.fetch(restart=restart, on_retry=lambda msg, wait: info(msg), **options)
    info(result.summary())
    _show_chunks(result, fmt, out)


def _show_chunks(result, fmt, out) -> None:
    from ..tables import frame

    rows = [{"chunk": str(c["chunk"]), "reported": c["reported"], "received": c["received"],
             "quarantined": c["quarantined"]} for c in result.chunks]
    rows.append({"chunk": "union", "reported": None, "received": result.stored_total,
                 "quarantined": result.counts.quarantined})
    show(frame(rows, {"chunk": "str", "reported": "int", "received": "int",
                      "quarantined": "int"}), fmt, out)


def _fetch_registry(atlas, registry, from_path, api_url, terms, types, page_size, max_rate,
                    timeout, retries, backoff, max_url_length, dry_run, count_only, update,
                    restart, fmt, out) -> None:
    """``fetch --registry ctis|isrctn``: the same run, dry run and count as for
    ClinicalTrials.gov, into the registrations table."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    if from_path is not None:
        raise InputError("--registry chooses an API to fetch from; --from reads the files of "
                         "every registry it recognises",
                         fix="Leave out --registry when loading files with --from.")
    for name, flag in (("types", "--types"), ("update", "--update")):
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
            raise InputError(f"{flag} applies to ClinicalTrials.gov only, not to "
                             f"--registry {registry}", fix=f"Leave out {flag}.")
    if ctx.get_parameter_source("page_size") is ParameterSource.DEFAULT:
        page_size = None  # the registry fetch's own default
    options = dict(registry=registry, terms=terms, page_size=page_size, max_rate=max_rate,
                   timeout=timeout, retries=retries, backoff=backoff,
                   max_url_length=max_url_length, api_url=api_url)
    _plan_or_fetch(atlas, options, restart, dry_run, count_only, fmt, out,
                   lambda row: row.request, "trials")


@click.command("runs")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the most recent N runs.")
@click.option("--kind", default=None, metavar="KIND",
              help="Only runs of this kind (fetch, load, classify, lit-search, lit-import ...).")
@click.option("--source", default=None, metavar="TEXT",
              help="Only runs whose source contains TEXT.")
@db_option
@output_options
def runs_command(limit, kind, source, db_path, fmt, out):
    """List how the store was built: source, query, counts, status, times, tool version.

    The table shows the counts; --format json/csv adds the exact query, parameters and
    message.

    \b
    Example:
      ici-atlas runs --db atlas.duckdb --limit 5
    """
    df = atlas_for(db_path).runs(kind=kind, source=source, limit=limit)
    if fmt_of(fmt) == "table":
        df = df[list(_RUN_TABLE_COLUMNS)]
    show(df, fmt, out, "runs")


@click.command("quarantine")
@click.option("--run", "run_id", type=int, default=None, help="Only records of this run.")
@click.option("--raw", is_flag=True, help="Include the rejected record text.")
@db_option
@output_options
def quarantine_command(run_id, raw, db_path, fmt, out):
    """List records that were rejected (unparseable, or lacking nctId/protocolSection).

    \b
    Example:
      ici-atlas quarantine --db atlas.duckdb --format json
    """
    show(atlas_for(db_path).quarantine(run_id, raw=raw), fmt, out, "records")


@click.command("warnings")
@click.option("--run", "run_id", type=int, default=None, help="Only records of this run.")
@db_option
@output_options
def warnings_command(run_id, db_path, fmt, out):
    """List records that were kept with a field read one safe way (a phase given as text,
    an enrolment placeholder such as 99999999, an impossible date ...), naming the field.

    \b
    Example:
      ici-atlas warnings --db atlas.duckdb --run 3
    """
    show(atlas_for(db_path).warnings(run_id), fmt, out, "warnings")


def register(group: click.Group) -> None:
    group.add_command(fetch_command)
    group.add_command(runs_command)
    group.add_command(quarantine_command)
    group.add_command(warnings_command)
