"""What a usable ClinicalTrials.gov API v2 study record looks like, field by field.

:func:`check_study` rejects a record the classifiers cannot read safely — a module or list
of the wrong JSON type (``armsInterventionsModule`` given as a string would otherwise read as
"no interventions" and the trial as not PD-(L)1), a missing or null ``protocolSection``, a
bad NCT ID — naming the field, so the record is quarantined with that reason.
:func:`study_warnings` lists the fields that are wrong but have one safe reading, which the
classifiers apply (:mod:`ici_atlas.concepts.study`): the record is kept and each warning is
stored with its run (table ``record_warnings``) and counted, never coerced silently.
"""

from __future__ import annotations

import re
from datetime import date

NCT_RE = re.compile(r"^NCT\d{8}$")

#: Modules that must be JSON objects when present.
_MODULES = ("identificationModule", "statusModule", "sponsorCollaboratorsModule",
            "descriptionModule", "conditionsModule", "designModule",
            "armsInterventionsModule", "eligibilityModule", "contactsLocationsModule")
#: (module, key) lists the classifiers read: must be JSON arrays when present.
_LISTS = (("conditionsModule", "conditions"), ("conditionsModule", "keywords"),
          ("armsInterventionsModule", "interventions"), ("armsInterventionsModule", "armGroups"),
          ("contactsLocationsModule", "locations"))
#: Dates the landscape reads.
_DATES = ("startDateStruct", "studyFirstPostDateStruct", "lastUpdatePostDateStruct",
          "primaryCompletionDateStruct", "completionDateStruct")
#: Enrolment counts ClinicalTrials.gov uses for "unknown" rather than a number of people.
ENROLLMENT_PLACEHOLDERS = frozenset({99999999, 999999999})
#: The largest single study record stored (bytes of compact JSON). The registry's largest
#: records, with full results, are a few MB; anything near this is not a study record.
MAX_RECORD_BYTES = 32 * 1024**2
API_PHASES = frozenset({"NA", "EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4"})


def _kind(value: object) -> str:
    return "null" if value is None else {dict: "an object", list: "an array", str: "a string",
                                         bool: "a boolean", int: "a number",
                                         float: "a number"}.get(type(value), type(value).__name__)


def check_study(study: object) -> tuple[str, str] | None:
    """``(field, reason)`` when ``study`` is not a usable v2 study record, else None."""
    if not isinstance(study, dict):
        return "", f"a study must be a JSON object, not {_kind(study)}"
    if "protocolSection" not in study:
        keys = ", ".join(sorted(map(str, study))[:6]) or "none"
        return "protocolSection", f"no protocolSection (keys: {keys})"
    ps = study["protocolSection"]
    if not isinstance(ps, dict):
        return "protocolSection", f"protocolSection is {_kind(ps)}, not an object"
    for module in _MODULES:
        if module in ps and not isinstance(ps[module], dict):
            return (f"protocolSection.{module}",
                    f"{module} is {_kind(ps[module])}, not an object")
    ident = ps.get("identificationModule")
    nct = ident.get("nctId") if isinstance(ident, dict) else None
    if nct is None:
        return "protocolSection.identificationModule.nctId", "missing NCT ID"
    if not isinstance(nct, str) or not NCT_RE.match(nct):
        return "protocolSection.identificationModule.nctId", f"invalid NCT ID {nct!r}"
    for module, key in _LISTS:
        value = ps.get(module, {}).get(key) if isinstance(ps.get(module), dict) else None
        if value is not None and not isinstance(value, list):
            return f"protocolSection.{module}.{key}", f"{key} is {_kind(value)}, not an array"
        for i, item in enumerate(value or ()):
            want = str if key in ("conditions", "keywords") else dict
            if not isinstance(item, want):
                return (f"protocolSection.{module}.{key}[{i}]",
                        f"item is {_kind(item)}, not {'a string' if want is str else 'an object'}")
    return None


def _valid_date(text: object) -> bool:
    if not isinstance(text, str):
        return False
    parts = text.split("-")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return False
    try:
        date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1,
             int(parts[2]) if len(parts) > 2 else 1)
    except ValueError:
        return False
    return True


def study_warnings(study: dict) -> list[tuple[str, str]]:
    """``(field, reason)`` for every field that is wrong but has one safe reading (which the
    classifiers apply). Call on records :func:`check_study` accepts."""
    out: list[tuple[str, str]] = []
    ps = study.get("protocolSection") or {}
    design = ps.get("designModule") or {}
    phases = design.get("phases")
    if isinstance(phases, str):
        out.append(("protocolSection.designModule.phases",
                    f"a string ({phases!r}), not an array: read as [{phases!r}]"))
    elif isinstance(phases, list):
        bad = [p for p in phases if not isinstance(p, str) or p not in API_PHASES]
        if bad:
            out.append(("protocolSection.designModule.phases",
                        f"unknown phase value(s) {bad[:3]!r}: ignored"))
    elif phases is not None:
        out.append(("protocolSection.designModule.phases", f"{_kind(phases)}: read as no phase"))
    info = design.get("enrollmentInfo")
    if info is not None and not isinstance(info, dict):
        out.append(("protocolSection.designModule.enrollmentInfo",
                    f"{_kind(info)}, not an object: enrolment read as unknown"))
    elif isinstance(info, dict) and "count" in info:
        count = info["count"]
        if isinstance(count, bool) or not isinstance(count, int):
            out.append(("protocolSection.designModule.enrollmentInfo.count",
                        f"{count!r} is not a whole number: enrolment read as unknown"))
        elif count < 0 or count in ENROLLMENT_PLACEHOLDERS:
            out.append(("protocolSection.designModule.enrollmentInfo.count",
                        f"{count} is a placeholder, not a number of people: read as unknown"))
    status = ps.get("statusModule") or {}
    for struct in _DATES:
        value = status.get(struct)
        if value is None:
            continue
        text = value.get("date") if isinstance(value, dict) else None
        if not _valid_date(text):
            shown = text if isinstance(value, dict) else value
            out.append((f"protocolSection.statusModule.{struct}.date",
                        f"{shown!r} is not a date (YYYY[-MM[-DD]]): read as missing"))
    if "hasResults" in study and not isinstance(study["hasResults"], bool):
        out.append(("hasResults", f"{study['hasResults']!r} is not true/false: read from "
                                  "the presence of resultsSection"))
    return out


def oversized(size: int) -> tuple[str, str] | None:
    """``("", reason)`` when a record of ``size`` bytes is too large to store."""
    if size > MAX_RECORD_BYTES:
        return "", (f"record of {size:,} bytes is larger than the {MAX_RECORD_BYTES:,}-byte "
                    "limit for one study (not stored)")
    return None
