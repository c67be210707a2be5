"""EU Clinical Trials Register (EUCTR): the full-text download and ctrdata's JSON.

EUCTR publishes one record per trial *and member state* (``2012-003632-23/GB``,
``.../IT`` ..., and ``3RD`` for sites outside the EEA). Both formats read here give one row
per member state; :func:`merge_member_states` turns the rows of one EudraCT number into one
:class:`~.model.Registration` with ``member_states`` listing them.

* **Text download** ("This file contains full details on each clinical trial ..."): blocks
  starting with ``Summary``, then ``CODE Label: value`` lines (``A.2 EudraCT number: ...``);
  values run on over the following lines; translations (labels ending ``(es)``) are skipped.
* **ctrdata JSON**: the same fields under keys such as ``a2_eudract_number``,
  ``e72_therapeutic_exploratory_phase_ii``, ``dimp`` (one entry per IMP), plus, for trials
  with results, ``trialInformation`` (global end of trial, recruitment start, and the
  structured ``usctnIdentifier`` / ``isrctnIdentifier`` of the results record).

Read: EudraCT number (A.2), member state (A.1 / the Link), titles (A.3, A.3.1, A.3.2),
structured IDs A.5.1 ISRCTN, A.5.2 NCT, A.5.3 WHO UTN, A.5.4 other identifiers (whole-value
registry IDs only; placeholders such as ``NCT00000000`` are dropped with a warning), sponsor
(B.1.1), condition (E.1.1), main objective (E.2.1), phase flags (E.7.1-E.7.4), planned
enrolment (F.4.2.2 whole trial, else F.4.2.1 EEA, else F.4.1 member state), sites outside
the EEA (E.8.6.3), status and first-entered date (Summary), IMPs (INN, product name and
code, trade name) and E.8.2.2 placebo.

A row is a :class:`~.model.BadRecord` when a field with a fixed form breaks it (the shared
error file injects ``JSON_ERROR_HERE`` into A.7 and A.8): the EudraCT number, A.7 and the
E.7 flags must be Yes/No, A.8 an EMA decision number (``P/235/2013``), F.4 counts numbers.
A section heading swallowed into A.8 by ctrdata's conversion ("B. Sponsor Information") is
read as empty, with a warning.
"""

from __future__ import annotations

import collections
import re
from typing import Iterator

from .model import (BadRecord, Registration, clean_text, classify_id, country_name,
                    make_intervention, to_int, to_iso_date)
from .phases import phases_from_eu_flags, sort_phases, status_from_text

TEXT_MARK = "This file contains full details on each clinical trial"
_RAW_LIMIT = 200_000

#: EUCTR member-state codes (the Link / record suffix) -> country.
MEMBER_STATES = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "HR": "Croatia", "CY": "Cyprus",
    "CZ": "Czechia", "DK": "Denmark", "EE": "Estonia", "FI": "Finland", "FR": "France",
    "DE": "Germany", "GR": "Greece", "EL": "Greece", "HU": "Hungary", "IS": "Iceland",
    "IE": "Ireland", "IT": "Italy", "LV": "Latvia", "LI": "Liechtenstein", "LT": "Lithuania",
    "LU": "Luxembourg", "MT": "Malta", "NL": "Netherlands", "NO": "Norway", "PL": "Poland",
    "PT": "Portugal", "RO": "Romania", "SK": "Slovakia", "SI": "Slovenia", "ES": "Spain",
    "SE": "Sweden", "GB": "United Kingdom", "XI": "United Kingdom",
}

# semantic field -> (text-download code, ctrdata key)
_FIELDS = {
    "member_state": ("A.1", "a1_member_state_concerned"),
    "eudract": ("A.2", "a2_eudract_number"),
    "title_full": ("A.3", "a3_full_title_of_the_trial"),
    "title_lay": ("A.3.1", "a31_title_of_the_trial_for_lay_people_in_easily_understood_ie_"
                           "nontechnical_language"),
    "title_abbrev": ("A.3.2", "a32_name_or_abbreviated_title_of_the_trial_where_available"),
    "isrctn": ("A.5.1", "a51_isrctn_international_standard_randomised_controlled_trial_number"),
    "nct": ("A.5.2", "a52_us_nct_clinicaltrialsgov_registry_number"),
    "utn": ("A.5.3", "a53_who_universal_trial_reference_number_utrn"),
    "other_ids": ("A.5.4", "a54_other_identifiers"),
    "pip": ("A.7", "a7_trial_is_part_of_a_paediatric_investigation_plan"),
    "pip_decision": ("A.8", "a8_ema_decision_number_of_paediatric_investigation_plan"),
    "condition": ("E.1.1", "e11_medical_conditions_being_investigated"),
    "objective": ("E.2.1", "e21_main_objective_of_the_trial"),
    "phase1": ("E.7.1", "e71_human_pharmacology_phase_i"),
    "phase2": ("E.7.2", "e72_therapeutic_exploratory_phase_ii"),
    "phase3": ("E.7.3", "e73_therapeutic_confirmatory_phase_iii"),
    "phase4": ("E.7.4", "e74_therapeutic_use_phase_iv"),
    "placebo": ("E.8.2.2", "e822_placebo"),
    "sites_outside": ("E.8.6.3", "e863_trial_sites_planned_in"),
    "enrol_ms": ("F.4.1", "f41_in_the_member_state"),
    "enrol_eea": ("F.4.2.1", "f421_in_the_eea"),
    "enrol_whole": ("F.4.2.2", "f422_in_the_whole_clinical_trial"),
    "status": ("Trial Status", "x5_trial_status"),
    "first_entered": ("Date on which this record was first entered in the EudraCT database",
                      "x6_date_on_which_this_record_was_first_entered_in_the_eudract_database"),
    "end_status": ("P", "p_end_of_trial_status"),
}
_LABELS = {"A.7": "A.7 Trial is part of a Paediatric Investigation Plan",
           "A.8": "A.8 EMA Decision number of Paediatric Investigation Plan",
           "E.7.1": "E.7.1 Human pharmacology (Phase I)",
           "E.7.2": "E.7.2 Therapeutic exploratory (Phase II)",
           "E.7.3": "E.7.3 Therapeutic confirmatory (Phase III)",
           "E.7.4": "E.7.4 Therapeutic use (Phase IV)",
           "F.4.1": "F.4.1 In the member state", "F.4.2.1": "F.4.2.1 In the EEA",
           "F.4.2.2": "F.4.2.2 In the whole clinical trial", "A.2": "A.2 EudraCT number"}
_E863_KEYS = ("e863_trial_sites_planned_in",
              "e863_if_e861_or_e862_are_yes_specify_the_regions_in_which_trial_sites_are_planned",
              "e863_specify_the_countries_outside_of_the_eea_in_which_trial_sites_are_planned")
_YES_NO = {"", "yes", "no", "information not present in eudract"}
_DECISION = re.compile(r"(?:P/\d{1,4}/\d{4}|EMEA-\d{6}-PIP\d{2}-\d{2}(?:-M\d{2})?)")
_HEADING = re.compile(r"\s*\b[A-Z]\. [A-Z][A-Za-z ]+$")


# --- checking the fields with a fixed form ----------------------------------------------------

def _check(fields: dict[str, str]) -> tuple[str, str, list[str]]:
    """``(field, reason, warnings)``; field is "" when the row is sound."""
    warnings: list[str] = []
    eudract = fields.get("eudract", "")
    found = classify_id(eudract)
    if not found or found[0] != "EUCTR":
        return _LABELS["A.2"], f"not a EudraCT number: {eudract[:60]!r}", warnings
    for key in ("pip", "phase1", "phase2", "phase3", "phase4"):
        value = fields.get(key, "")
        if value.strip().lower() not in _YES_NO:
            code = _FIELDS[key][0]
            return _LABELS[code], f"expected Yes or No, found {value[:60]!r}", warnings
    decision = fields.get("pip_decision", "").strip()
    heading = _HEADING.search(decision)
    rest = decision[:heading.start()] if heading else decision
    if rest.strip() and not all(_DECISION.fullmatch(t) for t in re.split(r"[\s,;]+", rest.strip())):
        return _LABELS["A.8"], f"not an EMA decision number: {decision[:60]!r}", warnings
    if heading:
        warnings.append(f"A.8: {decision!r} holds a section heading (a conversion artefact); "
                        "read as empty")
    for key in ("enrol_ms", "enrol_eea", "enrol_whole"):
        value = fields.get(key, "").strip()
        if value and to_int(value) is None:
            code = _FIELDS[key][0]
            return _LABELS[code], f"expected a number, found {value[:60]!r}", warnings
    return "", "", warnings


# --- one member-state row -------------------------------------------------------------------

def _split_joined_countries(text: str) -> tuple[list[str], list[str]]:
    """Country names from one line each, or from names joined by spaces (ctrdata writes
    "Austria Czech Republic Korea, Republic of United States")."""
    out: list[str] = []
    rejected: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        name = country_name(line)
        if name:
            out.append(name)
            continue
        words = line.split()
        i = 0
        while i < len(words):
            for j in range(min(len(words), i + 6), i, -1):
                name = country_name(" ".join(words[i:j]))
                if name:
                    out.append(name)
                    i = j
                    break
            else:
                rejected.append(words[i])
                i += 1
    return list(dict.fromkeys(out)), rejected


def _member_state(code: str, a1: str) -> tuple[str, str | None]:
    """(code, country) from the record suffix / Link and A.1 ("UK - MHRA")."""
    code = (code or "").upper()
    name = country_name(a1.split(" - ")[0]) if a1 else None
    if not name:
        name = MEMBER_STATES.get(code)
    return code, name


def _row(fields: dict[str, str], imps: list[dict], ms_code: str, ref: str, source_format: str,
         raw: str, results: dict | None = None) -> Registration | BadRecord:
    problem, reason, warnings = _check(fields)
    if problem:
        return BadRecord(ref, problem, reason, raw[:_RAW_LIMIT])
    _, trial_id = classify_id(fields["eudract"])
    reg = Registration(registry="EUCTR", trial_id=trial_id, ref=ref, source_format=source_format,
                       raw=raw[:_RAW_LIMIT], warnings=warnings, study_type="INTERVENTIONAL",
                       study_type_text="Clinical trial of a medicinal product (EUCTR)")
    code, country = _member_state(ms_code, fields.get("member_state", ""))
    if code:
        reg.member_states.append(code)
    if country:
        reg.countries.append(country)
    reg.official_title = clean_text(fields.get("title_full"))
    reg.title = clean_text(fields.get("title_lay")) or reg.official_title
    reg.acronym = clean_text(fields.get("title_abbrev"))
    reg.sponsor = clean_text(fields.get("sponsor"))
    cond = clean_text(fields.get("condition"))
    if cond:
        reg.conditions.append(cond)
    reg.brief_summary = clean_text(fields.get("objective"))
    flags = [fields.get(f"phase{i}") for i in range(1, 5)]
    reg.phases = phases_from_eu_flags(flags)
    reg.phase_text = "; ".join(f"{_LABELS[_FIELDS[f'phase{i}'][0]]}: {flags[i - 1] or ''}"
                               for i in range(1, 5))
    reg.status_text = clean_text(fields.get("status")) or clean_text(fields.get("end_status"))
    reg.status = status_from_text(reg.status_text)
    if results:
        reached = str(results.get("isGlobalEndOfTrialReached", "")).lower() == "true"
        premature = str(results.get("globalEndOfTrialPremature", "")).lower() == "true"
        if reached:
            reg.status = "TERMINATED" if premature else "COMPLETED"
            reg.status_text = ("global end of trial reached" + (" prematurely" if premature else "")
                               + " (results)")
        reg.start_date = to_iso_date(results.get("recruitmentStartDate"))
    reg.registration_date = to_iso_date(fields.get("first_entered"))
    reg.enrollment = next((to_int(fields.get(k)) for k in ("enrol_whole", "enrol_eea", "enrol_ms")
                           if to_int(fields.get(k)) is not None), None)
    outside, rejected = _split_joined_countries(fields.get("sites_outside", ""))
    reg.countries.extend(c for c in outside if c not in reg.countries)
    if rejected:
        reg.warnings.append(f"E.8.6.3: not country names: {rejected[:5]}")
    reg.add_secondary_id(fields.get("isrctn"), "A.5.1 ISRCTN", registry="ISRCTN")
    reg.add_secondary_id(fields.get("nct"), "A.5.2 US NCT number", registry="CTGOV")
    reg.add_secondary_id(fields.get("utn"), "A.5.3 WHO UTN", registry="UTN")
    for part in re.split(r"[;,\n]", fields.get("other_ids") or ""):
        if classify_id(part.strip()):
            reg.add_secondary_id(part, "A.5.4 Other identifiers")
    for imp in imps:
        names = [clean_text(imp.get(k)) for k in ("inn", "product_name", "trade_name",
                                                  "product_code", "sponsor_code", "other_name")]
        names = [n for n in names if n and n.upper() not in ("N/A", "NA", "NOT AVAILABLE")]
        if not names:
            continue
        kind = "Biological" if (imp.get("biological") or "").lower() == "yes" else "Drug"
        role = clean_text(imp.get("role"))
        iv = make_intervention(names[0], kind, names[1:],
                               description=f"IMP role: {role}" if role else "")
        if all(iv["name"].lower() != x["name"].lower() for x in reg.interventions):
            reg.interventions.append(iv)
    if (fields.get("placebo") or "").strip().lower() == "yes":
        reg.interventions.append(make_intervention("Placebo", "Drug",
                                                   description="E.8.2.2 placebo comparator"))
    return reg


# --- the text download ---------------------------------------------------------------------

_LINE = re.compile(r"^([A-Z](?:\.(?:\d+|IMP))*)\.?(?:[ \t]+|(?=:))(.*)$")
_SECTIONS = "ABCDEFGHNP"
_IMP_CODES = {"D.3.1": "product_name", "D.3.2": "product_code", "D.2.1.1.1": "trade_name",
              "D.3.8": "inn", "D.3.9.2": "sponsor_code", "D.3.9.3": "other_name",
              "D.3.11.2": "biological", "D.1.2 and D.1.3": "role"}


def _parse_text_row(block: str) -> tuple[dict[str, str], list[dict], str]:
    """(fields by semantic name, IMPs, member-state code) of one ``Summary`` block."""
    by_code: dict[str, str] = {}
    summary: dict[str, str] = {}
    imps: list[dict] = []
    sponsor = ""
    last: tuple[dict, str] | None = None
    section = ""
    for line in block.splitlines():
        stripped = line.strip()
        m = _LINE.match(stripped)
        if m and (not section or _SECTIONS.find(m.group(1)[0]) >= _SECTIONS.find(section)):
            code, rest = m.group(1), m.group(2)
            section = code[0]
            label, sep, value = rest.partition(":")
            if re.search(r"\([a-z]{2}\)\s*$", label):  # a translation
                last = None
                continue
            if code == "D.IMP":
                imps.append({})
                last = None
                continue
            if code == "D.1.2" and label.startswith("and D.1.3"):
                code = "D.1.2 and D.1.3"
            value = value.strip() if sep else ""
            if code in _IMP_CODES and imps:
                imps[-1].setdefault(_IMP_CODES[code], value)
                last = (imps[-1], _IMP_CODES[code])
                continue
            if code == "B.1.1" and not sponsor:
                sponsor = value
            if code not in by_code:
                by_code[code] = value
                last = (by_code, code)
            else:
                last = None
            continue
        if not section:  # the Summary block: "Label: value"
            label, sep, value = stripped.partition(":")
            if sep and label:
                summary.setdefault(label.strip(), value.strip())
            continue
        if stripped and last is not None:  # a value running on
            target, key = last
            target[key] = (target[key] + "\n" + stripped).strip()
    fields: dict[str, str] = {}
    for name, (code, _) in _FIELDS.items():
        if code in by_code:
            fields[name] = by_code[code]
        elif code in summary:
            fields[name] = summary[code]
    if "status" not in fields and "Trial Status" in summary:
        fields["status"] = summary["Trial Status"]
    if "P" in by_code and by_code["P"].startswith("End of Trial Status"):
        fields["end_status"] = by_code["P"].split(":", 1)[-1].strip()
    fields["sponsor"] = sponsor
    link = summary.get("Link", "")
    m = re.search(r"/trial/\d{4}-\d{6}-\d{2}/([A-Z]{2}|3RD)", link)
    if "eudract" not in fields and "EudraCT Number" in summary:
        fields["eudract"] = summary["EudraCT Number"]
    return fields, imps, (m.group(1) if m else "")


def read_euctr_text_rows(ref: str, data: bytes) -> Iterator[Registration | BadRecord]:
    """The member-state rows of an EUCTR full-text download, one item per ``Summary``
    block (``ref#<block index>``), not merged."""
    text = data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    blocks = re.split(r"(?m)^Summary[ \t]*$", text)
    for i, block in enumerate(blocks[1:]):
        fields, imps, ms = _parse_text_row(block)
        yield _row(fields, imps, ms, f"{ref}#{i}", "euctr-text", "Summary" + block)


def read_euctr_text(ref: str, data: bytes) -> Iterator[Registration | BadRecord]:
    """The EUCTR full-text download: one registration per EudraCT number (member-state
    rows merged); a row with a broken field is a BadRecord naming it."""
    rows: list[Registration] = []
    for item in read_euctr_text_rows(ref, data):
        if isinstance(item, BadRecord):
            yield item
        else:
            rows.append(item)
    yield from merge_member_states(rows)


def collapse_member_states(items: list) -> Iterator:
    """``items`` in order, with the EUCTR rows of one trial merged
    (:func:`merge_member_states`) into the place of its first row."""
    rows: dict[str, list[Registration]] = {}
    for item in items:
        if isinstance(item, Registration) and item.registry == "EUCTR":
            rows.setdefault(item.trial_id, []).append(item)
    done: set[str] = set()
    for item in items:
        if isinstance(item, Registration) and item.registry == "EUCTR":
            if item.trial_id not in done:
                done.add(item.trial_id)
                yield from merge_member_states(rows[item.trial_id])
        else:
            yield item


# --- ctrdata JSON ----------------------------------------------------------------------------

def _ctrdata_imps(record: dict) -> list[dict]:
    out = []
    for imp in record.get("dimp") or []:
        if not isinstance(imp, dict):
            continue
        details = imp.get("d38_imp_identification_details") or []
        details = details if isinstance(details, list) else [details]
        first = lambda key: next((d.get(key) for d in details  # noqa: E731
                                  if isinstance(d, dict) and clean_text(d.get(key))), "")
        out.append({
            "inn": first("d38_inn__proposed_inn"), "product_name": imp.get("d31_product_name"),
            "trade_name": imp.get("d2111_trade_name"), "product_code": imp.get("d32_product_code"),
            "sponsor_code": first("d392_current_sponsor_code"),
            "other_name": first("d393_other_descriptive_name"),
            "biological": imp.get("d3112_active_substance_of_biological_biotechnological_origin_"
                                  "other_than_advanced_therapy_imp_atimp"),
            "role": imp.get("d12_and_d13_imp_role"),
        })
    return out


def euctr_row_from_ctrdata(record_id: str, record: dict, ref: str,
                           raw: str = "") -> Registration | BadRecord:
    """One ctrdata EUCTR record (``<EudraCT>-<member state>``) as a row registration."""
    fields = {}
    for name, (_, key) in _FIELDS.items():
        value = record.get(key)
        fields[name] = value if isinstance(value, str) else ""
    if not fields["sites_outside"]:
        fields["sites_outside"] = next((record[k] for k in _E863_KEYS
                                        if isinstance(record.get(k), str)), "")
    sponsors = record.get("b1_sponsor") or []
    if isinstance(sponsors, list) and sponsors and isinstance(sponsors[0], dict):
        fields["sponsor"] = sponsors[0].get("b11_name_of_sponsor") or ""
    m = re.search(r"\d{4}-\d{6}-\d{2}-([A-Z]{2}|3RD)$", record_id or "")
    results = record.get("trialInformation")
    results = results if isinstance(results, dict) else None
    reg = _row(fields, _ctrdata_imps(record), m.group(1) if m else "", ref, "ctrdata-euctr",
               raw, results)
    if isinstance(reg, Registration) and results:  # the results' trial identification
        reg.add_secondary_id(results.get("usctnIdentifier"),
                             "results trialInformation.usctnIdentifier", registry="CTGOV")
        reg.add_secondary_id(results.get("isrctnIdentifier"),
                             "results trialInformation.isrctnIdentifier", registry="ISRCTN")
    return reg


# --- merging the member-state rows -----------------------------------------------------------

def merge_member_states(rows: list[Registration]) -> list[Registration]:
    """One registration per EudraCT number, in order of first appearance.

    Merged: member states, countries, conditions, interventions and structured IDs (union);
    titles and sponsor from the first row that gives them; phases: the set most rows give
    (tied sets united; a warning when rows disagree, as member-state records sometimes do);
    registration
    date = the earliest first-entered date; enrolment = the largest count given (the
    whole-trial count when any row has it); status = the global end of trial when a row's
    results give it, else the status all rows agree on, else None (``status_text`` lists
    each member state's).
    """
    groups: dict[str, list[Registration]] = {}
    for row in rows:
        groups.setdefault(row.trial_id, []).append(row)
    out = []
    for trial_id, members in groups.items():
        if len(members) == 1:
            out.append(members[0])
            continue
        first = members[0]
        merged = Registration(registry=first.registry, trial_id=trial_id, ref=first.ref,
                              source_format=first.source_format,
                              study_type=first.study_type, study_type_text=first.study_type_text)
        merged.raw = "\n\n".join(m.raw for m in members)[:5 * _RAW_LIMIT]
        for attr in ("title", "official_title", "acronym", "sponsor", "brief_summary",
                     "phase_text"):
            setattr(merged, attr, next((getattr(m, attr) for m in members if getattr(m, attr)), ""))
        for m in members:
            for attr in ("member_states", "countries", "conditions"):
                target = getattr(merged, attr)
                target.extend(x for x in getattr(m, attr) if x not in target)
            for iv in m.interventions:
                if all(iv["name"].lower() != x["name"].lower() for x in merged.interventions):
                    merged.interventions.append(iv)
            for sid in m.secondary_ids:
                if sid not in merged.secondary_ids:
                    merged.secondary_ids.append(sid)
                    merged.secondary_id_fields[sid] = m.secondary_id_fields.get(sid, "")
            tag = "/".join(m.member_states) or m.ref
            merged.warnings.extend(f"{tag}: {w}" for w in m.warnings)
        votes = collections.Counter(tuple(m.phases) for m in members if m.phases)
        if votes:
            top = votes.most_common()
            tied = [v for v, n in top if n == top[0][1]]
            merged.phases = sort_phases(p for v in tied for p in v)
            if len(votes) > 1:
                merged.warnings.append("member states disagree on the phase (" + "; ".join(
                    f"{'/'.join(x for m in members if tuple(m.phases) == v for x in m.member_states)}"
                    f": {'+'.join(v)}" for v, _ in top) + "): the most frequent is used")
        dates = [m.registration_date for m in members if m.registration_date]
        merged.registration_date = min(dates) if dates else None
        starts = [m.start_date for m in members if m.start_date]
        merged.start_date = min(starts) if starts else None
        counts = [m.enrollment for m in members if m.enrollment is not None]
        merged.enrollment = max(counts) if counts else None
        global_end = [m for m in members if m.status_text.startswith("global end")]
        if global_end:
            merged.status, merged.status_text = global_end[0].status, global_end[0].status_text
        else:
            statuses = {m.status for m in members}
            merged.status = statuses.pop() if len(statuses) == 1 else None
            merged.status_text = "; ".join(dict.fromkeys(
                f"{'/'.join(m.member_states) or '?'}: {m.status_text or 'not given'}"
                for m in members))
        out.append(merged)
    return out
