"""The resistance-strategy knowledge base (review Figure 6) and its links to trials.

Three curated files, validated on load:

- ``data/strategies.yaml``: one entry per mechanism/strategy the review discusses, with its
  Figure 6 category, mechanism, target, intervention, direction, evidence level, tumour
  types, a one-sentence finding in our words, the review's reference numbers, the tumour
  phenotypes it applies to, and the partner classes / agents (trial-classifier vocabulary)
  that tie it to trials;
- ``data/combination_findings.yaml``: the review's clinical combination successes and
  failures;
- ``data/references.json``: the review's bibliography (:mod:`ici_atlas.analyses.bibliography`).

Queries: :func:`query_strategies` (filters), :func:`query_phenotype` (which strategies fit
an immune phenotype or host factor), :func:`query_strategy_trials` (PD-(L)1 trials in the
store that give a strategy's drugs), :func:`query_coverage` (which cited references the
knowledge base uses) and :func:`query_evidence_map` (the rows of the evidence-map figure).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from .bibliography import load_references
from ..errors import InputError, VocabularyError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
STRATEGIES_FILE = "strategies.yaml"
FINDINGS_FILE = "combination_findings.yaml"

RESEARCH_NOTE = "Research evidence, not treatment advice."

#: Figure 6 categories, in the order the review discusses them.
CATEGORIES = (
    "Antigen release and presentation",
    "Immune cell trafficking and infiltration",
    "Immune cell function",
    "Metabolism",
    "T-cell recognition and killing",
    "Host factors",
    "Neuro-immune crosstalk",
)
#: Highest evidence the review reports, weakest first.
EVIDENCE_LEVELS = (
    "preclinical",
    "clinical association",
    "phase 1",
    "phase 1/2",
    "phase 2",
    "phase 3",
    "approved",
)
DIRECTIONS = (
    "inhibit", "activate", "induce", "supplement", "deplete", "deliver", "normalize",
    "reprogram", "modulate", "transplant", "avoid", "stratify",
)
#: How much preclinical work the review cites for the strategy, weakest first; ``mixed``
#: means the cited studies disagree or the effect depends on context.
SUPPORT_LEVELS = ("none", "limited", "mixed", "moderate", "strong")
OUTCOMES = ("success", "mixed", "failure", "safety concern")
#: Partner classes too broad to stand for one strategy (a trial giving chemotherapy does
#: not test, say, CXCR4 blockade); strategies link to trials through specific classes/agents.
BROAD_CLASSES = frozenset({"other", "chemotherapy", "surgery", "radiotherapy"})
#: Figure 2A phase labels (trials.phase_label), highest first.
TRIAL_PHASES = ("Phase 4", "Phase 3", "Phase 2/3", "Phase 2", "Phase 1/2", "Phase 1", "Early phase 1", "NA")

_STRATEGY_FIELDS = {
    "id": str, "category": str, "subcategory": str, "section": str, "mechanism": str,
    "target": str, "intervention": str, "direction": str, "evidence_level": str,
    "preclinical_support": str, "tumour_types": list, "finding": str, "references": list,
    "phenotypes": list, "partner_classes": list, "agents": list,
}
_OPTIONAL_FIELDS = {"evidence_note": str, "links_by": str}
#: How a strategy is linked to trials and approvals: ``agents`` (its own named drugs, the
#: default: a strategy about one mechanism is tested only by a drug of that mechanism) or
#: ``class`` (its partner classes too: the strategy is the class itself, e.g. CTLA-4
#: co-blockade or anti-angiogenic combination).
LINKS_BY = ("agents", "class")
_FINDING_FIELDS = {
    "id": str, "combination": str, "partner_target": str, "outcome": str, "trials": list,
    "phase": str, "tumour_types": list, "finding": str, "references": list,
    "partner_classes": list, "agents": list,
}


@dataclass(frozen=True)
class Phenotype:
    key: str
    label: str
    description: str
    basis: str


@dataclass(frozen=True)
class Strategy:
    id: str
    category: str
    subcategory: str
    section: str
    mechanism: str
    target: str
    intervention: str
    direction: str
    evidence_level: str
    preclinical_support: str
    tumour_types: tuple[str, ...]
    finding: str
    references: tuple[int, ...]
    phenotypes: tuple[str, ...]
    partner_classes: tuple[str, ...]
    agents: tuple[str, ...]
    evidence_note: str = ""
    links_by: str = "agents"

    @property
    def evidence_rank(self) -> int:
        return EVIDENCE_LEVELS.index(self.evidence_level)

    def as_row(self) -> dict[str, Any]:
        return _row(self)


@dataclass(frozen=True)
class CombinationFinding:
    id: str
    combination: str
    partner_target: str
    outcome: str
    trials: tuple[str, ...]
    phase: str
    tumour_types: tuple[str, ...]
    finding: str
    references: tuple[int, ...]
    partner_classes: tuple[str, ...]
    agents: tuple[str, ...]

    def as_row(self) -> dict[str, Any]:
        return _row(self)


def _row(record) -> dict[str, Any]:
    """A record as a plain row: its tuple fields become lists (JSON, CSV and templates)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(record).items()}


@dataclass(frozen=True)
class KnowledgeBase:
    source: dict[str, Any]
    phenotypes: dict[str, Phenotype]
    strategies: tuple[Strategy, ...]

    def get(self, strategy_id: str) -> Strategy:
        for s in self.strategies:
            if s.id == strategy_id:
                return s
        from ..errors import suggest

        close = suggest(strategy_id, [s.id for s in self.strategies])
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(
            f"Invalid strategy {strategy_id!r}{hint}; expected one of the ids listed by "
            "`ici-atlas strategies`",
            fix="run `ici-atlas strategies` to see the ids",
        )


# ---------------------------------------------------------------- loading and validation


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        payload = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError as exc:
        raise VocabularyError(f"knowledge-base file {path} not found", fix="reinstall ici-atlas") from exc
    except yaml.YAMLError as exc:
        raise VocabularyError(f"{path.name}: not valid YAML ({exc})", fix=f"fix the syntax of {path}") from exc
    if not isinstance(payload, dict) or payload.get("schema_version") != 1:
        raise VocabularyError(
            f"{path.name}: expected a mapping with schema_version: 1",
            fix=f"restore the header of {path} (see docs/strategies.md)",
        )
    return payload


def _check_fields(path: Path, kind: str, entry: Any, fields: dict, optional: dict) -> str:
    if not isinstance(entry, dict):
        raise VocabularyError(f"{path.name}: a {kind} entry is not a mapping: {entry!r}", fix="see docs/strategies.md")
    ident = str(entry.get("id", "?"))
    for name, typ in fields.items():
        value = entry.get(name)
        if not isinstance(value, typ) or (typ is str and not value.strip()):
            raise VocabularyError(
                f"{path.name} {kind} {ident!r}: invalid {name} {value!r}; expected a "
                f"{'non-empty text' if typ is str else 'list'}",
                fix=f"fill in {name} for {ident} in {path}",
            )
    unknown = set(entry) - set(fields) - set(optional)
    if unknown:
        raise VocabularyError(
            f"{path.name} {kind} {ident!r}: unknown field(s) {sorted(unknown)}",
            fix="remove them or add them to the schema in ici_atlas/analyses/evidence.py and docs/strategies.md",
        )
    return ident


def _check_choice(path: Path, ident: str, field: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise VocabularyError(
            f"{path.name} entry {ident!r}: invalid {field} {value!r}; expected one of {list(allowed)}",
            fix=f"edit {field} of {ident} in {path}",
        )


def _check_references(path: Path, ident: str, refs: list, bibliography: dict) -> tuple[int, ...]:
    if not refs:
        raise VocabularyError(
            f"{path.name} entry {ident!r}: no references; every entry needs the review's reference numbers",
            fix=f"add references to {ident} in {path}",
        )
    bad = [r for r in refs if not isinstance(r, int) or r not in bibliography]
    if bad:
        raise VocabularyError(
            f"{path.name} entry {ident!r}: invalid reference number(s) {bad}; expected 1..{max(bibliography)}",
            fix=f"cite numbers from the review's bibliography (`ici-atlas refs`) in {path}",
        )
    return tuple(refs)


def _check_links(path: Path, ident: str, classes: list, agents: list, check_vocab: bool) -> None:
    broad = [c for c in classes if c in BROAD_CLASSES]
    if broad:
        raise VocabularyError(
            f"{path.name} entry {ident!r}: partner class(es) {broad} are too broad to link a strategy to trials",
            fix="link through a specific class or list the agents instead",
        )
    if not check_vocab:
        return
    from ..vocab import load_agents, load_partner_classes, load_partner_index, normalize_name

    known_classes = {c.name for c in load_partner_classes()}
    unknown = [c for c in classes if c not in known_classes]
    if unknown:
        raise VocabularyError(
            f"{path.name} entry {ident!r}: invalid partner class(es) {unknown}; expected names from partner_classes.tsv",
            fix=f"use one of {sorted(known_classes)}",
        )
    agent_ids = {a.agent_id for a in load_agents()}
    partners = load_partner_index()
    missing = [a for a in agents if a not in agent_ids and normalize_name(a) not in partners]
    if missing:
        raise VocabularyError(
            f"{path.name} entry {ident!r}: agent(s) {missing} are neither agent ids (agents.tsv) nor partner drugs (partners.tsv)",
            fix="add them to the vocabulary or correct the spelling",
        )


def parse_strategies(path: Path, check_vocab: bool = True) -> KnowledgeBase:
    """Read and validate a strategies file (uncached; see :func:`load_strategies`)."""
    payload = _read_yaml(path)
    bibliography = load_references()
    phenotypes: dict[str, Phenotype] = {}
    for key, raw in (payload.get("phenotypes") or {}).items():
        if not isinstance(raw, dict) or not all(raw.get(f) for f in ("label", "description", "basis")):
            raise VocabularyError(
                f"{path.name}: phenotype {key!r} needs label, description and basis",
                fix=f"complete phenotype {key} in {path}",
            )
        phenotypes[key] = Phenotype(key, raw["label"], raw["description"], raw["basis"])
    strategies: list[Strategy] = []
    seen: set[str] = set()
    for entry in payload.get("strategies") or []:
        ident = _check_fields(path, "strategy", entry, _STRATEGY_FIELDS, _OPTIONAL_FIELDS)
        if ident in seen:
            raise VocabularyError(f"{path.name}: strategy id {ident!r} appears twice", fix="make ids unique")
        seen.add(ident)
        _check_choice(path, ident, "category", entry["category"], CATEGORIES)
        _check_choice(path, ident, "direction", entry["direction"], DIRECTIONS)
        _check_choice(path, ident, "evidence_level", entry["evidence_level"], EVIDENCE_LEVELS)
        _check_choice(path, ident, "preclinical_support", entry["preclinical_support"], SUPPORT_LEVELS)
        for p in entry["phenotypes"]:
            _check_choice(path, ident, "phenotypes", p, tuple(phenotypes))
        refs = _check_references(path, ident, entry["references"], bibliography)
        _check_links(path, ident, entry["partner_classes"], entry["agents"], check_vocab)
        links_by = entry.get("links_by", "agents")
        _check_choice(path, ident, "links_by", links_by, LINKS_BY)
        if links_by == "class" and not entry["partner_classes"]:
            raise VocabularyError(f"{path.name} strategy {ident!r}: links_by class needs partner_classes",
                                  fix="name its partner classes, or link by agents")
        if not entry["tumour_types"]:
            raise VocabularyError(
                f"{path.name} strategy {ident!r}: empty tumour_types", fix="write [not stated] when the review gives none"
            )
        strategies.append(
            Strategy(
                **{k: entry[k] for k in _STRATEGY_FIELDS if k not in {"references", "tumour_types", "phenotypes", "partner_classes", "agents"}},
                tumour_types=tuple(entry["tumour_types"]),
                references=refs,
                phenotypes=tuple(entry["phenotypes"]),
                partner_classes=tuple(entry["partner_classes"]),
                agents=tuple(entry["agents"]),
                evidence_note=entry.get("evidence_note", ""),
                links_by=links_by,
            )
        )
    if not strategies:
        raise VocabularyError(f"{path.name}: no strategies", fix=f"restore {path}")
    return KnowledgeBase(source=payload.get("source") or {}, phenotypes=phenotypes, strategies=tuple(strategies))


def parse_findings(path: Path, check_vocab: bool = True) -> tuple[CombinationFinding, ...]:
    """Read and validate a combination-findings file (uncached)."""
    payload = _read_yaml(path)
    bibliography = load_references()
    out: list[CombinationFinding] = []
    seen: set[str] = set()
    for entry in payload.get("findings") or []:
        ident = _check_fields(path, "finding", entry, _FINDING_FIELDS, {})
        if ident in seen:
            raise VocabularyError(f"{path.name}: finding id {ident!r} appears twice", fix="make ids unique")
        seen.add(ident)
        _check_choice(path, ident, "outcome", entry["outcome"], OUTCOMES)
        _check_choice(path, ident, "phase", entry["phase"], EVIDENCE_LEVELS)
        refs = _check_references(path, ident, entry["references"], bibliography)
        _check_links(path, ident, entry["partner_classes"], entry["agents"], check_vocab)
        links_by = entry.get("links_by", "agents")
        _check_choice(path, ident, "links_by", links_by, LINKS_BY)
        if links_by == "class" and not entry["partner_classes"]:
            raise VocabularyError(f"{path.name} strategy {ident!r}: links_by class needs partner_classes",
                                  fix="name its partner classes, or link by agents")
        out.append(
            CombinationFinding(
                **{k: entry[k] for k in _FINDING_FIELDS if k not in {"trials", "tumour_types", "references", "partner_classes", "agents"}},
                trials=tuple(entry["trials"]),
                tumour_types=tuple(entry["tumour_types"]),
                references=refs,
                partner_classes=tuple(entry["partner_classes"]),
                agents=tuple(entry["agents"]),
            )
        )
    return tuple(out)


@lru_cache(maxsize=4)
def load_strategies(path: str | Path | None = None) -> KnowledgeBase:
    """The validated knowledge base (cached)."""
    return parse_strategies(Path(path) if path else DATA_DIR / STRATEGIES_FILE)


@lru_cache(maxsize=4)
def load_combination_findings(path: str | Path | None = None) -> tuple[CombinationFinding, ...]:
    """The review's clinical combination findings (cached)."""
    return parse_findings(Path(path) if path else DATA_DIR / FINDINGS_FILE)


#: Body sections whose citations the coverage report checks.
COVERAGE_SECTIONS = (
    "ANTI-PD-1/PD-L1 MONOTHERAPY EFFICACY AND COMBINATION STRATEGIES",
    "PRECLINICAL RESEARCH ON PD-1/PD-L1 INHIBITOR-BASED THERAPY",
)
#: References of those sections that are deliberately outside the knowledge base.
OUT_OF_SCOPE = {
    n: "monotherapy response rates (review Figure 4), not a resistance strategy or combination"
    for n in (21, 22, 23, 24)
}


# ---------------------------------------------------------------- queries on the knowledge base


def _norm(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").replace("_", " ").split())


def parse_evidence_filter(value: str) -> tuple[str, bool]:
    """``"phase 2"`` -> exactly phase 2; ``"phase 2+"`` -> phase 2 or stronger."""
    at_least = value.endswith("+")
    level = _norm(value.rstrip("+"))
    for known in EVIDENCE_LEVELS:
        if _norm(known) == level:
            return known, at_least
    raise InputError(
        f"Invalid evidence level {value!r}; expected one of {list(EVIDENCE_LEVELS)} (add '+' for 'or stronger')",
        fix="e.g. --evidence 'phase 2+'",
    )


def match_category(value: str) -> str:
    """A category name from a case-insensitive prefix or substring."""
    wanted = _norm(value)
    hits = [c for c in CATEGORIES if _norm(c).startswith(wanted)] or [c for c in CATEGORIES if wanted in _norm(c)]
    if len(hits) != 1:
        raise InputError(
            f"Invalid category {value!r}; expected one of {list(CATEGORIES)}",
            fix="give a category name or an unambiguous part of it, e.g. --category metabolism",
        )
    return hits[0]


def match_phenotype(kb: KnowledgeBase, value: str) -> Phenotype:
    wanted = _norm(value)
    for key, phen in kb.phenotypes.items():
        if _norm(key) == wanted or _norm(phen.label) == wanted:
            return phen
    hits = [p for k, p in kb.phenotypes.items() if wanted in _norm(k) or wanted in _norm(p.label)]
    if len(hits) == 1:
        return hits[0]
    raise InputError(
        f"Invalid phenotype {value!r}; expected one of {list(kb.phenotypes)}",
        fix="e.g. --phenotype immune-excluded",
    )


def query_strategies(
    kb: KnowledgeBase,
    *,
    category: str | None = None,
    target: str | None = None,
    phenotype: str | None = None,
    evidence: str | None = None,
) -> list[Strategy]:
    """Strategies passing every given filter, in file order.

    ``category`` matches a Figure 6 category (prefix/substring); ``target`` matches text in
    the target, intervention, subcategory, partner classes or agents; ``phenotype`` a
    phenotype key; ``evidence`` an evidence level (``+`` suffix: that level or stronger).
    """
    rows = list(kb.strategies)
    if category:
        cat = match_category(category)
        rows = [s for s in rows if s.category == cat]
    if target:
        t = _norm(target)
        rows = [
            s for s in rows
            if any(t in _norm(x) for x in (s.target, s.intervention, s.subcategory, *s.partner_classes, *s.agents))
        ]
    if phenotype:
        key = match_phenotype(kb, phenotype).key
        rows = [s for s in rows if key in s.phenotypes]
    if evidence:
        level, at_least = parse_evidence_filter(evidence)
        rank = EVIDENCE_LEVELS.index(level)
        rows = [s for s in rows if (s.evidence_rank >= rank if at_least else s.evidence_rank == rank)]
    return rows


def query_phenotype(kb: KnowledgeBase, phenotype: str) -> dict[str, Any]:
    """Which strategies apply to a tumour phenotype or host factor, strongest evidence first,
    with the review's basis for the mapping and the research-evidence note."""
    phen = match_phenotype(kb, phenotype)
    rows = sorted(
        (s for s in kb.strategies if phen.key in s.phenotypes),
        key=lambda s: (-s.evidence_rank, -SUPPORT_LEVELS.index(s.preclinical_support), s.id),
    )
    return {
        "phenotype": phen.key,
        "label": phen.label,
        "description": phen.description,
        "basis": phen.basis,
        "note": RESEARCH_NOTE,
        "strategies": [s.as_row() for s in rows],
    }


def query_coverage(
    kb: KnowledgeBase, findings: Iterable[CombinationFinding] = ()
) -> list[dict[str, Any]]:
    """Every reference cited in the review's combination and preclinical sections, the
    sections citing it, and the knowledge-base entries that use it (``used`` is False when
    none does)."""
    used: dict[int, list[str]] = {}
    for s in kb.strategies:
        for r in s.references:
            used.setdefault(r, []).append(s.id)
    for f in findings:
        for r in f.references:
            used.setdefault(r, []).append(f"finding:{f.id}")
    rows = []
    for number, ref in sorted(load_references().items()):
        sections = [c for c in ref.cited_in if c.startswith(COVERAGE_SECTIONS)]
        if not sections:
            continue
        rows.append(
            {
                "ref": number,
                "citation": ref.short,
                "sections": [c.split(" > ")[-1] for c in sections],
                "used": number in used,
                "used_by": used.get(number, []),
                "note": OUT_OF_SCOPE.get(number, ""),
            }
        )
    return rows




# ---------------------------------------------------------------- links to trials in the store


def store_is_classified(con) -> bool:
    """True when the store has the derived trial tables with at least one PD-(L)1 trial."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not {"trials", "trial_partners", "trial_agents"} <= tables:
        return False
    return con.execute("SELECT count(*) FROM trials WHERE is_pd1_pdl1").fetchone()[0] > 0


def _link_terms(item: Strategy | CombinationFinding) -> tuple[list[str], list[str]]:
    """(partner classes, drug names) that link an item to trials: a strategy linked by its
    agents gives no classes; combination findings and class strategies give both."""
    from ..vocab import load_partner_index, normalize_name

    partners = load_partner_index()
    names = []
    for a in item.agents:
        p = partners.get(normalize_name(a))
        names.append(p.drug if p else a)
    if isinstance(item, Strategy) and item.links_by == "agents":
        return [], names
    return list(item.partner_classes), names


#: Second targets of bispecific agents that stand for a partner class.
_TARGET_CLASS = {"VEGF": "VEGF", "CTLA-4": "CTLA-4", "LAG-3": "LAG-3", "TIGIT": "TIGIT",
                 "TIM-3": "TIM-3", "4-1BB": "CD40/4-1BB/OX40"}


def strategy_approvals(item: Strategy, events: Sequence | None = None) -> list[str]:
    """Approval events (ids) of a regimen the strategy stands for: the event's agent is one
    of its agents (a fixed-dose product, a bispecific), or a combination partner of the
    event is one of its agents — or, for a strategy linked by class, of its partner classes
    (a bispecific whose second target is that class counts too)."""
    from ..vocab import load_agents, load_partner_index, normalize_name
    from . import approvals as ap

    if events is None:
        events = ap.load_approval_events()
    partners = load_partner_index()
    agents = {a.agent_id: a for a in load_agents()}
    own = set()
    for name in item.agents:
        p = partners.get(normalize_name(name))
        own.add(p.drug if p else name.casefold())
    classes = set(item.partner_classes) if item.links_by == "class" else set()
    hits = []
    for e in events:
        if e.agent in own:
            hits.append(e.event_id)
            continue
        agent = agents.get(e.agent)
        if classes and agent is not None and agent.bispecific and any(
                _TARGET_CLASS.get(t) in classes for t in agent.targets):
            hits.append(e.event_id)
            continue
        for drug in e.combination:
            p = partners.get(normalize_name(drug))
            if p is None:
                continue
            if p.drug in own or (classes and set(p.classes) & classes):
                hits.append(e.event_id)
                break
    return hits


def query_strategy_trials(con, item: Strategy | CombinationFinding) -> list[dict[str, Any]]:
    """PD-(L)1 trials in the store that give a drug of the strategy's partner classes or one
    of its agents (as partner drug or as the PD-(L)1 agent itself, e.g. a bispecific),
    highest phase first. Each row says what matched."""
    classes, agents = _link_terms(item)
    if not classes and not agents:
        return []
    cls = classes or [""]
    ags = [a.casefold() for a in agents] or [""]
    targets = [t for t, c in _TARGET_CLASS.items() if c in classes] or [""]
    phase_order = " ".join(f"WHEN '{p}' THEN {i}" for i, p in enumerate(TRIAL_PHASES))
    sql = f"""
        WITH hits AS (
            SELECT nct_id, 'class ' || partner_class AS why FROM trial_partners
             WHERE list_contains(?, partner_class)
            UNION
            SELECT nct_id, 'drug ' || partner_drug FROM trial_partners
             WHERE list_contains(?, lower(partner_drug))
            UNION
            SELECT nct_id, 'agent ' || agent_id FROM trial_agents
             WHERE list_contains(?, lower(agent_id))
            UNION
            SELECT nct_id, 'bispecific ' || agent_id FROM trial_agents
             WHERE bispecific AND list_contains(?, other_target)
        )
        SELECT t.nct_id, coalesce(t.phase_label, 'NA') AS phase, t.overall_status AS status,
               t.start_year, t.brief_title AS title, string_agg(DISTINCT h.why, '; ' ORDER BY h.why) AS matched
          FROM trials t JOIN hits h USING (nct_id)
         WHERE t.is_pd1_pdl1 AND t.representative
         GROUP BY t.nct_id, t.phase_label, t.overall_status, t.start_year, t.brief_title
         ORDER BY CASE phase {phase_order} ELSE 99 END, t.nct_id
    """
    return [
        dict(zip(("nct_id", "phase", "status", "start_year", "title", "matched"), r))
        for r in con.execute(sql, [cls, ags, ags, targets]).fetchall()
    ]


def summarize_trials(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Number of linked trials, highest phase, and counts by phase label (highest first)."""
    by_phase: dict[str, int] = {}
    for t in trials:
        by_phase[t["phase"]] = by_phase.get(t["phase"], 0) + 1
    ordered = {p: by_phase[p] for p in TRIAL_PHASES if p in by_phase}
    highest = next((p for p in TRIAL_PHASES if p in ordered and p != "NA"), "NA" if ordered else None)
    return {"trials": len(trials), "highest_phase": highest, "by_phase": ordered}


def query_strategy_table(con, strategies: Sequence[Strategy]) -> list[dict[str, Any]]:
    """Strategy rows with their trial counts (``con`` None or unclassified: counts are None)
    and their evidence level grounded in the data: at least ``approved`` where an approval
    event for the strategy's regimen exists (``approved_by``); ``evidence_level_review`` keeps
    the level the review's text supports."""
    linked = con is not None and store_is_classified(con)
    rows = []
    for s in strategies:
        row = s.as_row()
        approved_by = strategy_approvals(s)
        row["evidence_level_review"] = s.evidence_level
        row["approved_by"] = approved_by
        if approved_by:
            row["evidence_level"] = "approved"
        if linked:
            trials = query_strategy_trials(con, s)
            row.update(summarize_trials(trials))
            row["trial_ids"] = [t["nct_id"] for t in trials]
            if not trials and s.links_by == "agents":
                row["trial_note"] = ("no trial of its own agent in the store" if s.agents
                                     else "no named agent to link trials by")
            else:
                row["trial_note"] = ""
        else:
            row.update({"trials": None, "highest_phase": None, "by_phase": None,
                        "trial_ids": None, "trial_note": None})
        rows.append(row)
    return rows


# ---------------------------------------------------------------- evidence map


#: Clinical stage axis of the evidence map, lowest first (trial phases folded into it).
MAP_STAGES = ("no clinical data", "clinical association", "phase 1", "phase 1/2", "phase 2", "phase 3", "approved")
_TRIAL_TO_STAGE = {
    "Early phase 1": "phase 1", "Phase 1": "phase 1", "Phase 1/2": "phase 1/2", "Phase 2": "phase 2",
    "Phase 2/3": "phase 3", "Phase 3": "phase 3", "Phase 4": "approved",
}


def query_evidence_map(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evidence-map rows from :func:`query_strategy_table` rows: preclinical support (x), the
    highest clinical stage from the review or from linked trials (y), and whether the
    strategy is a translation gap (at least moderate preclinical support, no clinical
    data in the review and no linked PD-(L)1 trial in the store)."""
    out = []
    for r in rows:
        review_stage = "no clinical data" if r["evidence_level"] == "preclinical" else r["evidence_level"]
        trial_stage = _TRIAL_TO_STAGE.get(r.get("highest_phase") or "", "no clinical data")
        stage = max(review_stage, trial_stage, key=MAP_STAGES.index)
        n_trials = r.get("trials") or 0
        gap = (
            SUPPORT_LEVELS.index(r["preclinical_support"]) >= SUPPORT_LEVELS.index("moderate")
            and review_stage == "no clinical data"
            and n_trials == 0
        )
        out.append(
            {
                "id": r["id"],
                "category": r["category"],
                "preclinical_support": r["preclinical_support"],
                "clinical_stage": stage,
                "stage_from": "trials" if MAP_STAGES.index(trial_stage) > MAP_STAGES.index(review_stage) else "review",
                "trials": r.get("trials"),
                "translation_gap": gap,
            }
        )
    return out
