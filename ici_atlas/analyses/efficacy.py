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

from scipy import stats

from .. import config
from ..errors import InputError, StatisticalWarning, VocabularyError

ORR_FILE = "orr_arms.tsv"

#: Columns of ``orr_arms.tsv`` (file order).
ORR_COLUMNS = (
    "trial", "arm", "nct_id", "pmid", "doi", "agent", "target_class", "tumor_group",
    "tumor_detail", "line", "setting", "biomarker_selection", "phase", "n_evaluable",
    "responders", "orr_percent", "response_criteria", "data_cutoff", "where_read",
    "derivation", "verified", "source", "notes",
)

#: ``ici-atlas export orr-arms`` writes these columns first, in this order, then the rest.
EXPORT_COLUMNS = (
    "trial", "nct_id", "pmid", "doi", "agent", "target_class", "tumor_group", "line",
    "n_evaluable", "responders", "orr_percent", "verified", "source",
)
EXPORT_EXTRA_COLUMNS = tuple(c for c in ORR_COLUMNS if c not in EXPORT_COLUMNS)

LINES = ("first-line", "later-line", "any")
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
    def tumor_key(self) -> str:
        """Tumour group for pooling: ``CRC (MSI-H/dMMR)`` for MSI-H/dMMR-selected arms."""
        return self.tumor_group + (" (MSI-H/dMMR)" if self.msi_selected else "")

    def to_row(self) -> dict:
        row = asdict(self)
        row["verified"] = "yes" if self.verified else "no"
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
    seen: dict[tuple[str, str], int] = {}
    for number, text in lines[1:]:
        cells = dict(zip(header, text.rstrip("\r\n").split("\t")))
        reader = _RowReader(path, number, cells)
        arm = _parse_row(reader, agents, groups)
        first = seen.setdefault((arm.trial, arm.arm), number)
        if first != number:
            raise reader.fail("arm", arm.arm, f"trial {arm.trial!r} has this arm already (line {first})",
                              "merge the two rows, or name the arms apart")
        arms.append(arm)
    return tuple(arms)


def _check_choice(name: str, value: str | None, allowed: Iterable[str]) -> None:
    allowed = sorted(set(allowed))
    if value is not None and value not in allowed:
        raise InputError(f"Invalid {name} {value!r}; expected one of {allowed}",
                         fix=f"pick a {name} from the list (see `ici-atlas export orr-arms`)")


def query_orr_arms(
    arms: Sequence[OrrArm] | None = None, *, tumor: str | None = None, line: str | None = None,
    agent: str | None = None, target_class: str | None = None, include_unverified: bool = False,
) -> list[OrrArm]:
    """Arms matching every filter given (exact ids; ``line`` first-line/later-line/any).

    Unverified rows are dropped unless ``include_unverified``.
    """
    arms = list(load_orr_arms() if arms is None else arms)
    _check_choice("line", line, LINES)
    _check_choice("class", target_class, TARGET_CLASSES)
    if tumor is not None:
        _check_choice("tumour group", tumor, _cancer_groups(None))
    if agent is not None:
        _check_choice("agent", agent, _agent_classes())
    return [
        a for a in arms
        if (include_unverified or a.verified)
        and (tumor is None or a.tumor_group == tumor)
        and (line is None or a.line == line)
        and (agent is None or a.agent == agent)
        and (target_class is None or a.target_class == target_class)
    ]


def _exact_ci(events: int, total: int, level: float) -> tuple[float, float]:
    """Clopper–Pearson interval for one proportion."""
    alpha = 1 - level
    lo = 0.0 if events == 0 else float(stats.beta.ppf(alpha / 2, events, total - events + 1))
    hi = 1.0 if events == total else float(stats.beta.ppf(1 - alpha / 2, events + 1, total - events))
    return lo, hi


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
            lo, hi = _exact_ci(events[0], totals[0], level)
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
        out.append(row)
    return out


__all__ = [
    "EXPORT_COLUMNS", "EXPORT_EXTRA_COLUMNS", "LINES", "ORR_COLUMNS", "OrrArm",
    "load_orr_arms", "orr_path", "orr_precision_slack", "pool_orr", "query_orr_arms",
]


def cancer_group_ids() -> frozenset[str]:
    """The cancer-group ids an arm's ``tumor_group`` may take."""
    return _cancer_groups(None)
