"""One trial, many registrations: de-duplication across registries.

Input: :class:`~ici_atlas.sources.registries.model.Registration` objects from any registry
(ClinicalTrials.gov studies through :func:`registration_from_v2`). Output
(:class:`TrialGroups`): a ``trial_key`` per registration, the same for every registration of
one trial, and a ``link_basis`` saying how the registration joined its group.

Rules, in order:

1. **Same ID.** Registrations with the same registry and ID are one trial (the same record
   read twice, or EUCTR rows of one EudraCT number read from different files):
   ``same-id``.
2. **Structured links**, transitively (union-find over registry IDs): the IDs a parser read
   from structured ID fields (``Registration.secondary_ids``: EUCTR A.5.x, CTIS
   ``secondaryIdentifyingNumbers``, ISRCTN ``externalRefs``, v2 ``secondaryIdInfos`` ...):
   ``secondary-id:<field>``; a CTIS record's EudraCT number (a trial transitioned from
   EudraCT to CTIS): ``eudract-transition``. A referenced ID joins registrations even when
   its own record is absent. Placeholder IDs (all-zero digits: ``NCT00000000``,
   ``ISRCTN00000000``) are never links; IDs seen only in free text are never read by the
   parsers, so never links.
3. **Score matches**, for registrations with no structured link at all (alone after 1-2):
   pairs with a registration of *another* registry are scored from five components
   (:func:`score_pair`), each 0-1, averaged with :data:`WEIGHTS` over the components both
   records give (a missing one counts :data:`MISSING`):

   * ``title``: cosine of the title words (public + scientific title + acronym; IDF-weighted
     over the registrations given);
   * ``sponsor``: share of sponsor-name words in common (Dice);
   * ``dates``: 1 - |days apart| / :data:`DATE_SCALE_DAYS` for the start dates and for the
     registration dates (the better of the two);
   * ``enrollment``: smaller / larger planned enrolment;
   * ``interventions``: share of intervention words in common (Dice; dose and form words
     dropped).

   The :data:`TOP_K` best title matches of each such registration are scored; a pair at or
   above ``threshold`` (:data:`ACCEPT_THRESHOLD`, chosen on a tuning file: see the issue-17
   doc) with a title cosine of at least :data:`MIN_TITLE_ACCEPT` is accepted, best first,
   when one side is still alone and the merged group would not hold two different IDs of
   one registry: ``match-score:<score>``. Pairs from :data:`CANDIDATE_FLOOR` up are kept as candidates
   (:meth:`TrialGroups.candidates`), with why a pair was not accepted.

The ``trial_key`` is readable and stable: the group's NCT ID when it has one (a
ClinicalTrials.gov registration, else an NCT ID another registration links to), else the ID
of the earliest-registered registration (EudraCT and CTIS numbers prefixed ``EUCTR`` /
``CTIS``). ``link_basis`` is ``own`` for the registration holding the key, the basis of the
link that reached it (breadth-first from the key, structured links before score matches)
for the others, and ``""`` for a registration alone.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from scipy import sparse

from ici_atlas.sources.registries.model import (Registration, display_id, is_placeholder,
                                                registration_from_v2)

__all__ = ["TrialGroups", "MatchCandidate", "group_registrations", "score_pair",
           "registration_from_v2", "ACCEPT_THRESHOLD", "CANDIDATE_FLOOR", "WEIGHTS"]

#: Component weights of the match score.
WEIGHTS = {"title": 0.40, "sponsor": 0.15, "dates": 0.15, "enrollment": 0.15,
           "interventions": 0.15}
#: The value a component counts when one of the two records does not give it.
MISSING = 0.5
#: Days apart at which the date component reaches 0.
DATE_SCALE_DAYS = 180
#: Score from which a pair is accepted as one trial (chosen on the tuning set, see the doc).
ACCEPT_THRESHOLD = 0.60
#: Score from which a pair is listed as a candidate.
CANDIDATE_FLOOR = 0.45
#: Title neighbours scored per unlinked registration.
TOP_K = 10
#: Title cosine below which a pair is not scored at all.
MIN_TITLE = 0.15
#: Title cosine a pair needs to be accepted whatever its score (the other components
#: cannot make two different titles one trial).
MIN_TITLE_ACCEPT = 0.50

_STOP = frozenset("""a an the of in on for with and or to by at as from into vs versus is are be
be its their this that these those via per""".split())
_ORG_STOP = frozenset("""the of and for de la le du des di del da der und inc ltd llc co corp
corporation company limited gmbh sa ag plc srl spa bv nv kk group""".split())
_DRUG_STOP = frozenset("""mg kg ml g mcg ug iu day days daily bid tid qd qid once twice times
weekly week weeks oral orally intravenous iv injection infusion tablet tablets capsule
capsules solution dose doses dosing group arm treatment therapy standard care usual
conventional control placebo drug plus combined combination with and or of the for in to
other procedure""".split())


# --- text features ---------------------------------------------------------------------------

def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def _words(text: str, stop: frozenset[str] = _STOP) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", _fold(text)) if len(w) > 1 and w not in stop]


def _title_words(reg: Registration) -> set[str]:
    return set(_words(" ".join((reg.title, reg.official_title, reg.acronym))))


def _sponsor_words(reg: Registration) -> set[str]:
    return set(_words(reg.sponsor, _ORG_STOP))


def _intervention_words(reg: Registration) -> set[str]:
    names = []
    for iv in reg.interventions:
        names.append(iv.get("name") or "")
        names.extend(iv.get("other_names") or [])
    return {w for w in _words(" ".join(names), _DRUG_STOP) if not w.isdigit()}


def _dice(a: set[str], b: set[str]) -> float | None:
    if not a or not b:
        return None
    return 2 * len(a & b) / (len(a) + len(b))


def _day(text: str | None) -> date | None:
    if not text:
        return None
    parts = text.split("-")
    try:
        return date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1,
                    int(parts[2]) if len(parts) > 2 else 1)
    except (ValueError, IndexError):
        return None


def _date_score(a: Registration, b: Registration) -> float | None:
    best = None
    for attr in ("start_date", "registration_date"):
        da, db = _day(getattr(a, attr)), _day(getattr(b, attr))
        if da and db:
            s = max(0.0, 1.0 - abs((da - db).days) / DATE_SCALE_DAYS)
            best = s if best is None else max(best, s)
    return best


def _enrol_score(a: Registration, b: Registration) -> float | None:
    if not a.enrollment or not b.enrollment:
        return None
    return min(a.enrollment, b.enrollment) / max(a.enrollment, b.enrollment)


@dataclass
class _Features:
    title: dict[str, float]          # word -> tf-idf weight (L2-normalised)
    sponsor: set[str]
    interventions: set[str]


def score_pair(a: Registration, b: Registration, title_cosine: float | None = None,
               features: tuple[_Features, _Features] | None = None) -> tuple[float, dict]:
    """``(score, components)`` for two registrations (see the module docstring). The title
    cosine is plain word overlap (cosine of binary word sets) unless given."""
    if title_cosine is None:
        ta, tb = _title_words(a), _title_words(b)
        title_cosine = len(ta & tb) / math.sqrt(len(ta) * len(tb)) if ta and tb else None
    if features is None:
        fa = _Features({}, _sponsor_words(a), _intervention_words(a))
        fb = _Features({}, _sponsor_words(b), _intervention_words(b))
    else:
        fa, fb = features
    components = {
        "title": title_cosine,
        "sponsor": _dice(fa.sponsor, fb.sponsor),
        "dates": _date_score(a, b),
        "enrollment": _enrol_score(a, b),
        "interventions": _dice(fa.interventions, fb.interventions),
    }
    total = sum(WEIGHTS[k] * (MISSING if v is None else v) for k, v in components.items())
    return round(total / sum(WEIGHTS.values()), 4), {
        k: (None if v is None else round(v, 4)) for k, v in components.items()}


# --- the grouping ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MatchCandidate:
    """A scored pair of registrations (indexes into the input list)."""

    left: int
    right: int
    left_id: str
    right_id: str
    score: float
    components: dict
    accepted: bool
    note: str = ""   # why a pair at or above the threshold was not accepted


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _node(registry: str, trial_id: str) -> str:
    return f"{registry}:{trial_id}"


@dataclass
class TrialGroups:
    """The grouping of a list of registrations (see the module docstring)."""

    registrations: list[Registration]
    trial_key: list[str] = field(default_factory=list)
    link_basis: list[str] = field(default_factory=list)
    threshold: float = ACCEPT_THRESHOLD
    _candidates: list[MatchCandidate] = field(default_factory=list)

    def candidates(self, accepted: bool | None = None) -> list[MatchCandidate]:
        """Scored pairs from :data:`CANDIDATE_FLOOR` up, best first (``accepted`` filters)."""
        return [c for c in self._candidates if accepted is None or c.accepted == accepted]

    def groups(self) -> dict[str, list[int]]:
        """trial_key -> indexes of its registrations."""
        out: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(self.trial_key):
            out[key].append(i)
        return dict(out)

    def pairs(self) -> set[frozenset[str]]:
        """Every pair of distinct registrations (``REGISTRY:ID``) grouped together."""
        out: set[frozenset[str]] = set()
        for members in self.groups().values():
            nodes = sorted({self.registrations[i].key for i in members})
            out.update(frozenset((a, b)) for k, a in enumerate(nodes) for b in nodes[k + 1:])
        return out


def _structured(regs: list[Registration]):
    """Union-find over registry IDs plus the structured edges (node, node, basis)."""
    uf = _UnionFind()
    edges: list[tuple[str, str, str]] = []
    for reg in regs:
        own = _node(reg.registry, reg.trial_id)
        uf.find(own)
        for sid in reg.secondary_ids:
            registry, trial_id = sid
            if is_placeholder(trial_id) or (registry, trial_id) == (reg.registry, reg.trial_id):
                continue
            other = _node(registry, trial_id)
            fld = reg.secondary_id_fields.get(sid, "")
            basis = ("eudract-transition" if reg.registry == "CTIS" and registry == "EUCTR"
                     or reg.registry == "EUCTR" and registry == "CTIS"
                     else f"secondary-id:{fld}" if fld else "secondary-id")
            uf.union(own, other)
            edges.append((own, other, basis))
    return uf, edges


def _title_matrix(regs: list[Registration]):
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, reg in enumerate(regs):
        for w in _title_words(reg):
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
    n = len(regs)
    x = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                          shape=(n, max(len(vocab), 1)))
    df = np.asarray((x > 0).sum(axis=0)).ravel()
    idf = np.log((n + 1) / (df + 1)) + 1.0
    x = x.multiply(idf.astype(np.float32)).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags((1.0 / norms).astype(np.float32)) @ x


def group_registrations(registrations: list[Registration], threshold: float = ACCEPT_THRESHOLD,
                        fuzzy: bool = True) -> TrialGroups:
    """Group ``registrations`` into trials (see the module docstring)."""
    regs = list(registrations)
    out = TrialGroups(regs, threshold=threshold)
    if not regs:
        return out
    uf, edges = _structured(regs)
    nodes = [_node(r.registry, r.trial_id) for r in regs]
    linked_roots = {uf.find(a) for a, _b, _ in edges}
    alone = [i for i, n in enumerate(nodes) if uf.find(n) not in linked_roots]
    fuzzy_edges: list[tuple[str, str, str]] = []
    if fuzzy and alone:
        fuzzy_edges = _score_matches(regs, nodes, alone, uf, threshold, out._candidates)
    _keys_and_basis(regs, nodes, uf, edges, fuzzy_edges, out)
    return out


def _score_matches(regs, nodes, alone, uf: _UnionFind, threshold, found: list) -> list:
    x = _title_matrix(regs)
    registries = np.array([r.registry for r in regs])
    feats = [_Features({}, _sponsor_words(r), _intervention_words(r)) for r in regs]
    scored: dict[tuple[int, int], tuple[float, dict]] = {}
    for start in range(0, len(alone), 256):
        chunk = alone[start:start + 256]
        sims = (x[chunk] @ x.T).toarray()
        for row, i in enumerate(chunk):
            s = sims[row]
            s[registries == regs[i].registry] = -1.0   # other registries only
            top = np.argpartition(-s, min(TOP_K, len(s) - 1))[:TOP_K]
            for j in top:
                if s[j] < MIN_TITLE:
                    continue
                pair = (min(i, int(j)), max(i, int(j)))
                if pair not in scored:
                    scored[pair] = score_pair(regs[pair[0]], regs[pair[1]], float(s[j]),
                                              (feats[pair[0]], feats[pair[1]]))
    # accept best first: one side still alone, no registry holding two IDs in the group
    members: dict[str, set[str]] = defaultdict(set)   # root -> its registry IDs
    for n in list(uf.parent):
        members[uf.find(n)].add(n)
    accepted_edges = []
    for (i, j), (score, comps) in sorted(scored.items(), key=lambda kv: -kv[1][0]):
        if score < CANDIDATE_FLOOR:
            continue
        note = ""
        ok = score >= threshold
        if ok and (comps["title"] or 0.0) < MIN_TITLE_ACCEPT:
            ok, note = False, f"title similarity below {MIN_TITLE_ACCEPT}"
        elif ok:
            ri, rj = uf.find(nodes[i]), uf.find(nodes[j])
            if ri == rj:
                ok, note = False, "already in one group"
            elif len(members[ri]) > 1 and len(members[rj]) > 1:
                ok, note = False, "both already grouped"
            else:
                regs_i = {n.split(":", 1)[0]: n for n in members[ri]}
                clash = [n for n in members[rj] if n.split(":", 1)[0] in regs_i
                         and regs_i[n.split(":", 1)[0]] != n]
                if clash:
                    ok, note = False, f"registry conflict ({clash[0]})"
            if ok:
                uf.union(nodes[i], nodes[j])
                root = uf.find(nodes[i])
                members[root] = members[ri] | members[rj]
                accepted_edges.append((nodes[i], nodes[j], f"match-score:{score:.3f}"))
        elif not note:
            note = "below threshold"
        found.append(MatchCandidate(i, j, regs[i].display_id, regs[j].display_id, score,
                                    comps, ok, "" if ok else note))
    return accepted_edges


def _keys_and_basis(regs, nodes, uf, edges, fuzzy_edges, out: TrialGroups) -> None:
    by_root: dict[str, list[int]] = defaultdict(list)
    for i, n in enumerate(nodes):
        by_root[uf.find(n)].append(i)
    group_nodes: dict[str, set[str]] = defaultdict(set)
    for n in list(uf.parent):
        group_nodes[uf.find(n)].add(n)
    adjacency: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for rank, edge_list in ((0, edges), (1, fuzzy_edges)):
        for a, b, basis in edge_list:
            adjacency[a].append((b, basis, rank))
            adjacency[b].append((a, basis, rank))
    out.trial_key = [""] * len(regs)
    out.link_basis = [""] * len(regs)
    for root, members in by_root.items():
        key_node = _key_node(regs, nodes, members, group_nodes[root])
        registry, trial_id = key_node.split(":", 1)
        key = display_id(registry, trial_id)
        reached = _reach(key_node, adjacency)
        distinct = {nodes[i] for i in members}
        seen_nodes: set[str] = set()
        for i in sorted(members):
            out.trial_key[i] = key
            n = nodes[i]
            if len(group_nodes[root]) == 1 and len(members) == 1:
                out.link_basis[i] = ""
            elif n in seen_nodes:
                out.link_basis[i] = "same-id"
            elif n == key_node:
                out.link_basis[i] = "own"
            else:
                out.link_basis[i] = reached.get(n, "same-id" if len(distinct) == 1 else "")
            seen_nodes.add(n)


def _key_node(regs, nodes, members, group: set[str]) -> str:
    present = [i for i in members if regs[i].registry == "CTGOV"]
    if present:
        best = min(present, key=lambda i: (regs[i].registration_date or "9999", regs[i].trial_id))
        return nodes[best]
    referenced = sorted(n for n in group if n.startswith("CTGOV:"))
    if referenced:
        return referenced[0]
    best = min(members, key=lambda i: (regs[i].registration_date or "9999", regs[i].display_id))
    return nodes[best]


def _reach(start: str, adjacency) -> dict[str, str]:
    """node -> basis of the edge that first reached it, structured edges first."""
    basis: dict[str, str] = {start: "own"}
    for allowed in (0, 1):
        frontier = list(basis)
        while frontier:
            nxt = []
            for node in frontier:
                for other, how, rank in adjacency.get(node, ()):
                    if rank <= allowed and other not in basis:
                        basis[other] = how
                        nxt.append(other)
            frontier = nxt
    return basis
