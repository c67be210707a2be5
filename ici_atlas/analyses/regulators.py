"""The PD-1/PD-L1 regulatory network (the review's Figure 1) as cited data, linked to drugs
and to the PD-(L)1 combination trials in the store that test them.

Curated files (``ici_atlas/data``):

* ``regulator_nodes.tsv`` — one row per regulator named in Figure 1's caption (plus three
  helper nodes marked in ``note``): gene symbol(s), cell (tumour / T cell / both), level
  (genomic ... proximal signalling), whether it is druggable, drug classes and example agents;
* ``regulator_edges.tsv`` — one row per relation the figure depicts: source, target, effect
  (raises or lowers expression, stabilises, degrades ...), the primary reference (PMID/DOI)
  and whether it was ``verified`` against that reference. Unverified rows are kept and
  listed, never drawn as fact;
* ``regulator_verification_log.tsv`` — every look-up made while verifying.

A regulator's example agents link to trials through the partner-drug vocabulary
(``vocab/partners.tsv``, each drug with its own source) and the store's ``trial_partners``
rows: a PD-(L)1 trial is linked when one of its partner drugs is one of the regulator's
agents. Agents the vocabulary does not know are listed as not linkable, so a missing link
is visible, not silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import duckdb

from ..errors import VocabularyError
from ..vocab.tsv import Row, normalize_name, read_rows

DATA = Path(__file__).resolve().parent.parent / "data"
NODES_FILE = DATA / "regulator_nodes.tsv"
EDGES_FILE = DATA / "regulator_edges.tsv"

CELLS = ("tumour", "T cell", "both")
LEVELS = ("genomic", "epigenetic", "transcriptional", "signalling", "post-translational",
          "ligand-receptor", "proximal signalling")
EFFECTS = ("raises expression", "lowers expression", "stabilises", "degrades",
           "palmitoylates (stabilises)", "glycosylates (stabilises)", "activates", "inhibits",
           "transmits signal", "binds")
#: A verified reference: a PMID or a DOI.
REFERENCE_RE = re.compile(r"^(PMID:\d{1,9}|DOI:10\.\d{4,9}/\S+)$")
_ID = re.compile(r"^[A-Z0-9]{2,12}$")


@dataclass(frozen=True)
class Regulator:
    node_id: str
    symbol: str
    name: str
    cell: str
    level: str
    druggable: bool
    drug_classes: tuple[str, ...]
    example_agents: tuple[str, ...]
    review_ref: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Relation:
    edge_id: str
    source: str
    target: str
    effect: str
    target_molecule: str
    cell: str
    references: tuple[str, ...]
    review_ref: tuple[str, ...]
    verified: bool
    evidence: str
    note: str


def _node(row: Row) -> Regulator:
    node_id = row.text("node_id", required=True)
    if not _ID.match(node_id):
        raise row.error("node_id", node_id, "expected 2-12 capital letters or digits",
                        "use a short id such as CMTM6")
    return Regulator(
        node_id, row.text("symbol"), row.text("name", required=True),
        row.choice("cell", CELLS), row.choice("level", LEVELS), row.flag("druggable"),
        row.values("drug_classes"), tuple(a.lower() for a in row.values("example_agents")),
        row.values("review_ref"), row.text("note"))


def _edge(row: Row, nodes: set[str]) -> Relation:
    edge = Relation(
        row.text("edge_id", required=True), row.text("source", required=True),
        row.text("target", required=True), row.choice("effect", EFFECTS),
        row.text("target_molecule"), row.choice("cell", CELLS),
        row.values("reference"), row.values("review_ref"), row.flag("verified"),
        row.text("evidence", required=True), row.text("note"))
    for end in ("source", "target"):
        if getattr(edge, end) not in nodes:
            raise row.error(end, getattr(edge, end), "not a node of regulator_nodes.tsv",
                            "add the node or correct the id")
    if not edge.references:
        raise row.error("reference", "", "every relation needs a source (PMID, DOI or, when "
                        "unverified, the citation text)", "fill in the reference column")
    if edge.verified and not all(REFERENCE_RE.match(r) for r in edge.references):
        bad = next(r for r in edge.references if not REFERENCE_RE.match(r))
        raise row.error("reference", bad, "a verified relation cites PMID:n or DOI:10.x/...",
                        "write the identifier, or set verified to no")
    return edge


@lru_cache(maxsize=2)
def _load(nodes_path: Path, edges_path: Path) -> tuple[tuple[Regulator, ...], tuple[Relation, ...]]:
    nodes = tuple(_node(r) for r in read_rows(nodes_path, (
        "node_id", "symbol", "name", "cell", "level", "druggable", "drug_classes",
        "example_agents", "review_ref", "note")))
    ids = [n.node_id for n in nodes]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise VocabularyError(f"{nodes_path.name}: node {dup!r} is listed twice",
                              fix=f"keep one row for {dup} in {nodes_path}")
    edges = tuple(_edge(r, set(ids)) for r in read_rows(edges_path, (
        "edge_id", "source", "target", "effect", "target_molecule", "cell", "reference",
        "review_ref", "verified", "evidence", "note")))
    touched = {e.source for e in edges} | {e.target for e in edges}
    alone = [i for i in ids if i not in touched]
    if alone:
        raise VocabularyError(
            f"{nodes_path.name}: node(s) {alone} have no relation, so no source",
            fix=f"add a sourced relation to {edges_path.name} or remove the node")
    return nodes, edges


def load_network(nodes_path: str | Path | None = None, edges_path: str | Path | None = None
                 ) -> tuple[tuple[Regulator, ...], tuple[Relation, ...]]:
    """The curated nodes and relations (checked: ids, vocabularies, a source on every
    relation, PMID/DOI on every verified one, no node without a relation)."""
    return _load(Path(nodes_path or NODES_FILE), Path(edges_path or EDGES_FILE))


def node_sources(node: Regulator, edges: Sequence[Relation]) -> tuple[list[str], bool]:
    """A node's references (of the relations it takes part in) and whether one is verified."""
    refs: list[str] = []
    verified = False
    for e in edges:
        if node.node_id in (e.source, e.target):
            verified = verified or e.verified
            refs += [r for r in e.references if r not in refs and (e.verified or not refs)]
    return refs, verified


# ----------------------------------------------------------------------------- tables

def query_nodes(druggable: bool | None = None, cell: str | None = None,
                level: str | None = None) -> list[dict]:
    """One row per regulator, with the references of its relations."""
    nodes, edges = load_network()
    rows = []
    for n in nodes:
        if druggable is not None and n.druggable != druggable:
            continue
        if cell and n.cell != cell and n.cell != "both":
            continue
        if level and n.level != level:
            continue
        refs, verified = node_sources(n, edges)
        rows.append({
            "node_id": n.node_id, "symbol": n.symbol, "name": n.name, "cell": n.cell,
            "level": n.level, "druggable": n.druggable, "drug_classes": list(n.drug_classes),
            "example_agents": list(n.example_agents), "verified": verified,
            "references": refs, "review_ref": list(n.review_ref), "note": n.note,
        })
    return rows


def query_edges(verified: bool | None = None, node: str | None = None) -> list[dict]:
    """One row per relation; ``verified=True`` keeps the ones checked against their source."""
    _, edges = load_network()
    out = []
    for e in edges:
        if verified is not None and e.verified != verified:
            continue
        if node and node.upper() not in (e.source, e.target):
            continue
        out.append({
            "edge_id": e.edge_id, "source": e.source, "target": e.target, "effect": e.effect,
            "target_molecule": e.target_molecule, "cell": e.cell, "verified": e.verified,
            "references": list(e.references), "review_ref": list(e.review_ref),
            "evidence": e.evidence, "note": e.note,
        })
    return out


def _partner_drugs() -> dict[str, str]:
    """Folded drug name or synonym -> the partner vocabulary's drug name."""
    from ..vocab.partners import load_partners

    out: dict[str, str] = {}
    for entry in load_partners():
        for name in (entry.drug, *entry.synonyms):
            out.setdefault(normalize_name(name), entry.drug)
    return out


def _agent_ids() -> dict[str, str]:
    """Folded name -> agent id of the PD-(L)1 agent vocabulary (bispecifics such as the
    PD-L1/TGF-beta fusion bintrafusp alfa are agents, not partners)."""
    from ..vocab.agents import load_agent_index

    return {name: agent.agent_id for name, agent in load_agent_index().items()}


#: How an agent is linked to trials, most exact first.
LINK_BASES = ("agent vocabulary", "partner vocabulary", "intervention name")


def _trials_for(con: duckdb.DuckDBPyConnection, agent: str, partners: dict[str, str],
                agents: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(link basis, NCT ID -> phase) of the PD-(L)1 trials giving ``agent``."""
    key = normalize_name(agent)
    if key in agents:
        sql = ("SELECT DISTINCT a.nct_id, t.phase_label FROM trial_agents a JOIN trials t "
               "USING (nct_id) WHERE t.is_pd1_pdl1 AND t.representative AND a.agent_id = ?")
        basis, arg = LINK_BASES[0], agents[key]
    elif key in partners:
        sql = ("SELECT DISTINCT p.nct_id, t.phase_label FROM trial_partners p JOIN trials t "
               "USING (nct_id) WHERE t.is_pd1_pdl1 AND t.representative AND p.partner_drug = ?")
        basis, arg = LINK_BASES[1], partners[key]
    else:  # not in a vocabulary: whole-word match on the partner's intervention name
        sql = ("SELECT DISTINCT p.nct_id, t.phase_label FROM trial_partners p JOIN trials t "
               "USING (nct_id) WHERE t.is_pd1_pdl1 AND t.representative AND regexp_matches(lower(p.intervention_name), ?)")
        basis, arg = LINK_BASES[2], r"\b" + re.escape(key) + r"\b"
    return basis, {nct: phase or "NA" for nct, phase in con.execute(sql, [arg]).fetchall()}


def query_drugged(con: duckdb.DuckDBPyConnection | None, with_trials: bool = True) -> list[dict]:
    """Each druggable regulator (PD-1 and PD-L1 themselves aside) with its agents and, from the
    store, the PD-(L)1 trials that give one of them, counted by phase.

    An agent is linked through the PD-(L)1 agent vocabulary (a bispecific such as bintrafusp
    alfa), else the partner-drug vocabulary, else — for an agent in neither — a whole-word
    match on the partner intervention names (``link_bases`` says which, per agent). Without
    a store (``con`` None) or with ``with_trials=False`` the trial columns are empty."""
    from .trials import require_derived_tables

    partners, agents = _partner_drugs(), _agent_ids()
    if con is not None and with_trials:
        require_derived_tables(con)
    rows = []
    for n in load_network()[0]:
        if not n.druggable or n.node_id in ("PD1", "PDL1"):
            continue
        trials: dict[str, str] = {}
        bases: list[str] = []
        for agent in n.example_agents:
            if con is None or not with_trials:
                continue
            basis, found = _trials_for(con, agent, partners, agents)
            bases.append(f"{agent}: {basis} ({len(found)})")
            trials.update(found)
        phases: dict[str, int] = {}
        for phase in trials.values():
            phases[phase] = phases.get(phase, 0) + 1
        rows.append({
            "node_id": n.node_id, "name": n.name, "cell": n.cell, "level": n.level,
            "drug_classes": list(n.drug_classes), "agents": list(n.example_agents),
            "trials": len(trials) if con is not None and with_trials else None,
            "trials_by_phase": "; ".join(f"{p}: {c}" for p, c in sorted(phases.items())),
            "link_bases": bases, "nct_ids": sorted(trials),
        })
    return rows
