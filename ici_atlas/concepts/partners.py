"""What one intervention is: a PD-(L)1 agent, a partner drug or procedure (with its class
from ``partners.tsv``), a placebo, or something not counted (supportive care, tests).

Reads: intervention ``type``, ``name`` and ``otherNames``.

Rules, in order:

* a placebo, sham or vehicle is not active;
* agents and partners named in the name (or, if the name names none, the other names);
* type RADIATION with no partner named is class ``radiotherapy``;
* type PROCEDURE naming an operation (surgery, resection, ...-ectomy) is class ``surgery``;
  other procedures (biopsy, imaging, sample collection) are not counted;
* a DRUG, BIOLOGICAL, COMBINATION_PRODUCT or GENETIC intervention that names nothing known and
  is not supportive care is class ``other``, its name kept;
* OTHER, BEHAVIORAL, DEVICE, DIAGNOSTIC_TEST and DIETARY_SUPPLEMENT interventions that name
  nothing known are not counted (questionnaires, assessments, biomarker work).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ici_atlas.concepts.agents import AGENT_TYPES, AgentInfo, DrugMatcher
from ici_atlas.concepts.matcher import fold_text
from ici_atlas.concepts.study import Intervention

ACTIVE_UNKNOWN_TYPES = frozenset({"DRUG", "BIOLOGICAL", "COMBINATION_PRODUCT", "GENETIC"})
OTHER_CLASS = "other"
RADIOTHERAPY_CLASS = "radiotherapy"
SURGERY_CLASS = "surgery"

#: Words that make an intervention not count as an active anticancer drug.
_NOT_ACTIVE = re.compile(
    r"\b(?:placebo|placebos|sham|vehicle|saline|dummy|best supportive care|supportive care|"
    r"premedication|antiemetic\w*|ondansetron|granisetron|aprepitant|filgrastim|pegfilgrastim|"
    r"folic acid|vitamin b12|cyanocobalamin|hydration|observation|active monitoring|"
    r"no intervention|no treatment|questionnaire\w*|blood sample\w*|biopsy|"
    r"rescue medications?|hyaluronidase\w*)\b"  # hyaluronidase: an excipient of SC forms
)
_SURGERY = re.compile(r"\b(?:surgery|surgical|resection|operation|turbt|\w+ectomy|\w+ectomies)\b")


#: Fallback for an active intervention the partner vocabulary does not name: words that
#: give its class anyway (first match wins). Everything else unknown is class "other".
_MODALITY_WORDS = (
    ("ADC", re.compile(r"\b(?:antibody drug conjugates?|antibody conjugated?|adc|\w*(?:deruxtecan|vedotin|govitecan|"
                       r"mafodotin|emtansine|duocarmazine|tesirine|ozogamicin|soravtansine))\b")),
    ("vaccine", re.compile(r"\bvaccines?\b")),
    ("cell therapy", re.compile(r"\b(?:car ?t|car ?nk|cart|tils?|nk cells?|t cells?|cell therapy|"
                                r"cik|tcr ?t)\b")),
    ("oncolytic virus", re.compile(r"\boncolytic\b")),
    ("cytokine", re.compile(r"\b(?:il\d+|interleukin \d+|interleukin|interferon)\b")),
    ("chemotherapy", re.compile(r"\b(?:chemotherapy|chemotherapies|chemo|platinum|\w*fluorouracil|"
                                r"folfox|folfiri|xelox|capox)\b")),
)
#: An unnamed drug code left in a name beside a known drug ("COM701 with Opdivo").
_CODE = re.compile(r"^[a-z]{1,6}\d+[a-z0-9]*$")
_NOT_CODE = re.compile(r"^(?:\d+|q\d+w|d\d+|c\d+d\d+|day\d+|week\d+|cycle\d+|cohort\d+|arm\d+|"
                       r"part\d+|phase\d+|group\d+|dose\d+|level\d+|stage\d+|grade\d+|step\d+|"
                       r"covid19|\d+\w*)$")
_DRUG_SUFFIX = re.compile(r"(?:mab|nib|lib|cept|stat|platin|taxel|rubicin|tecan|mustine|parib|lisib|"
                          r"ciclib|degib|sertib)$")


def modality_class(folded: str) -> tuple[str, str] | None:
    """(class, word) from the fallback words, or None."""
    for cls, pattern in _MODALITY_WORDS:
        m = pattern.search(folded)
        if m:
            return cls, m.group(0)
    return None


def unknown_drugs(folded: str, matched: list[tuple[int, int]]) -> list[str]:
    """Drug-like tokens of ``folded`` outside the matched spans: codes such as 'com701' or
    'lm 108' (a short word and its number), words with drug stems such as '...mab'."""
    tokens: list[tuple[int, int, str]] = []
    pos = 0
    for token in folded.split(" "):
        tokens.append((pos, pos + len(token), token))
        pos += len(token) + 1
    out = []
    i = 0
    while i < len(tokens):
        start, end, token = tokens[i]
        if (i + 1 < len(tokens) and token.isalpha() and len(token) <= 6
                and tokens[i + 1][2][:1].isdigit()):
            end, token = tokens[i + 1][1], token + tokens[i + 1][2]
            i += 1
        i += 1
        if any(s <= start < e or s < end <= e for s, e in matched):
            continue
        if (_CODE.match(token) and not _NOT_CODE.match(token)) or (
                len(token) > 6 and _DRUG_SUFFIX.search(token)):
            out.append(token)
    return out


@dataclass(frozen=True, slots=True)
class PartnerUse:
    """One partner (drug, regimen or procedure) given by one intervention."""

    partner_class: str
    partner_drug: str | None    # canonical drug from partners.tsv, None for type rules
    matched_term: str | None
    rule: str                   # vocabulary | type RADIATION | type PROCEDURE | unknown drug


@dataclass(frozen=True, slots=True)
class InterventionRole:
    intervention: Intervention
    agents: tuple[tuple[AgentInfo, str, str], ...]   # (agent, phrase, field)
    partners: tuple[PartnerUse, ...]
    placebo: bool

    @property
    def active(self) -> bool:
        return bool(self.agents or self.partners)


def classify_intervention(iv: Intervention, matcher: DrugMatcher) -> InterventionRole:
    """Classify one intervention (see the module docstring for the rules)."""
    folded = fold_text(iv.name)
    not_active = bool(_NOT_ACTIVE.search(folded))
    agents: list[tuple[AgentInfo, str, str]] = []
    partners: list[PartnerUse] = []
    placebo = False
    spans: list[tuple[int, int]] = []
    if iv.type in AGENT_TYPES or iv.type in ("RADIATION", "PROCEDURE", "DIETARY_SUPPLEMENT"):
        for hit in matcher.hits(iv.name, generic=iv.type in AGENT_TYPES):
            spans.append((hit.start, hit.end))
            if hit.placebo:
                placebo = True
            elif hit.kind == "agent" and iv.type in AGENT_TYPES:
                agents.append((hit.agent, hit.phrase, "name"))
            elif hit.kind == "partner":
                for cls in hit.partner.classes:
                    partners.append(PartnerUse(cls, hit.partner.drug, hit.phrase, "vocabulary"))
        # Other names are read too: "Immunotherapy" with other name pembrolizumab, or one
        # intervention whose other names list every drug of the regimen.
        if iv.other_names and iv.type in AGENT_TYPES and not not_active and not placebo:
            for i, other in enumerate(iv.other_names):
                for hit in matcher.hits(other, generic=True):
                    if hit.placebo:
                        continue
                    if hit.kind == "agent":
                        agents.append((hit.agent, hit.phrase, f"otherNames[{i}]"))
                    else:
                        for cls in hit.partner.classes:
                            partners.append(PartnerUse(cls, hit.partner.drug, hit.phrase,
                                                       "vocabulary (other name)"))
        if spans and (agents or partners) and iv.type in ACTIVE_UNKNOWN_TYPES and not not_active:
            # what the name gives beyond the known drugs: "COM701 with Opdivo (Nivolumab)"
            for token in unknown_drugs(folded, spans):
                found = modality_class(token)
                cls = found[0] if found else OTHER_CLASS
                partners.append(PartnerUse(cls, None, token, "unknown drug beside a known one"))
            rest = _strip_spans(folded, spans)
            found = modality_class(rest) if rest else None
            if found and found[0] not in {p.partner_class for p in partners}:
                partners.append(PartnerUse(found[0], None, found[1], "modality word"))
    if not agents and not partners:
        if not_active or placebo:
            return InterventionRole(iv, (), (), True)
        if iv.type == "RADIATION":
            partners.append(PartnerUse(RADIOTHERAPY_CLASS, None, None, "type RADIATION"))
        elif iv.type == "PROCEDURE":
            m = _SURGERY.search(folded)
            if m:
                partners.append(PartnerUse(SURGERY_CLASS, None, m.group(0), "type PROCEDURE"))
        elif iv.type in ACTIVE_UNKNOWN_TYPES:
            found = modality_class(folded)
            if found:
                partners.append(PartnerUse(found[0], None, found[1], "modality word"))
            else:
                partners.append(PartnerUse(OTHER_CLASS, None, None, "unknown drug"))
    if any(not a.generic for a, _, _ in agents):  # "pembrolizumab (anti-PD-1 antibody)"
        agents = [x for x in agents if not x[0].generic]
    return InterventionRole(iv, _dedupe(agents), _dedupe(partners), placebo)


def _strip_spans(folded: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in sorted(spans):
        out.append(folded[pos:start])
        pos = max(pos, end)
    out.append(folded[pos:])
    return " ".join("".join(out).split())


def _dedupe(items: list) -> tuple:
    seen = set()
    out = []
    for item in items:
        if isinstance(item, tuple):
            key = item[0].agent_id
        else:
            key = (item.partner_class, item.partner_drug)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return tuple(out)
