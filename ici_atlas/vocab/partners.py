"""Partner drugs and procedures combined with PD-1/PD-L1 agents.

``partner_classes.tsv`` fixes the combination classes (VEGF, CTLA-4, PARP, ... chemotherapy,
radiotherapy, surgery, other); ``partners.tsv`` maps each partner drug, regimen or
procedure term and its synonyms to one class. A partner row may also ``implies`` further
classes (chemoradiotherapy is radiotherapy and implies chemotherapy). No name may belong
to two partners, or to a partner and a PD-1/PD-L1 agent (checked against ``agents.tsv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ici_atlas.errors import VocabularyError
from ici_atlas.vocab.agents import AGENTS_FILE, Agent, _load_agents_cached
from ici_atlas.vocab.tsv import Row, normalize_name, read_rows, vocab_path

PARTNERS_FILE = "partners.tsv"
PARTNER_CLASSES_FILE = "partner_classes.tsv"

CLASS_KINDS = ("target", "modality", "procedure")
CLASS_COLUMNS = ("name", "kind", "description")
PARTNER_COLUMNS = ("drug", "synonyms", "partner_class", "implies", "source", "verified", "notes")


@dataclass(frozen=True)
class PartnerClass:
    """A combination class: a target (VEGF, CTLA-4, ...), a modality (ADC, chemotherapy,
    cell therapy, ...) or a procedure (radiotherapy, surgery)."""

    name: str
    description: str
    kind: str
    line: int = 0


@dataclass(frozen=True)
class Partner:
    """A partner drug, regimen or procedure term and the class it belongs to."""

    drug: str
    synonyms: tuple[str, ...]
    partner_class: str
    source: str
    verified: bool
    implies: tuple[str, ...] = ()
    notes: str = ""
    line: int = 0

    def names(self) -> tuple[str, ...]:
        """The canonical name and its synonyms, first spelling of each kept."""
        seen: set[str] = set()
        out: list[str] = []
        for name in (self.drug, *self.synonyms):
            key = normalize_name(name)
            if key and key not in seen:
                seen.add(key)
                out.append(name)
        return tuple(out)

    @property
    def classes(self) -> tuple[str, ...]:
        """``partner_class`` followed by any implied classes."""
        return (self.partner_class, *self.implies)


def parse_partner_classes(path: Path) -> tuple[PartnerClass, ...]:
    """Read and validate a partner-classes file (uncached)."""
    out: list[PartnerClass] = []
    seen: dict[str, int] = {}
    for row in read_rows(path, CLASS_COLUMNS):
        name = row.text("name", required=True)
        if name in seen:
            raise row.error("name", name, f"duplicate of row {seen[name]}", "merge the two rows")
        seen[name] = row.line
        out.append(
            PartnerClass(
                name=name,
                description=row.text("description", required=True),
                kind=row.choice("kind", CLASS_KINDS),
                line=row.line,
            )
        )
    return tuple(out)


def _parse_partner(row: Row, class_names: frozenset[str]) -> Partner:
    drug = row.text("drug", required=True)
    if drug != drug.lower():
        raise row.error("drug", drug, "canonical names are lower-case", f"write {drug.lower()!r}")
    partner_class = row.text("partner_class", required=True)
    if partner_class not in class_names:
        raise row.error(
            "partner_class", partner_class, f"not a class in {PARTNER_CLASSES_FILE}",
            f"use one of {sorted(class_names)}",
        )
    implies = row.values("implies")
    for cls in implies:
        if cls not in class_names or cls == partner_class:
            raise row.error(
                "implies", cls, f"not another class in {PARTNER_CLASSES_FILE}",
                f"use one of {sorted(class_names - {partner_class})}",
            )
    return Partner(
        drug=drug,
        synonyms=row.values("synonyms"),
        partner_class=partner_class,
        implies=implies,
        source=row.text("source", required=True),
        verified=row.flag("verified"),
        notes=row.text("notes"),
        line=row.line,
    )


def parse_partners(
    path: Path, classes: tuple[PartnerClass, ...], agents: tuple[Agent, ...] = ()
) -> tuple[Partner, ...]:
    """Read and validate a partners file against ``classes`` and ``agents`` (uncached)."""
    class_names = frozenset(c.name for c in classes)
    agent_owner = {normalize_name(n): a for a in agents for n in a.names()}
    owner: dict[str, Partner] = {}
    out: list[Partner] = []
    for row in read_rows(path, PARTNER_COLUMNS):
        partner = _parse_partner(row, class_names)
        for name in partner.names():
            key = normalize_name(name)
            if len(key) < 3:
                raise row.error("synonyms", name, "names shorter than 3 characters are ambiguous",
                                "drop it or write a longer form")
            if key in agent_owner:
                agent = agent_owner[key]
                raise row.error(
                    "synonyms" if name != partner.drug else "drug", name,
                    f"already names PD-1/PD-L1 agent {agent.agent_id!r} ({AGENTS_FILE} row {agent.line})",
                    "a name may map to one agent or one partner only; remove it here",
                )
            if key in owner:
                other = owner[key]
                raise row.error(
                    "synonyms" if name != partner.drug else "drug", name,
                    f"already names partner {other.drug!r} (row {other.line})",
                    "a name may map to one partner only; remove it from one row",
                )
            owner[key] = partner
        out.append(partner)
    return tuple(out)


def check_components(agents: tuple[Agent, ...], partners: tuple[Partner, ...]) -> None:
    """Every component of a combined agent product is an agent id or a partner drug."""
    known = {a.agent_id for a in agents} | {p.drug for p in partners}
    for agent in agents:
        for component in agent.components:
            if component not in known:
                raise VocabularyError(
                    f"{AGENTS_FILE} row {agent.line}: invalid components {component!r}: "
                    f"not an agent_id in {AGENTS_FILE} nor a drug in {PARTNERS_FILE}",
                    fix=f"add {component!r} to one of them or correct the spelling",
                )


@lru_cache(maxsize=8)
def _classes_cached(path: Path) -> tuple[PartnerClass, ...]:
    return parse_partner_classes(path)


@lru_cache(maxsize=8)
def _partners_cached(path: Path, classes_path: Path, agents_path: Path) -> tuple[Partner, ...]:
    agents = _load_agents_cached(agents_path)
    partners = parse_partners(path, _classes_cached(classes_path), agents)
    check_components(agents, partners)
    return partners


def load_partner_classes(path: str | Path | None = None) -> tuple[PartnerClass, ...]:
    """The combination classes from ``partner_classes.tsv`` (or ``path``); cached."""
    return _classes_cached(Path(path) if path is not None else vocab_path(PARTNER_CLASSES_FILE))


def load_partners(
    path: str | Path | None = None,
    *,
    classes_path: str | Path | None = None,
    agents_path: str | Path | None = None,
) -> tuple[Partner, ...]:
    """All partner drugs and procedure terms, validated against the classes and the
    agents (no shared names; combined agents' components resolve); cached."""
    return _partners_cached(
        Path(path) if path is not None else vocab_path(PARTNERS_FILE),
        Path(classes_path) if classes_path is not None else vocab_path(PARTNER_CLASSES_FILE),
        Path(agents_path) if agents_path is not None else vocab_path(AGENTS_FILE),
    )


@lru_cache(maxsize=8)
def _partner_index_cached(path: Path, classes_path: Path, agents_path: Path) -> dict[str, Partner]:
    return {
        normalize_name(n): p for p in _partners_cached(path, classes_path, agents_path) for n in p.names()
    }


def load_partner_index(path: str | Path | None = None) -> dict[str, Partner]:
    """Map every normalised partner name to its partner (cached; do not mutate)."""
    return _partner_index_cached(
        Path(path) if path is not None else vocab_path(PARTNERS_FILE),
        vocab_path(PARTNER_CLASSES_FILE),
        vocab_path(AGENTS_FILE),
    )
