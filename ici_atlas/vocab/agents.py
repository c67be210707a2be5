"""The curated list of PD-1/PD-L1-binding agents (``agents.tsv``).

One row per agent: approved and investigational anti-PD-1 and anti-PD-L1 antibodies,
bispecific antibodies and bifunctional fusion proteins with a PD-(L)1 arm, fixed-dose
antibody combinations, antibody mixtures, small molecules and subcutaneous
formulations. ClinicalTrials.gov queries, trial classifiers and the approvals registry
all read this one list. Columns are documented in ``docs/vocabularies.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ici_atlas.errors import VocabularyError
from ici_atlas.vocab.tsv import Row, normalize_name, read_rows, vocab_path

AGENTS_FILE = "agents.tsv"

TARGET_CLASSES = ("PD-1", "PD-L1")

#: Modalities an agent row may have. The last three are products built from other rows
#: and must list their ``components``.
MODALITIES = (
    "monoclonal antibody",
    "single-domain antibody",
    "bispecific antibody",
    "trispecific antibody",
    "bifunctional fusion protein",
    "small molecule",
    "peptide",
    "antibody-drug conjugate",
    "fixed-dose combination",
    "antibody mixture",
    "subcutaneous formulation",
)
COMBINED_MODALITIES = frozenset({"fixed-dose combination", "antibody mixture", "subcutaneous formulation"})

AGENT_COLUMNS = (
    "agent_id",
    "inn",
    "target_class",
    "targets",
    "bispecific",
    "other_target",
    "modality",
    "components",
    "code_names",
    "brands",
    "other_names",
    "originator",
    "source",
    "verified",
    "notes",
)

_ID = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
#: Shorter names collide with unrelated words and codes in free text.
MIN_NAME_LENGTH = 4


@dataclass(frozen=True)
class Agent:
    """One PD-1/PD-L1-binding agent.

    ``target_class`` is the PD-(L)1 arm; ``targets`` lists every target (the PD-(L)1 arm
    first); ``bispecific`` is true when one product hits PD-(L)1 and another target
    (bispecific antibody, bifunctional fusion protein, or co-formulated antibody pair), and
    ``other_target`` is then that other target. ``components`` lists the agent ids (or
    partner drug names, see :mod:`ici_atlas.vocab.partners`) a combined product is made of.
    """

    agent_id: str
    inn: str
    target_class: str
    targets: tuple[str, ...]
    bispecific: bool
    other_target: str | None
    modality: str
    components: tuple[str, ...]
    code_names: tuple[str, ...]
    brands: tuple[str, ...]
    other_names: tuple[str, ...]
    originator: str
    source: str
    verified: bool
    notes: str
    line: int = 0

    @property
    def label(self) -> str:
        """Name to print: the INN, else the first code name, else the id."""
        return self.inn or (self.code_names[0] if self.code_names else self.agent_id)

    def names(self) -> tuple[str, ...]:
        """INN, code names, brands and other names, first spelling of each kept."""
        seen: set[str] = set()
        out: list[str] = []
        for name in (self.inn, *self.code_names, *self.brands, *self.other_names):
            key = normalize_name(name)
            if key and key not in seen:
                seen.add(key)
                out.append(name)
        return tuple(out)


def _parse_agent(row: Row) -> Agent:
    agent_id = row.text("agent_id", required=True)
    if not _ID.match(agent_id):
        raise row.error(
            "agent_id", agent_id, "ids are lower-case letters, digits, '.' and '-'",
            "use the lower-case INN (or code name), e.g. pembrolizumab",
        )
    target_class = row.choice("target_class", TARGET_CLASSES)
    targets = row.values("targets")
    if not targets or targets[0] != target_class:
        raise row.error(
            "targets", row.text("targets"), f"must start with the target_class {target_class!r}",
            f"write {target_class} first, then any other target separated by ';'",
        )
    bispecific = row.flag("bispecific")
    other_target = row.optional("other_target")
    if bispecific and (other_target is None or other_target not in targets[1:]):
        raise row.error(
            "other_target", other_target or "", "a bispecific agent needs its non-PD-(L)1 target, "
            "listed in targets too", "name the second target, e.g. VEGF",
        )
    if not bispecific and other_target is not None:
        raise row.error(
            "other_target", other_target, "only bispecific agents have an other_target",
            "clear the cell or set bispecific to yes",
        )
    modality = row.choice("modality", MODALITIES)
    components = row.values("components")
    if modality in COMBINED_MODALITIES and not components:
        raise row.error(
            "components", "", f"a {modality} must list what it is made of",
            "list component agent ids or partner drugs, separated by ';'",
        )
    if modality not in COMBINED_MODALITIES and components:
        raise row.error(
            "components", row.text("components"), f"a {modality} has no components",
            "clear the cell or change the modality",
        )
    inn = row.text("inn")
    code_names = row.values("code_names")
    if not inn and not code_names:
        raise row.error("inn", "", "an agent needs an INN or a code name", "fill in inn or code_names")
    agent = Agent(
        agent_id=agent_id,
        inn=inn,
        target_class=target_class,
        targets=targets,
        bispecific=bispecific,
        other_target=other_target,
        modality=modality,
        components=components,
        code_names=code_names,
        brands=row.values("brands"),
        other_names=row.values("other_names"),
        originator=row.text("originator"),
        source=row.text("source", required=True),
        verified=row.flag("verified"),
        notes=row.text("notes"),
        line=row.line,
    )
    for name in agent.names():
        if len(normalize_name(name)) < MIN_NAME_LENGTH:
            raise row.error(
                "names", name, f"names shorter than {MIN_NAME_LENGTH} characters are ambiguous",
                "drop the short name or write a longer, unambiguous form",
            )
    return agent


def parse_agents(path: Path) -> tuple[Agent, ...]:
    """Read and validate an agents file (uncached; see :func:`load_agents`)."""
    agents: list[Agent] = []
    ids: dict[str, Agent] = {}
    owner: dict[str, Agent] = {}
    rows = list(read_rows(path, AGENT_COLUMNS))
    for row in rows:
        agent = _parse_agent(row)
        if agent.agent_id in ids:
            raise row.error(
                "agent_id", agent.agent_id, f"duplicate of row {ids[agent.agent_id].line}",
                "merge the two rows",
            )
        ids[agent.agent_id] = agent
        for name in agent.names():
            key = normalize_name(name)
            other = owner.get(key)
            if other is not None:
                raise row.error(
                    "names", name, f"already names agent {other.agent_id!r} (row {other.line})",
                    "a name may map to one agent only; remove it from one row",
                )
            owner[key] = agent
        agents.append(agent)
    for agent, row in zip(agents, rows):
        for component in agent.components:
            if component == agent.agent_id:
                raise row.error("components", component, "a product cannot contain itself",
                                "list the parts, not the product")
    return tuple(agents)


@lru_cache(maxsize=8)
def _load_agents_cached(path: Path) -> tuple[Agent, ...]:
    return parse_agents(path)


def load_agents(path: str | Path | None = None) -> tuple[Agent, ...]:
    """All agents from ``agents.tsv`` (or ``path``), validated; cached per path.

    Raises :class:`~ici_atlas.errors.VocabularyError` naming the file, row, field and value
    of the first problem found.
    """
    return _load_agents_cached(Path(path) if path is not None else vocab_path(AGENTS_FILE))


@lru_cache(maxsize=8)
def _index_cached(path: Path) -> dict[str, Agent]:
    return {normalize_name(n): a for a in _load_agents_cached(path) for n in a.names()}


def load_agent_index(path: str | Path | None = None) -> dict[str, Agent]:
    """Map every normalised name (see :func:`normalize_name`) to its agent (cached;
    do not mutate the returned dict)."""
    return _index_cached(Path(path) if path is not None else vocab_path(AGENTS_FILE))


def find_agent(name: str, path: str | Path | None = None) -> Agent:
    """The agent ``name`` (INN, code name, brand or other name; any case) refers to."""
    index = load_agent_index(path)
    try:
        return index[normalize_name(name)]
    except KeyError:
        raise VocabularyError(
            f"Unknown PD-1/PD-L1 agent {name!r}",
            fix="check the spelling or add the agent to ici_atlas/vocab/agents.tsv",
        ) from None
