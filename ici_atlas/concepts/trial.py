"""All classifiers on one study: the ``trials`` row and its explanation rows.

:func:`classify_study` is a pure function of one parsed v2 record and the vocabularies
(through :class:`Classifiers`); :mod:`ici_atlas.concepts.classify` runs it over the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ici_atlas.concepts.agents import DrugMatcher, default_drug_matcher
from ici_atlas.concepts.arms import AgentUse, ArmRegimen, classify_arms
from ici_atlas.concepts.matcher import fold_text
from ici_atlas.concepts.cancers import (
    CancerClassifier,
    CancerHit,
    default_cancer_classifier,
    summarise_cancers,
)
from ici_atlas.concepts.lines import LineSetting, classify_line_setting
from ici_atlas.concepts.partners import classify_intervention
from ici_atlas.concepts.phases import classify_phase
from ici_atlas.concepts.study import Study

#: Study types whose interventions are given by the study: their PD-(L)1 exposure is
#: ``assigned``. In observational studies treatment is given in care and observed: their
#: exposure is ``observed``. The review counted every ClinicalTrials.gov study evaluating
#: PD-1/PD-L1 blockade, both kinds (its Figure 2A has an "NA" phase bar), so both are
#: PD-(L)1 trials here; the landscape can keep the assigned ones only.
GIVING_STUDY_TYPES = frozenset({"INTERVENTIONAL", "EXPANDED_ACCESS"})
EXPOSURES = ("assigned", "observed")

#: Title words that make a named agent a prior or failed treatment, not the studied one
#: ("after progression on pembrolizumab", "anti-PD-1-refractory melanoma").
_PRIOR = re.compile(
    r"(?:after|following|post|refractory to|resistant to|progress\w* (?:on|after|following)|"
    r"previously treated with|pre-?treated with|failure (?:of|on)|failed|relapsed (?:on|after)|"
    r"intolerant (?:of|to)|exposed to)\W+(?:\w+\W+){0,3}$")

#: Columns of the ``trials`` table, in order (docs/store.md; the last ones are additions).
TRIAL_COLUMNS = (
    "nct_id", "brief_title", "official_title", "acronym", "overall_status", "study_type",
    "phases", "phase_label", "start_date", "start_year", "first_posted", "last_update_posted",
    "lead_sponsor", "sponsor_class", "enrollment", "has_results", "is_pd1_pdl1", "agents",
    "target_class", "bispecific", "bispecific_other_target", "monotherapy_arm",
    "partner_classes", "cancer_groups", "oncotree_codes", "line_of_therapy", "setting",
    "countries", "pd1_rule", "line_rule", "setting_rule", "exposure", "registry",
)


@dataclass(frozen=True)
class Classifiers:
    drugs: DrugMatcher
    cancers: CancerClassifier


@lru_cache(maxsize=1)
def default_classifiers() -> Classifiers:
    """Classifiers built from the shipped vocabularies (built once per process)."""
    return Classifiers(default_drug_matcher(), default_cancer_classifier())


@dataclass
class TrialClassification:
    """Everything derived from one study."""

    trial: dict
    arms: tuple[ArmRegimen, ...]
    cancers: tuple[CancerHit, ...]
    line: LineSetting
    countries: tuple[str, ...]
    agent_rows: list[tuple] = field(default_factory=list)
    arm_rows: list[tuple] = field(default_factory=list)
    partner_rows: list[tuple] = field(default_factory=list)
    cancer_rows: list[tuple] = field(default_factory=list)
    country_rows: list[tuple] = field(default_factory=list)


def _list(values) -> list[str]:
    return [v for v in values if v]


def _title_agents(study: Study, drugs: DrugMatcher) -> dict:
    """PD-(L)1 agents a title names (brief, then official) when no intervention does: named
    agents only (not generic wording), and not as a prior or failed treatment."""
    found: dict = {}
    for field_name, text in (("briefTitle", study.brief_title), ("officialTitle", study.official_title)):
        if not text:
            continue
        folded = fold_text(text)
        for hit in drugs.hits(text, generic=False, partners=False):
            if hit.kind != "agent" or hit.agent.generic or hit.agent.agent_id in found:
                continue
            if _PRIOR.search(folded[:hit.start]):
                continue
            found[hit.agent.agent_id] = AgentUse(hit.agent, None, hit.phrase, field_name)
    return found


def classify_study(record: dict, classifiers: Classifiers | None = None) -> TrialClassification:
    """Classify one parsed API v2 study record."""
    cl = classifiers or default_classifiers()
    study = Study(record)
    nct = study.nct_id
    # Arms and partners are worked out only for studies that name an agent somewhere in
    # their interventions or arm groups; for the rest (most studies) they cannot matter.
    if cl.drugs.names_any_agent(*study.drug_texts()):
        roles = tuple(classify_intervention(iv, cl.drugs) for iv in study.interventions)
        arms = classify_arms(study, roles, cl.drugs)
    else:
        roles, arms = (), ()
    gives = study.study_type in GIVING_STUDY_TYPES

    # agents over all arms; a generic id is dropped when a named agent of its class is given
    uses = {}
    for arm in arms:
        for use in arm.agents:
            uses.setdefault(use.agent.agent_id, use)
    specific_classes = {u.agent.target_class for u in uses.values() if not u.agent.generic}
    uses = {k: u for k, u in uses.items()
            if not (u.agent.generic and u.agent.target_class in specific_classes)}
    title_only = False
    if not uses:
        uses = _title_agents(study, cl.drugs)
        title_only = bool(uses)
    if uses:
        first = uses[sorted(uses)[0]]
        pd1_rule = f"{first.matched_field}: {first.matched_term!r}"
        if title_only:
            pd1_rule += " (named only in the title; no intervention names it)"
        if not gives:
            pd1_rule += (f" ({study.study_type.lower() or 'unknown type'} study: exposure "
                         "observed, not assigned)")
    else:
        pd1_rule = None
    is_pd1 = bool(uses)
    exposure = None if not is_pd1 else ("assigned" if gives else "observed")
    agent_ids = sorted(uses)
    classes = sorted({c for u in uses.values() for c in u.agent.target_class.split(";")})
    bispecific = [u.agent for u in uses.values() if u.agent.bispecific]
    pd1_arms = [a for a in arms if any(u.agent.agent_id in uses for u in a.agents)] if is_pd1 else []
    partner_classes = sorted({c for a in pd1_arms for c in a.partner_classes})
    monotherapy = any(a.is_pd1_monotherapy for a in pd1_arms)
    phases, phase_label = classify_phase(study.phases)
    cancers = cl.cancers.classify(study)
    cancer_groups, oncotree_codes = summarise_cancers(cancers)
    if list(cancer_groups) != ["non-cancer"]:
        # eligibility is read for the line of PD-(L)1 trials only (it is long to scan)
        line = classify_line_setting(study, read_eligibility=is_pd1)
    else:  # a line of therapy or treatment setting means nothing without a cancer
        line = LineSetting(None, None, None, None)
    countries = study.countries
    start = study.start_date
    trial = {
        "nct_id": nct,
        "brief_title": study.brief_title or None,
        "official_title": study.official_title or None,
        "acronym": study.acronym or None,
        "overall_status": study.overall_status or None,
        "study_type": study.study_type or None,
        "phases": phases,
        "phase_label": phase_label,
        "start_date": start,
        "start_year": start.year if start else None,
        "first_posted": study.first_posted,
        "last_update_posted": study.last_update_posted,
        "lead_sponsor": study.lead_sponsor or None,
        "sponsor_class": study.sponsor_class or None,
        "enrollment": study.enrollment,
        "has_results": study.has_results,
        "is_pd1_pdl1": is_pd1,
        "agents": _list(agent_ids),
        "target_class": _list(classes),
        "bispecific": bool(bispecific),
        "bispecific_other_target": _list(sorted({a.other_target for a in bispecific if a.other_target})),
        "monotherapy_arm": monotherapy,
        "partner_classes": _list(partner_classes),
        "cancer_groups": list(cancer_groups),
        "oncotree_codes": list(oncotree_codes),
        "line_of_therapy": line.line_of_therapy,
        "setting": line.setting,
        "countries": _list(countries),
        "pd1_rule": pd1_rule,
        "line_rule": line.line_rule,
        "setting_rule": line.setting_rule,
        "exposure": exposure,
        "registry": study.registry,
    }
    out = TrialClassification(trial, arms, cancers, line, countries)
    for agent_id in agent_ids:
        u = uses[agent_id]
        out.agent_rows.append((nct, agent_id, u.agent.target_class, u.agent.bispecific,
                               u.agent.other_target, u.intervention_name, u.matched_term,
                               u.matched_field))
    for arm in arms:
        arm_agents = [i for i in arm.agent_ids if i in uses]
        out.arm_rows.append((nct, arm.label, arm.arm_type or None, _list(arm_agents),
                             _list(arm.partner_classes), _list(arm.other_drugs),
                             bool(arm_agents) and arm.is_pd1_monotherapy))
        for name, p in arm.partners:
            out.partner_rows.append((nct, arm.label, name, p.partner_drug, p.partner_class,
                                     p.matched_term, p.rule))
    for h in cancers:
        out.cancer_rows.append((nct, h.cancer_group, h.oncotree_code, h.matched_text, h.rule))
    out.country_rows.extend((nct, c) for c in countries)
    return out
