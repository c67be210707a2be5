"""Which trials stand behind each bar of a landscape chart (the hover lists of the report).

The bar heights come from :mod:`ici_atlas.analyses.landscape`; this module reads the same derived
tables (``trials``, ``trial_agents``; docs/store.md) once and groups the PD-(L)1 trials'
NCT IDs by the same rules (a multi-valued column counts a trial once in each value;
``Others`` collects the trials in any value not shown; ``Not classified`` / ``No location
listed`` / ``None (no partner drug)`` collect trials with no value). Lists are sorted, so
the same store always gives the same lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import duckdb

from ..analyses.landscape import NO_LOCATION, NO_PARTNER, NOT_CLASSIFIED, OTHERS, UNKNOWN


@dataclass(frozen=True)
class TrialRow:
    nct_id: str
    phase: str
    target_class: tuple[str, ...]
    cancer_groups: tuple[str, ...]
    partner_classes: tuple[str, ...]
    countries: tuple[str, ...]
    sponsor_class: str
    start_year: int | None


def _split(value: list[str] | None) -> tuple[str, ...]:
    return tuple(x for x in (value or []) if x)


def query_pd1_trials(con: duckdb.DuckDBPyConnection) -> list[TrialRow]:
    """Every PD-(L)1 trial with the columns the landscape charts group by, NCT order."""
    rows = con.execute(
        """
        SELECT nct_id, coalesce(phase_label, 'NA'), target_class, cancer_groups,
               partner_classes, countries, sponsor_class, start_year
        FROM trials WHERE is_pd1_pdl1 AND representative ORDER BY nct_id
        """
    ).fetchall()
    return [
        TrialRow(
            nct_id=r[0], phase=r[1], target_class=_split(r[2]), cancer_groups=_split(r[3]),
            partner_classes=_split(r[4]), countries=_split(r[5]),
            sponsor_class=(r[6] or "").strip() or UNKNOWN, start_year=r[7],
        )
        for r in rows
    ]


def query_bispecific_members(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Bispecific / bifunctional agent id -> the PD-(L)1 trials giving it."""
    rows = con.execute(
        """
        SELECT DISTINCT ta.agent_id, ta.nct_id
        FROM trial_agents ta JOIN trials t USING (nct_id)
        WHERE ta.bispecific AND t.is_pd1_pdl1 AND t.representative ORDER BY 1, 2
        """
    ).fetchall()
    out: dict[str, list[str]] = {}
    for agent, nct in rows:
        out.setdefault(agent, []).append(nct)
    return out


def single_members(trials: Iterable[TrialRow], key: Callable[[TrialRow], object]) -> dict:
    """Value -> NCT IDs for a single-valued column (phase, start year, sponsor class)."""
    out: dict = {}
    for t in trials:
        out.setdefault(key(t), []).append(t.nct_id)
    return out


def multi_members(
    trials: Iterable[TrialRow],
    values: Callable[[TrialRow], Sequence[str]],
    shown: Sequence[str],
    empty_label: str,
) -> dict[str, list[str]]:
    """Value -> NCT IDs for a multi-valued column, for the labels of a chart's rows.

    ``shown`` are the row labels (values, plus possibly ``Others`` and ``empty_label``):
    ``Others`` gets every trial having a value not in ``shown``; ``empty_label`` every
    trial with no value.
    """
    kept = set(shown)
    out: dict[str, list[str]] = {label: [] for label in shown}
    for t in trials:
        vals = values(t)
        if not vals:
            if empty_label in out:
                out[empty_label].append(t.nct_id)
            continue
        other = False
        for v in vals:
            if v in kept and v not in (OTHERS, empty_label):
                out[v].append(t.nct_id)
            elif v not in kept:
                other = True
        if other and OTHERS in out:
            out[OTHERS].append(t.nct_id)
    return out


def landscape_members(
    con: duckdb.DuckDBPyConnection, tables: dict[str, list[dict]]
) -> dict[str, dict]:
    """For each landscape table (as from ``query_landscape_tables``) the NCT IDs behind
    each of its rows, keyed by the row's label column value."""
    trials = query_pd1_trials(con)
    by_target = {
        target: [t for t in trials if target in t.target_class] for target in ("PD-1", "PD-L1")
    }
    out: dict[str, dict] = {
        "phases": single_members(trials, lambda t: t.phase),
        "years": single_members(trials, lambda t: t.start_year),
        "sponsors": single_members(trials, lambda t: t.sponsor_class),
        "bispecifics": query_bispecific_members(con),
    }
    for name, subset in (("cancers", trials), ("cancers_pd1", by_target["PD-1"]),
                         ("cancers_pdl1", by_target["PD-L1"])):
        shown = [r["cancer_group"] for r in tables.get(name, [])]
        out[name] = multi_members(subset, lambda t: t.cancer_groups, shown, NOT_CLASSIFIED)
    shown = [r["partner_class"] for r in tables.get("partners", [])]
    out["partners"] = multi_members(trials, lambda t: t.partner_classes, shown, NO_PARTNER)
    shown = [r["country"] for r in tables.get("countries", [])]
    out["countries"] = multi_members(trials, lambda t: t.countries, shown, NO_LOCATION)
    return out
