"""What each dashboard page shows, as JSON-ready dicts (the pages' JSON twins).

Read-only: the store is opened read-only by the app and these functions only SELECT.
They call the analyses' public functions (landscape, approvals, efficacy, evidence) and
add the few queries only the dashboard needs (store summary, a trial's registry arms).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

import duckdb
import orjson

from ..analyses import approvals as ap
from ..analyses import efficacy as ef
from ..analyses import evidence as ev
from ..analyses import landscape as ls
from ..analyses.trials import query_trial, resolve_nct_id
from ..store.runs import query_runs, query_stored_warnings

from ..errors import InputError, invalid_choice
from ..store.raw_json import unpack_json

NCT_RE = re.compile(r"^NCT\d{8}$")
#: Another registry's display ID (ChiCTR2400084905, EUCTR2012-003632-23, ISRCTN12949496 ...).
REGISTRATION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{3,48}$")
#: The WHO ICTRP page of a registration of any registry it holds.
ICTRP_URL = "https://trialsearch.who.int/Trial2.aspx?TrialID={trial}"
REGISTRY_URL = "https://clinicaltrials.gov/study/{nct}"
REGISTRY_API_URL = "https://clinicaltrials.gov/api/v2/studies/{nct}"


def jsonable(value: Any) -> Any:
    """Dates as ISO text, Decimals as floats, tuples/sets as lists (recursively)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class NotFound(InputError):
    """A trial, strategy or page that does not exist (HTTP 404)."""


def _one_value(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence = ()) -> Any:
    return con.execute(sql, list(params)).fetchone()[0]


# ---------------------------------------------------------------------------- overview

def query_overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Store summary, the PD-(L)1 landscape in brief, and the store's recent runs."""
    ls.check_store(con)
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_pd1_pdl1), "
        "count(*) FILTER (WHERE is_pd1_pdl1 AND has_results), "
        "count(*) FILTER (WHERE is_pd1_pdl1 AND bispecific) FROM trials WHERE representative").fetchone()
    raw = _one_value(con, "SELECT count(*) FROM raw_studies")
    quarantined = _one_value(con, "SELECT count(DISTINCT record_ref) FROM quarantine")
    warned = len({w["record_ref"] for w in query_stored_warnings(con)})
    keep = ("run_id", "kind", "source", "status", "stored_total", "started_at", "finished_at",
            "tool_version")
    runs = [{k: r[k] for k in keep} for r in query_runs(con, limit=10)]
    return jsonable({
        "store": {"raw_studies": raw, "trials": counts[0], "pd1_pdl1_trials": counts[1],
                  "pd1_pdl1_with_results": counts[2], "pd1_pdl1_bispecific": counts[3],
                  "quarantined_records": quarantined, "records_with_warnings": warned},
        "phases": ls.query_phases(con),
        "years": ls.query_years(con),
        "cancers": ls.query_cancers(con, top=12),
        "partners": ls.query_partners(con, targets_only=True, top=12),
        "sponsors": ls.query_sponsors(con),
        "registries": ls.query_registries(con),
        "screening": _screening_progress(con),
        "runs": runs,
    })


def _screening_progress(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The literature screening in brief (``lit status``): rows per stage and one sentence."""
    from ..review.progress import progress_sentence, query_screening_progress

    rows = query_screening_progress(con)
    return {"stages": rows, "summary": progress_sentence(rows)}


# ---------------------------------------------------------------------------- one trial

def _registry_arms(record: Mapping[str, Any]) -> dict[str, Any]:
    ps = record.get("protocolSection") or {}
    arms_mod = ps.get("armsInterventionsModule") or {}
    arms = [
        {"label": a.get("label"), "type": a.get("type"), "description": a.get("description"),
         "interventions": list(a.get("interventionNames") or [])}
        for a in arms_mod.get("armGroups") or [] if isinstance(a, dict)
    ]
    interventions = [
        {"type": i.get("type"), "name": i.get("name"), "description": i.get("description"),
         "other_names": list(i.get("otherNames") or [])}
        for i in arms_mod.get("interventions") or [] if isinstance(i, dict)
    ]
    conditions = list((ps.get("conditionsModule") or {}).get("conditions") or [])
    return {"arm_groups": arms, "interventions": interventions, "conditions": conditions}


def query_trial_page(con: duckdb.DuckDBPyConnection, nct_id: str) -> dict[str, Any]:
    """A trial's classification with what matched (``classify.query_trial``), the arms and
    interventions as the registry describes them, and links to the registry record."""
    nct = nct_id.upper()
    if not (NCT_RE.match(nct) or REGISTRATION_RE.match(nct_id)):
        raise NotFound(f"Invalid trial ID {nct_id!r}; expected NCT followed by 8 digits or "
                       "another registry's ID", fix="use an ID such as NCT02475213")
    ls.check_store(con)
    nct, requested_as = resolve_nct_id(con, nct)
    if not _one_value(con, "SELECT count(*) FROM trials WHERE nct_id = ?", [nct]):
        raise NotFound(f"Trial {nct!r} is not in the store",
                       fix="check the NCT ID, or load it with `ici-atlas fetch` and run "
                           "`ici-atlas classify`")
    trial = query_trial(con, nct)
    explain = trial.pop("explain")
    raw = con.execute("SELECT json_zstd FROM raw_studies WHERE nct_id = ?", [nct]).fetchone()
    if not raw:  # another registry's registration: its record as read
        raw = con.execute("SELECT study_zstd FROM registrations WHERE display_id = ?",
                          [nct]).fetchone()
    registry = _registry_arms(orjson.loads(unpack_json(raw[0]))) if raw and raw[0] else {
        "arm_groups": [], "interventions": [], "conditions": []}
    links = ({"registry": REGISTRY_URL.format(nct=nct),
              "registry_api": REGISTRY_API_URL.format(nct=nct)} if NCT_RE.match(nct) else
             {"registry": ICTRP_URL.format(trial=nct), "registry_api": ICTRP_URL.format(trial=nct)})
    return jsonable({
        "trial": trial,
        "explain": explain,
        "record_warnings": [{k: w[k] for k in ("field", "reason")}
                            for w in query_stored_warnings(con, nct)],
        "registry": registry,
        "links": links,
    })


# ---------------------------------------------------------------------------- approvals

APPROVAL_PARAMETERS: dict[str, str] = {
    "agent": "Agent (INN, code name or brand), e.g. `pembrolizumab`.",
    "agency": "Agency code: " + ", ".join(f"`{a}`" for a in ap.AGENCIES) + ".",
    "cancer": "Cancer group or cancer type, e.g. `NSCLC`.",
    "since": "Events on or after this date (YYYY, YYYY-MM or YYYY-MM-DD).",
    "status": "`active`, `superseded` or `withdrawn`.",
    "verified": "`yes`: only rows checked against their source.",
    "as_of": "The approvals as they stood on this date (YYYY[-MM[-DD]]): events approved by "
             "then, with the status they had then; the headline counts are recomputed.",
}


def query_approvals_page(params: Mapping[str, str]) -> dict[str, Any]:
    """Approval events passing the filters (date order), each agent's first approval,
    and the review's headline counts recomputed from all events."""
    events = ap.load_approval_events()
    verified = params.get("verified", "").lower()
    if verified not in ("", "yes", "no"):
        raise InputError(f"Invalid verified {verified!r}; expected one of ['yes', 'no']",
                         fix="use verified=yes to keep only verified rows")
    chosen = ap.query_approvals(
        events, agent=params.get("agent") or None, agency=params.get("agency") or None,
        cancer=params.get("cancer") or None, since=params.get("since") or None,
        status=params.get("status") or None, verified_only=verified == "yes",
        as_of=params.get("as_of") or None)
    first = ap.first_approvals([e for e in chosen if e.status != "withdrawn"])
    return jsonable({
        "filters": {k: v for k, v in params.items() if v},
        "events": [e.as_row() for e in chosen],
        "first_approvals": [
            {"agent": a, "target": ap.target_label(a), "agency": e.agency, "date": str(e.date),
             "indication": e.indication, "verified": e.verified}
            for a, e in sorted(first.items(), key=lambda kv: (kv[1].date, kv[0]))
        ],
        "headline_counts": ap.summarize_counts(events, as_of=params.get("as_of") or None),
        "review_as_of": ap.REVIEW_AS_OF,
        "agencies": {code: name for code, (_, name) in ap.AGENCIES.items()},
    })


# ---------------------------------------------------------------------------- ORR

ORR_PARAMETERS: dict[str, str] = {
    "cancer": "Cancer group id, e.g. `NSCLC` (any case).",
    "tumor": "Alias of `cancer`.",
    "line": "`first-line`, `later-line`, `any` or `maintenance` (also `first`, `later`).",
    "agent": "Agent: INN, code name or brand, e.g. `nivolumab`, `Opdivo`.",
    "class": "`PD-1` or `PD-L1`.",
    "by": "Subgroups: comma-separated keys from " + ", ".join(f"`{k}`" for k in ef.GROUP_KEYS)
          + " (default `tumor,line`).",
    "unverified": "`yes`: include rows whose numbers were not checked against the source.",
    "haematological": "`yes`: include haematological malignancies (the review's Figure 4 "
                      "is advanced solid tumours).",
    "subgroups": "`yes`: include biomarker or other subgroups of a trial's primary population.",
    "method": "τ² estimator: `REML` (default), `DL`, `PM`, `ML`, `HS`, `SJ`, `HE`, `EB`, `FE` "
              "or `GLMM` (as `ici-atlas pool --method`).",
    "test": "`knha` (Hartung–Knapp, default) or `z`.",
    "measure": "Transform: `PLO` (logit, default), `PAS` (arcsine), `PFT` (Freeman–Tukey), "
               "`PLN` (log) or `PR` (raw proportion).",
}
ORR_METHODS = ("REML", "DL", "PM", "ML", "HS", "SJ", "HE", "EB", "FE", "GLMM")
ORR_TESTS = ("knha", "z")
ORR_MEASURES = ("PLO", "PAS", "PFT", "PLN", "PR")


def _arm_interval(arm: ef.OrrArm) -> tuple[float | None, float | None]:
    if arm.orr is None:
        return None, None
    row = ef.pool_orr([arm], by=("trial",))[0]  # one arm: exact Clopper-Pearson interval
    return row["ci_lb"], row["ci_ub"]


def query_orr_page(params: Mapping[str, str]) -> dict[str, Any]:
    """ORR arms passing the filters and their pooled ORR per subgroup, each subgroup with
    its arms (exact 95% intervals) for the forest plot."""
    flags = {}
    for name in ("unverified", "haematological", "subgroups"):
        value = params.get(name, "").lower()
        if value not in ("", "yes", "no"):
            raise InputError(f"Invalid {name} {value!r}; expected one of ['yes', 'no']",
                             fix=f"use {name}=yes or {name}=no")
        flags[name] = value == "yes"
    choices = {}
    for name, allowed, default in (("method", ORR_METHODS, "REML"), ("test", ORR_TESTS, "knha"),
                                   ("measure", ORR_MEASURES, "PLO")):
        value = params.get(name) or default
        match = next((a for a in allowed if a.lower() == value.lower()), None)
        if match is None:
            raise invalid_choice(name, value, allowed, "Use one of the listed values.")
        choices[name] = match
    by_text = params.get("by") or "tumor,line"
    by = tuple(b.strip() for b in by_text.split(",") if b.strip())
    if not by or len(by) > 3:
        raise InputError(f"Invalid by {by_text!r}; expected 1 to 3 comma-separated keys "
                         f"from {sorted(ef.GROUP_KEYS)}", fix="use e.g. by=tumor,line")
    from ..api import _arm_filters

    selection = dict(**_arm_filters(params.get("cancer") or params.get("tumor") or None,
                                    params.get("line") or None, params.get("agent") or None,
                                    params.get("class") or None),
                     include_unverified=flags["unverified"],
                     include_haematological=flags["haematological"],
                     include_subgroups=flags["subgroups"])
    arms = ef.query_orr_arms(**selection)
    left_out = ef.left_out_counts(**selection)
    import warnings

    from ..errors import StatisticalWarning

    with warnings.catch_warnings(record=True) as caught:  # shown on the page, not logged
        warnings.simplefilter("always", StatisticalWarning)
        pooled = ef.pool_orr(arms, by=by, **choices)
    notes = list(dict.fromkeys(str(w.message) for w in caught
                               if issubclass(w.category, StatisticalWarning)))
    attrs = [ef.GROUP_KEYS[b] for b in by]
    members: dict[tuple, list[dict]] = {}
    for arm in arms:
        lo, hi = _arm_interval(arm)
        row = {"trial": arm.trial, "arm": arm.arm, "nct_id": arm.nct_id, "agent": arm.agent,
               "tumor_group": arm.tumor_group, "line": arm.line,
               "n_evaluable": arm.n_evaluable, "responders": arm.responders, "orr": arm.orr,
               "ci_lb": lo, "ci_ub": hi, "verified": arm.verified, "source": arm.source}
        members.setdefault(tuple(str(getattr(arm, a)) for a in attrs), []).append(row)
    subgroups = []
    for row in pooled:
        key = tuple(str(row[b]) for b in by)
        subgroups.append({**row, "label": " / ".join(key), "arms": members.get(key, [])})
    return jsonable({
        "filters": {k: v for k, v in params.items() if v},
        "by": list(by),
        "method": choices,
        "warnings": notes,
        "arms": len(arms),
        "left_out": [{"reason": k, "rows": v} for k, v in left_out.items()],
        "subgroups": subgroups,
    })


# ---------------------------------------------------------------------------- strategies

STRATEGY_PARAMETERS: dict[str, str] = {
    "category": "Figure 6 category (prefix or part of its name), e.g. `TME`.",
    "target": "Text in target, intervention, partner classes or agents, e.g. `CTLA-4`.",
    "phenotype": "Tumour phenotype key, e.g. `cold`.",
    "evidence": "Evidence level; a `+` suffix keeps that level or stronger, e.g. `phase 2+`.",
}


def query_strategies_page(con: duckdb.DuckDBPyConnection, params: Mapping[str, str],
                          table: Sequence[dict] | None = None) -> dict[str, Any]:
    """Strategies passing the filters with the number of PD-(L)1 trials in the store that
    test them (``table``: a cached :func:`evidence.query_strategy_table` result)."""
    kb = ev.load_strategies()
    chosen = ev.query_strategies(kb, category=params.get("category") or None,
                                 target=params.get("target") or None,
                                 phenotype=params.get("phenotype") or None,
                                 evidence=params.get("evidence") or None)
    if table is None:
        table = ev.query_strategy_table(con, kb.strategies)
    by_id = {r["id"]: r for r in table}
    rows = [by_id[s.id] for s in chosen]
    return jsonable({
        "filters": {k: v for k, v in params.items() if v},
        "note": ev.RESEARCH_NOTE,
        "categories": list(ev.CATEGORIES),
        "strategies": rows,
    })


def query_strategy_page(con: duckdb.DuckDBPyConnection, strategy_id: str) -> dict[str, Any]:
    """One strategy and the PD-(L)1 trials in the store that test it (what matched)."""
    kb = ev.load_strategies()
    found = [s for s in kb.strategies if s.id == strategy_id]
    if not found:
        raise NotFound(f"Strategy {strategy_id!r} is not in the knowledge base",
                       fix="pick a strategy from /strategies")
    strategy = found[0]
    trials = ev.query_strategy_trials(con, strategy) if ev.store_is_classified(con) else []
    return jsonable({
        "strategy": strategy.as_row(),
        "note": ev.RESEARCH_NOTE,
        "summary": ev.summarize_trials(trials),
        "trials": trials,
    })


# ---------------------------------------------------------------------------- regulators

REGULATOR_PARAMETERS: dict[str, str] = {
    "cell": "`tumour`, `T cell` or `both`: regulators of that cell.",
    "level": "Level: `genomic`, `epigenetic`, `transcriptional`, `signalling`, "
             "`post-translational`, `ligand-receptor` or `proximal signalling`.",
    "druggable": "`yes`: only druggable regulators.",
}


def query_drugged_regulators(con: duckdb.DuckDBPyConnection | None
                             ) -> tuple[bool, list[dict]]:
    """(trials linked?, every druggable regulator with the store's PD-(L)1 trials giving its
    agents). The same for every filter of the page: the app computes it once."""
    from ..analyses import regulators as rg

    classified = con is not None and ev.store_is_classified(con)
    return classified, rg.query_drugged(con if classified else None)


def query_regulators_page(con: duckdb.DuckDBPyConnection | None,
                          params: Mapping[str, str],
                          drugged: tuple[bool, list[dict]] | None = None) -> dict[str, Any]:
    """The regulators of Figure 1 passing the filters, the relations among them, the
    druggable ones with the PD-(L)1 trials in the store that give their agents, and the
    timeline (Supplementary Figure 1). ``drugged``: :func:`query_drugged_regulators`, when
    already computed."""
    from ..analyses import regulators as rg
    from ..analyses.timeline import query_timeline

    cell, level = params.get("cell") or None, params.get("level") or None
    druggable = params.get("druggable") or None
    for name, value, allowed in (("cell", cell, rg.CELLS), ("level", level, rg.LEVELS),
                                 ("druggable", druggable, ("yes", "no"))):
        if value and value not in allowed:
            raise invalid_choice(name, value, allowed, "Use one of the values listed.")
    nodes = rg.query_nodes(druggable=None if druggable is None else druggable == "yes",
                           cell=cell, level=level)
    ids = {r["node_id"] for r in nodes}
    edges = [e for e in rg.query_edges() if e["source"] in ids or e["target"] in ids]
    classified, every_drugged = drugged if drugged is not None else query_drugged_regulators(con)
    return jsonable({
        "filters": {k: v for k, v in params.items() if v},
        "regulators": nodes,
        "relations": edges,
        "drugged": [r for r in every_drugged if r["node_id"] in ids],
        "trials_linked": classified,
        "timeline": query_timeline(),
    })


# ---------------------------------------------------------------------------- changes

CHANGES_PARAMETERS: dict[str, str] = {
    "version": "Snapshot version the changes lead to, e.g. `26.2` (default: the latest update).",
    "section": "Only this part: `added`, `removed`, `changed`, `approvals`, `orr_arms` or "
               "`counts`.",
}
CHANGE_SECTIONS = ("added", "removed", "changed", "approvals", "orr_arms", "counts")


def query_changes_page(con: duckdb.DuckDBPyConnection, params: Mapping[str, str]
                       ) -> dict[str, Any]:
    """The snapshots written from this store and what changed into one of them (kept by
    ``ici-atlas update``)."""
    snapshots = [dict(zip(("version", "data_hash", "created_at"), r)) for r in con.execute(
        "SELECT version, data_hash, created_at FROM snapshots ORDER BY created_at DESC"
    ).fetchall()]
    versions = [s["version"] for s in snapshots]
    version = params.get("version") or None
    if version and version not in versions:
        raise invalid_choice("version", version, versions or ["(no snapshot yet)"],
                             "Pick a version from the list of snapshots.")
    section = params.get("section") or None
    if section and section not in CHANGE_SECTIONS:
        raise invalid_choice("section", section, CHANGE_SECTIONS, "Use a listed section.")
    if version is None:
        row = con.execute("SELECT version_to FROM snapshot_changes s JOIN snapshots n ON "
                          "n.version = s.version_to ORDER BY n.created_at DESC LIMIT 1").fetchone()
        version = row[0] if row else None
    rows = []
    if version:
        sql = ("SELECT version_from, section, item, field, before, after FROM snapshot_changes "
               "WHERE version_to = ?")
        args = [version]
        if section:
            sql += " AND section = ?"
            args.append(section)
        rows = [dict(zip(("version_from", "section", "item", "field", "before", "after"), r))
                for r in con.execute(sql + " ORDER BY rowid", args).fetchall()]
    counts = dict(con.execute("SELECT section, count(*) FROM snapshot_changes WHERE "
                              "version_to = ? GROUP BY section", [version]).fetchall()) \
        if version else {}
    return jsonable({
        "filters": {k: v for k, v in params.items() if v},
        "snapshots": snapshots,
        "version": version,
        "version_from": rows[0]["version_from"] if rows else None,
        "counts": {s: counts.get(s, 0) for s in CHANGE_SECTIONS},
        "changes": rows,
    })


# ---------------------------------------------------------------------------- landscape

#: The landscape page's charts: table, title, the filter a bar sets, the row's key column.
LANDSCAPE_CHARTS: tuple[tuple[str, str, str, str], ...] = (
    ("phases", "Figure 2A. Trials per phase", "phase", "phase"),
    ("cancers_pd1", "Figure 2B. Anti-PD-1 trials per cancer group", "cancer", "cancer_group"),
    ("cancers_pdl1", "Figure 2C. Anti-PD-L1 trials per cancer group", "cancer", "cancer_group"),
    ("partners", "Figure 5A. Combination partners", "partner", "partner_class"),
    ("bispecifics", "Figure 5B. Bispecific agents", "agent", "agent"),
)
STACKS = ("class", "partner", "cancer")
TIMES = ("start", "posted")
LANDSCAPE_TOP = 15
MEMBERS_SHOWN = 20


def _bar_members(con: duckdb.DuckDBPyConnection, flt) -> dict[str, dict[str, list[str]]]:
    """The first NCT IDs behind each bar of every landscape chart (for the hover text), in
    one pass over the selection: {chart: {bar value: [NCT IDs]}}."""
    where, params = flt.where("t")
    first = f"list(nct_id ORDER BY nct_id)[1:{MEMBERS_SHOWN}]"
    per_chart = {
        "phases": "SELECT 'phases', coalesce(phase_label, 'NA') AS v, nct_id FROM sel",
        "cancers_pd1": "SELECT 'cancers_pd1', unnest(cancer_groups), nct_id FROM sel "
                       "WHERE list_contains(target_class, 'PD-1')",
        "cancers_pdl1": "SELECT 'cancers_pdl1', unnest(cancer_groups), nct_id FROM sel "
                        "WHERE list_contains(target_class, 'PD-L1')",
        "partners": "SELECT 'partners', unnest(partner_classes), nct_id FROM sel",
        "bispecifics": "SELECT DISTINCT 'bispecifics', a.agent_id, a.nct_id FROM trial_agents a "
                       "SEMI JOIN sel USING (nct_id) WHERE a.bispecific",
    }
    sql = (f"WITH sel AS MATERIALIZED (SELECT t.nct_id, t.phase_label, t.cancer_groups, "
           f"t.partner_classes, t.target_class FROM trials t WHERE {where}), "
           f"bars (chart, v, nct_id) AS ({' UNION ALL '.join(per_chart.values())}) "
           f"SELECT chart, v, {first} FROM bars GROUP BY chart, v")
    out: dict[str, dict[str, list[str]]] = {chart: {} for chart in per_chart}
    for chart, value, ids in con.execute(sql, params).fetchall():
        out[chart][str(value)] = list(ids)
    return out


def query_time(con: duckdb.DuckDBPyConnection, flt, stack: str = "class",
               time: str = "start") -> dict[str, Any]:
    """Trials per start (or first-posted) year, stacked by target class, partner class or
    cancer group (the largest groups; a trial in several groups counts in each)."""
    where, params = flt.where("t")
    year = "t.start_year" if time == "start" else "year(t.first_posted)"
    if stack == "class":
        key = ("CASE WHEN len(t.target_class) > 1 THEN 'PD-1 and PD-L1' "
               "WHEN len(t.target_class) = 1 THEN t.target_class[1] ELSE 'none' END")
        rows = con.execute(f"SELECT {year} AS y, {key} AS k, count(*) FROM trials t "
                           f"WHERE {where} AND {year} IS NOT NULL GROUP BY 1, 2", params).fetchall()
    else:
        column = "partner_classes" if stack == "partner" else "cancer_groups"
        rows = con.execute(f"SELECT y, k, count(*) FROM (SELECT {year} AS y, "
                           f"unnest(t.{column}) AS k FROM trials t WHERE {where} "
                           f"AND {year} IS NOT NULL) GROUP BY 1, 2", params).fetchall()
    totals: dict[str, int] = {}
    for _, k, n in rows:
        totals[k] = totals.get(k, 0) + n
    series = sorted(totals, key=lambda k: (-totals[k], k))
    if stack != "class" and len(series) > 6:
        keep = set(series[:6])
        series = series[:6] + ["other"]
    else:
        keep = set(series)
    years: dict[int, dict[str, int]] = {}
    for y, k, n in rows:
        name = k if k in keep else "other"
        years.setdefault(int(y), {})
        years[int(y)][name] = years[int(y)].get(name, 0) + n
    return {"stack": stack, "time": time, "series": series,
            "years": [{"year": y, **{k: years[y].get(k, 0) for k in series}}
                      for y in sorted(years)]}


#: Independent read queries of one page run on this many cursors at once (DuckDB releases
#: the GIL while it executes, so a page's charts are computed side by side on 2 cores).
QUERY_THREADS = 2
_QUERY_POOL = ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix="ici-atlas-query")


def run_queries(con: duckdb.DuckDBPyConnection,
                tasks: Mapping[str, Callable[[duckdb.DuckDBPyConnection], Any]]) -> dict[str, Any]:
    """``{name: task(cursor)}``: independent read-only queries, each on its own cursor of
    ``con`` (made here, used by one worker thread, closed after), ``QUERY_THREADS`` at a time.
    The first error is raised once every task has finished."""
    cursors = {name: con.cursor() for name in tasks}
    try:
        futures = {name: _QUERY_POOL.submit(task, cursors[name]) for name, task in tasks.items()}
        wait(futures.values())
        return {name: future.result() for name, future in futures.items()}
    finally:
        for cur in cursors.values():
            cur.close()


def query_landscape_page(con: duckdb.DuckDBPyConnection, flt, stack: str = "class",
                         time: str = "start", live_facets: bool = False) -> dict[str, Any]:
    """The landscape of the selection: Figures 2A-C and 5A-B, the time chart, the total and
    the trials behind each bar (and, with ``live_facets``, the facet counts of the page under
    ``live``, not part of the JSON twin). The queries run side by side (:func:`run_queries`)."""
    if stack not in STACKS:
        raise invalid_choice("stack", stack, STACKS, "Use one of the listed values.")
    if time not in TIMES:
        raise invalid_choice("time", time, TIMES, "Use start or posted.")
    ls.check_store(con)
    flt = ls.check_filter(con, flt)
    pd1 = flt.replace(target_class="PD-1")
    pdl1 = flt.replace(target_class="PD-L1")
    tasks: dict[str, Callable[[duckdb.DuckDBPyConnection], Any]] = {
        "phases": lambda c: ls.query_phases(c, flt),
        "cancers_pd1": lambda c: ([] if flt.target_class == "PD-L1" else
                                  ls.query_cancers(c, pd1, top=LANDSCAPE_TOP)),
        "cancers_pdl1": lambda c: ([] if flt.target_class == "PD-1" else
                                   ls.query_cancers(c, pdl1, top=LANDSCAPE_TOP)),
        "partners": lambda c: ls.query_partners(c, flt, top=LANDSCAPE_TOP),
        "bispecifics": lambda c: ls.query_bispecifics(c, flt),
        "total": lambda c: ls.query_total(c, flt),
        "time": lambda c: query_time(c, flt, stack, time),
        "members": lambda c: _bar_members(c, flt),
    }
    if live_facets:
        from .explorer import query_live_facets

        tasks = {"live": lambda c: query_live_facets(c, flt), **tasks}  # the longest first
    done = run_queries(con, tasks)
    tables = {name: done[name] for name, *_ in LANDSCAPE_CHARTS}
    out = jsonable({
        "filters": flt.active(),
        "total": done["total"],
        "tables": tables,
        "members": done["members"],
        "time": done["time"],
    })
    if live_facets:
        out["live"] = done["live"]
    return out


# ---------------------------------------------------------------------------- runs

RUNS_PARAMETERS: dict[str, str] = {
    "kind": "Only runs of this kind (`fetch`, `load`, `classify`, `lit-search` ...).",
    "status": "Only runs with this status: `ok`, `failed`, `incomplete`, `interrupted` or "
              "`running`.",
    "source": "Only runs whose source (folder or API address) contains this text.",
    "page": "Page of 50 runs, newest first (default 1).",
}
RUN_STATUSES = ("ok", "failed", "incomplete", "interrupted", "running")
RUNS_PER_PAGE = 50
RUN_COLUMNS = ("run_id", "kind", "status", "source", "reported_total", "stored_total",
               "quarantined", "started_at", "finished_at", "tool_version", "message")


def query_runs_page(con: duckdb.DuckDBPyConnection, params: Mapping[str, str]
                    ) -> dict[str, Any]:
    """Every fetch, load, classification and literature run that built the store, with what
    the source reported and what was stored (count reconciliation), newest first."""
    from ..report.methods import shareable_source

    kinds = [r[0] for r in con.execute("SELECT DISTINCT kind FROM runs ORDER BY 1").fetchall()]
    clauses, args = [], []
    kind = params.get("kind") or None
    if kind:
        if kind not in kinds:
            raise invalid_choice("kind", kind, kinds or ["(no run yet)"],
                                 "Pick a kind from the list.")
        clauses.append("kind = ?")
        args.append(kind)
    status = params.get("status") or None
    if status:
        if status not in RUN_STATUSES:
            raise invalid_choice("status", status, RUN_STATUSES, "Use a listed status.")
        clauses.append("status = ?")
        args.append(status)
    source = (params.get("source") or "").strip()
    if source:
        clauses.append("strpos(lower(source), lower(?)) > 0")
        args.append(source)
    where = " AND ".join(clauses) or "TRUE"
    total = int(_one_value(con, f"SELECT count(*) FROM runs WHERE {where}", args))
    pages = max(1, -(-total // RUNS_PER_PAGE))
    raw_page = params.get("page") or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise InputError(f"page: {raw_page!r} is not a page number. Use 1 or more.")
    page = min(int(raw_page), pages)
    rows = con.execute(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE {where} "
        f"ORDER BY started_at DESC, run_id DESC LIMIT {RUNS_PER_PAGE} "
        f"OFFSET {(page - 1) * RUNS_PER_PAGE}", args).fetchall()
    runs = []
    for row in rows:
        run = dict(zip(RUN_COLUMNS, row))
        run["source"] = shareable_source(run["source"])
        runs.append(run)
    return jsonable({
        "filters": {k: v for k, v in params.items() if v},
        "total": total, "page": page, "pages": pages, "kinds": kinds, "runs": runs,
    })
