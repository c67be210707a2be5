"""Typed accessors for the ClinicalTrials.gov API v2 study fields the classifiers read.

A :class:`Study` wraps one parsed record (``protocolSection``, ``derivedSection`` ...) and
never fails on a missing module: absent text is ``""``, absent lists are empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ici_atlas.errors import SchemaError
from ici_atlas.sources.ctgov_check import ENROLLMENT_PLACEHOLDERS


@dataclass(frozen=True, slots=True)
class Intervention:
    type: str           # DRUG, BIOLOGICAL, RADIATION, PROCEDURE, OTHER ...
    name: str
    other_names: tuple[str, ...]
    arm_labels: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class Arm:
    label: str
    type: str           # EXPERIMENTAL, ACTIVE_COMPARATOR, PLACEBO_COMPARATOR, ...
    description: str
    intervention_names: tuple[str, ...]   # "Drug: Pembrolizumab" as given


def _d(obj, key) -> dict:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _l(obj, key) -> list:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _s(obj, key) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def parse_date(text: str | None) -> date | None:
    """``2020-02-04`` or ``2020-02`` (month precision becomes the 1st) or ``2020``."""
    if not text:
        return None
    parts = text.split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 1
        day = int(parts[2]) if len(parts) > 2 else 1
        return date(year, month, day)
    except (ValueError, IndexError):
        return None


class Study:
    """One v2 study record with the accessors the classifiers need."""

    __slots__ = ("record", "protocol", "derived", "_arms", "_interventions", "_ident",
                 "_status", "_design", "_conditions", "_armsint")

    def __init__(self, record: dict):
        if not isinstance(record, dict) or not isinstance(record.get("protocolSection"), dict):
            raise SchemaError(
                "Study record has no protocolSection object",
                fix="store ClinicalTrials.gov API v2 study JSON (one study object per record)",
            )
        self.record = record
        self.protocol = record["protocolSection"]
        self.derived = _d(record, "derivedSection")
        self._arms: tuple[Arm, ...] | None = None
        self._interventions: tuple[Intervention, ...] | None = None
        protocol = self.protocol
        self._ident = _d(protocol, "identificationModule")
        self._status = _d(protocol, "statusModule")
        self._design = _d(protocol, "designModule")
        self._conditions = _d(protocol, "conditionsModule")
        self._armsint = _d(protocol, "armsInterventionsModule")

    # identification -------------------------------------------------------------------

    @property
    def nct_id(self) -> str:
        nct = _s(self._ident, "nctId")
        if not nct:
            raise SchemaError(
                "Study record lacks protocolSection.identificationModule.nctId",
                fix="store complete API v2 study records",
            )
        return nct

    @property
    def registry(self) -> str:
        """The registry of the record: ``CTGOV`` for ClinicalTrials.gov, else the register a
        converted registration names (:mod:`ici_atlas.sources.registries`)."""
        return _s(self._ident, "registry") or "CTGOV"

    @property
    def brief_title(self) -> str:
        return _s(self._ident, "briefTitle")

    @property
    def official_title(self) -> str:
        return _s(self._ident, "officialTitle")

    @property
    def acronym(self) -> str:
        return _s(self._ident, "acronym")

    # status ------------------------------------------------------------------------------

    @property
    def overall_status(self) -> str:
        return _s(self._status, "overallStatus")

    def _date(self, struct: str) -> date | None:
        return parse_date(_s(_d(self._status, struct), "date"))

    @property
    def start_date(self) -> date | None:
        return self._date("startDateStruct")

    @property
    def first_posted(self) -> date | None:
        return self._date("studyFirstPostDateStruct")

    @property
    def last_update_posted(self) -> date | None:
        return self._date("lastUpdatePostDateStruct")

    # sponsor -----------------------------------------------------------------------------
    @property
    def _lead(self) -> dict:
        return _d(_d(self.protocol, "sponsorCollaboratorsModule"), "leadSponsor")

    @property
    def lead_sponsor(self) -> str:
        return _s(self._lead, "name")

    @property
    def sponsor_class(self) -> str:
        return _s(self._lead, "class")

    # design ------------------------------------------------------------------------------

    @property
    def study_type(self) -> str:
        return _s(self._design, "studyType")

    @property
    def intervention_model(self) -> str:
        """``SINGLE_GROUP``, ``PARALLEL``, ``CROSSOVER`` ... (designInfo.interventionModel)."""
        return _s(_d(self._design, "designInfo"), "interventionModel")

    @property
    def phases(self) -> tuple[str, ...]:
        value = self._design.get("phases")
        if isinstance(value, str):  # one phase given as a string (a warning at load)
            return (value,)
        return tuple(p for p in _l(self._design, "phases") if isinstance(p, str))

    @property
    def enrollment(self) -> int | None:
        count = _d(self._design, "enrollmentInfo").get("count")
        if isinstance(count, bool) or not isinstance(count, int):
            return None
        return None if count < 0 or count in ENROLLMENT_PLACEHOLDERS else count

    @property
    def has_results(self) -> bool:
        flag = self.record.get("hasResults")
        return (flag is True) or "resultsSection" in self.record

    # conditions --------------------------------------------------------------------------
    @property
    def conditions(self) -> tuple[str, ...]:
        return tuple(c for c in _l(self._conditions, "conditions")
                     if isinstance(c, str))

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(k for k in _l(self._conditions, "keywords")
                     if isinstance(k, str))

    @property
    def condition_meshes(self) -> tuple[str, ...]:
        browse = _d(self.derived, "conditionBrowseModule")
        return tuple(_s(m, "term") for m in _l(browse, "meshes") if isinstance(m, dict))

    # arms and interventions ----------------------------------------------------------------
    @property
    def interventions(self) -> tuple[Intervention, ...]:
        if self._interventions is None:
            out = []
            for iv in _l(self._armsint, "interventions"):
                if not isinstance(iv, dict):
                    continue
                out.append(Intervention(
                    type=_s(iv, "type"), name=_s(iv, "name"),
                    other_names=tuple(n for n in _l(iv, "otherNames") if isinstance(n, str)),
                    arm_labels=tuple(a for a in _l(iv, "armGroupLabels") if isinstance(a, str)),
                    description=_s(iv, "description"),
                ))
            self._interventions = tuple(out)
        return self._interventions

    @property
    def arms(self) -> tuple[Arm, ...]:
        if self._arms is None:
            out = []
            for arm in _l(self._armsint, "armGroups"):
                if not isinstance(arm, dict):
                    continue
                out.append(Arm(
                    label=_s(arm, "label"), type=_s(arm, "type"),
                    description=_s(arm, "description"),
                    intervention_names=tuple(n for n in _l(arm, "interventionNames")
                                             if isinstance(n, str)),
                ))
            self._arms = tuple(out)
        return self._arms

    def drug_texts(self) -> tuple[list[str], list[str]]:
        """(intervention names, other names, arm labels and arm intervention names;
        arm descriptions), straight from the record: a cheap look for agent names before
        the arms are worked out."""
        texts: list[str] = []
        for iv in _l(self._armsint, "interventions"):
            if isinstance(iv, dict):
                texts.append(_s(iv, "name"))
                texts.extend(n for n in _l(iv, "otherNames") if isinstance(n, str))
        descriptions: list[str] = []
        for arm in _l(self._armsint, "armGroups"):
            if isinstance(arm, dict):
                texts.append(_s(arm, "label"))
                texts.extend(n for n in _l(arm, "interventionNames") if isinstance(n, str))
                descriptions.append(_s(arm, "description"))
        return texts, descriptions

    # eligibility, locations ------------------------------------------------------------------
    @property
    def eligibility(self) -> str:
        return _s(_d(self.protocol, "eligibilityModule"), "eligibilityCriteria")

    @property
    def countries(self) -> tuple[str, ...]:
        """Distinct location countries, sorted, one spelling per country
        (:func:`ici_atlas.vocab.countries.canonical_country`)."""
        from ..vocab.countries import canonical_country

        locations = _l(_d(self.protocol, "contactsLocationsModule"), "locations")
        return tuple(sorted({canonical_country(c) for loc in locations if isinstance(loc, dict)
                             for c in (_s(loc, "country"),) if c}))
