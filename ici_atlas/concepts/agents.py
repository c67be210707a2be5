"""Which PD-1/PD-L1-binding agents an intervention, arm label or arm description names.

Reads: intervention ``name`` and ``otherNames`` (types DRUG, BIOLOGICAL,
COMBINATION_PRODUCT, GENETIC, OTHER), arm ``label`` and ``description``. Never eligibility
text. Names come from ``agents.tsv`` (INN, code names, brands, other names) plus the
generic wordings below, which count only in intervention names and other names.

Generic wordings ("anti-PD-1 antibody", "PD-L1 inhibitor", "PD-1/PD-L1 inhibitor") give the
agent ids ``unspecified-pd-1``, ``unspecified-pd-l1`` and ``unspecified-pd-1-pd-l1``; a bare
"anti-PD-1" counts only when it ends the name ("Anti-PD-L1 CSR T cells" is a cell product,
not an antibody). "Immune checkpoint inhibitor" is not counted: it may be anti-CTLA-4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ici_atlas.concepts.matcher import PhraseMatcher, fold_text
from ici_atlas.vocab import Agent, Partner, load_agents, load_partners

#: Intervention types whose names may name a PD-(L)1 agent.
AGENT_TYPES = frozenset({"DRUG", "BIOLOGICAL", "COMBINATION_PRODUCT", "GENETIC", "OTHER"})
#: Combined products: one product, but more than one active drug (never monotherapy).
COMBINED_PRODUCTS = frozenset({"fixed-dose combination", "antibody mixture"})


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What the classifiers need of an agent (vocabulary agents and generic ids alike)."""

    agent_id: str
    target_class: str           # PD-1, PD-L1, or PD-1;PD-L1 for the generic "PD-1/PD-L1"
    bispecific: bool
    other_target: str | None
    combined_product: bool
    generic: bool = False
    components: tuple[str, ...] = ()   # agent ids / partner drugs of a combined product

    @classmethod
    def of(cls, agent: Agent) -> "AgentInfo":
        combined = agent.modality in COMBINED_PRODUCTS
        return cls(agent.agent_id, agent.target_class, agent.bispecific, agent.other_target,
                   combined, components=agent.components if combined else ())


GENERIC_AGENTS = {
    "PD-1": AgentInfo("unspecified-pd-1", "PD-1", False, None, False, True),
    "PD-L1": AgentInfo("unspecified-pd-l1", "PD-L1", False, None, False, True),
    "PD-1;PD-L1": AgentInfo("unspecified-pd-1-pd-l1", "PD-1;PD-L1", False, None, False, True),
}
_GENERIC_BASES = {
    "PD-1": ("pd1", "pd 1", "programmed death 1", "programmed cell death 1",
             "programmed death receptor 1", "programmed cell death protein 1"),
    "PD-L1": ("pd l1", "pdl1", "programmed death ligand 1", "programmed cell death ligand 1"),
    "PD-1;PD-L1": ("pd1 pd l1", "pd1 pdl1", "pd1 l1", "pd l1 pd1"),
}
_GENERIC_SUFFIXES = ("inhibitor", "inhibitors", "antibody", "antibodies", "monoclonal antibody",
                     "monoclonal antibodies", "mab", "blockade", "blocking antibody",
                     "checkpoint inhibitor", "checkpoint inhibitors", "immunotherapy", "therapy",
                     "agent", "blocker")


_GENERIC_QUALIFIERS = ("", "humanized ", "humanised ", "human ", "fully human ",
                       "recombinant humanized ", "recombinant ")


def generic_phrases() -> list[tuple[str, tuple[str, AgentInfo, bool]]]:
    """(phrase, ("agent", info, bare)) for every generic wording; ``bare`` is "anti-PD-1"
    with no noun after it."""
    out = []
    for target, bases in _GENERIC_BASES.items():
        info = GENERIC_AGENTS[target]
        for base in bases:
            out.append((f"anti {base}", ("agent", info, True)))
            for suffix in _GENERIC_SUFFIXES:
                for qualifier in _GENERIC_QUALIFIERS:
                    out.append((f"{base} {qualifier}{suffix}", ("agent", info, False)))
                    out.append((f"anti {base} {qualifier}{suffix}", ("agent", info, False)))
    return out


@dataclass(frozen=True, slots=True)
class DrugHit:
    """One agent or partner named in one text."""

    kind: str                   # "agent" or "partner"
    agent: AgentInfo | None
    partner: Partner | None
    phrase: str                 # the folded phrase that matched
    placebo: bool               # named as a placebo for the drug ("matching placebo")
    start: int = 0              # span in the folded text
    end: int = 0


class DrugMatcher:
    """One trie regex over every agent name, generic wording and partner name, so the
    longest name wins ("nivolumab and relatlimab" is the fixed-dose product)."""

    def __init__(self, agents: tuple[Agent, ...], partners: tuple[Partner, ...]):
        items: list[tuple[str, tuple]] = []
        for agent in agents:
            info = AgentInfo.of(agent)
            for name in agent.names():
                items.append((name, ("agent", info, False)))
        items.extend(generic_phrases())
        #: agent names and generic wordings only: a yes/no search for the fast path
        self.agent_regex = PhraseMatcher(list(items)).regex
        for partner in partners:
            for name in partner.names():
                items.append((name, ("partner", partner, False)))
        self.matcher: PhraseMatcher = PhraseMatcher(items)

    def names_any_agent(self, texts: list[str], descriptions: list[str] = ()) -> bool:
        """True when any of ``texts`` (folded) or ``descriptions`` (only case-folded, which is
        cheaper and enough for INNs and most code names) may name a PD-(L)1 agent or a generic
        wording. Used to skip the arm-by-arm work for the many studies that name none."""
        search = self.agent_regex.search
        folded = fold_text(" \u0000 ".join(t for t in texts if t))
        if folded and search(folded):
            return True
        return any(search(d.casefold()) for d in descriptions if d)

    def hits(self, text: str, *, generic: bool, partners: bool = True) -> list[DrugHit]:
        """Drugs named in ``text`` (raw); ``generic`` allows the generic agent wordings."""
        folded = fold_text(text)
        if not folded:
            return []
        out: list[DrugHit] = []
        placebo_text = "placebo" in folded or "matching" in folded
        for m in self.matcher.finditer(folded):
            kind, value, bare = m.values[0]
            if kind == "agent":
                if value.generic and (not generic or (bare and m.end != len(folded))):
                    continue
                hit = DrugHit("agent", value, None, m.phrase, False, m.start, m.end)
            elif partners:
                hit = DrugHit("partner", None, value, m.phrase, False, m.start, m.end)
            else:
                continue
            if placebo_text and _is_placebo(text, m.phrase):
                hit = DrugHit(hit.kind, hit.agent, hit.partner, hit.phrase, True, m.start, m.end)
            out.append(hit)
        return out


_SEGMENTS = re.compile(r"\s*(?:\+|/|,|;|&|\bplus\b|\band\b|\bwith\b|\bor\b|\bvs\.?|\bversus\b)\s*",
                       re.IGNORECASE)


def _is_placebo(text: str, phrase: str) -> bool:
    """True when every part of ``text`` (split at +, /, and, or, with ...) that names
    ``phrase`` is a placebo ("Tiragolumab Matching Placebo"; not "Placebo + Atezolizumab")."""
    parts = [fold_text(p) for p in _SEGMENTS.split(text)]
    naming = [p for p in parts if phrase in p]
    if not naming:
        return False
    return all("placebo" in p or "matching" in p or "dummy" in p for p in naming)


@lru_cache(maxsize=4)
def default_drug_matcher() -> DrugMatcher:
    """The matcher built from the shipped vocabularies (cached)."""
    return DrugMatcher(load_agents(), load_partners())


_NEGATION = re.compile(
    r"\b(?:no|not|without|prior|previous|previously|after|following|progress\w*|refractory|"
    r"resistant|relapsed|fail\w*|pretreated|pre-treated|exposed|naive|na\u00efve|except|"
    r"excluding|placebo|matching|instead|intolerant|discontinu\w*|history)\b",
    re.IGNORECASE,
)


_NEGATED_AFTER = re.compile(r"\s*(?:naive|refractory|resistant|pretreated|experienced|failure)\b")


def negated(text: str, phrase: str) -> bool:
    """True when the words just before the first mention of ``phrase`` in ``text`` say the
    drug is not given here ("after progression on pembrolizumab", "no immunotherapy")."""
    folded = fold_text(text)
    at = folded.find(phrase)
    if at < 0:
        return False
    before = folded[max(0, at - 60):at]
    after = folded[at + len(phrase):at + len(phrase) + 25]
    return bool(_NEGATION.search(before)) or bool(_NEGATED_AFTER.match(after))
