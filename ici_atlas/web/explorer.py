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

from ..errors import InputError
from ..analyses.landscape import PHASE_LABELS, normalize_phase, normalize_target_class

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 200
QUERY_MAX_CHARS = 200
YEAR_MIN, YEAR_MAX = 1900, 2100

#: Multi-valued filters: parameter -> (column of ``trials``, ``;``-separated?).
LIST_FILTERS: dict[str, tuple[str, bool]] = {
    "agent": ("agents", True),
    "cancer": ("cancer_groups", True),
    "partner": ("partner_classes", True),
    "country": ("countries", True),
    "status": ("overall_status", False),
    "sponsor": ("sponsor_class", False),
    "phase": ("phase_label", False),
}

#: Sort keys a request may name -> SQL expression (the only request text that selects SQL).
SORT_COLUMNS: dict[str, str] = {
    "nct_id": "nct_id",
    "title": "lower(brief_title)",
    "phase": "list_position(" + "[" + ", ".join(f"'{p}'" for p in PHASE_LABELS) + "], phase_label)",
    "status": "overall_status",
    "start_year": "start_date",
    "sponsor": "lower(lead_sponsor)",
    "sponsor_class": "sponsor_class",
    "enrollment": "enrollment",
    "last_update": "last_update_posted",
}
SORT_DEFAULT = "start_year"
ORDER_DEFAULT = "desc"

#: Columns the free-text search looks in.
SEARCH_COLUMNS = ("nct_id", "brief_title", "official_title", "acronym", "lead_sponsor", "agents")

#: Columns of an explorer row (JSON and the table), in order.
ROW_COLUMNS = (
    "nct_id", "brief_title", "phase_label", "overall_status", "start_year", "agents",
    "target_class", "bispecific", "partner_classes", "cancer_groups", "lead_sponsor",
    "sponsor_class", "enrollment", "countries",
)
#: Columns of the CSV download.
CSV_COLUMNS = ROW_COLUMNS + ("is_pd1_pdl1", "official_title", "line_of_therapy", "setting",
                             "last_update_posted")

#: Every query parameter of the explorer with its OpenAPI description (one source of truth).
PARAMETERS: dict[str, str] = {
    "scope": "`pd1` (default): PD-1/PD-L1 trials only; `all`: every classified trial.",
    "agent": "PD-(L)1 agent id, e.g. `pembrolizumab` (repeat for any of several).",
    "class": "Target class of the PD-(L)1 agent: `PD-1` or `PD-L1`.",
    "bispecific": "`yes`: a bispecific/bifunctional PD-(L)1 agent is given; `no`: none is.",
    "cancer": "Cancer group id, e.g. `NSCLC` (repeatable).",
    "phase": "Phase label, e.g. `Phase 2`, `2/3`, `III`, `NA` (repeatable).",
    "status": "Overall status, e.g. `RECRUITING` (repeatable).",
    "partner": "Partner class of a drug given with the PD-(L)1 agent, e.g. `CTLA-4` (repeatable).",
    "since": "Earliest start year (inclusive).",
    "until": "Latest start year (inclusive).",
    "sponsor": "Lead sponsor class, e.g. `INDUSTRY` (repeatable).",
    "country": "Location country, e.g. `China` (repeatable).",
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
    for name, (column, multi) in LIST_FILTERS.items():
        if multi:
            sql = f"""
                SELECT trim(v) AS v, count(DISTINCT nct_id) FILTER (WHERE is_pd1_pdl1)
                FROM trials, unnest(string_split(coalesce({column}, ''), ';')) AS u(v)
                WHERE trim(v) <> '' GROUP BY 1"""
        else:
            sql = f"""
                SELECT {column}, count(*) FILTER (WHERE is_pd1_pdl1) FROM trials
                WHERE {column} IS NOT NULL AND {column} <> '' GROUP BY 1"""
        rows = con.execute(sql).fetchall()
        if name == "phase":
            rows.sort(key=lambda r: PHASE_LABELS.index(r[0]) if r[0] in PHASE_LABELS else 99)
        else:
            rows.sort(key=lambda r: (-r[1], r[0]))
        values[name] = [(r[0], int(r[1])) for r in rows]
    return Facets(values)


@dataclass(frozen=True)
class ExplorerQuery:
    """A parsed, checked explorer request."""

    scope: str = "pd1"
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    target_class: str | None = None
    bispecific: bool | None = None
    since: int | None = None
    until: int | None = None
    q: str = ""
    sort: str = SORT_DEFAULT
    order: str = ORDER_DEFAULT
    page: int = 1
    per_page: int = PER_PAGE_DEFAULT

    def filters(self) -> dict[str, Any]:
        """The active filters, as they would be written in a query string."""
        out: dict[str, Any] = {"scope": self.scope}
        for name, values in self.lists.items():
            if values:
                out[name] = list(values)
        if self.target_class:
            out["class"] = self.target_class
        if self.bispecific is not None:
            out["bispecific"] = "yes" if self.bispecific else "no"
        if self.since is not None:
            out["since"] = self.since
        if self.until is not None:
            out["until"] = self.until
        if self.q:
            out["q"] = self.q
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
        shown = list(expected[:25]) + (["..."] if len(expected) > 25 else [])
        expected = f"one of {shown}"
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


def parse_explorer_query(params: Mapping[str, list[str]], facets: Facets) -> ExplorerQuery:
    """Check every explorer parameter; raise InputError naming the parameter and value."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise _invalid("parameter", unknown[0], sorted(PARAMETERS),
                       "remove it; the explorer's parameters are listed in /openapi.json")
    scope = _one(params, "scope").lower() or "pd1"
    if scope not in ("pd1", "all"):
        raise _invalid("scope", scope, ["pd1", "all"], "use scope=pd1 or scope=all")
    lists: dict[str, tuple[str, ...]] = {}
    for name in LIST_FILTERS:
        raw = [v.strip() for v in params.get(name) or [] if v.strip()]
        if not raw:
            continue
        allowed = facets.allowed(name)
        chosen = []
        for value in raw:
            key = normalize_phase(value) if name == "phase" else value
            found = allowed.get(key.casefold())
            if found is None:
                raise _invalid(name, value, [v for v, _ in facets.values.get(name, [])],
                               f"pick one of the listed values for {name} (the explorer's "
                               "filter menus, or `facets` in /trials.json)")
            if found not in chosen:
                chosen.append(found)
        lists[name] = tuple(chosen)
    target = _one(params, "class")
    bispecific = _one(params, "bispecific").lower()
    if bispecific not in ("", "yes", "no"):
        raise _invalid("bispecific", bispecific, ["yes", "no"], "use bispecific=yes or no")
    since = _int(params, "since", YEAR_MIN, YEAR_MAX, None)
    until = _int(params, "until", YEAR_MIN, YEAR_MAX, None)
    if since is not None and until is not None and since > until:
        raise InputError(f"Invalid year range {since}-{until}: since is after until",
                         fix="give since no later than until")
    q = _one(params, "q")
    if len(q) > QUERY_MAX_CHARS:
        raise _invalid("q", q[:40] + "...", f"at most {QUERY_MAX_CHARS} characters",
                       "shorten the search text")
    sort = _one(params, "sort") or SORT_DEFAULT
    if sort not in SORT_COLUMNS:
        raise _invalid("sort", sort, list(SORT_COLUMNS), "use one of the listed sort keys")
    order = (_one(params, "order") or ORDER_DEFAULT).lower()
    if order not in ("asc", "desc"):
        raise _invalid("order", order, ["asc", "desc"], "use order=asc or order=desc")
    return ExplorerQuery(
        scope=scope, lists=lists,
        target_class=normalize_target_class(target) if target else None,
        bispecific=None if not bispecific else bispecific == "yes",
        since=since, until=until, q=q, sort=sort, order=order,
        page=_int(params, "page", 1, 10**9, 1) or 1,
        per_page=_int(params, "per_page", 1, PER_PAGE_MAX, PER_PAGE_DEFAULT) or PER_PAGE_DEFAULT,
    )


def explorer_where(eq: ExplorerQuery) -> tuple[str, list[Any]]:
    """SQL condition over ``trials`` and its parameters; no request text is in the SQL."""
    clauses = ["is_pd1_pdl1"] if eq.scope == "pd1" else ["TRUE"]
    params: list[Any] = []
    for name, values in eq.lists.items():
        column, multi = LIST_FILTERS[name]
        if multi:
            clauses.append(
                f"list_has_any(string_split(coalesce({column}, ''), ';'), ?::VARCHAR[])")
        else:
            clauses.append(f"list_contains(?::VARCHAR[], {column})")
        params.append(list(values))
    if eq.target_class:
        clauses.append("list_contains(string_split(coalesce(target_class, ''), ';'), ?)")
        params.append(eq.target_class)
    if eq.bispecific is not None:
        clauses.append("bispecific = ?")
        params.append(eq.bispecific)
    if eq.since is not None:
        clauses.append("start_year >= ?")
        params.append(eq.since)
    if eq.until is not None:
        clauses.append("start_year <= ?")
        params.append(eq.until)
    if eq.q:
        # A case-insensitive substring of any searched column. ILIKE is DuckDB's fast
        # path, but its pattern language has wildcards: text holding % or _ is matched
        # with contains(lower(...)) instead, so the search stays a plain substring.
        if "%" in eq.q or "_" in eq.q:
            test, value = "contains(lower({c}), ?)", eq.q.lower()
        else:
            test, value = "{c} ILIKE ?", f"%{eq.q}%"
        clauses.append("(" + " OR ".join(test.format(c=c) for c in SEARCH_COLUMNS) + ")")
        params.extend([value] * len(SEARCH_COLUMNS))
    return " AND ".join(clauses), params


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


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A cell a spreadsheet would run as a formula is prefixed with ' (OWASP CSV injection).
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def iter_explorer_csv(con: duckdb.DuckDBPyConnection, eq: ExplorerQuery,
                      batch: int = 2000) -> Iterator[bytes]:
    """The whole selection (every page), in the requested order, as UTF-8 CSV chunks."""
    where, params = explorer_where(eq)
    direction = "ASC" if eq.order == "asc" else "DESC"
    cur = con.execute(
        f"SELECT {', '.join(CSV_COLUMNS)} FROM trials WHERE {where} "
        f"ORDER BY {SORT_COLUMNS[eq.sort]} {direction} NULLS LAST, nct_id ASC", params)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        writer.writerows([_csv_cell(v) for v in row] for row in rows)
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():
        yield buf.getvalue().encode("utf-8")
