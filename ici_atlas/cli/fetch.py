"""``ici-atlas fetch``, ``runs`` and ``quarantine``: get trial records into the store."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import config
from ..store import db
from ..errors import InputError
from ..store.ingest import (
    QUARANTINE_COLUMNS,
    load_files,
    load_from_api,
    plan_update,
    query_quarantine,
    query_runs,
)
from ..sources.ctgov_api import DEFAULT_MAX_RATE, CtgovClient, RetryPolicy, fetch_counts
from ..sources.ctgov_query import (
    DEFAULT_INTERVENTION_TYPES,
    DEFAULT_MAX_URL_LENGTH,
    build_queries,
    query_key,
    query_terms_from_vocab,
)
from .common import db_option, emit, info, output_options, resolve_db

_RUN_TABLE_COLUMNS = (
    "run_id", "kind", "status", "reported_total", "stored_total", "new_records",
    "updated_records", "unchanged_records", "quarantined", "resumed_from", "started_at",
    "finished_at", "source",
)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@click.command("fetch")
@click.option("--from", "from_path", type=click.Path(path_type=Path),
              help="Load local files instead of the API: a directory (recursive) of v2 JSON "
                   "studies, a JSON array download, a bulk ZIP, v1 JSON or legacy XML.")
@click.option("--classify", "classify_too", is_flag=True,
              help="With --from: classify while loading (one pass; same tables as `ici-atlas classify`).")
@click.option("--api-url", default=None, help=f"API v2 base URL (default: ${config.ENV_CTGOV_API} "
              f"or {config.CTGOV_API_DEFAULT}).")
@click.option("--terms", default=None,
              help="Comma-separated search terms (default: every name of every PD-1/PD-L1 agent "
                   "in the drug vocabulary).")
@click.option("--types", default=",".join(DEFAULT_INTERVENTION_TYPES), show_default=True,
              help="Intervention types to keep (API v2 enum names, comma-separated; '' for all).")
@click.option("--page-size", type=click.IntRange(1, 1000), default=1000, show_default=True)
@click.option("--max-rate", type=click.FloatRange(min=0, min_open=True),
              default=round(DEFAULT_MAX_RATE, 3), show_default=True,
              help="At most this many requests per second.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds to wait for one response.")
@click.option("--retries", type=click.IntRange(0, 50), default=5, show_default=True,
              help="Retries per request on 429/5xx/timeouts/bad pages.")
@click.option("--backoff", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="First retry wait in seconds (doubles each retry, plus jitter).")
@click.option("--max-url-length", type=click.IntRange(200, 100_000),
              default=DEFAULT_MAX_URL_LENGTH, show_default=True,
              help="Split the terms into chunks so no request URL is longer.")
@click.option("--dry-run", is_flag=True, help="Print the count(s) and exact query URL(s); "
              "download nothing.")
@click.option("--update", is_flag=True, help="Only records changed since the last successful "
              "run of the same query (LastUpdatePostDate).")
@click.option("--restart", is_flag=True, help="Do not resume an interrupted run; start over.")
@db_option
@output_options
def fetch_command(from_path, classify_too, api_url, terms, types, page_size, max_rate, timeout, retries,
                  backoff, max_url_length, dry_run, update, restart, db_path, fmt):
    """Fetch PD-1/PD-L1 trials from ClinicalTrials.gov (API v2) or load local files.

    The API search puts every agent name into query.intr (intervention fields only) and
    keeps DRUG/BIOLOGICAL/COMBINATION_PRODUCT interventions; it pages 1,000 at a time,
    retries politely, commits every page (so an interrupted run resumes when the same
    command is run again) and checks that the number stored equals the number the API
    reported (exit code 4 if not). See docs/retrieval.md.

    \b
    Examples:
      ici-atlas fetch --dry-run
      ici-atlas fetch --db atlas.duckdb
      ici-atlas fetch --db atlas.duckdb --update
      ici-atlas fetch --db atlas.duckdb --from ../shared/data/ctgov --classify
    """
    if classify_too and from_path is None:
        raise InputError("--classify works with --from only",
                         fix="Run `ici-atlas classify` after an API fetch.")
    if from_path is not None:
        with db.connect(resolve_db(db_path)) as con:
            if classify_too:
                from ..concepts.pipeline import load_and_classify_files

                result, classified = load_and_classify_files(con, from_path)
                info(classified.summary())
            else:
                result = load_files(con, from_path)
        if result.skipped_files:
            reasons: dict[str, int] = {}
            for s in result.skipped_files:
                reasons[s["reason"]] = reasons.get(s["reason"], 0) + 1
            for reason, n in sorted(reasons.items(), key=lambda x: -x[1]):
                info(f"skipped {n} file(s): {reason}")
        info(result.summary())
        emit([{
            "run_id": result.run_id, "status": result.status, "found": result.reported_total,
            "stored": result.stored_total, "new": result.counts.new,
            "updated": result.counts.updated, "unchanged": result.counts.unchanged,
            "quarantined": result.counts.quarantined, "duplicates": result.duplicates,
            "files_skipped": len(result.skipped_files),
        }], fmt)
        return

    base_url = config.ctgov_api_url(api_url)
    term_list = _split(terms) if terms is not None else list(query_terms_from_vocab())
    type_list = tuple(t.upper() for t in _split(types))
    base_queries = build_queries(term_list, base_url, intervention_types=type_list,
                                 page_size=page_size, max_url_length=max_url_length)
    key = query_key(base_url, base_queries)
    client = CtgovClient(
        base_url, timeout=timeout, max_rate=max_rate,
        retry=RetryPolicy(max_retries=retries, backoff=backoff),
        on_retry=lambda msg, wait: info(msg),
    )
    with client:
        if dry_run:
            queries = base_queries
            if update:
                with db.connect(resolve_db(db_path), read_only=True) as con:
                    since = plan_update(con, key)
                queries = build_queries(term_list, base_url, intervention_types=type_list,
                                        updated_since=since, page_size=page_size,
                                        max_url_length=max_url_length)
            rows = fetch_counts(client, queries, page_size)
            for query, row in zip(queries, rows):
                info(f"chunk {row['chunk']}: {row['count']:,} studies reported")
                info(f"  query.intr = {query.intr_expression()}")
                info(f"  filter.advanced = {query.advanced_filter()}")
                info(f"  GET {row['url']}")
            total = sum(r["count"] for r in rows)
            info(f"{len(term_list)} terms in {len(rows)} chunk(s); {total:,} studies reported"
                 + (" (chunks may overlap; the union is known after download)"
                    if len(rows) > 1 else "") + "; nothing downloaded")
            emit(rows, fmt)
            return
        with db.connect(resolve_db(db_path)) as con:
            queries = base_queries
            if update:
                since = plan_update(con, key)
                info(f"update: records with LastUpdatePostDate >= {since.isoformat()}")
                queries = build_queries(term_list, base_url, intervention_types=type_list,
                                        updated_since=since, page_size=page_size,
                                        max_url_length=max_url_length)
            if len(queries) > 1:
                info(f"{len(term_list)} terms split into {len(queries)} queries "
                     f"(URLs under {max_url_length} characters)")
            result = load_from_api(con, client, queries, page_size=page_size, base_key=key,
                                   restart=restart)
    info(result.summary())
    rows = [
        {"chunk": c["chunk"], "reported": c["reported"], "received": c["received"],
         "quarantined": c["quarantined"]}
        for c in result.chunks
    ]
    rows.append({"chunk": "union", "reported": None, "received": result.stored_total,
                 "quarantined": result.counts.quarantined})
    emit(rows, fmt)


@click.command("runs")
@click.option("--limit", type=int, default=None, help="Only the most recent N runs.")
@db_option
@output_options
def runs_command(limit, db_path, fmt):
    """List fetch/load runs: source, query, counts, status, times, tool version.

    The table shows the counts; --json/--csv add the exact query, parameters and message.

    \b
    Example:
      ici-atlas runs --db atlas.duckdb --limit 5
    """
    with db.connect(resolve_db(db_path), read_only=True) as con:
        rows = query_runs(con, limit)
    if fmt in ("csv", "tsv"):
        for row in rows:
            row["params"] = json.dumps(row["params"], sort_keys=True)
    columns = _RUN_TABLE_COLUMNS if fmt in ("table", None) else None
    emit(rows, fmt or "table", columns)


@click.command("quarantine")
@click.option("--run", "run_id", type=int, default=None, help="Only records of this run.")
@click.option("--raw", is_flag=True, help="Include the rejected record text.")
@db_option
@output_options
def quarantine_command(run_id, raw, db_path, fmt):
    """List records that were rejected (unparseable, or lacking nctId/protocolSection).

    \b
    Example:
      ici-atlas quarantine --db atlas.duckdb --json
    """
    with db.connect(resolve_db(db_path), read_only=True) as con:
        rows = query_quarantine(con, run_id)
    columns = [c for c in QUARANTINE_COLUMNS if raw or c != "raw"]
    emit(rows, fmt or "table", columns)


def register(group: click.Group) -> None:
    group.add_command(fetch_command)
    group.add_command(runs_command)
    group.add_command(quarantine_command)
