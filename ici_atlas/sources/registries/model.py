"""One model for a trial registration in any registry, and its API v2 study shape.

:class:`Registration` is what every registry parser of this package yields: the
register's own trial ID (normalised: EudraCT without the member-state suffix,
``ISRCTN12949496``, ``ChiCTR2000029806`` ...), titles, conditions, interventions, v2
phases and status (the registry's wording kept beside them), dates as precise as given,
sponsor, countries, enrolment and the *structured* cross-registry IDs (never IDs seen in
free text). :meth:`Registration.to_v2` gives the ClinicalTrials.gov API v2 study shape the
classifiers read (:mod:`ici_atlas.concepts.study`); :func:`registration_from_v2` goes the
other way for ClinicalTrials.gov records, so both sides can be de-duplicated
(:mod:`ici_atlas.concepts.registrations`).

Also here, because every parser needs them: recognising registry IDs
(:func:`classify_id`), placeholder IDs, dates and country names.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from ...errors import SchemaError
from ...vocab.countries import canonical_country
from ..ctgov_legacy import prune_empty
from .phases import sort_phases, status_from_text, study_type_from_text, intervention_type

# --- registry IDs -------------------------------------------------------------------------

#: Registries a Registration can come from (``registry``), by code.
REGISTRIES = ("CTGOV", "EUCTR", "CTIS", "ISRCTN", "CHICTR", "JPRN", "IRCT", "CTRI", "ANZCTR",
              "DRKS", "NTR", "TCTR", "CRIS", "PACTR", "REBEC", "RPCEC", "LBCTR", "SLCTR",
              "REPEC", "ITMCTR", "UTN")

# (registry, pattern): the first that matches an ID (whole string, case-insensitive) wins.
# Group 1 is the normalised ID (case fixed by _CASE below).
_ID_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (reg, re.compile(p, re.I)) for reg, p in (
        ("CTGOV", r"(NCT\d{8})"),
        ("CTIS", r"(?:CTIS|EU\s*CT(?:\s*(?:No\.?|number))?:?\s*)?(\d{4}-5\d{5}-\d{2}-\d{2})"),
        ("EUCTR", r"(?:EUCTR|EudraCT(?:\s*(?:No\.?|number))?:?\s*)?(\d{4}-\d{6}-\d{2})"
                  r"(?:-(?:[A-Z]{2}|3RD))?"),
        ("ISRCTN", r"(ISRCTN\s*\d{8})"),
        ("CHICTR", r"(ChiCTR(?:-[A-Z]{2,4})*-?\d{6,12})"),
        ("DRKS", r"(DRKS\d{8})"),
        ("JPRN", r"(?:JPRN-)?(jRCTs?\d{9,10}|UMIN\d{9}|JapicCTI-?\d{6}|JMA-IIA\d{5})"),
        ("IRCT", r"(IRCT\d{6,14}N\d{1,3}|IRCT\d{10,14})"),
        ("CTRI", r"(CTRI/\d{4}/\d{2,3}/\d{6})"),
        ("ANZCTR", r"(ACTRN\d{14})"),
        ("NTR", r"(NL-?\d{4,5}|NTR\d{3,5}|NL-OMON\d+)"),
        ("TCTR", r"(TCTR\d{11})"),
        ("CRIS", r"(KCT\d{7})"),
        ("PACTR", r"(PACTR\d{15,16})"),
        ("REBEC", r"(RBR-\w{6,8})"),
        ("RPCEC", r"(RPCEC\d{8})"),
        ("LBCTR", r"(LBCTR\d{10})"),
        ("SLCTR", r"(SLCTR/\d{4}/\d{3})"),
        ("REPEC", r"(PER-\d{3}-\d{2})"),
        ("ITMCTR", r"(ITMCTR\d+)"),
        ("UTN", r"(U\d{4}-\d{4}-\d{4})"),
    )
)
_CASE = {"CTGOV": "NCT", "ISRCTN": "ISRCTN", "DRKS": "DRKS", "IRCT": "IRCT", "CTRI": "CTRI",
         "ANZCTR": "ACTRN", "TCTR": "TCTR", "CRIS": "KCT", "PACTR": "PACTR", "RPCEC": "RPCEC",
         "LBCTR": "LBCTR", "SLCTR": "SLCTR", "ITMCTR": "ITMCTR"}

#: ICTRP ``Source_Register`` wording -> registry code.
SOURCE_REGISTERS = {
    "chictr": "CHICTR", "clinicaltrials.gov": "CTGOV", "eu clinical trials register": "EUCTR",
    "euctr": "EUCTR", "isrctn": "ISRCTN", "jprn": "JPRN", "irct": "IRCT", "ctri": "CTRI",
    "anzctr": "ANZCTR", "german clinical trials register": "DRKS", "drks": "DRKS",
    "netherlands trial register": "NTR", "ntr": "NTR", "tctr": "TCTR", "cris": "CRIS",
    "pactr": "PACTR", "rebec": "REBEC", "rpcec": "RPCEC", "lbctr": "LBCTR", "slctr": "SLCTR",
    "repec": "REPEC", "ctis": "CTIS", "itmctr": "ITMCTR",
}


def classify_id(text: str | None) -> tuple[str, str] | None:
    """``(registry, normalised ID)`` when ``text`` (the whole string, spaces trimmed) is a
    registry ID; None otherwise. Never searches inside longer text.

    >>> classify_id("EUCTR2012-003632-23-GB")
    ('EUCTR', '2012-003632-23')
    >>> classify_id("JPRN-jRCTs031190227")
    ('JPRN', 'jRCTs031190227')
    """
    if not isinstance(text, str):
        return None
    value = " ".join(text.split())
    for registry, pattern in _ID_PATTERNS:
        m = pattern.fullmatch(value)
        if m:
            found = m.group(1).replace(" ", "")
            prefix = _CASE.get(registry)
            if prefix and found.upper().startswith(prefix):
                found = prefix + found[len(prefix):]
            elif registry == "CHICTR":
                found = "ChiCTR" + found[6:].upper()
            elif registry == "NTR":
                found = found.upper()
            elif registry == "REBEC":
                found = "RBR-" + found[4:].lower()
            return registry, found
    return None


def is_placeholder(trial_id: str) -> bool:
    """An ID whose digits are all zero (``NCT00000000``, ``ISRCTN00000000``,
    ``U0000-0000-0000``): registries' "none" filler, never a link."""
    digits = re.sub(r"\D", "", trial_id or "")
    return not digits or set(digits) == {"0"}


def display_id(registry: str, trial_id: str) -> str:
    """The ID as written across registries: EudraCT and CTIS numbers get the prefix ICTRP
    uses (``EUCTR2012-003632-23``, ``CTIS2022-500676-59-00``); other IDs name their
    register already."""
    if registry in ("EUCTR", "CTIS"):
        return registry + trial_id
    return trial_id


# --- dates -------------------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), 1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})


def _iso(y: int, m: int | None = None, d: int | None = None) -> str | None:
    try:
        date(y, m or 1, d or 1)
    except ValueError:
        return None
    if m is None:
        return f"{y:04d}"
    return f"{y:04d}-{m:02d}" if d is None else f"{y:04d}-{m:02d}-{d:02d}"


def to_iso_date(text: str | None) -> str | None:
    """A registry date as ISO text, only as precise as given; None when unreadable.

    Reads ``2020-02-17`` (with or without a time), ``2020/03/01``, ``20200217``,
    ``February 1, 2020``, ``1 February 2020``, ``April 2020``, ``2020-04`` and
    ``DD/MM/YYYY`` (ICTRP's and CTIS's order: ICTRP's ``Date_registration3`` agrees with it
    for every row of the shared exports).
    """
    if not isinstance(text, str):
        return None
    t = " ".join(text.replace("\u00a0", " ").split()).strip().rstrip(".")
    if not t:
        return None
    m = re.match(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?:[ T].*)?$", t)
    if m:
        return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None)
    m = re.match(r"^(\d{4})(\d{2})(\d{2})$", t)
    if m:
        return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s.*)?$", t)
    if m:
        return _iso(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = re.match(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$", t)
    if m and m.group(1).lower() in _MONTHS:
        return _iso(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
    m = re.match(r"^(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})$", t)
    if m and m.group(2).lower() in _MONTHS:
        return _iso(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    m = re.match(r"^([A-Za-z]+)\.?,?\s+(\d{4})$", t)
    if m and m.group(1).lower() in _MONTHS:
        return _iso(int(m.group(2)), _MONTHS[m.group(1).lower()])
    m = re.match(r"^(\d{4})$", t)
    if m:
        return _iso(int(m.group(1)))
    return None


# --- countries -------------------------------------------------------------------------------

#: English country names as ClinicalTrials.gov and the EU registers spell them (the long
#: forms are folded by :func:`ici_atlas.vocab.countries.canonical_country`).
COUNTRY_NAMES = frozenset("""
Afghanistan|Albania|Algeria|Andorra|Angola|Argentina|Armenia|Australia|Austria|Azerbaijan|
Bahamas|Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bhutan|Bolivia|
Bosnia and Herzegovina|Botswana|Brazil|Brunei Darussalam|Bulgaria|Burkina Faso|Burundi|
Cambodia|Cameroon|Canada|Cape Verde|Central African Republic|Chad|Chile|China|Colombia|
Comoros|Congo|Costa Rica|Cote D'Ivoire|Côte d'Ivoire|Croatia|Cuba|Cyprus|Czech Republic|
Czechia|Democratic Republic of the Congo|Denmark|Djibouti|Dominica|Dominican Republic|
Ecuador|Egypt|El Salvador|Equatorial Guinea|Eritrea|Estonia|Eswatini|Ethiopia|Fiji|Finland|
France|French Guiana|French Polynesia|Gabon|Gambia|Georgia|Germany|Ghana|Greece|Greenland|
Guadeloupe|Guam|Guatemala|Guinea|Guinea-Bissau|Guyana|Haiti|Honduras|Hong Kong|Hungary|
Iceland|India|Indonesia|Iran|Iran, Islamic Republic of|Iraq|Ireland|Israel|Italy|Jamaica|
Japan|Jordan|Kazakhstan|Kenya|Korea, Republic of|Korea, Democratic People's Republic of|
Kosovo|Kuwait|Kyrgyzstan|Laos|Lao People's Democratic Republic|Latvia|Lebanon|Lesotho|
Liberia|Libya|Libyan Arab Jamahiriya|Liechtenstein|Lithuania|Luxembourg|Macau|Macao|
Macedonia, The Former Yugoslav Republic of|North Macedonia|Madagascar|Malawi|Malaysia|
Maldives|Mali|Malta|Martinique|Mauritania|Mauritius|Mexico|Moldova|Moldova, Republic of|
Monaco|Mongolia|Montenegro|Morocco|Mozambique|Myanmar|Namibia|Nepal|Netherlands|
New Caledonia|New Zealand|Nicaragua|Niger|Nigeria|North Korea|Norway|Oman|Pakistan|
Palestine|Palestinian Territories, Occupied|Panama|Papua New Guinea|Paraguay|Peru|
Philippines|Poland|Portugal|Puerto Rico|Qatar|Reunion|Réunion|Romania|Russia|
Russian Federation|Rwanda|Saudi Arabia|Senegal|Serbia|Seychelles|Sierra Leone|Singapore|
Slovakia|Slovenia|Somalia|South Africa|South Korea|South Sudan|Spain|Sri Lanka|Sudan|
Suriname|Swaziland|Sweden|Switzerland|Syria|Syrian Arab Republic|Taiwan|
Taiwan, Province of China|Tajikistan|Tanzania|Tanzania, United Republic of|Thailand|Togo|
Trinidad and Tobago|Tunisia|Turkey|Türkiye|Turkmenistan|Uganda|Ukraine|
United Arab Emirates|United Kingdom|United States|Uruguay|Uzbekistan|Venezuela|
Venezuela, Bolivarian Republic of|Vietnam|Viet Nam|Yemen|Zambia|Zimbabwe
""".replace("\n", "").split("|"))

#: Other spellings registries use -> a name in COUNTRY_NAMES.
COUNTRY_SPELLINGS = {
    "the netherlands": "Netherlands", "holland": "Netherlands", "uk": "United Kingdom",
    "england": "United Kingdom", "scotland": "United Kingdom", "wales": "United Kingdom",
    "northern ireland": "United Kingdom", "great britain": "United Kingdom",
    "usa": "United States", "us": "United States", "united states of america": "United States",
    "iran (islamic republic of)": "Iran", "korea": "South Korea",
    "republic of korea": "South Korea", "china?": "China", "chian": "China",
    "p.r. china": "China", "people's republic of china": "China", "中国": "China",
    "hong kong sar": "Hong Kong", "czech republic": "Czech Republic",
}
_LOWER_NAMES = {n.lower(): n for n in COUNTRY_NAMES}


def country_name(text: str | None) -> str | None:
    """One spelling of a country name, or None when ``text`` is not a country ("Wuhan",
    "Europe", "Asia(except Japan)" ...)."""
    if not text:
        return None
    t = " ".join(html.unescape(text).split()).strip(" .;,")
    low = t.lower()
    name = _LOWER_NAMES.get(low) or COUNTRY_SPELLINGS.get(low)
    return canonical_country(name) if name else None


def split_countries(text: str | None, seps: str = ";,") -> tuple[list[str], list[str]]:
    """``(countries, not_countries)`` from a delimited list, duplicates dropped in order.
    Commas inside names such as "Korea, Republic of" are kept together."""
    out: list[str] = []
    rejected: list[str] = []
    if not text:
        return out, rejected
    parts = re.split(f"[{re.escape(seps)}\n]", text)
    i = 0
    while i < len(parts):
        part = parts[i].strip()
        if i + 1 < len(parts) and country_name(f"{part}, {parts[i + 1].strip()}"):
            part = f"{part}, {parts[i + 1].strip()}"
            i += 1
        i += 1
        if not part:
            continue
        name = country_name(part)
        if name is None:
            rejected.append(part)
        elif name not in out:
            out.append(name)
    return out, rejected


# --- small text helpers -----------------------------------------------------------------------


def clean_text(value: object) -> str:
    """Text with HTML entities decoded, ``<br>`` as spaces and whitespace collapsed; ``""``
    for anything that is not text (ctrdata writes empty XML elements as ``[]`` / ``{}``)."""
    if not isinstance(value, str):
        return ""
    text = html.unescape(value)
    text = re.sub(r"<br\s*/?>", " ", text, flags=re.I)
    return " ".join(unicodedata.normalize("NFC", text).split())


def to_int(value: object) -> int | None:
    """``"1,200"`` / ``"57"`` / ``57`` -> int; None otherwise (and for negatives)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    text = clean_text(value).replace(",", "").replace(" ", "")
    return int(text) if text.isdigit() else None


# --- the model -------------------------------------------------------------------------------


@dataclass
class BadRecord:
    """A record that could not be read: where it is, which field, why, and the text."""

    ref: str
    field: str
    reason: str
    raw: str = ""


@dataclass
class Registration:
    """One trial registration in one registry (see the module docstring)."""

    registry: str
    trial_id: str
    title: str = ""
    official_title: str = ""
    acronym: str = ""
    conditions: list[str] = field(default_factory=list)
    #: dicts with name, type (v2 enum or None), other_names (list), description,
    #: arm_labels (list; optional)
    interventions: list[dict] = field(default_factory=list)
    #: dicts with label, type, description, intervention_names (optional)
    arms: list[dict] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    phase_text: str = ""
    status: str | None = None
    status_text: str = ""
    study_type: str | None = None
    study_type_text: str = ""
    start_date: str | None = None
    registration_date: str | None = None
    sponsor: str = ""
    countries: list[str] = field(default_factory=list)
    enrollment: int | None = None
    #: (registry, normalised ID) from structured ID fields only
    secondary_ids: list[tuple[str, str]] = field(default_factory=list)
    #: (registry, ID) -> the field it was read from (for link_basis)
    secondary_id_fields: dict[tuple[str, str], str] = field(default_factory=dict)
    brief_summary: str = ""
    source_format: str = ""
    ref: str = ""
    raw: str = ""
    member_states: list[str] = field(default_factory=list)
    #: what was dropped or doubtful while reading (placeholder IDs, unknown wording ...)
    warnings: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """``REGISTRY:ID``, unique across registries."""
        return f"{self.registry}:{self.trial_id}"

    @property
    def display_id(self) -> str:
        return display_id(self.registry, self.trial_id)

    def add_secondary_id(self, value: str | None, fld: str, registry: str | None = None) -> bool:
        """Record ``value`` from the structured field ``fld`` as a link when it is a registry
        ID (``registry`` forces the register for fields that name it, e.g. EudraCT number
        fields holding a bare number). Placeholders and the record's own ID are dropped
        (placeholders with a warning). True when added."""
        text = clean_text(value)
        if not text or text.lower() in ("nil known", "n/a", "na", "none", "not applicable", "-"):
            return False
        found = classify_id(text)
        if found is None and registry == "ISRCTN" and re.fullmatch(r"\d{8}", text):
            found = ("ISRCTN", "ISRCTN" + text)
        if found is None or (registry and found[0] != registry and
                             not (registry == "EUCTR" and found[0] == "CTIS")):
            self.warnings.append(f"{fld}: {text[:80]!r} is not a "
                                 f"{registry or 'registry'} ID; not used as a link")
            return False
        if is_placeholder(found[1]):
            self.warnings.append(f"{fld}: placeholder ID {found[1]} ignored")
            return False
        if found == (self.registry, self.trial_id):
            return False
        if found not in self.secondary_ids:
            self.secondary_ids.append(found)
            self.secondary_id_fields[found] = fld
        return True

    # --- the v2 study shape ---------------------------------------------------------------

    def to_v2(self) -> dict:
        """The registration as a ClinicalTrials.gov API v2 study (the modules and fields
        :mod:`ici_atlas.concepts.study` reads). ``nctId`` only for ClinicalTrials.gov
        registrations; every record carries ``identificationModule.registryId`` (the
        register's own ID) and ``registry``."""
        ident: dict = {
            "orgStudyIdInfo": {"id": self.trial_id},
            "registryId": self.trial_id,
            "registry": self.registry,
            "briefTitle": self.title or self.official_title,
            "officialTitle": self.official_title,
            "acronym": self.acronym,
            "secondaryIdInfos": [_v2_secondary(reg, sid) for reg, sid in self.secondary_ids],
        }
        if self.registry == "CTGOV":
            ident["nctId"] = self.trial_id
        interventions = [
            {
                "type": iv.get("type"),
                "name": iv.get("name"),
                "otherNames": list(iv.get("other_names") or []),
                "description": iv.get("description"),
                "armGroupLabels": list(iv.get("arm_labels") or []),
            }
            for iv in self.interventions
        ]
        arms = [
            {
                "label": arm.get("label"),
                "type": arm.get("type"),
                "description": arm.get("description"),
                "interventionNames": list(arm.get("intervention_names") or []),
            }
            for arm in self.arms
        ]
        protocol = {
            "identificationModule": ident,
            "statusModule": {
                "overallStatus": self.status,
                "startDateStruct": {"date": self.start_date} if self.start_date else None,
                # a registry's registration date plays the part of ClinicalTrials.gov's
                # first submission / first posting
                "studyFirstSubmitDate": self.registration_date,
                "studyFirstPostDateStruct": ({"date": self.registration_date}
                                             if self.registration_date else None),
            },
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": self.sponsor}},
            "descriptionModule": {"briefSummary": self.brief_summary},
            "conditionsModule": {"conditions": list(self.conditions)},
            "designModule": {
                "studyType": self.study_type,
                "phases": list(self.phases),
                "enrollmentInfo": {"count": self.enrollment},
            },
            "armsInterventionsModule": {"armGroups": arms, "interventions": interventions},
            "contactsLocationsModule": {"locations": [{"country": c} for c in self.countries]},
        }
        return {"protocolSection": prune_empty(protocol)}


def _v2_secondary(registry: str, trial_id: str) -> dict:
    kind = {"EUCTR": "EUDRACT_NUMBER", "CTIS": "CTIS"}.get(registry, "REGISTRY")
    out = {"id": display_id(registry, trial_id) if registry == "CTGOV" else trial_id,
           "type": kind}
    if kind == "REGISTRY":
        out["domain"] = registry
    return out


# --- ClinicalTrials.gov v2 studies as registrations --------------------------------------------


def _d(obj, key) -> dict:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _l(obj, key) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _s(obj, key) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""


def registration_from_v2(study: dict, ref: str = "", source_format: str = "v2-json",
                         raw: str = "") -> Registration:
    """A ClinicalTrials.gov API v2 study as a :class:`Registration` (registry ``CTGOV``).

    Reads the NCT ID, titles, status, start and first-submitted dates, lead sponsor,
    enrolment, conditions, interventions, phases, location countries and the structured
    links: ``identificationModule.secondaryIdInfos`` (type ``EUDRACT_NUMBER`` and ``CTIS``
    by number; ``REGISTRY`` / ``OTHER`` and the rest only when the ID itself is a registry
    ID, e.g. ``ISRCTN12345678`` with domain "ISRCTN") and ``nctIdAliases``. Raises
    :class:`~ici_atlas.errors.SchemaError` when the record has no valid NCT ID.
    """
    ps = _d(study, "protocolSection")
    ident = _d(ps, "identificationModule")
    nct = classify_id(_s(ident, "nctId"))
    if nct is None or nct[0] != "CTGOV":
        raise SchemaError(f"study record has no valid nctId ({_s(ident, 'nctId')[:40]!r})",
                          fix="pass API v2 study records")
    status = _d(ps, "statusModule")
    design = _d(ps, "designModule")
    arms = _d(ps, "armsInterventionsModule")
    reg = Registration(
        registry="CTGOV", trial_id=nct[1], ref=ref, source_format=source_format, raw=raw,
        title=clean_text(_s(ident, "briefTitle")),
        official_title=clean_text(_s(ident, "officialTitle")),
        acronym=clean_text(_s(ident, "acronym")),
        status_text=_s(status, "overallStatus"),
        start_date=to_iso_date(_s(_d(status, "startDateStruct"), "date")),
        registration_date=to_iso_date(_s(status, "studyFirstSubmitDate")
                                      or _s(_d(status, "studyFirstPostDateStruct"), "date")),
        sponsor=clean_text(_s(_d(_d(ps, "sponsorCollaboratorsModule"), "leadSponsor"), "name")),
        conditions=[clean_text(c) for c in _l(_d(ps, "conditionsModule"), "conditions")
                    if isinstance(c, str)],
        brief_summary=clean_text(_s(_d(ps, "descriptionModule"), "briefSummary")),
        study_type_text=_s(design, "studyType"),
    )
    reg.status = reg.status_text or None
    reg.study_type = reg.study_type_text or None
    count = _d(design, "enrollmentInfo").get("count")
    reg.enrollment = count if isinstance(count, int) and not isinstance(count, bool) else None
    phases = [p for p in _l(design, "phases") if isinstance(p, str)]
    reg.phases, reg.phase_text = sort_phases(phases), "/".join(phases)
    for iv in _l(arms, "interventions"):
        if isinstance(iv, dict):
            reg.interventions.append({
                "name": _s(iv, "name"), "type": _s(iv, "type") or None,
                "other_names": [n for n in _l(iv, "otherNames") if isinstance(n, str)],
                "description": _s(iv, "description"),
                "arm_labels": [a for a in _l(iv, "armGroupLabels") if isinstance(a, str)],
            })
    for arm in _l(arms, "armGroups"):
        if isinstance(arm, dict):
            reg.arms.append({"label": _s(arm, "label"), "type": _s(arm, "type") or None,
                             "description": _s(arm, "description"),
                             "intervention_names": [n for n in _l(arm, "interventionNames")
                                                    if isinstance(n, str)]})
    for loc in _l(_d(ps, "contactsLocationsModule"), "locations"):
        name = country_name(_s(loc, "country")) or (canonical_country(_s(loc, "country"))
                                                    if _s(loc, "country") else None)
        if name and name not in reg.countries:
            reg.countries.append(name)
    fld = "identificationModule.secondaryIdInfos"
    for info in _l(ident, "secondaryIdInfos"):
        kind, value = _s(info, "type"), _s(info, "id")
        if kind == "EUDRACT_NUMBER":
            reg.add_secondary_id(value, fld, registry="EUCTR")
        elif kind == "CTIS":
            reg.add_secondary_id(value, fld, registry="CTIS")
        elif classify_id(value) is not None:
            reg.add_secondary_id(value, fld)
    for alias in _l(ident, "nctIdAliases"):
        reg.add_secondary_id(alias, "identificationModule.nctIdAliases", registry="CTGOV")
    return reg


def make_intervention(name: str, kind: str | None = None, other_names=(), description: str = "",
                      arm_labels=()) -> dict:
    """An intervention dict of the model (``kind`` given as registry wording or v2 enum)."""
    others = []
    for n in other_names:
        n = clean_text(n)
        if (n and n.lower() != name.lower() and n not in others
                and n.lower() not in ("n/a", "na", "not available", "none")):
            others.append(n)
    return {"name": name, "type": intervention_type(kind) if kind else None,
            "other_names": others, "description": description, "arm_labels": list(arm_labels)}


__all__ = [
    "BadRecord", "Registration", "registration_from_v2", "classify_id", "is_placeholder",
    "display_id", "to_iso_date", "country_name", "split_countries", "clean_text", "to_int",
    "make_intervention", "status_from_text", "study_type_from_text", "REGISTRIES",
    "SOURCE_REGISTERS",
]
