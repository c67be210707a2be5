"""The trials explorer's queries: filters parsed from a request, one parameterised SQL
condition, a sorted page of rows, the counts behind its charts, and the CSV of a selection.

Every filter value reaches DuckDB as a bound parameter (``?``); the only text pasted into
SQL comes from the fixed clauses and the sort whitelist in this module. Enumerated
filters are checked against the values present in the store (:class:`Facets`), so a
misspelt value is a 400 error that lists what exists rather than an empty table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import duckdb

from ..analyses.filters import (
    LIST_FILTERS,
    QUERY_MAX_CHARS,
    TrialFilter,
    resolve_agent,
    resolve_filter,
)
from ..analyses.trials import SORT_COLUMNS
from ..errors import InputError, invalid_choice
from ..vocab.phases import PHASE_LABELS, normalize_phase

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 200
YEAR_MIN, YEAR_MAX = 1900, 2100

SORT_DEFAULT = "start_year"
ORDER_DEFAULT = "desc"

#: Columns of an explorer row (JSON and the table), in order.
ROW_COLUMNS = (
    "nct_id", "brief_title", "phase_label", "overall_status", "start_year", "agents",
    "target_class", "bispecific", "partner_classes", "cancer_groups", "lead_sponsor",
    "sponsor_class", "enrollment", "countries",
)

#: Every query parameter of the explorer with its OpenAPI description (one source of truth).
PARAMETERS: dict[str, str] = {
    "scope": "`pd1` (default): PD-1/PD-L1 trials only; `all`: every classified trial.",
    "agent": "PD-(L)1 agent: INN, code name or brand, e.g. `pembrolizumab`, `MK-3475`, "
             "`keytruda` (repeat for any of several).",
    "class": "Target class of the PD-(L)1 agent: `PD-1` or `PD-L1`.",
    "bispecific": "`yes`: a bispecific/bifunctional PD-(L)1 agent is given; `no`: none is.",
    "monotherapy": "`yes`: the trial has a PD-(L)1 monotherapy arm; `no`: it has none.",
    "cancer": "Cancer group id, e.g. `NSCLC` (repeatable; any case).",
    "phase": "Phase label, e.g. `Phase 2`, `2/3`, `III`, `NA` (repeatable).",
    "status": "Overall status, e.g. `RECRUITING` (repeatable).",
    "partner": "Partner class of a drug given with the PD-(L)1 agent, e.g. `CTLA-4` (repeatable).",
    "line": "Line of therapy, e.g. `first-line` (repeatable).",
    "setting": "Treatment setting, e.g. `advanced`, `neoadjuvant` (repeatable).",
    "exposure": "`assigned` (the study gives the PD-(L)1 agent: interventional) or `observed` "
                "(an observational study of patients treated in care).",
    "since": "Earliest start year (inclusive).",
    "until": "Latest start year (inclusive).",
    "posted_by": "As of this date: only trials first posted on or before it (YYYY[-MM[-DD]]).",
    "posted_since": "Earliest first-posted year (inclusive).",
    "posted_until": "Latest first-posted year (inclusive).",
    "sponsor": "Lead sponsor class, e.g. `INDUSTRY` (repeatable).",
    "country": "Location country, e.g. `China` (repeatable).",
    "registry": "Registry, e.g. `CTGOV`, `CHICTR`, `EUCTR` (repeatable): every registration "
                "in it; without it each trial is counted once (the de-duplicated union).",
    "q": f"Free text (at most {QUERY_MAX_CHARS} characters) searched in NCT ID, titles, "
         "acronym, sponsor and agents; case-insensitive.",
    "sort": "Sort key: " + ", ".join(f"`{k}`" for k in SORT_COLUMNS) + f" (default `{SORT_DEFAULT}`).",
    "order": "`asc` or `desc` (default `desc`).",
    "page": "Page number, from 1.",
    "per_page": f"Rows per page, 1 to {PER_PAGE_MAX} (default {PER_PAGE_DEFAULT}).",
}


@dataclass(frozen=True)
class Facets:
    """The values each enumerated filter can take in this store (with trial counts)."""

    values: dict[str, list[tuple[str, int]]]

    def allowed(self, name: str) -> dict[str, str]:
        """casefolded value -> the store's spelling."""
        return {v.casefold(): v for v, _ in self.values.get(name, [])}


def query_facets(con: duckdb.DuckDBPyConnection) -> Facets:
    """Distinct values (and PD-(L)1 trial counts) of every enumerated filter, over all
    classified trials; values seen only outside PD-(L)1 trials have count 0."""
    values: dict[str, list[tuple[str, int]]] = {}
    for name, (column, is_list) in LIST_FILTERS.items():
        # counted once per trial (the union), except the registry facet: its registrations
        counted = "is_pd1_pdl1" if name == "registry" else "is_pd1_pdl1 AND representative"
        if is_list:
            sql = f"""
                SELECT v, count(DISTINCT nct_id) FILTER (WHERE {counted})
                FROM (SELECT nct_id, is_pd1_pdl1, representative, unnest({column}) AS v
                      FROM trials)
                WHERE v <> '' GROUP BY 1"""
        else:
            sql = f"""
                SELECT {column}, count(*) FILTER (WHERE {counted}) FROM trials
                WHERE {column} IS NOT NULL AND {column} <> '' GROUP BY 1"""
        rows = con.execute(sql).fetchall()
        if name == "phase":
            rows.sort(key=lambda r: PHASE_LABELS.index(r[0]) if r[0] in PHASE_LABELS else 99)
        else:
            rows.sort(key=lambda r: (-r[1], r[0]))
        values[name] = [(r[0], int(r[1])) for r in rows]
    return Facets(values)


#: Facets counted live: (facet, the filter it belongs to, SQL value, is a list column).
LIVE_FACETS: tuple[tuple[str, str, str, bool], ...] = tuple(
    (name, name, "coalesce(phase_label, 'NA')" if name == "phase" else column, is_list)
    for name, (column, is_list) in LIST_FILTERS.items()
) + (
    ("class", "target_class", "target_class", True),
    ("bispecific", "bispecific", "CASE WHEN bispecific THEN 'yes' ELSE 'no' END", False),
    ("monotherapy", "monotherapy", "CASE WHEN monotherapy_arm THEN 'yes' ELSE 'no' END", False),
    ("start_year", "start_year", "CAST(start_year AS VARCHAR)", False),
    ("posted_year", "first_posted", "CAST(year(first_posted) AS VARCHAR)", False),
)


def query_live_facets(con: duckdb.DuckDBPyConnection, flt: TrialFilter
                      ) -> dict[str, dict[str, int]]:
    """For every facet, the number of trials each value would select given the *other*
    filters in use (a facet ignores its own choice, so choosing more values of it stays
    possible, as in datasette's facets). One query: the other filters are evaluated once per
    trial (``p_<filter>`` columns), then each facet is grouped."""
    clauses = flt.clauses("")
    base = flt.base_clauses("", union=False)
    union = not flt.registry
    columns = sorted({c for _, _, c, _ in LIVE_FACETS})
    preds = [f"({sql}) AS p_{name}" for name, (sql, _) in clauses.items()]
    params = [v for _, (_, values) in clauses.items() for v in values]
    select = ", ".join([f"{c} AS f{i}" for i, c in enumerate(columns)] + ["representative"]
                       + preds)
    parts = []
    for facet, owner, column, is_list in LIVE_FACETS:
        others = [f"p_{n}" for n in clauses if n != owner]
        if union and facet != "registry":
            others.append("representative")
        cond = " AND ".join(others) or "TRUE"
        col = f"f{columns.index(column)}"
        value = f"unnest({col})" if is_list else col
        parts.append(f"SELECT '{facet}' AS facet, v, count(*) AS n FROM "
                     f"(SELECT {value} AS v FROM sel WHERE {cond}) WHERE v IS NOT NULL "
                     "AND v <> '' GROUP BY v")
    sql = (f"WITH sel AS MATERIALIZED (SELECT {select} FROM trials WHERE {' AND '.join(base)}) "
           + " UNION ALL ".join(parts))
    out: dict[str, dict[str, int]] = {facet: {} for facet, *_ in LIVE_FACETS}
    for facet, value, n in con.execute(sql, params).fetchall():
        out[facet][value] = int(n)
    return out


@dataclass(frozen=True)
class ExplorerQuery:
    """A parsed, checked explorer request: the trial filter, sort order and page."""

    flt: TrialFilter = field(default_factory=TrialFilter)
    sort: str = SORT_DEFAULT
    order: str = ORDER_DEFAULT
    page: int = 1
    per_page: int = PER_PAGE_DEFAULT

    # the filter's fields, as the templates read them
    @property
    def scope(self) -> str:
        return self.flt.scope

    @property
    def lists(self) -> dict[str, tuple[str, ...]]:
        return {name: getattr(self.flt, name) for name in LIST_FILTERS if getattr(self.flt, name)}

    @property
    def target_class(self) -> str | None:
        return self.flt.target_class

    @property
    def bispecific(self) -> bool | None:
        return self.flt.bispecific

    @property
    def monotherapy(self) -> bool | None:
        return self.flt.monotherapy

    @property
    def posted_since(self) -> int | None:
        return self.flt.posted_since

    @property
    def posted_until(self) -> int | None:
        return self.flt.posted_until

    @property
    def posted_by(self) -> str:
        return self.flt.posted_by.isoformat() if self.flt.posted_by else ""

    @property
    def since(self) -> int | None:
        return self.flt.since

    @property
    def until(self) -> int | None:
        return self.flt.until

    @property
    def q(self) -> str:
        return self.flt.q

    def filters(self) -> dict[str, Any]:
        """The active filters, as they would be written in a query string."""
        out: dict[str, Any] = {"scope": self.flt.scope}
        for name, value in self.flt.active().items():
            if name == "scope":
                continue
            key = "class" if name == "target_class" else name
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            out[key] = value
        return out

    def query_pairs(self, **override: Any) -> list[tuple[str, str]]:
        """(name, value) pairs that reproduce this selection (for links and the CSV)."""
        base = self.filters()
        base.update({"sort": self.sort, "order": self.order, "per_page": self.per_page,
                     "page": self.page})
        base.update(override)
        pairs = []
        for name, value in base.items():
            if value is None:
                continue
            for v in value if isinstance(value, list) else [value]:
                pairs.append((name, str(v)))
        return pairs


def _invalid(name: str, value: str, expected: Sequence[str] | str, fix: str) -> InputError:
    if not isinstance(expected, str):
        return invalid_choice(name, value, list(expected), fix)
    return InputError(f"Invalid {name} {value!r}; expected {expected}", fix=fix)


def _int(params: Mapping[str, list[str]], name: str, lo: int, hi: int,
         default: int | None) -> int | None:
    values = params.get(name) or []
    text = values[-1].strip() if values else ""
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _invalid(name, text, f"an integer from {lo} to {hi}",
                       f"give {name}={lo}..{hi}") from None
    if not lo <= value <= hi:
        raise _invalid(name, text, f"an integer from {lo} to {hi}", f"give {name}={lo}..{hi}")
    return value


def _one(params: Mapping[str, list[str]], name: str) -> str:
    values = [v.strip() for v in params.get(name) or [] if v.strip()]
    return values[-1] if values else ""


def parse_explorer_query(params: Mapping[str, list[str]], facets: Facets,
                         extra: Mapping[str, str] | None = None) -> ExplorerQuery:
    """Check every explorer parameter; raise InputError naming the parameter and value.
    ``extra``: further parameters the page takes (read by the page itself)."""
    allowed = {**PARAMETERS, **(extra or {})}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise invalid_choice("parameter", unknown[0], sorted(allowed),
                             "remove it; the page's parameters are listed in /openapi.json")
    given: dict[str, Any] = {}
    for name in LIST_FILTERS:
        raw = [v.strip() for v in params.get(name) or [] if v.strip()]
        if not raw:
            continue
        allowed = facets.allowed(name)
        chosen = []
        for value in raw:
            if name == "agent":
                key = resolve_agent(value, [v for v, _ in facets.values.get(name, [])])
            elif name == "phase":
                key = normalize_phase(value)
            else:
                key = value
            found = allowed.get(key.casefold())
            if found is None:
                raise _invalid(name, value, [v for v, _ in facets.values.get(name, [])],
                               f"pick one of the listed values for {name} (the explorer's "
                               "filter menus, or `facets` in /trials.json)")
            if found not in chosen:
                chosen.append(found)
        given[name] = chosen
    for name in ("class", "bispecific", "monotherapy", "since", "until", "posted_by",
                 "posted_since", "posted_until", "q", "scope"):
        value = _one(params, name)
        if value:
            given["target_class" if name == "class" else name] = value
    flt = resolve_filter(None, **given)
    sort = _one(params, "sort") or SORT_DEFAULT
    if sort not in SORT_COLUMNS:
        raise _invalid("sort", sort, list(SORT_COLUMNS), "use one of the listed sort keys")
    order = (_one(params, "order") or ORDER_DEFAULT).lower()
    if order not in ("asc", "desc"):
        raise _invalid("order", order, ["asc", "desc"], "use order=asc or order=desc")
    return ExplorerQuery(
        flt=flt, sort=sort, order=order,
        page=_int(params, "page", 1, 10**9, 1) or 1,
        per_page=_int(params, "per_page", 1, PER_PAGE_MAX, PER_PAGE_DEFAULT) or PER_PAGE_DEFAULT,
    )


def explorer_where(eq: ExplorerQuery) -> tuple[str, list[Any]]:
    """SQL condition over ``trials`` and its parameters; no request text is in the SQL."""
    return eq.flt.where("")


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def query_explorer(con: duckdb.DuckDBPyConnection, eq: ExplorerQuery) -> dict[str, Any]:
    """One page of the selection, its size, and its counts per phase and start year.

    The filters are evaluated once: the selection (NCT ID, phase, year, sort key) is
    materialised, counted by phase and year, and sorted for the page; then the page's
    rows are read by NCT ID.
    """
    where, params = explorer_where(eq)
    direction = "ASC" if eq.order == "asc" else "DESC"
    order = f"k {direction} NULLS LAST, nct_id ASC"
    counts, page_ids = con.execute(
        f"""
        WITH sel AS MATERIALIZED (
            SELECT nct_id, phase_label, start_year, {SORT_COLUMNS[eq.sort]} AS k
            FROM trials WHERE {where}),
        agg AS (SELECT phase_label, start_year, count(*) AS n FROM sel GROUP BY ALL),
        page AS (SELECT nct_id, k FROM sel ORDER BY {order} LIMIT ? OFFSET ?)
        SELECT (SELECT list([phase_label, CAST(start_year AS VARCHAR), CAST(n AS VARCHAR)])
                FROM agg),
               (SELECT list(nct_id ORDER BY {order}) FROM page)
        """,
        params + [eq.per_page, (eq.page - 1) * eq.per_page]).fetchone()
    by_phase: dict[str, int] = {}
    by_year: dict[int | None, int] = {}
    for phase, year, n in counts or []:
        by_phase[phase] = by_phase.get(phase, 0) + int(n)
        key = None if year is None else int(year)
        by_year[key] = by_year.get(key, 0) + int(n)
    total = sum(by_phase.values())
    rows: list[dict] = []
    if page_ids:
        marks = ", ".join("?" * len(page_ids))  # at most PER_PAGE_MAX; an IN list is
        cur = con.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM trials "  # pushed to the scan
                          f"WHERE nct_id IN ({marks})", page_ids)
        found = {r["nct_id"]: r for r in _dicts(cur)}
        rows = [found[n] for n in page_ids]
    years = sorted((y for y in by_year if y is not None)) + ([None] if None in by_year else [])
    return {
        "total": total,
        "page": eq.page,
        "per_page": eq.per_page,
        "pages": max(1, -(-total // eq.per_page)),
        "rows": rows,
        "by_phase": [{"phase": p, "trials": by_phase.get(p, 0)} for p in PHASE_LABELS],
        "by_year": [{"start_year": y, "trials": by_year[y]} for y in years],
    }


def iter_explorer_csv(con: duckdb.DuckDBPyConnection, eq: ExplorerQuery,
                      batch: int = 2000) -> Iterator[bytes]:
    """The whole selection (every page), in the requested order, as UTF-8 CSV chunks: the
    trial table (:data:`~ici_atlas.analyses.trials.TRIAL_TABLE`), written as every CSV of
    ici-atlas is (:mod:`ici_atlas.tables`)."""
    from ..analyses.trials import TRIAL_TABLE, iter_trials_text
    from ..tables import safe_csv_cell

    columns = list(TRIAL_TABLE)
    textual = [TRIAL_TABLE[c] in ("str", "list") for c in columns]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for rows in iter_trials_text(con, eq.flt, columns, eq.sort, eq.order, batch):
        writer.writerows([("" if v is None else (safe_csv_cell(v) if t else v))
                          for v, t in zip(row, textual)] for row in rows)
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():
        yield buf.getvalue().encode("utf-8")
