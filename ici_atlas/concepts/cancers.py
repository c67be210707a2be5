"""Cancer groups of a trial from its conditions, keywords, titles and condition MeSH terms.

Reads: ``conditionsModule.conditions`` and ``keywords``, ``identificationModule.briefTitle``
and ``officialTitle``, ``derivedSection.conditionBrowseModule.meshes``. Phrases come from
``cancer_terms.tsv`` (longest phrase wins). A trial may have several groups. Then:

* generic wordings ("cancer", "neoplasms", "squamous cell carcinoma") count as
  ``other-cancer`` only when no specific group matched;
* a group is dropped when a group listed in its ``suppressed_by`` is present (``breast``
  when ``TNBC`` is; ``lung-other`` when ``NSCLC`` or ``SCLC`` is; ``lymphoma-other`` when
  ``cHL`` is);
* nothing matched at all gives ``non-cancer``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from ici_atlas.concepts.matcher import PhraseMatcher, fold_text
from ici_atlas.concepts.study import Study
from ici_atlas.vocab.cancers import (
    CANCER_GROUP_IDS,
    NOT_CANCER,
    CancerGroup,
    CancerTerm,
    load_cancer_groups,
    load_cancer_terms,
)

_ORDER = {g: i for i, g in enumerate(CANCER_GROUP_IDS)}
#: Joins the texts before folding; survives folding and is never part of a phrase.
_SEP = " \u0000 "
_SEP_RE = re.compile("\u0000 ?")


@dataclass(frozen=True, slots=True)
class CancerHit:
    cancer_group: str
    oncotree_code: str | None
    matched_text: str      # the folded phrase
    rule: str              # "<field>: <kind>" e.g. "conditions: name"


class CancerClassifier:
    def __init__(self, groups: tuple[CancerGroup, ...], terms: tuple[CancerTerm, ...]):
        self.groups = {g.group_id: g for g in groups}
        # Specific names first; the generic wordings ("cancer", "tumor") are looked for only
        # when no specific name matched. Non-cancer phrases shadow shorter terms in both.
        specific = [t for t in terms if not t.generic]
        generic = [t for t in terms if t.generic or t.group_id == NOT_CANCER]
        self.matcher: PhraseMatcher[CancerTerm] = PhraseMatcher(
            [(spelling, term) for term in specific for spelling in term.spellings()])
        self.generic_matcher: PhraseMatcher[CancerTerm] = PhraseMatcher(
            [(spelling, term) for term in generic for spelling in term.spellings()])

    def classify(self, study: Study) -> tuple[CancerHit, ...]:
        """Every group found (with what matched and where), after the rules above."""
        fields = (
            ("conditions", study.conditions),
            ("conditionMeshes", study.condition_meshes),
            ("keywords", study.keywords),
            ("briefTitle", (study.brief_title,)),
            ("officialTitle", (study.official_title,)),
        )
        specific: dict[tuple[str, str | None], CancerHit] = {}
        generic: dict[tuple[str, str | None], CancerHit] = {}
        # Fold all texts at once, kept apart by a separator no phrase contains.
        names: list[str] = []
        parts: list[str] = []
        for field, texts in fields:
            for text in texts:
                if text:
                    names.append(field)
                    parts.append(text)
        if parts:
            folded = fold_text(_SEP.join(parts))
            starts = [0] + [m.end() for m in _SEP_RE.finditer(folded)]
            for matcher, bucket in ((self.matcher, specific), (self.generic_matcher, generic)):
                if matcher is self.generic_matcher and specific:
                    break
                for m in matcher.finditer(folded):
                    term = m.values[0]
                    if term.group_id == NOT_CANCER:
                        continue
                    key = (term.group_id, term.oncotree_code)
                    if key not in bucket:
                        field = names[bisect.bisect_right(starts, m.start) - 1]
                        bucket[key] = CancerHit(term.group_id, term.oncotree_code, m.phrase,
                                                f"{field}: {term.kind}")
        hits = specific or generic
        if not hits:
            return (CancerHit("non-cancer", None, "", "no cancer term in conditions, keywords, "
                                                      "titles or condition MeSH terms"),)
        present = {g for g, _ in hits}
        kept = [h for h in hits.values()
                if not any(s in present for s in self.groups[h.cancer_group].suppressed_by)]
        kept.sort(key=lambda h: (_ORDER[h.cancer_group], h.oncotree_code or "", h.matched_text))
        return tuple(kept)


def summarise_cancers(hits: tuple[CancerHit, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(cancer_groups, oncotree_codes)``: the groups in order of their first hit, the
    OncoTree codes sorted (possibly none)."""
    groups: list[str] = []
    codes: list[str] = []
    for h in hits:
        if h.cancer_group not in groups:
            groups.append(h.cancer_group)
        if h.oncotree_code and h.oncotree_code not in codes:
            codes.append(h.oncotree_code)
    return tuple(groups), tuple(sorted(codes))


@lru_cache(maxsize=2)
def default_cancer_classifier() -> CancerClassifier:
    return CancerClassifier(load_cancer_groups(), load_cancer_terms())
