"""Which trials to count or list: one filter for the API, the CLI, the report and the
dashboard.

:class:`TrialFilter` holds checked values; :meth:`TrialFilter.where` turns it into one SQL
condition over ``trials`` with bound parameters (no user text is pasted into SQL).
:func:`resolve_filter` builds it from loosely spelled input — any case, brand and code names
of agents, phase spellings such as ``III`` or ``2/3`` — checking every value against the
vocabularies and the values present in the store, and answering a misspelling with the
closest value ("did you mean").

The filter names are the same everywhere: ``agent``, ``target_class`` (``--class`` on the
command line, ``class`` in URLs), ``cancer``, ``phase``, ``partner``, ``status``,
``sponsor``, ``country``, ``line``, ``setting``, ``monotherapy``, ``bispecific``,
``exposure``, ``registry``, ``since``/``until`` (start year), ``posted_since``/
``posted_until`` (first-posted year), ``posted_by`` (first posted on or before a date: the
"as of" view) and ``q`` (free text).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

import duckdb

from ..errors import InputError, invalid_choice
from ..vocab.phases import PHASE_LABELS, normalize_phase
from ..vocab.tsv import normalize_name

TARGET_CLASSES: tuple[str, ...] = ("PD-1", "PD-L1")
SCOPES = ("pd1", "all")
QUERY_MAX_CHARS = 200
YEAR_MIN, YEAR_MAX = 1000, 9999

#: Enumerated multi-choice filters: name -> (column of ``trials``, is a list column).
LIST_FILTERS: dict[str, tuple[str, bool]] = {
    "agent": ("agents", True),
    "cancer": ("cancer_groups", True),
    "partner": ("partner_classes", True),
    "country": ("countries", True),
    "status": ("overall_status", False),
    "sponsor": ("sponsor_class", False),
    "phase": ("phase_label", False),
    "line": ("line_of_therapy", False),
    "setting": ("setting", False),
    "exposure": ("exposure", False),
    "registry": ("registry", False),
}

#: Up to this many values of a list filter are tested one by one (faster than list_has_any).
MAX_ORED_VALUES = 16

#: Columns the free-text search looks in.
SEARCH_COLUMNS = ("nct_id", "brief_title", "official_title", "acronym", "lead_sponsor")


@dataclass(frozen=True)
class TrialFilter:
    """Checked filter values; empty fields do not filter. A trial passes when it matches
    every field given and, within a field, any of its values."""

    scope: str = "pd1"
    agent: tuple[str, ...] = ()
    target_class: str | None = None
    cancer: tuple[str, ...] = ()
    phase: tuple[str, ...] = ()
    partner: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    sponsor: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    line: tuple[str, ...] = ()
    setting: tuple[str, ...] = ()
    exposure: tuple[str, ...] = ()
    #: Registries (CTGOV, CHICTR, EUCTR, CTIS, ISRCTN ...): every registration of them.
    #: Empty: the de-duplicated union, one row per trial (``trials.representative``).
    registry: tuple[str, ...] = ()
    monotherapy: bool | None = None
    bispecific: bool | None = None
    since: int | None = None
    until: int | None = None
    posted_since: int | None = None   # first-posted year range
    posted_until: int | None = None
    posted_by: date | None = None
    q: str = ""

    def replace(self, **changes: Any) -> "TrialFilter":
        return dataclasses.replace(self, **changes)

    def active(self) -> dict[str, Any]:
        """The filters in use, by name (lists for multi-choice ones)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "scope":
                if value != "pd1":
                    out["scope"] = value
            elif value not in (None, (), ""):
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def describe(self) -> str:
        """A short human description, e.g. ``anti-PD-1; NSCLC; Phase 3; started 2015–2020``."""
        parts = []
        if self.target_class:
            parts.append(f"anti-{self.target_class}")
        for name in ("agent", "cancer", "phase", "partner", "status", "sponsor", "country",
                     "line", "setting", "exposure", "registry"):
            values = getattr(self, name)
            if values:
                parts.append(", ".join(values))
        if self.monotherapy is not None:
            parts.append("with a monotherapy arm" if self.monotherapy else "no monotherapy arm")
        if self.bispecific is not None:
            parts.append("bispecific agent" if self.bispecific else "no bispecific agent")
        for what, first, last in (("started", self.since, self.until),
                                  ("first posted", self.posted_since, self.posted_until)):
            if first and last:
                parts.append(f"{what} {first}–{last}")
            elif first or last:
                parts.append(f"{what} {first or last} or {'later' if first else 'earlier'}")
        if self.posted_by:
            parts.append(f"first posted by {self.posted_by.isoformat()}")
        if self.q:
            parts.append(f"text {self.q!r}")
        if self.scope == "all":
            parts.append("all classified studies")
        return "; ".join(parts)

    def base_clauses(self, alias: str = "t", union: bool = True) -> list[str]:
        """The scope (PD-(L)1 or every study) and, for the union, one row per trial."""
        a = f"{alias}." if alias else ""
        clauses = [f"{a}is_pd1_pdl1"] if self.scope == "pd1" else ["TRUE"]
        if union and not self.registry:  # each trial once, however many registrations
            clauses.append(f"{a}representative")
        return clauses

    def clauses(self, alias: str = "t") -> dict[str, tuple[str, list[Any]]]:
        """Each active filter's SQL condition and parameters, by filter name (the facets of
        the explorer drop their own to count the other values)."""
        a = f"{alias}." if alias else ""
        out: dict[str, tuple[str, list[Any]]] = {}
        for name, (column, is_list) in LIST_FILTERS.items():
            values = getattr(self, name)
            if not values:
                continue
            # list_contains per value (ORed) and IN run 2-4x faster over 200,000 trials than
            # list_has_any / list_contains with a list parameter (bench/bench_web.py --pages).
            value = f"coalesce({a}phase_label, 'NA')" if name == "phase" else f"{a}{column}"
            if is_list and len(values) <= MAX_ORED_VALUES:
                tests = " OR ".join([f"list_contains({value}, ?)"] * len(values))
                out[name] = (f"({tests})", list(values))
            elif is_list:
                out[name] = (f"list_has_any({value}, ?::VARCHAR[])", [list(values)])
            else:
                out[name] = (f"{value} IN ({', '.join('?' * len(values))})", list(values))
        if self.target_class:
            out["target_class"] = (f"list_contains({a}target_class, ?)", [self.target_class])
        for name, flag, column in (("monotherapy", self.monotherapy, "monotherapy_arm"),
                                   ("bispecific", self.bispecific, "bispecific")):
            if flag is not None:
                out[name] = (f"{a}{column} = ?", [flag])
        years = []
        if self.since is not None:
            years.append((f"{a}start_year >= ?", self.since))
        if self.until is not None:
            years.append((f"{a}start_year <= ?", self.until))
        if years:
            out["start_year"] = (" AND ".join(c for c, _ in years), [v for _, v in years])
        posted = []
        if self.posted_since is not None:
            posted.append((f"year({a}first_posted) >= ?", self.posted_since))
        if self.posted_until is not None:
            posted.append((f"year({a}first_posted) <= ?", self.posted_until))
        if self.posted_by is not None:
            posted.append((f"{a}first_posted <= ?", self.posted_by))
        if posted:
            out["first_posted"] = (" AND ".join(c for c, _ in posted), [v for _, v in posted])
        if self.q:
            # A case-insensitive substring of any searched column (or an agent id). ILIKE is
            # DuckDB's fast path, but its pattern language has wildcards: text holding % or
            # _ is matched with contains(lower(...)) instead, so it stays a plain substring.
            if "%" in self.q or "_" in self.q:
                test, value = "contains(lower({c}), ?)", self.q.lower()
            else:
                test, value = "{c} ILIKE ?", f"%{self.q}%"
            tests = [test.format(c=f"{a}{c}") for c in SEARCH_COLUMNS]
            tests.append(test.format(c=f"array_to_string({a}agents, ';')"))
            out["q"] = ("(" + " OR ".join(tests) + ")", [value] * len(tests))
        return out

    def where(self, alias: str = "t", union: bool = True, leave_out: str | None = None
              ) -> tuple[str, list[Any]]:
        """SQL condition over ``trials`` (as ``alias``) and its bound parameters. ``union``:
        without a registry filter, one row per trial (its representative registration).
        ``leave_out``: a filter not applied (a facet counting its own values)."""
        clauses = self.base_clauses(alias, union)
        params: list[Any] = []
        for name, (sql, values) in self.clauses(alias).items():
            if name != leave_out:
                clauses.append(sql)
                params.extend(values)
        return " AND ".join(clauses), params


# --------------------------------------------------------------------------- resolving

def normalize_target_class(value: str) -> str:
    text = str(value).strip().upper().replace(" ", "").replace("ANTI-", "")
    for label in TARGET_CLASSES:
        if text == label or text == label.replace("-", ""):
            return label
    raise invalid_choice("target class", value, TARGET_CLASSES,
                         "Use --class PD-1 or --class PD-L1.")


def _values(value: Any) -> list[str]:
    """A filter value as a list of non-empty strings (a string, or any iterable of them)."""
    if value is None:
        return []
    if isinstance(value, str):
        items: Iterable = [value]
    elif isinstance(value, Iterable):
        items = value
    else:
        items = [value]
    return [str(v).strip() for v in items if v is not None and str(v).strip()]


def _flag(name: str, value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    raise invalid_choice(name, value, ["yes", "no"], f"Use {name}=yes or {name}=no.")


def _year(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        raise InputError(f"Invalid {name} {value!r}; expected a year such as 2020",
                         fix=f"Give {name} as a four-digit year.") from None
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InputError(f"Invalid {name} {value!r}; expected a year from {YEAR_MIN} to {YEAR_MAX}",
                         fix=f"Give {name} as a four-digit year.")
    return year


def parse_date(name: str, value: Any) -> date | None:
    """A date given as ``YYYY-MM-DD``, ``YYYY-MM`` (end of month) or ``YYYY`` (end of year)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 4:
            return date(int(text), 12, 31)
        if len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            nxt = date(year + month // 12, month % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"Invalid {name} {value!r}; expected a date YYYY-MM-DD, YYYY-MM or YYYY",
                         fix=f"Give {name} as e.g. 2025-04-30.") from None


@lru_cache(maxsize=1)
def _agent_names() -> dict[str, str]:
    """Every normalised agent id and name -> the agent id."""
    from ..vocab.agents import load_agents

    index: dict[str, str] = {}
    for agent in load_agents():
        for name in (agent.agent_id, *agent.names()):
            index.setdefault(normalize_name(name), agent.agent_id)
    return index


def resolve_agent(name: str, present: Sequence[str] = ()) -> str:
    """The agent id an INN, code name, brand or agent id refers to (any case)."""
    from ..vocab.agents import load_agents

    key = normalize_name(name)
    found = _agent_names().get(key)
    if found is not None:
        return found
    for value in present:  # an id present in the store but not (any more) in the vocabulary
        if normalize_name(value) == key:
            return value
    names = sorted({n for a in load_agents() for n in (a.agent_id, *a.names())})
    raise invalid_choice("agent", name, names,
                         "Use an INN, code name or brand, e.g. pembrolizumab, MK-3475 or "
                         "Keytruda (see ici_atlas/vocab/agents.tsv).", shown=12)


def facet_values(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """Distinct values of an enumerated filter among all classified trials."""
    column, is_list = LIST_FILTERS[name]
    if is_list:
        sql = (f"SELECT DISTINCT v FROM (SELECT unnest({column}) AS v FROM trials) "
               "WHERE v IS NOT NULL AND v <> '' ORDER BY v")
    else:
        sql = (f"SELECT DISTINCT {column} FROM trials WHERE {column} IS NOT NULL "
               f"AND {column} <> '' ORDER BY 1")
    return [r[0] for r in con.execute(sql).fetchall()]


def _labels_for(name: str) -> dict[str, str]:
    """Readable labels that also name a value (cancer group labels)."""
    if name != "cancer":
        return {}
    from .landscape import query_cancer_labels

    return query_cancer_labels()


def resolve_filter(con: duckdb.DuckDBPyConnection | None = None, **given: Any) -> TrialFilter:
    """A :class:`TrialFilter` from user input, every value checked.

    Names are those of :class:`TrialFilter` (``class`` is accepted for ``target_class`` and
    ``tumor`` for ``cancer``). Multi-choice values may be one string or a list. With a
    store connection, enumerated values are matched case-insensitively to the spelling in
    the store and rejected (with the closest value) when absent.
    """
    given = dict(given)
    if "class" in given:
        given["target_class"] = given.pop("class")
    if "tumor" in given:
        given["cancer"] = given.pop("tumor")
    known = {f.name for f in dataclasses.fields(TrialFilter)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise invalid_choice("filter", unknown[0], sorted(known),
                             "Use one of the listed filter names.")
    scope = str(given.get("scope") or "pd1").strip().lower()
    if scope not in SCOPES:
        raise invalid_choice("scope", scope, SCOPES, "Use scope pd1 or all.")
    out: dict[str, Any] = {"scope": scope}
    for name in LIST_FILTERS:
        raw = _values(given.get(name))
        if not raw:
            continue
        chosen: list[str] = []
        present = facet_values(con, name) if con is not None else []
        by_fold = {v.casefold(): v for v in present}
        labels = _labels_for(name)
        by_fold.update({label.casefold(): gid for gid, label in labels.items()
                        if gid.casefold() in by_fold or con is None})
        for value in raw:
            if name == "agent":
                found = resolve_agent(value, present)
            elif name == "phase":
                found = normalize_phase(value)
            elif con is None:
                found = value
            else:
                found = by_fold.get(value.casefold())
                if found is None:
                    listing = _LISTING.get(name)
                    raise invalid_choice(
                        name if name != "cancer" else "cancer group", value, present,
                        f"Pick one of the values in the store (list them with "
                        f"`ici-atlas landscape {listing}`)." if listing else
                        "Pick one of the listed values (the values in the store).")
            if found not in chosen:
                chosen.append(found)
        out[name] = tuple(sorted(chosen, key=PHASE_LABELS.index) if name == "phase" else chosen)
    if given.get("target_class"):
        out["target_class"] = normalize_target_class(given["target_class"])
    out["monotherapy"] = _flag("monotherapy", given.get("monotherapy"))
    out["bispecific"] = _flag("bispecific", given.get("bispecific"))
    out["since"] = _year("since", given.get("since"))
    out["until"] = _year("until", given.get("until"))
    if out["since"] is not None and out["until"] is not None and out["since"] > out["until"]:
        raise InputError(f"Invalid year range {out['since']}–{out['until']}: since is after until",
                         fix="Give --since YEAR no later than --until YEAR.")
    out["posted_since"] = _year("posted_since", given.get("posted_since"))
    out["posted_until"] = _year("posted_until", given.get("posted_until"))
    if (out["posted_since"] is not None and out["posted_until"] is not None
            and out["posted_since"] > out["posted_until"]):
        raise InputError(f"Invalid first-posted year range {out['posted_since']}–"
                         f"{out['posted_until']}", fix="Give --posted-since YEAR no later "
                         "than --posted-until YEAR (posted_since/posted_until in the API).")
    out["posted_by"] = parse_date("posted_by", given.get("posted_by"))
    q = str(given.get("q") or "").strip()
    if len(q) > QUERY_MAX_CHARS:
        raise InputError(f"Invalid q {q[:40] + '...'!r}; expected at most {QUERY_MAX_CHARS} characters",
                         fix="Shorten the search text.")
    out["q"] = q
    return TrialFilter(**out)


#: The command that lists a filter's values, where one does.
_LISTING = {"cancer": "cancers", "partner": "partners", "country": "countries",
            "sponsor": "sponsors", "registry": "registries"}


def filter_from_params(params: Mapping[str, Sequence[str]], con=None,
                       extra: Sequence[str] = ()) -> TrialFilter:
    """A filter from URL query parameters (``class`` for the target class; repeated
    parameters for several values). Parameters named in ``extra`` are ignored here."""
    given: dict[str, Any] = {}
    for name, values in params.items():
        if name in extra:
            continue
        key = {"class": "target_class", "tumor": "cancer"}.get(name, name)
        vals = [v for v in values if v.strip()]
        if not vals:
            continue
        given[key] = vals if key in LIST_FILTERS else vals[-1]
    return resolve_filter(con, **given)
