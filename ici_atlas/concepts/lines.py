"""Line of therapy and treatment setting, where the record states them.

Reads, in order: titles, arm labels and descriptions, conditions and keywords (the
"design" fields); for the line only, the first part of the eligibility criteria when the
design fields state no line (eligibility never names agents, see
:mod:`ici_atlas.concepts.agents`).

* line ``first-line``: first-line, 1L, frontline, previously untreated, untreated advanced/
  metastatic, treatment-/therapy-/chemotherapy-naive, no prior systemic therapy;
  ``later-line``: second-/third-line, 2L, previously treated, pretreated, refractory,
  relapsed, after progression/failure/relapse, progressed on/after. Both found in the design
  fields: ``first-line;later-line`` (e.g. two cohorts); both found in eligibility: NULL.
* setting (design fields only), the first that applies: ``perioperative`` (the word, or
  neoadjuvant and adjuvant together), ``neoadjuvant``, ``adjuvant``, ``maintenance``,
  ``advanced`` (advanced, metastatic, unresectable, recurrent, stage IV, extensive-stage).
* nothing stated: NULL.

All phrases are matched on folded text (case, hyphens and punctuation ignored) by one
trie-compiled :class:`~ici_atlas.concepts.matcher.PhraseMatcher`, run once over the design
fields joined together (and once over the eligibility excerpt).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from ici_atlas.concepts.matcher import PhraseMatcher, fold_text
from ici_atlas.concepts.study import Study

#: How much of the eligibility text is read for the line (the inclusion criteria).
ELIGIBILITY_CHARS = 2000

_NAIVE = ("naive", "na\u00efve")
_PHRASES = {
    "first": ["first line", "firstline", "1st line", "1l", "front line", "frontline",
              "previously untreated",
              *(f"untreated {w}" for w in ("advanced", "metastatic", "locally", "stage",
                                           "extensive", "unresectable", "recurrent")),
              *(f"{w} {n}" for w in ("treatment", "therapy", "chemotherapy", "chemo")
                for n in _NAIVE),
              "no prior systemic therapy", "no prior systemic treatment",
              "not received prior systemic", "not received any prior systemic",
              "not previously received prior systemic"],
    "later": ["second line", "secondline", "third line", "2nd line", "3rd line", "2l",
              "later line", "subsequent line", "previously treated", "pretreated", "pre treated",
              "refractory", "relapsed",
              *(f"{a} {b}" for a in ("after", "following") for b in ("progression", "failure", "relapse")),
              "progressed on", "progressed after", "progressed following",
              "failed prior", "failed previous", "failed at least",
              "after first line", "after prior line", "after previous line"],
    "perioperative": ["perioperative", "peri operative"],
    "neoadjuvant": ["neoadjuvant", "neo adjuvant", "preoperative", "pre operative"],
    "adjuvant": ["adjuvant", "postoperative", "post operative"],
    "maintenance": ["maintenance"],
    "advanced": ["advanced", "metastatic", "metastases", "unresectable", "inoperable",
                 "recurrent", "stage iv", "stage 4", "extensive stage"],
}
_MATCHER: PhraseMatcher[str] = PhraseMatcher(
    [(phrase, group) for group, phrases in _PHRASES.items() for phrase in phrases])
SETTINGS = ("perioperative", "neoadjuvant", "adjuvant", "maintenance", "advanced")
_SEP = " \u0000 "
_SEP_RE = re.compile("\u0000 ?")


@dataclass(frozen=True, slots=True)
class LineSetting:
    line_of_therapy: str | None
    line_rule: str | None        # "<field>: <matched words>"
    setting: str | None
    setting_rule: str | None


def _design_texts(study: Study) -> list[tuple[str, str]]:
    texts = [("briefTitle", study.brief_title), ("officialTitle", study.official_title)]
    for i, arm in enumerate(study.arms):
        texts.append((f"armGroups[{i}].label", arm.label))
        texts.append((f"armGroups[{i}].description", arm.description))
    texts.extend(("conditions", c) for c in study.conditions)
    texts.extend(("keywords", k) for k in study.keywords)
    return [(f, t) for f, t in texts if t]


def _first_matches(texts: list[tuple[str, str]]) -> dict[str, str]:
    """First match of each phrase group: ``{group: "<field>: <phrase>"}``."""
    folded = fold_text(_SEP.join(t for _, t in texts))
    starts = [0] + [m.end() for m in _SEP_RE.finditer(folded)]
    found: dict[str, str] = {}
    for m in _MATCHER.finditer(folded):
        group = m.values[0]
        if group not in found:
            field = texts[bisect.bisect_right(starts, m.start) - 1][0]
            found[group] = f"{field}: {m.phrase}"
            if len(found) == len(_PHRASES):
                break
    return found


def _line(found: dict[str, str]) -> tuple[str | None, str | None]:
    first, later = found.get("first"), found.get("later")
    if first and later:
        return "first-line;later-line", f"{first}; {later}"
    if first:
        return "first-line", first
    if later:
        return "later-line", later
    return None, None


def classify_line_setting(study: Study, read_eligibility: bool = True) -> LineSetting:
    """Line of therapy and setting of ``study`` (see the module docstring).

    ``read_eligibility=False`` skips the eligibility fallback (the pipeline skips it for
    studies that name no cancer, where a line of therapy means nothing)."""
    texts = _design_texts(study)
    found = _first_matches(texts) if texts else {}
    line, line_rule = _line(found)
    if line is None and read_eligibility and study.eligibility:
        line, line_rule = _line(_first_matches(
            [("eligibilityCriteria", study.eligibility[:ELIGIBILITY_CHARS])]))
        if line == "first-line;later-line":  # inclusion text naming both says nothing definite
            line, line_rule = None, None
    if "neoadjuvant" in found and "adjuvant" in found and "perioperative" not in found:
        found["perioperative"] = f"{found['neoadjuvant']}; {found['adjuvant']}"
    for name in SETTINGS:
        if name in found:
            return LineSetting(line, line_rule, name, found[name])
    return LineSetting(line, line_rule, None, None)
