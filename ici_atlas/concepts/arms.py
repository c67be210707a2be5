"""The regimen of each arm: which PD-(L)1 agents and which partners it gives, and whether
it is a PD-(L)1 monotherapy arm.

Reads: arm groups (``label``, ``type``, ``interventionNames``, ``description``) and the
interventions (through :mod:`ici_atlas.concepts.partners`).

* An arm gives the interventions its ``interventionNames`` list and those whose
  ``armGroupLabels`` name it.
* An arm label that names a specific agent (not a generic wording) adds it, unless the words
  before it say it is not given here ("after progression on", "no", "prior", "placebo" ...).
  The arm description is read the same way, but only when neither the arm's interventions
  nor its label name an agent, the arm is not a placebo arm, and its interventions are
  opaque (none listed, or one that names no known drug, such as "GP+PD-1+Tight");
  descriptions of one cohort often mention the drugs of the others.
* With no arm groups, all interventions of the study form one arm, labelled
  ``(no arm groups: all interventions)``. A single-group design whose arm groups
  each list one intervention (one "arm" per drug) is one arm too, labelled
  ``(single-group design: all arms)``.
* A monotherapy arm gives PD-(L)1 agent(s) and no partner except surgery; placebo and
  supportive care do not count; a combined product (fixed-dose combination, antibody
  mixture such as nivolumab-relatlimab) is not monotherapy; a bispecific antibody alone is.
* Partner classes of an arm are those of its partners, plus the other target of a combined
  product; they are counted only for arms that give a PD-(L)1 agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ici_atlas.concepts.agents import AgentInfo, DrugMatcher, negated
from ici_atlas.concepts.partners import SURGERY_CLASS, InterventionRole, PartnerUse
from ici_atlas.concepts.study import Study

NO_ARMS_LABEL = "(no arm groups: all interventions)"
SINGLE_GROUP_LABEL = "(single-group design: all arms)"


@dataclass(frozen=True, slots=True)
class AgentUse:
    agent: AgentInfo
    intervention_name: str | None
    matched_term: str
    matched_field: str


@dataclass(frozen=True, slots=True)
class ArmRegimen:
    label: str
    arm_type: str
    agents: tuple[AgentUse, ...]
    partners: tuple[tuple[str, PartnerUse], ...]    # (intervention name, partner)

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(sorted({u.agent.agent_id for u in self.agents}))

    @property
    def partner_classes(self) -> tuple[str, ...]:
        classes = {p.partner_class for _, p in self.partners}
        classes.update(u.agent.other_target for u in self.agents
                       if u.agent.combined_product and u.agent.other_target)
        return tuple(sorted(classes))

    @property
    def other_drugs(self) -> tuple[str, ...]:
        return tuple(sorted({p.partner_drug or name for name, p in self.partners}))

    @property
    def is_pd1_monotherapy(self) -> bool:
        if not self.agents or any(u.agent.combined_product for u in self.agents):
            return False
        return all(p.partner_class == SURGERY_CLASS for _, p in self.partners)


_TYPE_PREFIX = re.compile(
    r"^(?:drug|biological|radiation|procedure|device|behavioral|genetic|dietary supplement|"
    r"combination product|diagnostic test|other)\s*:\s*", re.IGNORECASE)


def _strip_type(name: str) -> str:
    """``"Drug: Pembrolizumab"`` -> ``"Pembrolizumab"``."""
    return _TYPE_PREFIX.sub("", name, count=1)


def classify_arms(study: Study, roles: tuple[InterventionRole, ...],
                  matcher: DrugMatcher) -> tuple[ArmRegimen, ...]:
    """One :class:`ArmRegimen` per arm group (see the module docstring)."""
    arms = study.arms
    if not arms:
        if not roles:
            return ()
        return (_regimen(NO_ARMS_LABEL, "", roles, [], []),)
    by_name: dict[str, list[InterventionRole]] = {}
    for role in roles:
        by_name.setdefault(role.intervention.name.casefold().strip(), []).append(role)
    out = []
    for i, arm in enumerate(arms):
        chosen: list[InterventionRole] = []
        seen: set[int] = set()
        unresolved: list[str] = []
        for ref in arm.intervention_names:
            found = by_name.get(_strip_type(ref).casefold().strip())
            if not found:
                unresolved.append(_strip_type(ref))
                continue
            for role in found:
                if id(role) not in seen:
                    seen.add(id(role))
                    chosen.append(role)
        for role in roles:
            if id(role) not in seen and arm.label and arm.label in role.intervention.arm_labels:
                seen.add(id(role))
                chosen.append(role)
        extra_agents: list[AgentUse] = []
        for ref in unresolved:  # a name the interventions list lacks: read it directly
            for hit in matcher.hits(ref, generic=True, partners=False):
                if hit.kind == "agent" and not hit.placebo:
                    extra_agents.append(AgentUse(hit.agent, ref, hit.phrase,
                                                 f"armGroups[{i}].interventionNames"))
        for hit in matcher.hits(arm.label, generic=False, partners=False):
            if hit.kind == "agent" and not hit.placebo and not negated(arm.label, hit.phrase):
                extra_agents.append(AgentUse(hit.agent, None, hit.phrase, f"armGroups[{i}].label"))
        gives_agent = extra_agents or any(role.agents for role in chosen)
        placebo_arm = (arm.type == "PLACEBO_COMPARATOR" or "placebo" in arm.label.lower()
                       or (chosen and all(role.placebo for role in chosen)))
        opaque = (not chosen or bool(unresolved)
                  or any(p.rule == "unknown drug" for role in chosen for p in role.partners))
        if not gives_agent and not placebo_arm and opaque:
            # the description only when the arm's interventions and label name no agent
            for hit in matcher.hits(arm.description, generic=False, partners=False):
                if (hit.kind == "agent" and not hit.placebo
                        and not negated(arm.description, hit.phrase)):
                    extra_agents.append(AgentUse(hit.agent, None, hit.phrase,
                                                 f"armGroups[{i}].description"))
        out.append(_regimen(arm.label, arm.type, chosen, extra_agents, unresolved))
    if (len(out) > 1 and study.intervention_model == "SINGLE_GROUP"
            and all(len(arm.intervention_names) <= 1 for arm in arms)):
        return (_merge(out),)
    return tuple(out)


def _merge(arms: list[ArmRegimen]) -> ArmRegimen:
    agents: list[AgentUse] = []
    have: set[str] = set()
    for arm in arms:
        for use in arm.agents:
            if use.agent.agent_id not in have:
                have.add(use.agent.agent_id)
                agents.append(use)
    partners = tuple(p for arm in arms for p in arm.partners)
    types = sorted({a.arm_type for a in arms if a.arm_type})
    return ArmRegimen(SINGLE_GROUP_LABEL, ";".join(types), tuple(agents), partners)


def _regimen(label: str, arm_type: str, roles, extra_agents, unresolved) -> ArmRegimen:
    agents: list[AgentUse] = []
    have: set[str] = set()
    for role in roles:
        for info, phrase, field in role.agents:
            if info.agent_id not in have:
                have.add(info.agent_id)
                agents.append(AgentUse(info, role.intervention.name, phrase,
                                       f"interventions.{field}"))
    for use in extra_agents:
        if use.agent.agent_id not in have:
            have.add(use.agent.agent_id)
            agents.append(use)
    partners = [(role.intervention.name, p) for role in roles for p in role.partners]
    # a combined product's parts, named beside it ("Pembrolizumab/Vibostolimab", other name
    # MK-7684A), are the product, not extra drugs
    parts = {c for u in agents for c in u.agent.components}
    if parts:
        agents = [u for u in agents if u.agent.agent_id not in parts]
        partners = [(n, p) for n, p in partners if p.partner_drug not in parts]
    return ArmRegimen(label, arm_type, tuple(agents), tuple(partners))
