"""Objective response rates (ORR) of PD-1/PD-L1 monotherapy arms: load, query, pool.

The curated dataset ``ici_atlas/data/orr_arms.tsv`` has one row per monotherapy arm with
its trial, agent, tumour group, line of therapy, the number of evaluable patients, the
number of responders, the ORR as printed in the source, and where the numbers were read.
A row is ``verified = yes`` only when its numbers were seen in the publication, a
regulator document or a registry record; unverified rows are kept (with the reason in
``notes``) but left out of pooled results unless asked for.

Pooling (:func:`pool_orr`) groups arms (by tumour group and line by default) and pools the
proportions with :func:`ici_atlas.meta.pool_proportions`: logit transform (PLO),
REML estimate of tau², Hartung–Knapp–Sidik–Jonkman confidence interval. See
``docs/efficacy.md`` for why.
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from ..meta.exact import exact_ci

from .. import config
from ..errors import InputError, StatisticalWarning, VocabularyError

ORR_FILE = "orr_arms.tsv"

#: Columns of ``orr_arms.tsv`` (file order).
ORR_COLUMNS = (
    "trial", "arm", "nct_id", "pmid", "doi", "agent", "target_class", "tumor_group",
    "tumor_detail", "line", "setting", "biomarker_selection", "phase", "n_evaluable",
    "responders", "orr_percent", "response_criteria", "data_cutoff", "endpoint", "population",
    "data_cut", "published", "pooled", "where_read", "derivation", "verified", "source", "notes",
)

#: ``ici-atlas export orr-arms`` writes these columns first, in this order, then the rest.
EXPORT_COLUMNS = (
    "trial", "nct_id", "pmid", "doi", "agent", "target_class", "tumor_group", "line",
    "n_evaluable", "responders", "orr_percent", "verified", "source", "in_default_pool",
    "left_out_because",
)
EXPORT_EXTRA_COLUMNS = tuple(c for c in ORR_COLUMNS if c not in EXPORT_COLUMNS)

#: Lines of therapy of an arm. ``maintenance`` (switch maintenance after induction
#: chemotherapy) is pooled as its own line; ``neoadjuvant`` and ``adjuvant`` arms (early
#: disease) never enter an ORR pool.
LINES = ("first-line", "later-line", "any", "maintenance", "neoadjuvant", "adjuvant")
POOLED_LINES = ("first-line", "later-line", "any", "maintenance")
#: End points. Only ``ORR`` (objective response by RECIST/irRECIST/iRECIST/mRECIST/RANO, or
#: Lugano/Cheson/IWG for lymphomas) is pooled.
ENDPOINTS = ("ORR", "CR rate", "intracranial ORR", "pCR", "MPR", "other")
#: ``primary``: the trial's own primary population for the arm; ``subgroup``: a biomarker
#: or other subgroup of it (pooled only on request).
POPULATIONS = ("primary", "subgroup")
#: Cancer groups that are haematological malignancies: reported in their own table and
#: figure, left out of the review's solid-tumour pools unless asked for.
HAEMATOLOGICAL_GROUPS = frozenset({"cHL", "lymphoma-other", "heme-other"})
#: Why a row is not in the default pool, in the order the reasons are checked.
LEFT_OUT_REASONS = (
    "not verified", "not an objective-response end point", "early disease (neo/adjuvant)",
    "biomarker or other subgroup", "another data cut of the same arm is pooled",
    "haematological malignancy", "no responder count",
)
TARGET_CLASSES = ("PD-1", "PD-L1")

#: Fallback list of cancer groups, used only when ``vocab/cancer_groups.tsv`` is absent.
CANCER_GROUPS_FALLBACK = (
    "NSCLC", "SCLC", "lung-other", "melanoma", "HCC", "BTC", "ESCA", "GC", "CRC",
    "pancreatic", "HNSCC", "NPC", "UC", "RCC", "prostate", "breast", "TNBC", "CC", "UCEC",
    "ovarian", "MPM", "cSCC", "MCC", "BCC", "sarcoma", "CNS", "cHL", "lymphoma-other",
    "heme-other", "solid-tumors", "other-cancer", "non-cancer",
)

#: Names accepted by ``by=`` in :func:`pool_orr`, mapped to arm attributes.
#: ``tumor`` splits MSI-H/dMMR-selected arms from the rest of their group (the review marks
#: them with an asterisk); ``group`` is the plain cancer group.
GROUP_KEYS = {
    "tumor": "tumor_key", "group": "tumor_group", "line": "line", "agent": "agent", "class": "target_class",
    "detail": "tumor_detail", "trial": "trial",
}

#: Allowed rounding slack (percentage points) on top of the printed precision.
ORR_TOLERANCE = 0.15

_MSI = re.compile(r"MSI-H|dMMR", re.IGNORECASE)
_NCT = re.compile(r"^NCT\d{8}$")
_PMID = re.compile(r"^\d{1,9}$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class OrrArm:
    """One monotherapy arm with its response counts and provenance."""

    trial: str
    arm: str
    nct_id: str | None
    pmid: str | None
    doi: str | None
    agent: str
    target_class: str
    tumor_group: str
    tumor_detail: str
    line: str
    setting: str
    biomarker_selection: str
    phase: str
    n_evaluable: int | None
    responders: int | None
    orr_percent: str
    response_criteria: str
    data_cutoff: str | None
    endpoint: str
    population: str
    data_cut: str
    published: str | None
    pooled: bool
    where_read: str
    derivation: str
    verified: bool
    source: str
    notes: str

    @property
    def orr(self) -> float | None:
        """Responders / evaluable patients (proportion), or None when a count is missing."""
        if self.n_evaluable is None or self.responders is None:
            return None
        return self.responders / self.n_evaluable

    @property
    def msi_selected(self) -> bool:
        """True when the arm enrolled only MSI-H/dMMR tumours."""
        return bool(_MSI.search(self.biomarker_selection or ""))

    @property
    def haematological(self) -> bool:
        return self.tumor_group in HAEMATOLOGICAL_GROUPS

    def left_out_because(self, include_unverified: bool = False,
                         include_haematological: bool = False,
                         include_subgroups: bool = False) -> str | None:
        """Why this row is not in the default Figure 4 pool (None: it is in)."""
        if not self.verified and not include_unverified:
            return "not verified"
        if self.endpoint != "ORR":
            return "not an objective-response end point"
        if self.line not in POOLED_LINES:
            return "early disease (neo/adjuvant)"
        if self.population != "primary" and not include_subgroups:
            return "biomarker or other subgroup"
        if not self.pooled:
            return "another data cut of the same arm is pooled"
        if self.haematological and not include_haematological:
            return "haematological malignancy"
        if self.orr is None:
            return "no responder count"
        return None

    @property
    def tumor_key(self) -> str:
        """Tumour group for pooling: ``CRC (MSI-H/dMMR)`` for MSI-H/dMMR-selected arms."""
        return self.tumor_group + (" (MSI-H/dMMR)" if self.msi_selected else "")

    def to_row(self) -> dict:
        row = asdict(self)
        row["verified"] = self.verified
        row["pooled"] = self.pooled
        reason = self.left_out_because()
        row["in_default_pool"] = reason is None
        row["left_out_because"] = reason
        return row


def orr_path() -> Path:
    """Path of the curated dataset shipped with the package."""
    return config.package_path("data", ORR_FILE)


def orr_precision_slack(orr_percent: str) -> float:
    """Largest allowed |100·r/n − ORR%| for an ORR printed as ``orr_percent``.

    Half a unit of the last printed digit (0.5 for "23", 0.05 for "44.8") plus
    :data:`ORR_TOLERANCE`.
    """
    decimals = len(orr_percent.split(".", 1)[1]) if "." in orr_percent else 0
    return 0.5 * 10 ** (-decimals) + ORR_TOLERANCE


@lru_cache(maxsize=4)
def _cancer_groups(path: Path | None) -> frozenset[str]:
    from ..vocab.tsv import vocab_path

    candidate = path or vocab_path("cancer_groups.tsv")
    if not candidate.is_file():
        return frozenset(CANCER_GROUPS_FALLBACK)
    with candidate.open(encoding="utf-8") as fh:
        reader = csv.DictReader((ln for ln in fh if ln.strip() and not ln.startswith("#")),
                                delimiter="\t")
        return frozenset(r["group_id"].strip() for r in reader if r.get("group_id"))


def _agent_classes() -> dict[str, str]:
    from ..vocab import load_agents

    return {a.agent_id: a.target_class for a in load_agents()}


class _RowReader:
    def __init__(self, path: Path, line: int, cells: dict[str, str]):
        self.path, self.line, self.cells = path, line, cells

    def fail(self, field: str, value: str, problem: str, fix: str) -> VocabularyError:
        return VocabularyError(
            f"{self.path.name} row {self.line}: invalid {field} {value!r}: {problem}",
            fix=f"edit {self.path} line {self.line}: {fix}",
        )

    def text(self, field: str, required: bool = False) -> str:
        value = (self.cells.get(field) or "").strip()
        if required and not value:
            raise self.fail(field, value, "this field is required", f"fill in {field}")
        return value

    def count(self, field: str) -> int | None:
        value = self.text(field)
        if not value:
            return None
        if not value.isdigit():
            raise self.fail(field, value, "expected a whole number", "write digits only")
        return int(value)


def _parse_row(rd: _RowReader, agents: dict[str, str], groups: frozenset[str]) -> OrrArm:
    agent = rd.text("agent", required=True)
    if agent not in agents:
        raise rd.fail("agent", agent, "not in vocab/agents.tsv",
                      "use the agent_id (lower-case INN) from ici_atlas/vocab/agents.tsv")
    target_class = rd.text("target_class", required=True)
    if target_class != agents[agent]:
        raise rd.fail("target_class", target_class,
                      f"agents.tsv gives {agents[agent]!r} for {agent}", "make them agree")
    tumor_group = rd.text("tumor_group", required=True)
    if tumor_group not in groups:
        raise rd.fail("tumor_group", tumor_group, "not a cancer group id",
                      f"use one of {sorted(groups)}")
    line = rd.text("line", required=True)
    if line not in LINES:
        raise rd.fail("line", line, f"expected one of {list(LINES)}", "fix the line of therapy")
    endpoint = rd.text("endpoint", required=True)
    if endpoint not in ENDPOINTS:
        raise rd.fail("endpoint", endpoint, f"expected one of {list(ENDPOINTS)}",
                      "name the end point the counts are for")
    population = rd.text("population", required=True)
    if population not in POPULATIONS:
        raise rd.fail("population", population, f"expected one of {list(POPULATIONS)}",
                      "primary (the trial's own population) or subgroup")
    pooled_text = rd.text("pooled", required=True).lower()
    if pooled_text not in ("yes", "no"):
        raise rd.fail("pooled", pooled_text, "expected yes or no", "write yes or no")
    if pooled_text == "yes" and endpoint != "ORR":
        raise rd.fail("pooled", pooled_text, f"a {endpoint} row is never pooled", "write no")
    published = rd.text("published")
    if published and not _DATE.match(published):
        raise rd.fail("published", published, "expected YYYY or YYYY-MM", "fix the year")
    verified_text = rd.text("verified", required=True).lower()
    if verified_text not in ("yes", "no"):
        raise rd.fail("verified", verified_text, "expected yes or no", "write yes or no")
    verified = verified_text == "yes"
    nct, pmid, doi = rd.text("nct_id"), rd.text("pmid"), rd.text("doi")
    if nct and not _NCT.match(nct):
        raise rd.fail("nct_id", nct, "expected NCT followed by 8 digits", "fix the NCT ID")
    if pmid and not _PMID.match(pmid):
        raise rd.fail("pmid", pmid, "expected digits", "fix the PMID")
    if doi and not _DOI.match(doi):
        raise rd.fail("doi", doi, "expected 10.<prefix>/<suffix>", "fix the DOI")
    cutoff = rd.text("data_cutoff")
    if cutoff and not _DATE.match(cutoff):
        raise rd.fail("data_cutoff", cutoff, "expected YYYY, YYYY-MM or YYYY-MM-DD", "fix the date")
    source = rd.text("source", required=True)
    n, r = rd.count("n_evaluable"), rd.count("responders")
    orr_text = rd.text("orr_percent")
    if n is not None and n == 0:
        raise rd.fail("n_evaluable", "0", "must be positive", "give the evaluable patients")
    if r is not None and (n is None or r > n):
        raise rd.fail("responders", str(r), f"exceeds n_evaluable {n}", "check the counts")
    if orr_text:
        try:
            orr_value = float(orr_text)
        except ValueError:
            raise rd.fail("orr_percent", orr_text, "not a number", "write the ORR as e.g. 44.8") from None
        if not 0 <= orr_value <= 100:
            raise rd.fail("orr_percent", orr_text, "outside 0-100", "write a percentage")
        if n and r is not None and abs(100 * r / n - orr_value) > orr_precision_slack(orr_text):
            raise rd.fail("orr_percent", orr_text,
                          f"{r}/{n} = {100 * r / n:.2f}% does not round to it",
                          "re-read the source: counts and percentage disagree")
    if verified:
        for field, value in (("n_evaluable", n), ("responders", r)):
            if value is None:
                raise rd.fail(field, "", "a verified row needs both counts",
                              "fill in the count or set verified = no")
        rd.text("where_read", required=True)
        if not orr_text and "stated" not in rd.text("derivation"):
            raise rd.fail("orr_percent", "", "a verified row without a printed ORR needs both "
                          "counts stated in the source",
                          "give the printed ORR, or say in derivation that both counts are stated")
    return OrrArm(
        trial=rd.text("trial", required=True), arm=rd.text("arm"), nct_id=nct or None,
        pmid=pmid or None, doi=doi or None, agent=agent, target_class=target_class,
        tumor_group=tumor_group, tumor_detail=rd.text("tumor_detail"), line=line,
        setting=rd.text("setting"), biomarker_selection=rd.text("biomarker_selection"),
        phase=rd.text("phase"), n_evaluable=n, responders=r, orr_percent=orr_text,
        response_criteria=rd.text("response_criteria"), data_cutoff=cutoff or None,
        endpoint=endpoint, population=population, data_cut=rd.text("data_cut", required=True),
        published=published or None, pooled=pooled_text == "yes",
        where_read=rd.text("where_read"), derivation=rd.text("derivation"), verified=verified,
        source=source, notes=rd.text("notes"),
    )


def load_orr_arms(path: str | Path | None = None) -> tuple[OrrArm, ...]:
    """Read and validate the curated ORR arms (``orr_arms.tsv`` or ``path``).

    Every row must name its source; agents must exist in ``vocab/agents.tsv`` with the same
    target class; tumour groups must be cancer-group ids; counts must agree with the printed
    ORR to its precision. Raises :class:`VocabularyError` naming file, row, field and value.
    """
    return _load_cached(Path(path) if path is not None else orr_path())


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> tuple[OrrArm, ...]:
    if not path.is_file():
        raise VocabularyError(f"ORR dataset {path} not found",
                              fix="reinstall ici-atlas or pass the path of an orr_arms.tsv")
    agents, groups = _agent_classes(), _cancer_groups(None)
    arms: list[OrrArm] = []
    with path.open(encoding="utf-8", newline="") as fh:
        lines = [(i, ln) for i, ln in enumerate(fh, start=1) if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise VocabularyError(f"{path.name}: no header row", fix=f"restore the header of {path}")
    header = lines[0][1].rstrip("\r\n").split("\t")
    missing = [c for c in ORR_COLUMNS if c not in header]
    if missing:
        raise VocabularyError(f"{path.name}: missing columns {missing}",
                              fix=f"add the columns to the header of {path}")
    seen: dict[tuple[str, ...], int] = {}
    pooled: dict[tuple[str, ...], int] = {}
    cuts: dict[tuple[str, ...], list[OrrArm]] = {}
    for number, text in lines[1:]:
        cells = dict(zip(header, text.rstrip("\r\n").split("\t")))
        reader = _RowReader(path, number, cells)
        arm = _parse_row(reader, agents, groups)
        key = (arm.trial, arm.arm, arm.population, arm.data_cut, arm.endpoint)
        first = seen.setdefault(key, number)
        if first != number:
            raise reader.fail("data_cut", arm.data_cut,
                              f"trial {arm.trial!r} arm {arm.arm!r} has this {arm.population} "
                              f"data cut already (line {first})",
                              "merge the two rows, or name the arms or data cuts apart")
        group = (arm.trial, arm.arm, arm.population)
        if arm.pooled:
            other = pooled.setdefault(group, number)
            if other != number:
                raise reader.fail("pooled", "yes", f"line {other} is the pooled data cut of this "
                                  "arm already", "set pooled = yes on one data cut only")
        if arm.endpoint == "ORR":
            cuts.setdefault(group, []).append(arm)
        arms.append(arm)
    for group, rows in cuts.items():
        if len(rows) > 1 and any(not a.published for a in rows):
            raise VocabularyError(
                f"{path.name}: trial {group[0]!r} arm {group[1]!r} has {len(rows)} data cuts but "
                "not every one says when it was published",
                fix=f"fill in published (YYYY) for each data cut of {group[0]} in {path}")
    return tuple(arms)


def _check_choice(name: str, value: str | None, allowed: Iterable[str]) -> None:
    allowed = sorted(set(allowed))
    if value is not None and value not in allowed:
        raise InputError(f"Invalid {name} {value!r}; expected one of {allowed}",
                         fix=f"pick a {name} from the list (see `ici-atlas export orr-arms`)")


def select_arms(
    arms: Sequence[OrrArm] | None = None, *, tumor: str | None = None, line: str | None = None,
    agent: str | None = None, target_class: str | None = None,
) -> list[OrrArm]:
    """Every row (any status) matching the filters given (exact ids)."""
    arms = list(load_orr_arms() if arms is None else arms)
    _check_choice("line", line, LINES)
    _check_choice("class", target_class, TARGET_CLASSES)
    if tumor is not None:
        _check_choice("tumour group", tumor, _cancer_groups(None))
    if agent is not None:
        _check_choice("agent", agent, _agent_classes())
    return [
        a for a in arms
        if (tumor is None or a.tumor_group == tumor)
        and (line is None or a.line == line)
        and (agent is None or a.agent == agent)
        and (target_class is None or a.target_class == target_class)
    ]


def query_orr_arms(
    arms: Sequence[OrrArm] | None = None, *, tumor: str | None = None, line: str | None = None,
    agent: str | None = None, target_class: str | None = None, include_unverified: bool = False,
    include_haematological: bool = False, include_subgroups: bool = False,
) -> list[OrrArm]:
    """The arms that enter the pool for these filters: by default the review's scope —
    verified, objective response, advanced disease, the trial's primary population, the
    pooled data cut of each arm, solid tumours (see :meth:`OrrArm.left_out_because`)."""
    return [a for a in select_arms(arms, tumor=tumor, line=line, agent=agent,
                                   target_class=target_class)
            if a.left_out_because(include_unverified, include_haematological,
                                  include_subgroups) is None]


def left_out_counts(
    arms: Sequence[OrrArm] | None = None, *, tumor: str | None = None, line: str | None = None,
    agent: str | None = None, target_class: str | None = None, include_unverified: bool = False,
    include_haematological: bool = False, include_subgroups: bool = False,
) -> dict[str, int]:
    """How many rows matching the filters were left out of the pool, per reason."""
    counts = {reason: 0 for reason in LEFT_OUT_REASONS}
    for a in select_arms(arms, tumor=tumor, line=line, agent=agent, target_class=target_class):
        reason = a.left_out_because(include_unverified, include_haematological, include_subgroups)
        if reason is not None:
            counts[reason] += 1
    return {k: v for k, v in counts.items() if v}


def _nan_to_none(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def pool_orr(
    arms: Sequence[OrrArm], *, by: Sequence[str] = ("tumor", "line"), method: str = "REML",
    test: str = "knha", measure: str = "PLO", level: float = 0.95,
) -> list[dict]:
    """Pooled ORR per subgroup (one dict per subgroup, sorted by the grouping keys).

    Arms without both counts are skipped (they cannot be pooled). A subgroup with one arm
    reports that arm's ORR with a Clopper–Pearson interval and no prediction interval or
    I². Each dict: the grouping keys, ``k``, ``patients``, ``responders``, ``orr`` (pooled,
    proportion), ``ci_lb``, ``ci_ub``, ``pi_lb``, ``pi_ub``, ``i2`` (percent), ``tau2``,
    ``method``, ``trials``.
    """
    from ..meta import pool_proportions

    unknown = [b for b in by if b not in GROUP_KEYS]
    if unknown:
        raise InputError(f"Invalid grouping {unknown[0]!r}; expected one of {sorted(GROUP_KEYS)}",
                         fix="use e.g. --by tumor,line or --by agent")
    attrs = [GROUP_KEYS[b] for b in by]
    groups: dict[tuple, list[OrrArm]] = {}
    for arm in arms:
        if arm.n_evaluable is None or arm.responders is None:
            continue
        groups.setdefault(tuple(getattr(arm, a) for a in attrs), []).append(arm)
    out: list[dict] = []
    for key in sorted(groups, key=lambda t: tuple(str(x) for x in t)):
        members = groups[key]
        events = [a.responders for a in members]
        totals = [a.n_evaluable for a in members]
        row = {b: v for b, v in zip(by, key)}
        row.update(k=len(members), patients=sum(totals), responders=sum(events))
        if len(members) == 1:
            lo, hi = exact_ci(events[0], totals[0], level)
            row.update(orr=events[0] / totals[0], ci_lb=lo, ci_ub=hi, pi_lb=None, pi_ub=None,
                       i2=None, tau2=None, method="single arm (Clopper-Pearson)")
        else:
            # HKSJ is not defined for the GLMM; the engine then uses t with k-1 df (as
            # metafor's rma.glmm(test="t")) and says so with a StatisticalWarning, which is
            # expected here and documented in docs/efficacy.md.
            glmm_t = method.upper() == "GLMM" and test == "knha"
            with warnings.catch_warnings():
                if glmm_t:
                    warnings.simplefilter("ignore", StatisticalWarning)
                res = pool_proportions(events, totals, measure=measure, method=method,
                                       test=test, level=level)
            row.update(orr=res.estimate, ci_lb=_nan_to_none(res.ci_lb),
                       ci_ub=_nan_to_none(res.ci_ub), pi_lb=_nan_to_none(res.pi_lb),
                       pi_ub=_nan_to_none(res.pi_ub), i2=_nan_to_none(res.I2),
                       tau2=_nan_to_none(res.tau2),
                       method=f"{method.upper()} {measure} "
                              f"{'t' if glmm_t else ('HKSJ' if test == 'knha' else test)}")
        row["trials"] = "; ".join(sorted({a.trial for a in members}))
        row["small_k"] = len(members) <= SMALL_K
        row["note"] = (SMALL_K_NOTE.format(k=len(members)) if len(members) <= SMALL_K else "")
        out.append(row)
    return out


#: Pooled groups of this many arms or fewer are flagged: with two arms a random-effects
#: interval (Hartung–Knapp on 1 df) can span most of 0–100% and tells little.
SMALL_K = 2
SMALL_K_NOTE = ("k = {k}: too few arms for a stable random-effects estimate; read the arms "
                "(ici-atlas orr --arms)")


@dataclass(frozen=True)
class ReviewStatement:
    """An ORR the review states in its text (Cancer Drug Resist. 2026;9:18, section
    "Efficacy of anti-PD-1/PD-L1 monotherapy"), for comparison only."""

    what: str
    tumor_keys: tuple[str, ...]      # pooled groups (tumor_key) it speaks of
    line: str
    low: float                        # percent
    high: float
    text: str


REVIEW_ORR: tuple[ReviewStatement, ...] = (
    ReviewStatement("first-line range", (), "first-line", 14.8, 53.0,
                    "first-line ORRs ranging from 14.8% to 53%"),
    ReviewStatement("later-line range", (), "later-line", 2.3, 48.0,
                    "later-line ORRs ranging from 2.3% to 48%"),
    ReviewStatement("MCC, cSCC, MSI-H CRC, first line", ("MCC", "cSCC", "CRC (MSI-H/dMMR)"),
                    "first-line", 45.0, 55.0, "about 50% in the first-line setting"),
    ReviewStatement("MCC, cSCC, MSI-H CRC, later lines", ("MCC", "cSCC", "CRC (MSI-H/dMMR)"),
                    "later-line", 25.0, 35.0, "30% in later lines"),
    ReviewStatement("gastric and liver, first line", ("GC", "HCC"), "first-line", 10.0, 20.0,
                    "first-line ORRs were only around 15%"),
)


def compare_with_review(pooled: Sequence[dict], arms: Sequence[OrrArm] = ()) -> list[dict]:
    """The review's stated ORRs beside ours (``pooled``: rows of :func:`pool_orr` by tumour
    and line; ``arms``: the pooled arms). A range (the review's 14.8% is one trial's ORR, so
    its ranges are over trials) is compared with the range of our arms' ORRs, within 5
    points at each end; the range of our pooled groups with k >= 3 is shown beside it. An
    "about" statement is compared with each named group's pooled ORR."""
    rows = []
    for st in REVIEW_ORR:
        groups = [r for r in pooled if r.get("line") == st.line]
        if st.tumor_keys:
            chosen = [r for r in groups if r.get("tumor") in st.tumor_keys]
            ours = "; ".join(
                f"{r['tumor']} {100 * r['orr']:.1f}% (k={r['k']}{', small k' if r['small_k'] else ''})"
                for r in chosen) or "no arms"
            inside = all(st.low <= 100 * r["orr"] <= st.high for r in chosen) if chosen else None
        else:
            line_arms = [a for a in arms if a.line == st.line and a.orr is not None]
            stable = [r for r in groups if not r["small_k"]]
            parts, inside = [], None
            if line_arms:
                lo_a = min(line_arms, key=lambda a: a.orr)
                hi_a = max(line_arms, key=lambda a: a.orr)
                parts.append(f"arms {100 * lo_a.orr:.1f}% ({lo_a.trial}) to "
                             f"{100 * hi_a.orr:.1f}% ({hi_a.trial})")
                inside = (abs(100 * lo_a.orr - st.low) <= 5 and abs(100 * hi_a.orr - st.high) <= 5)
            if stable:
                lo = min(stable, key=lambda r: r["orr"])
                hi = max(stable, key=lambda r: r["orr"])
                parts.append(f"pooled groups with k >= 3: {100 * lo['orr']:.1f}% ({lo['tumor']}) "
                             f"to {100 * hi['orr']:.1f}% ({hi['tumor']})")
            ours = "; ".join(parts) or "no arms"
        rows.append({"statement": st.what, "line": st.line, "review": st.text,
                     "review_low": st.low, "review_high": st.high, "ours": ours,
                     "agrees": inside})
    return rows


__all__ = [
    "EXPORT_COLUMNS", "EXPORT_EXTRA_COLUMNS", "LINES", "ORR_COLUMNS", "OrrArm",
    "compare_with_review", "left_out_counts", "load_orr_arms", "orr_path",
    "orr_precision_slack", "pool_orr", "query_orr_arms", "select_arms",
]


def cancer_group_ids() -> frozenset[str]:
    """The cancer-group ids an arm's ``tumor_group`` may take."""
    return _cancer_groups(None)
