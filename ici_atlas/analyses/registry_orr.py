"""Objective response rates read automatically from ClinicalTrials.gov posted results.

Each outcome measure of a stored study's v2 ``resultsSection`` (or, for records stored from
legacy XML, of the original's ``clinical_results``) is tested against :data:`EXCLUDE_RULES`
then :data:`ORR_RULES`. An ORR outcome gives one row per outcome group (and per subgroup
class) with ``n``, responders, ORR % and CI as posted, the rule that matched, how
``responders`` was obtained (stated count, CR + PR categories, or derived from the
percentage when exactly one whole number of ``n`` fits), the protocol arm the group maps to
(and how confidently), and the classifier's ``trial_arms.is_pd1_monotherapy`` for that arm.

Rows live apart from the curated ``orr_arms.tsv`` (never written here), in the store tables
``orr_extracted`` / ``orr_extract_problems`` rebuilt by :func:`load_orr_extracted`;
:func:`compare_orr_arms` sets curated rows beside them. Malformed parts of a results
section are reported (record + field path) and skipped; the rest continues.
See ``docs/orr-extraction.md``.
"""

from __future__ import annotations

import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import duckdb
import orjson

from .trials import require_derived_tables
from ..store.db import table_exists, transaction
from ..store.schema import REGISTRY_ORR, create_tables
from ..errors import StoreError
from ..store.raw_json import CorruptRecord, unpack_json
from ..store.runs import finish_run, start_run, update_run

TABLE = "orr_extracted"
PROBLEMS_TABLE = "orr_extract_problems"

# --- which outcomes are ORR --------------------------------------------------------------

#: Outcomes whose title matches one of these are never ORR (checked first, in order).
EXCLUDE_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("exclude:duration", re.compile(r"\bduration\b|\bDoR\b|\bDR\b|time to (tumou?r |objective )?response|\bTTR\b", re.I)),
    ("exclude:disease-control", re.compile(r"disease[- ]control|\bDCR\b|clinical benefit|\bCBR\b", re.I)),
    ("exclude:pathologic", re.compile(r"patholog|\bpCR\b|\bMPR\b", re.I)),
    ("exclude:durable", re.compile(r"\bdurable\b", re.I)),
    ("exclude:complete-only", re.compile(r"^(?!.*(objective|overall|partial)).*complete (response|remission)|\bCR rate\b", re.I)),
    ("exclude:marker-response", re.compile(r"\bPSA\b|\bCA-?125\b|metabolic|molecular|serolog|immunogenic|anti-?drug|\bADA\b|cytokine|T[- ]cell response", re.I)),
    ("exclude:intracranial", re.compile(r"intracranial|\bCNS\b|brain", re.I)),
)

#: Rules that make an outcome an ORR outcome (first match wins). ``title`` rules read the
#: outcome title; the ``description`` rule needs a response-like title and a description
#: that defines the measure as CR or PR (and not stable disease).
ORR_RULES: tuple[tuple[str, str, re.Pattern], ...] = (
    ("title:objective-response", "title",
     re.compile(r"objective (tumou?r )?response|\bOR rate\b", re.I)),
    ("title:ORR", "title", re.compile(r"\bORR\b")),
    ("title:best-overall-response", "title", re.compile(r"best overall response|\bBOR\b|best (tumou?r )?response", re.I)),
    ("title:overall-response-rate", "title", re.compile(r"overall response rate|overall response \(", re.I)),
    ("title:confirmed-response", "title", re.compile(r"confirmed (tumou?r )?response", re.I)),
    ("description:cr-or-pr", "description",
     re.compile(r"\b(CR|complete response)\)?\s*(or|\+|and/or)\s*(a\s+)?(PR|partial response)\b|"
                r"complete or partial response", re.I)),
)
_RESPONSE_TITLE = re.compile(r"respon", re.I)
_STABLE = re.compile(r"stable disease|\bSD\b", re.I)

#: Category/class titles that hold response categories (a best-overall-response table).
_CAT_RESPONDERS = re.compile(r"objective response|overall response|\bORR\b|CR\s*(\+|or)\s*PR|"
                             r"complete or partial|\bresponders?\b", re.I)
_CAT_NONRESPONDERS = re.compile(r"non-?responders?|no response", re.I)
_END = r"(?![-/\w])"  # an abbreviation ends here ("PD" but not "PD-L1")
_CAT_CR = re.compile(rf"^\s*(CR{_END}|complete (response|remission))|\(CR\)", re.I)
_CAT_PR = re.compile(rf"^\s*(PR{_END}|partial (response|remission))|\(PR\)", re.I)
_CAT_OTHER = re.compile(rf"^\s*(SD|PD|NE|NA|UNK){_END}|stable disease|progressive disease|"
                        r"progression|not evaluable|not evaluated|non-?evaluable|unknown|missing|"
                        rf"non-?CR{_END}|non-?PD{_END}", re.I)

_PERCENT_UNIT = re.compile(r"percent|%", re.I)
_PROPORTION_UNIT = re.compile(r"proportion|fraction", re.I)
_COUNT_UNIT = re.compile(r"participants|patients|subjects|people|persons", re.I)
_PARAM_TYPES = ("NUMBER", "MEAN", "MEDIAN", "COUNT_OF_PARTICIPANTS")
_CI = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*confidence interval", re.I)


def classify_orr_outcome(title: str, description: str = "") -> tuple[str | None, str]:
    """``(rule, matched_text)`` for an outcome, or ``(None, exclusion or "")`` if not ORR."""
    title = title or ""
    for name, rx in EXCLUDE_RULES:
        if rx.search(title):
            return None, name
    for name, where, rx in ORR_RULES:
        if where == "title":
            m = rx.search(title)
            if m:
                return name, m.group(0)
        elif _RESPONSE_TITLE.search(title) and description and not _STABLE.search(description):
            m = rx.search(description)
            if m:
                return name, m.group(0)
    return None, ""


# --- mapping an outcome group to a protocol arm ------------------------------------------

def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


def classify_arm_match(group_title: str, arm_labels: Sequence[str]) -> tuple[str | None, str, str]:
    """Map an outcome-group title to one protocol arm label.

    Returns ``(arm_label, method, confidence)``: ``exact`` (same words, high), ``contains``
    (one title contains the other, unique: high; several, longest wins: medium), ``tokens``
    (shares the words that tell the arms apart: medium when it covers half the arm's
    distinguishing words, else low), ``only arm`` (the study has one arm: medium), or
    ``(None, "none", "none")``.
    """
    labels = [a for a in dict.fromkeys(arm_labels) if a]
    g = _norm(group_title)
    if not labels or not g:
        return None, "none", "none"
    normed = {a: _norm(a) for a in labels}
    exact = [a for a, n in normed.items() if n == g]
    if len(exact) == 1:
        return exact[0], "exact", "high"
    inside = [a for a, n in normed.items() if n and (f" {n} " in f" {g} " or f" {g} " in f" {n} ")]
    if len(inside) == 1:
        return inside[0], "contains", "high"
    if len(inside) > 1:
        by_len = sorted(inside, key=lambda a: len(normed[a]), reverse=True)
        if len(normed[by_len[0]]) > len(normed[by_len[1]]) and f" {normed[by_len[0]]} " in f" {g} ":
            return by_len[0], "contains", "medium"
    tokens = {a: set(n.split()) for a, n in normed.items()}
    common = set.intersection(*tokens.values()) if len(tokens) > 1 else set()
    gtok = set(g.split())
    scored = []
    for a, toks in tokens.items():
        distinct = toks - common
        shared = gtok & distinct
        if distinct and shared:
            scored.append((len(shared) / len(distinct), len(shared), a))
    scored.sort(reverse=True)
    if scored and (len(scored) == 1 or scored[0][:2] > scored[1][:2]):
        return scored[0][2], "tokens", "medium" if scored[0][0] >= 0.5 else "low"
    if len(labels) == 1:
        return labels[0], "only arm", "medium"
    return None, "none", "none"


# --- extraction ---------------------------------------------------------------------------

@dataclass
class OrrExtractedRow:
    """One outcome group (or subgroup class) of an ORR outcome measure."""

    nct_id: str
    outcome_index: int
    outcome_type: str | None
    outcome_title: str
    rule: str
    matched_text: str
    time_frame: str | None
    population: str | None
    param_type: str | None
    unit: str | None
    group_id: str
    group_title: str | None
    group_description: str | None
    subgroup: str | None
    n: int | None
    responders: int | None
    responders_source: str | None
    orr_percent: float | None
    ci_level: float | None
    ci_lower: float | None
    ci_upper: float | None
    arm_label: str | None
    arm_match: str
    arm_match_confidence: str
    is_pd1_monotherapy: bool | None
    results_from: str = "resultsSection"
    preferred: bool = False
    note: str = ""


COLUMNS = tuple(OrrExtractedRow.__dataclass_fields__)


@dataclass
class Problem:
    nct_id: str
    field: str
    reason: str


@dataclass
class Extraction:
    rows: list[OrrExtractedRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    orr_outcomes: int = 0
    outcomes_without_data: int = 0


class _Malformed(Exception):
    def __init__(self, path: str, reason: str):
        super().__init__(reason)
        self.path, self.reason = path, reason


def _count(value, path: str) -> int:
    text = str(value).strip() if value is not None else ""
    if not re.fullmatch(r"\d+", text):
        raise _Malformed(path, f"expected a whole number of participants, got {value!r}")
    return int(text)


def _number(value, path: str) -> float | None:
    """A posted number; None for the API's 'NA' (not estimable)."""
    text = "" if value is None else str(value).strip()
    if text.upper() in ("NA", ""):
        return None
    try:
        out = float(text)
    except ValueError:
        out = math.nan
    if not math.isfinite(out):
        raise _Malformed(path, f"expected a number, got {value!r}")
    return out


def _decimals(value) -> int:
    text = str(value).strip()
    return len(text.split(".", 1)[1]) if "." in text else 0


def derive_responders(percent: float, decimals: int, n: int) -> tuple[int | None, str]:
    """The whole number of ``n`` whose percentage rounds to ``percent`` as printed
    (``decimals`` digits), if exactly one does; else ``(None, reason)``."""
    half = 0.5 * 10 ** (-decimals) + 1e-9
    fits = [k for k in range(n + 1) if abs(100 * k / n - percent) <= half]
    if len(fits) == 1:
        return fits[0], "derived: percentage x n (one whole number fits)"
    if not fits:
        return None, f"no whole number of {n} gives {percent}%"
    return None, f"ambiguous: {fits[0]}..{fits[-1]} of {n} all give {percent}%"


def _list(obj, key: str, path: str) -> list:
    value = obj.get(key)
    if value is not None and not isinstance(value, list):
        raise _Malformed(f"{path}.{key}", f"expected a list, got {type(value).__name__}")
    return value or []


def _denoms(container: dict, path: str) -> dict[str, int]:
    """Participants per group id from a ``denoms`` list.

    Uses the denominator counted in participants (units 'Participants'); when none is, the
    first one listed.
    """
    entries = _list(container, "denoms", path)
    for i, d in enumerate(entries):
        if not isinstance(d, dict):
            raise _Malformed(f"{path}.denoms[{i}]", "expected an object")
    if not entries:
        return {}
    chosen = next((i for i, d in enumerate(entries)
                   if _COUNT_UNIT.search(str(d.get("units") or "Participants"))), 0)
    out: dict[str, int] = {}
    dpath = f"{path}.denoms[{chosen}]"
    for j, c in enumerate(_list(entries[chosen], "counts", dpath)):
        cpath = f"{dpath}.counts[{j}]"
        if not isinstance(c, dict) or not c.get("groupId"):
            raise _Malformed(cpath, "count without groupId")
        out.setdefault(c["groupId"], _count(c.get("value"), f"{cpath}.value"))
    return out


def _scale(unit: str, param_type: str) -> str | None:
    """How measurement values read: 'count', 'percent' or 'proportion' (None: unknown)."""
    if param_type not in _PARAM_TYPES:  # least-squares or geometric means are not rates
        return None
    if param_type == "COUNT_OF_PARTICIPANTS":
        return "count"
    if _PERCENT_UNIT.search(unit):
        return "percent"
    if _PROPORTION_UNIT.search(unit):
        return "proportion"
    if param_type == "NUMBER" and _COUNT_UNIT.search(unit):
        return "count"
    return None


def _cells(om: dict, path: str) -> list[tuple[str | None, str | None, dict, str, dict[str, int]]]:
    """Every measurement as (class title, category title, measurement, path, class denoms)."""
    out = []
    for ci, cls in enumerate(_list(om, "classes", path)):
        cpath = f"{path}.classes[{ci}]"
        if not isinstance(cls, dict):
            raise _Malformed(cpath, "expected an object")
        class_denoms = _denoms(cls, cpath)
        for ki, cat in enumerate(_list(cls, "categories", cpath)):
            kpath = f"{cpath}.categories[{ki}]"
            if not isinstance(cat, dict):
                raise _Malformed(kpath, "expected an object")
            for mi, m in enumerate(_list(cat, "measurements", kpath)):
                mpath = f"{kpath}.measurements[{mi}]"
                if not isinstance(m, dict) or not m.get("groupId"):
                    raise _Malformed(mpath, "measurement without groupId")
                out.append((cls.get("title"), cat.get("title"), m, mpath, class_denoms))
    return out


_KINDS = ((_CAT_NONRESPONDERS, "other"), (_CAT_RESPONDERS, "responders"), (_CAT_CR, "CR"),
          (_CAT_PR, "PR"), (_CAT_OTHER, "other"))


def _response_kind(title: str | None) -> str | None:
    """'responders', 'CR', 'PR', 'other' (SD, PD, NE ...) or None for a category title."""
    return next((kind for rx, kind in _KINDS if title and rx.search(title)), None)


def _count_categories(cells: list, kinds: list, gid: str, n: int | None, scale: str,
                      shift: int) -> tuple:
    """Responders of one group in a best-overall-response table.

    Returns ``(responders, source, pct, lo, hi, note)`` for ``make``: a responder category
    ("Objective response (CR or PR)") is taken as stated; else CR + PR. Percentages are
    turned into counts category by category (each must fit exactly one whole number).
    """
    values: dict[str, list] = {}
    unknown = []
    for (cls, cat, m, mpath, _), kind in zip(cells, kinds):
        if m["groupId"] != gid:
            continue
        if kind is None:
            unknown.append(cat or cls)
            continue
        value = _number(m.get("value"), f"{mpath}.value")
        if value is not None and kind != "other":
            values.setdefault(kind, []).append((value, m.get("value"), mpath))
    extra = f"; categories not counted: {', '.join(map(repr, unknown))}" if unknown else ""
    if "responders" in values:
        parts, source = values["responders"], "stated: responder category"
    elif "CR" in values and "PR" in values:
        parts, source = values["CR"] + values["PR"], "CR + PR categories"
    else:
        missing = "CR" if "PR" in values else "PR" if "CR" in values else "CR and PR"
        return None, None, None, None, None, f"no {missing} category posted; responders not counted{extra}"
    if scale == "count":
        total = 0
        for value, raw, mpath in parts:
            if value != int(value):
                raise _Malformed(f"{mpath}.value", f"participant count {raw!r} is not a whole number")
            total += int(value)
        if n is not None and total > n:
            raise _Malformed(f"{parts[0][2]}.value", f"{total} responders exceed n = {n}")
        return total, source, None, None, None, extra.lstrip("; ")
    if not n:
        pct = sum(round(v * 100, 10) if scale == "proportion" else v for v, _, _ in parts)
        return None, None, pct, None, None, f"no denominator posted{extra}"
    total, pct = 0, 0.0
    for value, raw, _ in parts:
        value = round(value * 100, 10) if scale == "proportion" else value
        r, why = derive_responders(value, max(_decimals(raw) - shift, 0), n)
        if r is None:
            return None, None, None, None, None, f"{why}{extra}"
        total, pct = total + r, pct + value
    return total, f"{source}; derived: percentage x n per category", pct, None, None, extra.lstrip("; ")


def _extract_outcome(nct: str, index: int, om: dict, path: str, rule: str, matched: str,
                     arm_labels: Sequence[str], mono: Mapping[str, bool],
                     results_from: str) -> list[OrrExtractedRow]:
    groups = {}
    for gi, g in enumerate(_list(om, "groups", path)):
        if not isinstance(g, dict) or not g.get("id"):
            raise _Malformed(f"{path}.groups[{gi}]", "group without id")
        groups[g["id"]] = g
    param_type = om.get("paramType") or ""
    unit = om.get("unitOfMeasure") or ""
    cells = _cells(om, path)
    if not cells:
        return []
    scale = _scale(unit, param_type)
    if scale is None:
        raise _Malformed(f"{path}.unitOfMeasure",
                         f"cannot read {param_type or 'no paramType'} in unit {unit!r} as a rate or count")
    denoms = _denoms(om, path)
    ci_match = _CI.search(om.get("dispersionType") or "")
    ci_level = float(ci_match.group(1)) if ci_match else None
    # A best-overall-response table: classes/categories are response categories (CR, PR,
    # SD ...). Classes that are all "ORR: <subgroup>" are subgroups, not categories.
    kinds = [_response_kind(cat or cls) for cls, cat, *_ in cells]
    categorical = any(k in ("CR", "PR", "other") for k in kinds)
    shift = 2 if scale == "proportion" else 0   # 0.23 printed = 23% printed, no decimals

    def percent_of(value: float) -> float:
        return round(value * 100, 10) if scale == "proportion" else value

    base = dict(results_from=results_from, nct_id=nct, outcome_index=index, outcome_type=om.get("type"),
                outcome_title=om.get("title") or "", rule=rule, matched_text=matched,
                time_frame=om.get("timeFrame"), population=om.get("populationDescription"),
                param_type=param_type or None, unit=unit or None)

    def make(gid: str, subgroup: str | None, n: int | None, responders: int | None,
             source: str | None, pct: float | None, lo: float | None, hi: float | None,
             note: str) -> OrrExtractedRow:
        g = groups.get(gid, {})
        label, how, conf = classify_arm_match(g.get("title") or "", arm_labels)
        if pct is None and responders is not None and n:
            pct = round(100 * responders / n, 2)
        return OrrExtractedRow(
            **base, group_id=gid, group_title=g.get("title"), group_description=g.get("description"),
            subgroup=subgroup, n=n, responders=responders, responders_source=source,
            orr_percent=pct, ci_level=ci_level if lo is not None else None, ci_lower=lo,
            ci_upper=hi, arm_label=label, arm_match=how, arm_match_confidence=conf,
            is_pd1_monotherapy=mono.get(label) if label else None, note=note)

    rows: list[OrrExtractedRow] = []
    if categorical:
        return [make(gid, None, denoms.get(gid), *_count_categories(cells, kinds, gid, denoms.get(gid),
                                                                    scale, shift))
                for gid in sorted(set(groups) | {c[2]["groupId"] for c in cells})]
    n_subgroups = len({(cls, cat) for cls, cat, *_ in cells})
    for cls, cat, m, mpath, class_denoms in cells:
        gid = m["groupId"]
        subgroup = " / ".join(t for t in (cls, cat) if t) or None
        n = class_denoms.get(gid) if class_denoms else denoms.get(gid)
        value = _number(m.get("value"), f"{mpath}.value")
        if subgroup and not class_denoms and n_subgroups > 1:
            # Several subgroups share the group's denominator: their own n is not posted.
            pct = percent_of(value) if value is not None and scale != "count" else None
            rows.append(make(gid, subgroup, None, None, None, pct, None, None,
                             f"subgroup without its own denominator (group n = {n})"))
            continue
        if value is None:
            rows.append(make(gid, subgroup, n, None, None, None, None, None,
                             f"value not estimable ({m.get('comment') or 'NA'})"))
            continue
        lo = _number(m.get("lowerLimit"), f"{mpath}.lowerLimit")
        hi = _number(m.get("upperLimit"), f"{mpath}.upperLimit")
        if scale == "count":
            if value != int(value) or (n is not None and value > n):
                raise _Malformed(f"{mpath}.value", f"responder count {m.get('value')!r} "
                                 f"is not a whole number up to n = {n}")
            rows.append(make(gid, subgroup, n, int(value), "stated count", None, None, None, ""))
            continue
        pct = percent_of(value)
        lo = percent_of(lo) if lo is not None and ci_level else None
        hi = percent_of(hi) if hi is not None and ci_level else None
        if not 0 <= pct <= 100:
            raise _Malformed(f"{mpath}.value", f"rate {m.get('value')!r} is outside 0-100%")
        if not n:
            rows.append(make(gid, subgroup, n, None, None, pct, lo, hi, "no denominator posted"))
            continue
        r, why = derive_responders(pct, max(_decimals(m.get("value")) - shift, 0), n)
        rows.append(make(gid, subgroup, n, r, why if r is not None else None, pct, lo, hi,
                         "" if r is not None else why))
    return rows


def classify_orr_results(study: dict, mono: Mapping[str, bool] | None = None,
                         original_xml: str | None = None) -> Extraction:
    """ORR rows of one API v2 study (``mono``: arm label → is_pd1_monotherapy).

    A study stored from legacy XML has no ``resultsSection`` (the converter leaves results
    out); pass the XML as ``original_xml`` and its ``clinical_results`` outcomes are read
    instead (:func:`read_xml_outcomes`).
    """
    out = Extraction()
    proto = study.get("protocolSection") or {}
    nct = ((proto.get("identificationModule") or {}).get("nctId")) or "?"
    mono = mono or {}
    arms = (proto.get("armsInterventionsModule") or {}).get("armGroups") or []
    arm_labels = [a.get("label") for a in arms if isinstance(a, dict) and a.get("label")]
    arm_labels = arm_labels or list(mono)
    results = study.get("resultsSection")
    prefix, results_from = "resultsSection.outcomeMeasuresModule", "resultsSection"
    try:
        if results is None and original_xml:
            prefix, results_from = "clinical_results.outcome_list", "clinical_results (XML)"
            outcomes = read_xml_outcomes(original_xml)
        elif results is None:
            return out
        else:
            if not isinstance(results, dict):
                raise _Malformed("resultsSection", f"expected an object, got {type(results).__name__}")
            module = results.get("outcomeMeasuresModule") or {}
            if not isinstance(module, dict):
                raise _Malformed(prefix, "expected an object")
            outcomes = _list(module, "outcomeMeasures", prefix)
    except _Malformed as exc:
        out.problems.append(Problem(nct, exc.path, exc.reason))
        return out
    for i, om in enumerate(outcomes):
        path = f"{prefix}.outcomeMeasures[{i}]" if results_from == "resultsSection" else f"{prefix}.outcome[{i}]"
        if not isinstance(om, dict):
            out.problems.append(Problem(nct, path, "expected an object"))
            continue
        rule, matched = classify_orr_outcome(om.get("title") or "", om.get("description") or "")
        if rule is None:
            continue
        out.orr_outcomes += 1
        try:
            rows = _extract_outcome(nct, i, om, path, rule, matched, arm_labels, mono, results_from)
        except _Malformed as exc:
            out.problems.append(Problem(nct, exc.path, exc.reason))
            continue
        if not rows:
            out.outcomes_without_data += 1
        out.rows.extend(rows)
    _mark_preferred(out.rows)
    return out


_XML_PARAM = {"number": "NUMBER", "mean": "MEAN", "median": "MEDIAN",
              "count of participants": "COUNT_OF_PARTICIPANTS"}


def read_xml_outcomes(xml_text: str) -> list[dict]:
    """The ``clinical_results`` outcomes of a legacy ClinicalTrials.gov XML record, in the
    API v2 ``outcomeMeasures`` shape (only the fields the extraction reads)."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise _Malformed("original", f"legacy XML does not parse: {exc}") from None

    def text(el, tag):
        found = el.find(tag) if el is not None else None
        return found.text.strip() if found is not None and found.text else None

    def denoms(el):
        return [{"units": text(an, "units") or "Participants",
                 "counts": [{"groupId": c.get("group_id"), "value": c.get("value")}
                            for c in an.findall("count_list/count")]}
                for an in el.findall("analyzed_list/analyzed")]

    outcomes = []
    for oc in root.findall("clinical_results/outcome_list/outcome"):
        measure = oc.find("measure")
        param = (text(measure, "param") or "").lower()
        classes = []
        for cl in (measure.findall("class_list/class") if measure is not None else []):
            cats = [{"title": text(cat, "title"), "measurements": [
                {"groupId": m.get("group_id"), "value": m.get("value"),
                 "lowerLimit": m.get("lower_limit"), "upperLimit": m.get("upper_limit")}
                for m in cat.findall("measurement_list/measurement")]}
                for cat in cl.findall("category_list/category")]
            classes.append({"title": text(cl, "title"), "denoms": denoms(cl), "categories": cats})
        outcomes.append({
            "type": (text(oc, "type") or "").upper().replace(" ", "_") or None,
            "title": text(oc, "title") or "", "description": text(oc, "description"),
            "timeFrame": text(oc, "time_frame"), "populationDescription": text(oc, "population"),
            "paramType": _XML_PARAM.get(param, param.upper() or None),
            "unitOfMeasure": text(measure, "units"), "dispersionType": text(measure, "dispersion"),
            "groups": [{"id": g.get("group_id"), "title": text(g, "title"),
                        "description": text(g, "description")}
                       for g in oc.findall("group_list/group")],
            "denoms": denoms(measure) if measure is not None else [],
            "classes": classes,
        })
    return outcomes


_RULE_RANK = {"title:objective-response": 0, "title:ORR": 0, "title:overall-response-rate": 0,
              "title:confirmed-response": 1, "title:best-overall-response": 2,
              "description:cr-or-pr": 3}
_TYPE_RANK = {"PRIMARY": 0, "SECONDARY": 1}


def _mark_preferred(rows: list[OrrExtractedRow]) -> None:
    """Flag one row per (trial, outcome-group title): the headline ORR of that group.

    Order: both counts present; whole group (not a subgroup class); ORR-titled rules
    before best-overall-response tables; primary before secondary; larger n; first posted.
    """
    best: dict[tuple, OrrExtractedRow] = {}
    key = lambda r: (r.responders is None or r.n is None, r.subgroup is not None,  # noqa: E731
                     _RULE_RANK.get(r.rule, 9), _TYPE_RANK.get(r.outcome_type or "", 2),
                     -(r.n or 0), r.outcome_index)
    for r in rows:
        k = (r.nct_id, _norm(r.group_title or r.group_id))
        if k not in best or key(r) < key(best[k]):
            best[k] = r
    for r in best.values():
        if r.responders is not None and r.n:
            r.preferred = True


# --- the store ----------------------------------------------------------------------------

@dataclass
class ExtractReport:
    run_id: int
    studies_with_results: int = 0
    from_xml: int = 0
    studies_with_orr: int = 0
    orr_outcomes: int = 0
    outcomes_without_data: int = 0
    rows: int = 0
    monotherapy_arms: int = 0
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.studies_with_results:,} studies with posted results "
                f"({self.from_xml:,} read from legacy XML); "
                f"{self.orr_outcomes:,} ORR outcome measures in {self.studies_with_orr:,} studies "
                f"({self.outcomes_without_data:,} without posted values); {self.rows:,} rows; "
                f"{self.monotherapy_arms:,} PD-(L)1 monotherapy arms with an ORR; "
                f"{len(self.problems):,} problem(s); run {self.run_id}")


#: Records with v2 results, and legacy-XML records whose original holds clinical_results.
_RESULTS_SQL = """
SELECT nct_id, json_zstd,
       CASE WHEN source_format = 'ctgov-xml' THEN original END AS xml
FROM raw_studies
WHERE has_results
   OR (source_format = 'ctgov-xml' AND original LIKE '%<clinical_results>%')
ORDER BY nct_id
"""


def load_orr_extracted(con: duckdb.DuckDBPyConnection) -> ExtractReport:
    """Rebuild ``orr_extracted`` and ``orr_extract_problems`` from the stored raw records.

    Needs the classifier's tables (``ici-atlas classify``) for the monotherapy flags.
    """
    require_derived_tables(con)
    mono: dict[str, dict[str, bool]] = {}
    for nct, label, flag in con.execute(
            "SELECT nct_id, arm_label, is_pd1_monotherapy FROM trial_arms").fetchall():
        if label:
            mono.setdefault(nct, {})[label] = bool(flag)
    run_id = start_run(con, "orr-extract", "raw_studies", None, {"tables": [TABLE, PROBLEMS_TABLE]})
    report = ExtractReport(run_id=run_id)
    rows: list[OrrExtractedRow] = []
    try:
        records = con.execute(_RESULTS_SQL).fetchall()
        for nct, packed, xml in records:
            try:
                study = orjson.loads(unpack_json(packed))
            except CorruptRecord as exc:
                report.problems.append(Problem(nct, "json_zstd", f"stored JSON unreadable: {exc}"))
                continue
            except orjson.JSONDecodeError as exc:
                report.problems.append(Problem(nct, "json", f"not valid JSON: {exc}"))
                continue
            if not isinstance(study, dict) or ("resultsSection" not in study and not xml):
                continue
            report.studies_with_results += 1
            report.from_xml += "resultsSection" not in study
            ex = classify_orr_results(study, mono.get(nct, {}),
                                      None if "resultsSection" in study else xml)
            report.problems.extend(ex.problems)
            report.orr_outcomes += ex.orr_outcomes
            report.outcomes_without_data += ex.outcomes_without_data
            report.studies_with_orr += ex.orr_outcomes > 0
            rows.extend(ex.rows)
        report.rows = len(rows)
        report.monotherapy_arms = len({(r.nct_id, r.arm_label) for r in rows
                                       if r.is_pd1_monotherapy and r.responders is not None})
        with transaction(con):
            _write_tables(con, rows, report.problems, run_id)
            update_run(con, run_id, reported_total=report.studies_with_results,
                       stored_total=report.rows, quarantined=len(report.problems),
                       new_records=report.rows, updated_records=0, unchanged_records=0)
        finish_run(con, run_id, "ok", report.summary())
    except BaseException as exc:
        finish_run(con, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    return report


def _write_tables(con: duckdb.DuckDBPyConnection, rows: list[OrrExtractedRow],
                  problems: list[Problem], run_id: int) -> None:
    create_tables(con, REGISTRY_ORR)
    if rows:
        con.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                        [[getattr(r, c) for c in COLUMNS] + [run_id] for r in rows])
    if problems:
        con.executemany(f"INSERT INTO {PROBLEMS_TABLE} VALUES (?, ?, ?, ?)",
                        [[p.nct_id, p.field, p.reason, run_id] for p in problems])


def query_orr_extracted(con: duckdb.DuckDBPyConnection, *, monotherapy: bool = False,
                        preferred: bool = False, nct_id: str | None = None) -> list[dict]:
    """Rows of ``orr_extracted`` (NCT, outcome, group order), optionally filtered."""
    if not table_exists(con, TABLE):
        raise StoreError("The store has no extracted ORR rows (table orr_extracted is missing)",
                         fix="Run `ici-atlas orr-extract` (after `ici-atlas classify`).")
    where = [w for w, on in (("is_pd1_monotherapy", monotherapy), ("preferred", preferred),
                             ("nct_id = ?", nct_id)) if on]
    params = [nct_id.strip().upper()] if nct_id else []
    sql = (f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
           + (f" WHERE {' AND '.join(where)}" if where else "")
           + " ORDER BY nct_id, outcome_index, group_id, subgroup NULLS FIRST")
    cur = con.execute(sql, params)
    return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]


def query_orr_problems(con: duckdb.DuckDBPyConnection) -> list[dict]:
    if not table_exists(con, PROBLEMS_TABLE):
        return []
    cur = con.execute(f"SELECT nct_id, field, reason FROM {PROBLEMS_TABLE} ORDER BY nct_id, field")
    return [dict(zip(("nct_id", "field", "reason"), r)) for r in cur.fetchall()]


# --- comparison with the curated rows -----------------------------------------------------

COMPARE_COLUMNS = ("nct_id", "curated_trial", "curated_arm", "arm_label", "arm_match",
                   "group_title", "outcome_title", "preferred", "curated_n", "extracted_n",
                   "n_agree", "curated_responders", "extracted_responders", "responders_agree",
                   "curated_orr_percent", "extracted_orr_percent", "status")


def _agree(a, b) -> bool | None:
    return None if a is None or b is None else a == b


def compare_orr_arms(extracted: Iterable[Mapping], curated: Iterable) -> list[dict]:
    """Set each curated arm (``efficacy.OrrArm``) beside the extracted rows of its trial/arm.

    Matched by NCT ID, then the curated ``arm`` text is mapped to the arm labels / group
    titles of the extracted whole-group rows (subgroup classes are other populations) with
    :func:`classify_arm_match`, else to the trial's only extracted PD-(L)1 monotherapy arm.
    One row per (curated arm, extracted row of that arm); ``status`` is ``agree``,
    ``n differs``, ``responders differ``, ``both differ``, ``not comparable`` (a count is
    missing) or ``no matching arm``.
    """
    by_nct: dict[str, list[Mapping]] = {}
    for r in extracted:
        if not r.get("subgroup"):
            by_nct.setdefault(r["nct_id"], []).append(r)
    out: list[dict] = []
    for c in curated:
        rows = by_nct.get(c.nct_id or "")
        if not rows:
            continue
        names = {}
        for r in rows:
            for name in (r.get("arm_label"), r.get("group_title")):
                if name:
                    names.setdefault(name, r.get("arm_label") or name)
        label, how, conf = classify_arm_match(c.arm or c.trial, list(names))
        target = names.get(label) if label else None
        if target is None:
            monos = {r.get("arm_label") for r in rows if r.get("is_pd1_monotherapy")}
            if len(monos) == 1:
                target, how = monos.pop(), "only monotherapy arm"
        matched = [r for r in rows if target and target in (r.get("arm_label"), r.get("group_title"))]
        if not matched:
            out.append({"nct_id": c.nct_id, "curated_trial": c.trial, "curated_arm": c.arm,
                        "curated_n": c.n_evaluable, "curated_responders": c.responders,
                        "curated_orr_percent": c.orr_percent, "arm_match": "none",
                        "status": "no matching arm"})
            continue
        for r in matched:
            n_ok, r_ok = _agree(c.n_evaluable, r.get("n")), _agree(c.responders, r.get("responders"))
            if n_ok is None or r_ok is None:
                status = "not comparable"
            elif n_ok and r_ok:
                status = "agree"
            else:
                status = "both differ" if not (n_ok or r_ok) else (
                    "n differs" if not n_ok else "responders differ")
            out.append({
                "nct_id": c.nct_id, "curated_trial": c.trial, "curated_arm": c.arm,
                "arm_label": r.get("arm_label"), "arm_match": how, "group_title": r.get("group_title"),
                "outcome_title": r.get("outcome_title"), "preferred": bool(r.get("preferred")), "curated_n": c.n_evaluable,
                "extracted_n": r.get("n"), "n_agree": n_ok, "curated_responders": c.responders,
                "extracted_responders": r.get("responders"), "responders_agree": r_ok,
                "curated_orr_percent": c.orr_percent, "extracted_orr_percent": r.get("orr_percent"),
                "status": status,
            })
    return out


__all__ = [
    "COLUMNS", "COMPARE_COLUMNS", "EXCLUDE_RULES", "ORR_RULES", "Extraction", "ExtractReport",
    "OrrExtractedRow", "Problem", "classify_arm_match", "classify_orr_outcome",
    "classify_orr_results", "compare_orr_arms", "derive_responders", "load_orr_extracted",
    "query_orr_extracted", "query_orr_problems",
]
