"""Convert legacy ClinicalTrials.gov records to the API v2 study shape.

Two legacy formats are still found in the wild:

* classic API v1 JSON (``FullStudiesResponse`` → ``FullStudies[].Study`` with
  ``ProtocolSection`` / ``IdentificationModule`` / ``NCTId`` ...);
* the legacy ``<clinical_study>`` XML of the old website and of AACT fixtures.

Only the fields the classifiers read are converted: identification, status and dates,
sponsor and collaborators, conditions and keywords, design (type, phases, allocation,
enrollment), arms and interventions, locations, brief summary, eligibility text, and
``hasResults``. Result tables (outcome measures) are not converted. Enumerations are
mapped to the v2 enum names (``Phase 1/Phase 2`` → ``["PHASE1", "PHASE2"]``,
``Active, not recruiting`` → ``ACTIVE_NOT_RECRUITING``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

_MONTHS = "%B %d, %Y", "%B %Y", "%b %d, %Y", "%b %Y"
_SPECIAL = {
    "UNKNOWN_STATUS": "UNKNOWN",
    "N_A": "NA",
    "NOT_APPLICABLE": "NA",
    "U_S_FED": "FED",
    "OTHER_U_S_FEDERAL_AGENCY": "FED",
    "ANTICIPATED": "ESTIMATED",
    "ESTIMATE": "ESTIMATED",
    "SINGLE_GROUP_ASSIGNMENT": "SINGLE_GROUP",
    "PARALLEL_ASSIGNMENT": "PARALLEL",
    "CROSSOVER_ASSIGNMENT": "CROSSOVER",
    "FACTORIAL_ASSIGNMENT": "FACTORIAL",
    "SEQUENTIAL_ASSIGNMENT": "SEQUENTIAL",
    "NONE_OPEN_LABEL": "NONE",
}


def to_enum(text: str | None) -> str | None:
    """A legacy label as a v2 enum name (``Active, not recruiting`` → ``ACTIVE_NOT_RECRUITING``)."""
    if not text:
        return None
    name = re.sub(r"[^A-Za-z0-9]+", "_", text.strip()).strip("_").upper()
    if name.startswith("OBSERVATIONAL_"):  # "Observational [Patient Registry]"
        name = "OBSERVATIONAL"
    masking = name.split("_", 1)[0]
    if masking in ("SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE") and "ASSIGNMENT" not in name:
        name = masking  # "Double (Participant, Investigator)" -> DOUBLE
    return _SPECIAL.get(name, name)


def to_phases(values: list[str]) -> list[str]:
    """``["Phase 1/Phase 2"]`` or ``["Phase 1", "Phase 2"]`` → ``["PHASE1", "PHASE2"]``."""
    out: list[str] = []
    for value in values:
        parts = ["NA"] if value.strip().upper() in ("N/A", "NA") else value.split("/")
        for part in parts:
            part = part.strip()
            if not part:
                continue
            key = part.upper().replace(" ", "")
            if key in ("N/A", "NA", "NOTAPPLICABLE"):
                phase = "NA"
            elif key.startswith("EARLYPHASE"):
                phase = "EARLY_PHASE1"
            elif key.startswith("PHASE"):
                phase = key
            else:
                phase = to_enum(part) or part
            if phase not in out:
                out.append(phase)
    return out


def to_date(text: str | None) -> str | None:
    """``September 13, 2001`` → ``2001-09-13``; ``July 2001`` → ``2001-07``; ISO kept."""
    if not text:
        return None
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", text):
        return text
    for fmt in _MONTHS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m-%d" if "%d" in fmt else "%Y-%m")
    return None


def _date_struct(date_text: str | None, type_text: str | None = None) -> dict | None:
    date = to_date(date_text)
    if date is None:
        return None
    out: dict[str, Any] = {"date": date}
    if type_text:
        out["type"] = to_enum(type_text)
    return out


def prune_empty(value: Any) -> Any:
    """Drop None, empty strings, empty lists and empty dicts (recursively): a v2-shaped
    record built from another format (legacy ClinicalTrials.gov, other registries) carries
    only the fields it has."""
    if isinstance(value, dict):
        pruned = {k: prune_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in (prune_empty(x) for x in value) if v not in (None, "", [], {})]
    return value


def _int(text: Any) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


# --- classic API v1 JSON ---------------------------------------------------------------


def _v1_list(module: dict, list_key: str, item_key: str) -> list:
    value = (module or {}).get(list_key, {}) or {}
    items = value.get(item_key, []) if isinstance(value, dict) else []
    return items if isinstance(items, list) else [items]


def convert_v1_study(study: dict) -> dict:
    """A classic v1 ``Study`` object as a v2 study (see the module docstring for scope)."""
    ps = study.get("ProtocolSection") or {}
    ident = ps.get("IdentificationModule") or {}
    status = ps.get("StatusModule") or {}
    spons = ps.get("SponsorCollaboratorsModule") or {}
    cond = ps.get("ConditionsModule") or {}
    design = ps.get("DesignModule") or {}
    arms = ps.get("ArmsInterventionsModule") or {}
    desc = ps.get("DescriptionModule") or {}
    elig = ps.get("EligibilityModule") or {}
    locs = ps.get("ContactsLocationsModule") or {}
    info = design.get("DesignInfo") or {}
    enrol = design.get("EnrollmentInfo") or {}

    def struct(name: str) -> dict | None:
        s = status.get(f"{name}Struct") or {}
        return _date_struct(s.get(name), s.get(f"{name}Type"))

    lead = spons.get("LeadSponsor") or {}
    protocol = {
        "identificationModule": {
            "nctId": ident.get("NCTId"),
            "orgStudyIdInfo": {"id": (ident.get("OrgStudyIdInfo") or {}).get("OrgStudyId")},
            "organization": {
                "fullName": (ident.get("Organization") or {}).get("OrgFullName"),
                "class": to_enum((ident.get("Organization") or {}).get("OrgClass")),
            },
            "briefTitle": ident.get("BriefTitle"),
            "officialTitle": ident.get("OfficialTitle"),
            "acronym": ident.get("Acronym"),
        },
        "statusModule": {
            "statusVerifiedDate": to_date(status.get("StatusVerifiedDate")),
            "overallStatus": to_enum(status.get("OverallStatus")),
            "whyStopped": status.get("WhyStopped"),
            "startDateStruct": struct("StartDate"),
            "primaryCompletionDateStruct": struct("PrimaryCompletionDate"),
            "completionDateStruct": struct("CompletionDate"),
            "studyFirstPostDateStruct": struct("StudyFirstPostDate"),
            "resultsFirstPostDateStruct": struct("ResultsFirstPostDate"),
            "lastUpdatePostDateStruct": struct("LastUpdatePostDate"),
        },
        "sponsorCollaboratorsModule": {
            "leadSponsor": {
                "name": lead.get("LeadSponsorName"),
                "class": to_enum(lead.get("LeadSponsorClass")),
            },
            "collaborators": [
                {"name": c.get("CollaboratorName"), "class": to_enum(c.get("CollaboratorClass"))}
                for c in _v1_list(spons, "CollaboratorList", "Collaborator")
            ],
        },
        "descriptionModule": {
            "briefSummary": desc.get("BriefSummary"),
            "detailedDescription": desc.get("DetailedDescription"),
        },
        "conditionsModule": {
            "conditions": _v1_list(cond, "ConditionList", "Condition"),
            "keywords": _v1_list(cond, "KeywordList", "Keyword"),
        },
        "designModule": {
            "studyType": to_enum(design.get("StudyType")),
            "phases": to_phases(_v1_list(design, "PhaseList", "Phase")),
            "designInfo": {
                "allocation": to_enum(info.get("DesignAllocation")),
                "interventionModel": to_enum(info.get("DesignInterventionModel")),
                "primaryPurpose": to_enum(info.get("DesignPrimaryPurpose")),
                "maskingInfo": {
                    "masking": to_enum((info.get("DesignMaskingInfo") or {}).get("DesignMasking"))
                },
            },
            "enrollmentInfo": {
                "count": _int(enrol.get("EnrollmentCount")),
                "type": to_enum(enrol.get("EnrollmentType")),
            },
        },
        "armsInterventionsModule": {
            "armGroups": [
                {
                    "label": a.get("ArmGroupLabel"),
                    "type": to_enum(a.get("ArmGroupType")),
                    "description": a.get("ArmGroupDescription"),
                    "interventionNames": _v1_list(
                        a, "ArmGroupInterventionList", "ArmGroupInterventionName"
                    ),
                }
                for a in _v1_list(arms, "ArmGroupList", "ArmGroup")
            ],
            "interventions": [
                {
                    "type": to_enum(i.get("InterventionType")),
                    "name": i.get("InterventionName"),
                    "description": i.get("InterventionDescription"),
                    "armGroupLabels": _v1_list(
                        i, "InterventionArmGroupLabelList", "InterventionArmGroupLabel"
                    ),
                    "otherNames": _v1_list(
                        i, "InterventionOtherNameList", "InterventionOtherName"
                    ),
                }
                for i in _v1_list(arms, "InterventionList", "Intervention")
            ],
        },
        "eligibilityModule": {
            "eligibilityCriteria": elig.get("EligibilityCriteria"),
            "sex": to_enum(elig.get("Gender")),
            "minimumAge": elig.get("MinimumAge"),
            "maximumAge": elig.get("MaximumAge"),
        },
        "contactsLocationsModule": {
            "locations": [
                {
                    "facility": loc.get("LocationFacility"),
                    "status": to_enum(loc.get("LocationStatus")),
                    "city": loc.get("LocationCity"),
                    "state": loc.get("LocationState"),
                    "zip": loc.get("LocationZip"),
                    "country": loc.get("LocationCountry"),
                }
                for loc in _v1_list(locs, "LocationList", "Location")
            ]
        },
    }
    out = {"protocolSection": prune_empty(protocol), "hasResults": "ResultsSection" in study}
    return out


# --- legacy XML ---------------------------------------------------------------------------


def _text(el: ET.Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path)
    if found is None:
        return None
    text = "".join(found.itertext()).strip()
    return " ".join(text.split()) if "textblock" in path else (text or None)


def _texts(el: ET.Element, path: str) -> list[str]:
    return [("".join(x.itertext())).strip() for x in el.findall(path) if "".join(x.itertext()).strip()]


def _xml_struct(root: ET.Element, tag: str) -> dict | None:
    el = root.find(tag)
    if el is None:
        return None
    return _date_struct("".join(el.itertext()), el.get("type"))


def convert_xml_study(root: ET.Element) -> dict:
    """A legacy ``<clinical_study>`` element as a v2 study (see the module docstring)."""
    interventions = []
    arm_interventions: dict[str, list[str]] = {}
    for iv in root.findall("intervention"):
        kind = _text(iv, "intervention_type")
        name = _text(iv, "intervention_name")
        labels = _texts(iv, "arm_group_label")
        interventions.append(
            {
                "type": to_enum(kind),
                "name": name,
                "description": _text(iv, "description"),
                "armGroupLabels": labels,
                "otherNames": _texts(iv, "other_name"),
            }
        )
        for label in labels:
            arm_interventions.setdefault(label, []).append(f"{kind}: {name}")
    arms = [
        {
            "label": _text(a, "arm_group_label"),
            "type": to_enum(_text(a, "arm_group_type")),
            "description": _text(a, "description"),
            "interventionNames": arm_interventions.get(_text(a, "arm_group_label") or "", []),
        }
        for a in root.findall("arm_group")
    ]
    locations = []
    for loc in root.findall("location"):
        fac = loc.find("facility")
        locations.append(
            {
                "facility": _text(fac, "name"),
                "status": to_enum(_text(loc, "status")),
                "city": _text(fac, "address/city"),
                "state": _text(fac, "address/state"),
                "zip": _text(fac, "address/zip"),
                "country": _text(fac, "address/country"),
            }
        )
    enrol = root.find("enrollment")
    protocol = {
        "identificationModule": {
            "nctId": _text(root, "id_info/nct_id"),
            "orgStudyIdInfo": {"id": _text(root, "id_info/org_study_id")},
            "briefTitle": _text(root, "brief_title"),
            "officialTitle": _text(root, "official_title"),
            "acronym": _text(root, "acronym"),
        },
        "statusModule": {
            "statusVerifiedDate": to_date(_text(root, "verification_date")),
            "overallStatus": to_enum(_text(root, "overall_status")),
            "whyStopped": _text(root, "why_stopped"),
            "startDateStruct": _xml_struct(root, "start_date"),
            "primaryCompletionDateStruct": _xml_struct(root, "primary_completion_date"),
            "completionDateStruct": _xml_struct(root, "completion_date"),
            "studyFirstPostDateStruct": _xml_struct(root, "study_first_posted"),
            "resultsFirstPostDateStruct": _xml_struct(root, "results_first_posted"),
            "lastUpdatePostDateStruct": _xml_struct(root, "last_update_posted"),
        },
        "sponsorCollaboratorsModule": {
            "leadSponsor": {
                "name": _text(root, "sponsors/lead_sponsor/agency"),
                "class": to_enum(_text(root, "sponsors/lead_sponsor/agency_class")),
            },
            "collaborators": [
                {"name": _text(c, "agency"), "class": to_enum(_text(c, "agency_class"))}
                for c in root.findall("sponsors/collaborator")
            ],
        },
        "descriptionModule": {
            "briefSummary": _text(root, "brief_summary/textblock"),
            "detailedDescription": _text(root, "detailed_description/textblock"),
        },
        "conditionsModule": {
            "conditions": _texts(root, "condition"),
            "keywords": _texts(root, "keyword"),
        },
        "designModule": {
            "studyType": to_enum(_text(root, "study_type")),
            "phases": to_phases(_texts(root, "phase")),
            "designInfo": {
                "allocation": to_enum(_text(root, "study_design_info/allocation")),
                "interventionModel": to_enum(_text(root, "study_design_info/intervention_model")),
                "primaryPurpose": to_enum(_text(root, "study_design_info/primary_purpose")),
                "maskingInfo": {"masking": to_enum(_text(root, "study_design_info/masking"))},
            },
            "enrollmentInfo": {
                "count": _int(enrol.text) if enrol is not None else None,
                "type": to_enum(enrol.get("type")) if enrol is not None else None,
            },
        },
        "armsInterventionsModule": {"armGroups": arms, "interventions": interventions},
        "eligibilityModule": {
            "eligibilityCriteria": _text(root, "eligibility/criteria/textblock"),
            "sex": to_enum(_text(root, "eligibility/gender")),
            "minimumAge": _text(root, "eligibility/minimum_age"),
            "maximumAge": _text(root, "eligibility/maximum_age"),
        },
        "contactsLocationsModule": {"locations": locations},
    }
    return {
        "protocolSection": prune_empty(protocol),
        "hasResults": root.find("clinical_results") is not None,
    }
