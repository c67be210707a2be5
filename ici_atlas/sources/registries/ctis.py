"""EU Clinical Trials Information System (CTIS) records, as the CTIS API gives them.

Two API shapes are in use (ctrdata stores either, close to the API's JSON):

* **old** (until June 2024): top-level ``ctStatus`` text ("Ongoing, recruiting"), ``title``,
  ``authorizedPartI``, ``authorizedPartsII``, ``primarySponsor``, ``memberStatesConcerned``,
  ``applications[]`` (with ``submissionDate``), ``eudraCtInfo`` for trials transitioned
  from EudraCT;
* **new**: ``authorizedApplication.authorizedPartI`` / ``.authorizedPartsII`` /
  ``.eudraCt {eudraCtCode, isTransitioned}`` / ``.applicationInfo[]``, ``ctStatus`` and
  ``ctPublicStatusCode`` as codes (labels from ctrdata's ``f.statusRecruitment``),
  ``startDateEU`` as ``DD/MM/YYYY``, ``events.trialEvents``.

Read in both: the EU CT number (``ctNumber``), titles (``clinicalTrialIdentifiers``
fullTitle / publicTitle / shortTitle), ``trialPhase`` wording, status, start date
(``startDateEU``, else the first START_OF_TRIAL event), registration date (submission of
the initial application), primary sponsor, member states, planned enrolment
(``totalNumberEnrolled``), medical conditions, products with their role (test,
comparator, placebo, auxiliary) and the structured links: the EudraCT number of a
transitioned trial (``eudraCtInfo.eudraCtCode`` / ``eudraCt.eudraCtCode``) and
``secondaryIdentifyingNumbers`` (``nctNumber``, ``isrctnNumber``, ``additionalRegistries``
— registry IDs only). Numbers mentioned in free text (RFI considerations, sponsor
responses, protocol summaries) are never read as links.
"""

from __future__ import annotations

from .model import (BadRecord, Registration, classify_id, clean_text, country_name,
                    make_intervention, to_int, to_iso_date)
from .phases import CTIS_STATUS_CODES, phases_from_text, status_from_text

_RAW_LIMIT = 2_000_000


def _d(obj, *keys) -> dict:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if isinstance(obj, dict) else {}


def _l(obj, key) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def is_ctis_record(record: object) -> bool:
    return isinstance(record, dict) and isinstance(record.get("ctNumber"), str) and (
        "authorizedApplication" in record or "authorizedPartI" in record
        or "ctStatus" in record)


def _status(record: dict) -> tuple[str | None, str]:
    code = to_int(record.get("ctPublicStatusCode"))
    text = clean_text(record.get("ctStatus"))
    if code is None and text.isdigit():
        code = int(text)
    label = CTIS_STATUS_CODES.get(code, "") if code is not None else text
    if not label:
        return None, text
    if label == "Ended":
        events = [e.get("notificationType") for t in _l(_d(record, "events"), "trialEvents")
                  for e in _l(t, "events") if isinstance(e, dict)]
        events += [n.get("notificationType") for m in _l(record, "mscTrialNotificationsInfoList")
                   for n in _l(m, "mscNotificationsListInfo") if isinstance(n, dict)]
        early = any("early" in str(e).lower() and "termination" in str(e).lower() for e in events)
        if early:
            return "TERMINATED", label + " (early termination)"
        return "COMPLETED", label
    return status_from_text(label), label


def _start(record: dict) -> str | None:
    for key in ("startDateEU", "trialStartDate", "eeaStartDate"):
        found = to_iso_date(clean_text(record.get(key)))
        if found:
            return found
    dates = [to_iso_date(e.get("date")) for t in _l(_d(record, "events"), "trialEvents")
             for e in _l(t, "events")
             if isinstance(e, dict) and e.get("notificationType") == "START_OF_TRIAL"]
    dates = [d for d in dates if d]
    return min(dates) if dates else None


def _registered(record: dict, application: dict) -> str | None:
    apps = _l(application, "applicationInfo") or _l(record, "applications")
    initial = [a for a in apps if isinstance(a, dict) and a.get("type") == "INITIAL"]
    for a in initial:
        found = to_iso_date(a.get("submissionDate"))
        if found:
            return found
    return to_iso_date(clean_text(record.get("submissionDate")))


def _interventions(part1: dict) -> list[dict]:
    out: list[dict] = []
    groups = [g for g in _l(part1, "productRoleGroupInfos") if isinstance(g, dict)]
    pairs = [(clean_text(g.get("productRoleName")), p) for g in groups
             for p in _l(g, "products") if isinstance(p, dict)]
    if not pairs:
        pairs = [("", p) for p in _l(part1, "products") if isinstance(p, dict)]
    for role, product in pairs:
        info = _d(product, "productDictionaryInfo")
        substance = clean_text(info.get("activeSubstanceName"))
        names = [substance if substance.upper() not in ("N/A", "NA") else "",
                 clean_text(product.get("productName")), clean_text(info.get("prodName")),
                 clean_text(product.get("jsonActiveSubstanceNames"))]
        names = [n for n in names if n]
        if not names:
            continue
        origins = {str(s.get("substanceOrigin", "")).lower()
                   for s in _l(info, "productSubstances") if isinstance(s, dict)}
        biological = origins & {"biological", "biotechnology", "biotechnological"}
        kind = "Biological" if biological else "Drug"
        if role.lower() == "placebo" and "placebo" not in names[0].lower():
            names.insert(0, "Placebo")
        iv = make_intervention(names[0], kind, names[1:],
                               description=f"role: {role}" if role else "")
        if all(iv["name"].lower() != x["name"].lower() for x in out):
            out.append(iv)
    return out


def registration_from_ctis(record: dict, ref: str, raw: str = "") -> Registration | BadRecord:
    """One CTIS record (old or new API shape) as a Registration."""
    found = classify_id(record.get("ctNumber") if isinstance(record, dict) else None)
    if found is None or found[0] != "CTIS":
        number = record.get("ctNumber") if isinstance(record, dict) else None
        return BadRecord(ref, "ctNumber", f"not an EU CT number: {str(number)[:40]!r}",
                         raw[:_RAW_LIMIT])
    application = _d(record, "authorizedApplication")
    part1 = _d(application, "authorizedPartI") or _d(record, "authorizedPartI")
    details = _d(part1, "trialDetails")
    idents = _d(details, "clinicalTrialIdentifiers")
    info = _d(details, "trialInformation")
    reg = Registration(registry="CTIS", trial_id=found[1], ref=ref, source_format="ctis-json",
                       raw=raw[:_RAW_LIMIT], study_type="INTERVENTIONAL",
                       study_type_text="Clinical trial of a medicinal product (CTIS)")
    reg.official_title = clean_text(idents.get("fullTitle")) or clean_text(record.get("title"))
    reg.title = clean_text(idents.get("publicTitle")) or reg.official_title
    reg.acronym = clean_text(idents.get("shortTitle")) or clean_text(record.get("shortTitle"))
    reg.phase_text = clean_text(record.get("trialPhase"))
    reg.phases = phases_from_text(reg.phase_text)
    if reg.phase_text and not reg.phases:
        reg.warnings.append(f"trialPhase {reg.phase_text!r} not mapped to a v2 phase")
    reg.status, reg.status_text = _status(record)
    reg.start_date = _start(record)
    reg.registration_date = _registered(record, application)
    sponsors = [s for s in _l(part1, "sponsors") if isinstance(s, dict)]
    primary = next((s for s in sponsors if s.get("primary")), sponsors[0] if sponsors else {})
    reg.sponsor = (clean_text(_d(primary, "organisation").get("name"))
                   or clean_text(_d(record, "primarySponsor", "organisation").get("name")))
    reg.enrollment = to_int(record.get("totalNumberEnrolled"))
    listed = (_l(_d(info, "medicalCondition"), "partIMedicalConditions")
              + _l(part1, "medicalConditions"))
    conditions = [c.get("medicalCondition") for c in listed if isinstance(c, dict)]
    for c in conditions:
        c = clean_text(c)
        if c and c not in reg.conditions:
            reg.conditions.append(c)
    reg.brief_summary = clean_text(_d(info, "trialObjective").get("mainObjective"))
    states = [_d(p, "mscInfo").get("countryName") for p in
              _l(application, "authorizedPartsII") or _l(record, "authorizedPartsII")]
    states += [m.get("countryName") for m in _l(record, "memberStatesConcerned")
               if isinstance(m, dict)]
    for name in states:
        country = country_name(name) if isinstance(name, str) else None
        if country and country not in reg.countries:
            reg.countries.append(country)
    reg.member_states = list(reg.countries)
    reg.interventions = _interventions(part1)
    # structured links: the EudraCT number of a transitioned trial, then secondary numbers
    eudract = [_d(record, "eudraCtInfo"), _d(application, "eudraCt")]
    eudract += [_d(a, "eudraCtInfo") for a in _l(record, "applications")]
    for block, fld in zip(eudract, ["eudraCtInfo.eudraCtCode", "authorizedApplication.eudraCt."
                                    "eudraCtCode"] + ["applications.eudraCtInfo.eudraCtCode"] * 99):
        code = block.get("eudraCtCode")
        if code:
            reg.add_secondary_id(code, fld, registry="EUCTR")
    numbers = _d(idents, "secondaryIdentifyingNumbers")
    base = "clinicalTrialIdentifiers.secondaryIdentifyingNumbers"
    for key, value in numbers.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            number = item.get("number") if isinstance(item, dict) else None
            if isinstance(number, str) and number.strip():
                want = {"nctNumber": "CTGOV", "isrctnNumber": "ISRCTN"}.get(key)
                reg.add_secondary_id(number, f"{base}.{key}", registry=want)
    return reg
