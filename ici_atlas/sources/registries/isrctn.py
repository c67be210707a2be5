"""ISRCTN registry records as ctrdata stores them (JSON converted from the ISRCTN XML API).

ctrdata keeps the XML's nesting: ``isrctn`` (the number without its prefix),
``trialDescription`` (title, scientificTitle, acronym, plainEnglishSummary),
``externalRefs`` (eudraCTNumber, clinicalTrialsGovNumber, irasNumber,
protocolSerialNumber, secondaryNumbers), ``trialDesign`` (primaryStudyDesign,
overallStartDate, overallStatusOverride), ``participants`` (recruitmentCountries,
targetEnrolment, recruitmentStatusOverride), ``conditions.condition``,
``interventions.intervention`` (interventionType, drugNames, phase, description).
An element that repeats is a list, a single one an object, an empty one ``[]``, ``{}`` or
``""``; all three shapes are read.

Structured links come from ``externalRefs`` only: ``clinicalTrialsGovNumber`` (NCT),
``eudraCTNumber`` (EudraCT or CTIS number) and ``secondaryNumbers`` entries that are
registry IDs ("Nil known" and protocol numbers are not). ISRCTN XML files are not read
(no real XML record is in the shared data); the ISRCTN API's XML is converted to this shape
by :mod:`ici_atlas.sources.isrctn_api` (xml2js rules, as ctrdata converts it).

ISRCTN gives no registration date in these records (``registration_date`` is None) and no
status field beyond ``overallStatusOverride`` ("Stopped"): ISRCTN's own status is computed
from the recruitment dates, so ``status`` is None unless overridden.
"""

from __future__ import annotations

from .model import (BadRecord, Registration, classify_id, clean_text, country_name,
                    make_intervention, to_int, to_iso_date)
from .phases import phases_from_text, study_type_from_text

_RAW_LIMIT = 200_000
_OVERRIDES = {"stopped": "TERMINATED", "suspended": "SUSPENDED", "withdrawn": "WITHDRAWN"}


def _items(value) -> list:
    if isinstance(value, list):
        return value
    return [] if value in (None, "", {}) else [value]


def _d(obj, key) -> dict:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def is_isrctn_record(record: object) -> bool:
    return (isinstance(record, dict) and "isrctn" in record
            and isinstance(record.get("trialDescription"), dict))


def registration_from_isrctn(record: dict, ref: str, raw: str = "") -> Registration | BadRecord:
    """One ctrdata ISRCTN record as a Registration."""
    number = clean_text(str(record.get("isrctn", ""))).upper().removeprefix("ISRCTN")
    if not (number.isdigit() and len(number) == 8):
        return BadRecord(ref, "isrctn", f"not an ISRCTN number: {number[:40]!r}", raw[:_RAW_LIMIT])
    desc = _d(record, "trialDescription")
    design = _d(record, "trialDesign")
    people = _d(record, "participants")
    refs = _d(record, "externalRefs")
    reg = Registration(registry="ISRCTN", trial_id="ISRCTN" + number, ref=ref,
                       source_format="ctrdata-isrctn", raw=raw[:_RAW_LIMIT])
    reg.title = clean_text(desc.get("title"))
    reg.official_title = clean_text(desc.get("scientificTitle"))
    reg.acronym = clean_text(desc.get("acronym"))
    summary = clean_text(desc.get("plainEnglishSummary"))
    reg.brief_summary = "" if summary.lower().startswith("not provided") else summary
    reg.study_type_text = clean_text(design.get("primaryStudyDesign"))
    reg.study_type = study_type_from_text(reg.study_type_text)
    reg.start_date = to_iso_date(clean_text(design.get("overallStartDate"))
                                 or clean_text(people.get("recruitmentStart")))
    override = (clean_text(design.get("overallStatusOverride"))
                or clean_text(people.get("recruitmentStatusOverride")))
    reg.status_text = override
    reg.status = _OVERRIDES.get(override.lower())
    reg.enrollment = to_int(people.get("targetEnrolment")) or to_int(people.get("totalTarget"))
    for name in _items(_d(people, "recruitmentCountries").get("country")):
        country = country_name(name) if isinstance(name, str) else None
        if country and country not in reg.countries:
            reg.countries.append(country)
        elif isinstance(name, str) and not country:
            reg.warnings.append(f"recruitmentCountries: {name!r} is not a country name")
    for cond in _items(_d(record, "conditions").get("condition")):
        text = clean_text(cond.get("description")) if isinstance(cond, dict) else ""
        if text and text not in reg.conditions:
            reg.conditions.append(text)
    phases: list[str] = []
    for iv in _items(_d(record, "interventions").get("intervention")):
        if not isinstance(iv, dict):
            continue
        phase = clean_text(iv.get("phase"))
        if phase:
            reg.phase_text = reg.phase_text or phase
            phases.extend(phases_from_text(phase))
        kind = clean_text(iv.get("interventionType"))
        drugs = [d.strip() for d in clean_text(iv.get("drugNames")).split(",") if d.strip()]
        description = clean_text(iv.get("description"))
        if drugs:
            reg.interventions.extend(make_intervention(d, kind, description=description)
                                     for d in drugs)
        elif description:
            reg.interventions.append(make_intervention(description[:200], kind,
                                                       description=description))
    reg.phases = sorted(set(phases), key=phases.index)
    if reg.phase_text and not reg.phases:
        reg.warnings.append(f"phase {reg.phase_text!r} not mapped to a v2 phase")
    reg.add_secondary_id(refs.get("clinicalTrialsGovNumber"),
                         "externalRefs.clinicalTrialsGovNumber", registry="CTGOV")
    reg.add_secondary_id(refs.get("eudraCTNumber"), "externalRefs.eudraCTNumber",
                         registry="EUCTR")
    for value in _items(_d(refs, "secondaryNumbers").get("secondaryNumber")):
        if isinstance(value, str) and classify_id(value.strip()):
            reg.add_secondary_id(value, "externalRefs.secondaryNumbers")
    return reg
