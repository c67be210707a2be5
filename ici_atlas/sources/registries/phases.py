"""Registry wording -> ClinicalTrials.gov API v2 enums: phases, statuses, study types.

Every registry words these differently. The maps below turn the wording into the v2 enum
names the classifiers read; wording they do not know maps to nothing (``[]`` / ``None``)
and the caller keeps the original text, so nothing is guessed.

Phases (``phases_from_text``):

* EU wording (EUCTR E.7, CTIS ``trialPhase``): "Human pharmacology (Phase I)" -> PHASE1,
  "Therapeutic exploratory (Phase II)" -> PHASE2, "Therapeutic confirmatory (Phase III)"
  -> PHASE3, "Therapeutic use (Phase IV)" -> PHASE4; "Phase I and Phase II (Integrated)"
  -> PHASE1 + PHASE2. The EUCTR yes/no flags go through :func:`phases_from_eu_flags`.
* ClinicalTrials.gov / ICTRP: "Phase 2/Phase 3" -> PHASE2 + PHASE3, "Early Phase 1" ->
  EARLY_PHASE1, "N/A" / "Not Applicable" -> NA; roman numerals ("Phase I/II") and bare
  numbers or ranges ("2", "2-3", "1-2") likewise.
* Phase 0 -> EARLY_PHASE1 (ClinicalTrials.gov's "Early Phase 1" is its former "Phase 0").
  ChiCTR offers "0" as a choice and many of its non-drug studies pick it.
* ChiCTR categories that are not a drug phase -> NA: "New Treatment Measure Clinical Study"
  (a new procedure or technique, not a drug phase), "Retrospective study", "Diagnostic New
  Technique Clinical Study"; Chinese "III期临床试验" -> PHASE3.
"""

from __future__ import annotations

import re
import unicodedata

PHASE_ORDER = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")

#: Whole wordings that mean "no phase" (lower case, spaces collapsed).
NO_PHASE = frozenset({
    "n/a", "na", "not applicable", "not applicable (n/a)", "none",
    # ChiCTR categories that are not drug phases
    "new treatment measure clinical study", "retrospective study",
    "diagnostic new technique clincal study", "diagnostic new technique clinical study",
    "新治疗措施临床研究", "回顾性研究",
})

_ROMAN = {"0": "0", "i": "1", "ii": "2", "iii": "3", "iv": "4",
          "1": "1", "2": "2", "3": "3", "4": "4"}
_NUM = r"(?:iv|i{1,3}|[0-4])"
# "phase 2", "phase ii", "phase iib", "phase-3", "(phase i)"
_PHASE_WORD = re.compile(rf"phase\s*-?\s*({_NUM})(?:[abc])?\b")
# "phase 1/2", "phase i/ii", "phase 2-3", "phase i and phase ii"
_PHASE_RANGE = re.compile(rf"phase\s*-?\s*({_NUM})[abc]?\s*(?:/|-|and|to|,)\s*"
                          rf"(?:phase\s*-?\s*)?({_NUM})\b")
# a bare number or range: "2", "2-3", "1-2", "iii"
_BARE = re.compile(rf"^({_NUM})(?:\s*[-/]\s*({_NUM}))?$")
# Chinese "III期临床试验", "0期", "1期"
_CN = re.compile(r"(IV|I{1,3}|[0-4])\s*期")


def _phase(number: str) -> str:
    digit = _ROMAN[number]
    return "EARLY_PHASE1" if digit == "0" else f"PHASE{digit}"


def sort_phases(phases) -> list[str]:
    """Unique phases in the v2 order (EARLY_PHASE1 ... PHASE4, NA)."""
    return sorted(set(phases), key=lambda p: PHASE_ORDER.index(p) if p in PHASE_ORDER else 99)


def phases_from_text(text: str | None) -> list[str]:
    """v2 phase enums for one registry wording; ``[]`` when the wording is not known.

    >>> phases_from_text("Phase 2/Phase 3")
    ['PHASE2', 'PHASE3']
    >>> phases_from_text("Therapeutic exploratory (Phase II)")
    ['PHASE2']
    >>> phases_from_text("New Treatment Measure Clinical Study")
    ['NA']
    """
    if not text:
        return []
    raw = unicodedata.normalize("NFKC", text).strip()
    low = " ".join(raw.lower().split())
    if not low:
        return []
    if low in NO_PHASE:
        return ["NA"]
    if low.startswith("early phase 1") or low == "early phase i":
        return ["EARLY_PHASE1"]
    found: list[str] = []
    for a, b in _PHASE_RANGE.findall(low):
        lo, hi = sorted((int(_ROMAN[a]), int(_ROMAN[b])))
        found.extend(_phase(str(n)) for n in range(lo, hi + 1))
    found.extend(_phase(n) for n in _PHASE_WORD.findall(low))
    if not found:
        m = _BARE.match(low)
        if m:
            lo, hi = int(_ROMAN[m.group(1)]), int(_ROMAN[m.group(2) or m.group(1)])
            found.extend(_phase(str(n)) for n in range(min(lo, hi), max(lo, hi) + 1))
    if not found:
        found.extend(_phase(n.lower()) for n in _CN.findall(raw))
    return sort_phases(found)


#: EUCTR E.7 flags, in order: Phase I ... Phase IV.
EU_PHASE_FLAGS = ("PHASE1", "PHASE2", "PHASE3", "PHASE4")


def phases_from_eu_flags(flags: list[str | None]) -> list[str]:
    """EUCTR E.7.1-E.7.4 answers (``Yes``/``No``/empty, Phase I first) as phases; ``[]``
    when no flag says yes (EU trials of medicinal products always have one, so "none"
    means "not stated", not "no phase")."""
    return [p for p, v in zip(EU_PHASE_FLAGS, flags) if (v or "").strip().lower() == "yes"]


_EU_FLAG_LINE = re.compile(r"\(phase\s*(iv|i{1,3})\)\s*:\s*(yes|no)?", re.I)


def phases_from_eu_text(text: str) -> list[str] | None:
    """The ICTRP rendering of the EUCTR flags ("Human pharmacology (Phase I): no\\n
    Therapeutic exploratory (Phase II): yes ..."); None when the text is not in that form."""
    hits = _EU_FLAG_LINE.findall(text or "")
    if not hits:
        return None
    return sort_phases(_phase(n.lower()) for n, answer in hits if answer.lower() == "yes")


# --- overall status -------------------------------------------------------------------

#: Registry wording (lower case) -> v2 overallStatus. Wording that does not say which
#: v2 status applies ("Ongoing" could be recruiting or not; ICTRP's "Not recruiting" covers
#: not-yet, active and completed trials) is deliberately absent: it maps to None.
STATUS_MAP = {
    "recruiting": "RECRUITING",
    "not yet recruiting": "NOT_YET_RECRUITING",
    "pending": "NOT_YET_RECRUITING",
    "active, not recruiting": "ACTIVE_NOT_RECRUITING",
    "enrolling by invitation": "ENROLLING_BY_INVITATION",
    "completed": "COMPLETED",
    "terminated": "TERMINATED",
    "suspended": "SUSPENDED",
    "withdrawn": "WITHDRAWN",
    "unknown status": "UNKNOWN",
    # EUCTR (per member state)
    "prematurely ended": "TERMINATED",
    "temporarily halted": "SUSPENDED",
    # CTIS (labels of ctPublicStatusCode, see CTIS_STATUS_CODES)
    "authorised, recruitment pending": "NOT_YET_RECRUITING",
    "authorised, not started": "NOT_YET_RECRUITING",
    "authorised, recruiting": "RECRUITING",
    "ongoing, recruiting": "RECRUITING",
    "ongoing, not yet recruiting": "NOT_YET_RECRUITING",
    "ongoing, recruitment ended": "ACTIVE_NOT_RECRUITING",
    # ChiCTR
    "suspended or interrupted": "SUSPENDED",
    "recruitment completed": "ACTIVE_NOT_RECRUITING",
}

#: CTIS ``ctPublicStatusCode`` -> label, as ctrdata's ``f.statusRecruitment`` documents them
#: (the new CTIS API gives only the code).
CTIS_STATUS_CODES = {
    1: "Under evaluation", 2: "Authorised, recruitment pending", 3: "Authorised, recruiting",
    4: "Ongoing, recruiting", 5: "Ongoing, recruitment ended", 6: "Temporarily halted",
    7: "Suspended", 8: "Ended", 9: "Expired", 10: "Revoked", 11: "Not authorised",
    12: "Cancelled",
}


def status_from_text(text: str | None) -> str | None:
    """The v2 overallStatus for one registry wording, None when it does not map."""
    if not text:
        return None
    return STATUS_MAP.get(" ".join(text.strip().lower().split()))


# --- study type, intervention type --------------------------------------------------------

_STUDY_TYPES = {
    "interventional": "INTERVENTIONAL", "interventional study": "INTERVENTIONAL",
    "interventional clinical trial of medicinal product": "INTERVENTIONAL",
    "treatment study": "INTERVENTIONAL", "prevention": "INTERVENTIONAL",
    "干预性研究": "INTERVENTIONAL",
    "observational": "OBSERVATIONAL", "observational study": "OBSERVATIONAL",
    "observational [patient registry]": "OBSERVATIONAL", "观察性研究": "OBSERVATIONAL",
    "expanded access": "EXPANDED_ACCESS",
}


def study_type_from_text(text: str | None) -> str | None:
    """``INTERVENTIONAL`` / ``OBSERVATIONAL`` / ``EXPANDED_ACCESS``; None for other
    wording (ChiCTR's "Diagnostic test", "Epidemilogical research" ...)."""
    if not text:
        return None
    return _STUDY_TYPES.get(" ".join(text.strip().lower().split()))


INTERVENTION_TYPES = ("DRUG", "BIOLOGICAL", "DEVICE", "PROCEDURE", "RADIATION", "BEHAVIORAL",
                      "GENETIC", "DIETARY_SUPPLEMENT", "COMBINATION_PRODUCT",
                      "DIAGNOSTIC_TEST", "OTHER")


def intervention_type(text: str | None) -> str | None:
    """``Drug`` -> ``DRUG``, ``Dietary Supplement`` -> ``DIETARY_SUPPLEMENT``; None when the
    word is not a v2 intervention type."""
    if not text:
        return None
    name = re.sub(r"[^A-Za-z]+", "_", text.strip()).strip("_").upper()
    if name == "PROCEDURE_SURGERY":
        name = "PROCEDURE"
    return name if name in INTERVENTION_TYPES else None
