"""The trial landscape (review Figures 2 and 5): counts of PD-1/PD-L1 trials by phase,
cancer group, combination partner, bispecific agent, start year, sponsor class and country.

Every ``query_*`` function reads the derived tables built by ``ici-atlas classify``
(``trials``, ``trial_agents``; see docs/store.md), counts only PD-(L)1 trials
(``is_pd1_pdl1``), applies a :class:`LandscapeFilter` and returns a list of dicts in a
fixed order (by count, largest first, ties by label; phases and years in their natural
order). ``percent`` is always a share of the PD-(L)1 trials that pass the filter.

Single-valued analyses (phase, start year, sponsor class) add up to that number of
trials. Multi-valued ones (cancer group, partner class, country, PD-1 vs PD-L1) count a
trial once in *each* of its values, so their rows can add up to more than the total and
their percentages to more than 100 %.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence

import duckdb

from ..store.schema import tables_present
from ..errors import IciAtlasError, InputError, StoreError, invalid_choice
from ..vocab.phases import PHASE_LABELS, normalize_phase  # noqa: F401  (re-exported)
from .filters import TARGET_CLASSES, TrialFilter, normalize_target_class, resolve_filter  # noqa: F401
from ..vocab.cancers import load_cancer_groups
from ..vocab.partners import load_partner_classes

CANCER_GROUPS_FILE = "cancer_groups.tsv"

OTHERS = "Others"
NOT_CLASSIFIED = "Not classified"
NO_LOCATION = "No location listed"
NO_PARTNER = "None (no partner drug)"
UNKNOWN = "Unknown"

#: The landscape's filter is the one trial filter of the package.
LandscapeFilter = TrialFilter


def make_filter(
    target_class: str | None = None,
    cancer: str | Sequence[str] | None = None,
    phases: Sequence[str] = (),
    since: int | None = None,
    until: int | None = None,
    **more,
) -> TrialFilter:
    """Build a filter from loosely spelled user input (checked; cancer groups are checked
    against the store by :func:`check_filter`)."""
    return resolve_filter(None, target_class=target_class, cancer=cancer, phase=list(phases),
                          since=since, until=until, **more)


def check_store(con: duckdb.DuckDBPyConnection) -> None:
    """Raise StoreError unless the derived trial tables exist."""
    try:  # planning a query over both is the cheapest test (each analysis calls this)
        con.execute("SELECT 1 FROM trials, trial_agents LIMIT 0")
        return
    except duckdb.CatalogException:
        pass
    present = tables_present(con, ("trials", "trial_agents"))
    for name in ("trials", "trial_agents"):
        if name not in present:
            raise StoreError(
                f"The store has no {name!r} table (derived trial tables not built)",
                fix="Run `ici-atlas classify` after loading records with `ici-atlas fetch`.",
            )


def query_cancer_groups(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every cancer group that some PD-(L)1 trial is classified into, sorted."""
    check_store(con)
    rows = con.execute(
        "SELECT DISTINCT g FROM (SELECT unnest(cancer_groups) AS g FROM trials WHERE is_pd1_pdl1) "
        "WHERE g <> '' ORDER BY g"
    ).fetchall()
    return [r[0] for r in rows]


def check_filter(con: duckdb.DuckDBPyConnection, flt: TrialFilter) -> TrialFilter:
    """Resolve ``flt.cancer`` to the store's spelling (case-insensitive, group id or label)
    or raise with the closest group."""
    check_store(con)
    if not flt.cancer:
        return flt
    labels = query_cancer_labels()
    if all(value in labels for value in flt.cancer):  # already the store's spelling
        return flt
    groups = sorted(set(query_cancer_groups(con)) | set(labels))
    by_fold = {g.casefold(): g for g in groups}
    by_fold.update({label.casefold(): g for g, label in labels.items()})
    found = []
    for value in flt.cancer:
        hit = by_fold.get(value.casefold())
        if hit is None:
            raise invalid_choice(
                "cancer group", value, groups,
                "Run `ici-atlas landscape cancers` to list the cancer groups in the store.",
                shown=40)
        if hit not in found:
            found.append(hit)
    return flt.replace(cancer=tuple(found))


def _where(flt: TrialFilter, alias: str = "t") -> tuple[str, list[Any]]:
    """SQL condition and parameters selecting the filtered trials."""
    return flt.where(alias)


def _percent(n: int, total: int) -> float:
    return round(100.0 * n / total, 1) if total else 0.0


def query_total(con: duckdb.DuckDBPyConnection, flt: TrialFilter = TrialFilter()) -> int:
    """Number of PD-(L)1 trials passing ``flt``."""
    flt = check_filter(con, flt)
    where, params = _where(flt)
    return con.execute(f"SELECT count(*) FROM trials t WHERE {where}", params).fetchone()[0]


def _multi_counts(
    con: duckdb.DuckDBPyConnection, column: str, flt: TrialFilter, top: int | None = None
) -> tuple[list[tuple[str, int]], int, int, int | None]:
    """Counts of trials per value of a list column, in one scan of the selection:
    (value, trials) sorted by count desc then value; the number of trials with no value; the
    total; and, with ``top``, the trials having a value outside the ``top`` first (None when
    there are no more than ``top`` values)."""
    check_store(con)
    where, params = _where(flt)
    limit = top if top is not None and top > 0 else None
    rows = con.execute(
        f"""
        WITH f AS MATERIALIZED (
            SELECT t.nct_id, list_filter(t.{column}, lambda x: x <> '') AS v FROM trials t WHERE {where}),
        exploded AS (SELECT DISTINCT nct_id, value FROM (SELECT nct_id, unnest(v) AS value FROM f)),
        c AS (SELECT value, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, value) AS rk
              FROM exploded GROUP BY value)
        SELECT 0 AS part, rk, value, n FROM c
        UNION ALL SELECT 1, 0, NULL, count(*) FROM f
        UNION ALL SELECT 2, 0, NULL, count(*) FILTER (WHERE len(v) = 0) FROM f
        UNION ALL SELECT 3, 0, NULL, count(DISTINCT e.nct_id)
            FROM exploded e JOIN c ON e.value = c.value WHERE c.rk > ?
        """,
        params + [limit if limit is not None else 2**62],
    ).fetchall()
    rows.sort(key=lambda r: (r[0], r[1]))
    counts = [(r[2], r[3]) for r in rows if r[0] == 0]
    total = next(r[3] for r in rows if r[0] == 1)
    empty = next(r[3] for r in rows if r[0] == 2)
    other = next(r[3] for r in rows if r[0] == 3)
    n_other = other if limit is not None and len(counts) > limit else None
    return counts, empty, total, n_other


# ---------------------------------------------------------------------------- analyses

def query_phases(
    con: duckdb.DuckDBPyConnection, flt: TrialFilter = TrialFilter()
) -> list[dict]:
    """Figure 2A: PD-(L)1 trials per phase, every label in order (zeros included).

    Rows: ``phase``, ``trials``, ``percent``. The trials add up to :func:`query_total`.
    """
    flt = check_filter(con, flt)
    where, params = _where(flt)
    found = dict(
        con.execute(
            f"SELECT coalesce(t.phase_label, 'NA'), count(*) FROM trials t WHERE {where} "
            "GROUP BY 1",
            params,
        ).fetchall()
    )
    unknown = sorted(set(found) - set(PHASE_LABELS))
    if unknown:
        raise StoreError(
            f"trials.phase_label has values outside the Figure 2A labels: {unknown}",
            fix="Rebuild the derived tables with `ici-atlas classify` "
                "(classifier and schema differ).",
        )
    total = sum(found.values())
    return [
        {"phase": p, "trials": found.get(p, 0), "percent": _percent(found.get(p, 0), total)}
        for p in PHASE_LABELS
    ]


def query_cancers(
    con: duckdb.DuckDBPyConnection,
    flt: TrialFilter = TrialFilter(),
    top: int | None = None,
) -> list[dict]:
    """Figures 2B/2C: PD-(L)1 trials per cancer group (set ``flt.target_class`` to
    ``PD-1`` or ``PD-L1`` for the two panels).

    A trial with two cancer groups counts in both. With ``top``, the remaining groups
    are folded into one ``Others`` row counting the distinct trials in any of them
    (``groups`` says how many groups it holds). Trials the classifier put in no group
    come last as ``Not classified``.
    Rows: ``cancer_group`` (id, e.g. ``NSCLC``), ``label`` (from ``cancer_groups.tsv``),
    ``trials``, ``percent``, ``groups``.
    """
    flt = check_filter(con, flt)
    counts, empty, total, n_other = _multi_counts(con, "cancer_groups", flt, top)
    kept = counts[:top] if n_other is not None else counts
    n_groups = len(counts) - len(kept)
    labels = query_cancer_labels()
    rows = [
        {"cancer_group": g, "label": labels.get(g, g), "trials": n,
         "percent": _percent(n, total), "groups": 1}
        for g, n in kept
    ]
    if n_other is not None:
        rows.append(
            {"cancer_group": OTHERS, "label": f"Others ({n_groups} groups)", "trials": n_other,
             "percent": _percent(n_other, total), "groups": n_groups}
        )
    if empty:
        rows.append(
            {"cancer_group": NOT_CLASSIFIED, "label": NOT_CLASSIFIED, "trials": empty,
             "percent": _percent(empty, total), "groups": 0}
        )
    return rows


def query_partner_kinds() -> dict[str, str]:
    """Partner class -> kind (``target``, ``modality``, ``procedure``) from the curated
    vocabulary ``partner_classes.tsv``."""
    return {c.name: c.kind for c in load_partner_classes()}


def query_cancer_labels() -> dict[str, str]:
    """Cancer group id -> readable label from the curated ``cancer_groups.tsv``."""
    return {g.group_id: g.label for g in load_cancer_groups()}


def query_partners(
    con: duckdb.DuckDBPyConnection,
    flt: TrialFilter = TrialFilter(),
    targets_only: bool = False,
    top: int | None = None,
) -> list[dict]:
    """Figure 5A: PD-(L)1 trials per combination partner class.

    Rows: ``partner_class``, ``kind`` (from ``partner_classes.tsv``: ``target`` for a
    molecular target such as VEGF or CTLA-4, ``modality`` for chemotherapy, ADCs,
    vaccines ..., ``procedure`` for radiotherapy and surgery), ``trials``, ``percent``.
    Targets come first (ranked), then modalities and procedures (ranked, the catch-all
    ``other`` last; left out with ``targets_only``), then ``None (no partner drug)``:
    trials where the PD-(L)1 agent is given with no partner. A trial with several partner classes counts in each. ``top``
    keeps the ``top`` highest-ranked targets.
    """
    flt = check_filter(con, flt)
    kinds = query_partner_kinds()
    counts, empty, total, _ = _multi_counts(con, "partner_classes", flt)
    unknown = sorted(c for c, _ in counts if c not in kinds)
    if unknown:
        raise StoreError(
            f"trials.partner_classes has classes not in partner_classes.tsv: {unknown}",
            fix="Rebuild the derived tables with `ici-atlas classify`.",
        )
    targets = [(c, n) for c, n in counts if kinds[c] == "target"]
    # Modalities and procedures, ranked; the catch-all class "other" last.
    others = sorted(
        ((c, n) for c, n in counts if kinds[c] != "target"),
        key=lambda cn: (cn[0] == "other", -cn[1], cn[0]),
    )
    if top is not None and top > 0:
        targets = targets[:top]
    rows = [
        {"partner_class": c, "kind": "target", "trials": n, "percent": _percent(n, total)}
        for c, n in targets
    ]
    if not targets_only:
        rows += [
            {"partner_class": c, "kind": kinds[c], "trials": n, "percent": _percent(n, total)}
            for c, n in others
        ]
        rows.append(
            {"partner_class": NO_PARTNER, "kind": "none", "trials": empty,
             "percent": _percent(empty, total)}
        )
    return rows


def query_approved_agents() -> dict[str, str] | None:
    """Agent id -> its first approval (``"NMPA 2022-06-29"``, with ``(unverified)`` when the
    data row is not verified) for every agent the curated
    approvals data (``ici_atlas/analyses/approvals.py``, ``approval_events.tsv``) lists with an
    approval that is not withdrawn; None when that data cannot be read."""
    try:
        from . import approvals
    except ImportError:
        return None
    fn = getattr(approvals, "query_approved_agent_ids", None)
    try:
        events = approvals.load_approval_events()
    except IciAtlasError:
        return None
    current = [e for e in events if e.status != "withdrawn"]
    first = approvals.first_approvals(current)
    ids = set(fn()) if fn is not None else set(first)

    def describe(agent: str) -> str:
        event = first.get(agent)
        if event is None:
            return ""
        return f"{event.agency} {event.date}" + ("" if event.verified else " (unverified)")

    return {a: describe(a) for a in sorted(ids)}


def query_bispecifics(
    con: duckdb.DuckDBPyConnection,
    flt: TrialFilter = TrialFilter(),
    approved: Mapping[str, str] | Collection[str] | None = None,
) -> list[dict]:
    """Figure 5B: one row per bispecific / bifunctional PD-(L)1 agent.

    Rows: ``agent``, ``target_class`` (its PD-(L)1 arm), ``other_target``, ``trials``,
    ``highest_phase`` (highest Figure 2A phase among its trials, ``NA`` when none has a
    phase), ``approved`` (True/False from the curated approvals data, see
    :func:`query_approved_agents`; None when that data is not available),
    ``first_approval`` (agency and date, when approved), ``status`` (``Approved`` when
    approved, else the highest phase). ``approved`` may be given (agent ids, or a mapping
    of agent id to first approval) instead of reading the approvals data.
    Ordered approved first, then by highest phase, then trials, then agent.
    """
    flt = check_filter(con, flt)
    where, params = _where(flt)
    rows = con.execute(
        f"""
        WITH a AS (
            SELECT DISTINCT ta.nct_id, ta.agent_id, ta.target_class,
                   coalesce(nullif(trim(ta.other_target), ''), '?') AS other_target,
                   coalesce(t.phase_label, 'NA') AS phase
            FROM trial_agents ta JOIN trials t USING (nct_id)
            WHERE ta.bispecific AND {where}
        )
        SELECT agent_id,
               string_agg(DISTINCT target_class, ';' ORDER BY target_class),
               string_agg(DISTINCT other_target, ';' ORDER BY other_target),
               count(DISTINCT nct_id),
               list(DISTINCT phase)
        FROM a GROUP BY agent_id
        """,
        params,
    ).fetchall()
    if approved is None:
        approved = query_approved_agents()
    order = {p: i for i, p in enumerate(PHASE_LABELS[:-1])}
    out = []
    for agent, target, other, n, phases in rows:
        ranked = [p for p in phases if p in order]
        highest = max(ranked, key=order.__getitem__) if ranked else "NA"
        is_approved = None if approved is None else agent in approved
        first = approved.get(agent, "") if isinstance(approved, Mapping) else ""
        out.append(
            {
                "agent": agent,
                "target_class": target,
                "other_target": other,
                "trials": n,
                "highest_phase": highest,
                "approved": is_approved,
                "first_approval": first or None,
                "status": "Approved" if is_approved else highest,
            }
        )
    out.sort(
        key=lambda r: (
            -(1 if r["approved"] else 0),
            -order.get(r["highest_phase"], -1),
            -r["trials"],
            r["agent"],
        )
    )
    return out


def query_years(
    con: duckdb.DuckDBPyConnection, flt: TrialFilter = TrialFilter()
) -> list[dict]:
    """PD-(L)1 trials per start year, oldest first; ``start_year`` None (no start date)
    last. ``pd1`` / ``pdl1`` count trials giving an anti-PD-1 / anti-PD-L1 agent (a trial
    giving both counts in both); ``trials`` counts each trial once and adds up to the total.
    """
    flt = check_filter(con, flt)
    where, params = _where(flt)
    rows = con.execute(
        f"""
        SELECT t.start_year, count(*),
               count(*) FILTER (WHERE list_contains(t.target_class, 'PD-1')),
               count(*) FILTER (WHERE list_contains(t.target_class, 'PD-L1'))
        FROM trials t WHERE {where}
        GROUP BY 1 ORDER BY 1 NULLS LAST
        """,
        params,
    ).fetchall()
    total = sum(r[1] for r in rows)
    return [
        {"start_year": y, "trials": n, "percent": _percent(n, total), "pd1": a, "pdl1": b}
        for y, n, a, b in rows
    ]


def query_sponsors(
    con: duckdb.DuckDBPyConnection,
    flt: TrialFilter = TrialFilter(),
    by: str = "class",
    top: int | None = None,
) -> list[dict]:
    """PD-(L)1 trials per lead-sponsor class (``by='class'``: INDUSTRY, NIH, OTHER ...)
    or per lead-sponsor name (``by='name'``, with ``top`` + ``Others``). Each trial has
    one lead sponsor, so the rows add up to the total. Rows: ``sponsor``, ``trials``,
    ``percent``.
    """
    if by not in ("class", "name"):
        raise InputError(
            f"Invalid sponsor grouping {by!r}; expected one of ['class', 'name']",
            fix="Use --by class or --by name.",
        )
    flt = check_filter(con, flt)
    where, params = _where(flt)
    column = "sponsor_class" if by == "class" else "lead_sponsor"
    rows = con.execute(
        f"""
        SELECT coalesce(nullif(trim(t.{column}), ''), '{UNKNOWN}') AS s, count(*) AS n
        FROM trials t WHERE {where} GROUP BY 1 ORDER BY n DESC, s
        """,
        params,
    ).fetchall()
    total = sum(n for _, n in rows)
    if top is not None and top > 0 and len(rows) > top:
        rest = sum(n for _, n in rows[top:])
        rows = rows[:top] + [(OTHERS, rest)]
    return [{"sponsor": s, "trials": n, "percent": _percent(n, total)} for s, n in rows]


def query_countries(
    con: duckdb.DuckDBPyConnection,
    flt: TrialFilter = TrialFilter(),
    top: int | None = None,
) -> list[dict]:
    """PD-(L)1 trials per location country. A multinational trial counts in each of its
    countries; with ``top``, ``Others`` counts the distinct trials with a site in any
    other country; ``No location listed`` counts trials without sites.
    Rows: ``country``, ``trials``, ``percent``, ``countries``.
    """
    flt = check_filter(con, flt)
    counts, empty, total, n_other = _multi_counts(con, "countries", flt, top)
    kept = counts[:top] if n_other is not None else counts
    n_rest = len(counts) - len(kept)
    rows = [
        {"country": c, "trials": n, "percent": _percent(n, total), "countries": 1}
        for c, n in kept
    ]
    if n_other is not None:
        rows.append(
            {"country": OTHERS, "trials": n_other, "percent": _percent(n_other, total),
             "countries": n_rest}
        )
    if empty:
        rows.append(
            {"country": NO_LOCATION, "trials": empty, "percent": _percent(empty, total),
             "countries": 0}
        )
    return rows


def query_unmapped(con: duckdb.DuckDBPyConnection, flt: TrialFilter = TrialFilter(),
                   top: int | None = None) -> list[dict]:
    """Partner intervention names that map to no partner class (class ``other``) in arms
    that give the PD-(L)1 agent, ranked by the number of PD-(L)1 trials naming them — what
    the partner vocabulary (``vocab/partners.tsv``) does not know yet.

    Rows: ``intervention_name``, ``unknown_term`` (the word read as a drug, when the name
    also holds known drugs), ``rule``, ``trials``, ``nct_ids`` (list).
    """
    flt = check_filter(con, flt)
    where, params = _where(flt)
    rows = con.execute(
        f"""
        SELECT p.intervention_name, p.matched_term, p.rule,
               count(DISTINCT p.nct_id) AS n, list(DISTINCT p.nct_id ORDER BY p.nct_id)
        FROM trial_partners p
        JOIN trial_arms a ON a.nct_id = p.nct_id AND a.arm_label IS NOT DISTINCT FROM p.arm_label
        JOIN trials t ON t.nct_id = p.nct_id
        WHERE p.partner_class = 'other' AND len(a.pd1_agents) > 0 AND {where}
        GROUP BY ALL ORDER BY n DESC, p.intervention_name
        """, params).fetchall()
    out = [{"intervention_name": r[0], "unknown_term": r[1], "rule": r[2], "trials": r[3],
            "nct_ids": r[4]} for r in rows]
    return out[:top] if top else out


def query_other_share(con: duckdb.DuckDBPyConnection, flt: TrialFilter = TrialFilter()) -> dict:
    """How many PD-(L)1 trials have a partner of class ``other`` (Figure 5A's catch-all)."""
    flt = check_filter(con, flt)
    where, params = _where(flt)
    total, other = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE list_contains(t.partner_classes, 'other')) "
        f"FROM trials t WHERE {where}", params).fetchone()
    return {"trials": total, "with_other_partner": other,
            "percent": _percent(other, total)}


ANALYSES: tuple[str, ...] = (
    "phases", "cancers", "partners", "bispecifics", "years", "sponsors", "countries",
)


def query_registries(con: duckdb.DuckDBPyConnection,
                     flt: TrialFilter = TrialFilter()) -> list[dict]:
    """Per registry: its PD-(L)1 registrations passing ``flt``, how many of them stand for
    their trial in the de-duplicated union, and how many are registered in another registry
    too; then the union (``registry`` = ``union``: each trial once)."""
    flt = check_filter(con, flt)
    where, params = _where(flt.replace(registry=()))
    where_all, _ = flt.replace(registry=()).where("t", union=False)  # every registration
    rows = con.execute(
        f"""
        WITH f AS (SELECT t.* FROM trials t WHERE {where_all}),
        sizes AS (SELECT trial_key, count(*) AS n FROM trials GROUP BY trial_key)
        SELECT f.registry, count(*) AS registrations,
               count(*) FILTER (WHERE f.representative) AS in_union,
               count(*) FILTER (WHERE s.n > 1) AS also_elsewhere
          FROM f JOIN sizes s USING (trial_key)
         GROUP BY f.registry ORDER BY registrations DESC, f.registry
        """, params).fetchall()
    out = [{"registry": r[0], "registrations": r[1], "trials_in_union": r[2],
            "also_registered_elsewhere": r[3]} for r in rows]
    total = con.execute(f"SELECT count(*) FROM trials t WHERE {where}", params).fetchone()[0]
    out.append({"registry": "union", "registrations": sum(r["registrations"] for r in out),
                "trials_in_union": total,
                "also_registered_elsewhere": sum(r["also_registered_elsewhere"] for r in out)})
    return out


def query_landscape_tables(
    con: duckdb.DuckDBPyConnection,
    flt: TrialFilter = TrialFilter(),
    top: int | None = None,
) -> dict[str, list[dict]]:
    """Every landscape analysis as ``{name: rows}`` (cancers split into anti-PD-1 and
    anti-PD-L1 like Figures 2B/2C, plus all PD-(L)1 trials)."""
    flt = check_filter(con, flt)

    def with_class(target: str) -> TrialFilter:
        return flt.replace(target_class=target)

    return {
        "phases": query_phases(con, flt),
        "cancers": query_cancers(con, flt, top=top),
        "cancers_pd1": query_cancers(con, with_class("PD-1"), top=top),
        "cancers_pdl1": query_cancers(con, with_class("PD-L1"), top=top),
        "partners": query_partners(con, flt, top=top),
        "bispecifics": query_bispecifics(con, flt),
        "years": query_years(con, flt),
        "sponsors": query_sponsors(con, flt),
        "countries": query_countries(con, flt, top=top),
        "registries": query_registries(con, flt),
    }


_SQL_TYPES = ((bool, "BOOLEAN"), (int, "BIGINT"), (float, "DOUBLE"), (str, "VARCHAR"))
# Types of columns that may hold only NULLs (then the values cannot tell).
_COLUMN_TYPES = {"approved": "BOOLEAN", "first_approval": "VARCHAR", "start_year": "BIGINT",
                 "trials": "BIGINT", "percent": "DOUBLE"}


def _column_type(rows: Sequence[dict], column: str) -> str:
    for row in rows:
        value = row.get(column)
        if value is None:
            continue
        for py, sql in _SQL_TYPES:
            if isinstance(value, py):
                return sql
    return _COLUMN_TYPES.get(column, "VARCHAR")


def render_tables(
    tables: dict[str, list[dict]],
    out_dir: str | Path,
    fmt: str = "parquet",
    columns: dict[str, Sequence[str]] | None = None,
    on_done: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write each table as ``out_dir/landscape_<name>.<fmt>`` (``parquet`` or ``csv``),
    through an in-memory DuckDB (native Parquet writer). ``columns`` gives the column
    list of a table that may be empty. Returns the paths written."""
    if fmt not in ("parquet", "csv"):
        raise InputError(
            f"Invalid export format {fmt!r}; expected one of ['parquet', 'csv']",
            fix="Use --format parquet or --format csv.",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mem = duckdb.connect(":memory:")
    paths = []
    try:
        for name, rows in tables.items():
            cols = list((columns or {}).get(name) or (rows[0].keys() if rows else ["value"]))
            spec = ", ".join(f'"{c}" {_column_type(rows, c)}' for c in cols)
            mem.execute(f'CREATE OR REPLACE TABLE t ({spec})')
            if rows:
                mem.executemany(
                    f"INSERT INTO t VALUES ({', '.join('?' * len(cols))})",
                    [[r.get(c) for c in cols] for r in rows],
                )
            path = out / f"landscape_{name}.{fmt}"
            option = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER true)"
            mem.execute(f"COPY (SELECT * FROM t) TO '{_sql_path(path)}' {option}")
            paths.append(path)
            if on_done:
                on_done(path)
    finally:
        mem.close()
    return paths


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
