"""Cancer groups and the phrases that name them (``cancer_groups.tsv``, ``cancer_terms.tsv``).

The groups are the tumour-type categories the trial landscape is counted by (the review's
Figure 2B/2C); each carries the OncoTree code that best stands for it. Terms map a phrase
found in a record (condition, keyword, title, condition MeSH term) to one group and, where
OncoTree has a node for it, to that node's code. OncoTree (MSK/cBioPortal, release
oncotree_2025_10_03) is licensed CC BY 4.0; only the codes used are stored here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ici_atlas.errors import VocabularyError
from ici_atlas.vocab.tsv import read_rows, vocab_path

CANCER_GROUPS_FILE = "cancer_groups.tsv"
CANCER_TERMS_FILE = "cancer_terms.tsv"

#: The groups, in the order reports list them.
CANCER_GROUP_IDS = (
    "NSCLC", "SCLC", "lung-other", "melanoma", "HCC", "BTC", "ESCA", "GC", "CRC", "pancreatic",
    "HNSCC", "NPC", "UC", "RCC", "prostate", "breast", "TNBC", "CC", "UCEC", "ovarian", "MPM",
    "cSCC", "MCC", "BCC", "sarcoma", "CNS", "cHL", "lymphoma-other", "heme-other",
    "solid-tumors", "other-cancer", "non-cancer",
)
TERM_KINDS = ("name", "abbrev", "generic")
#: group_id of phrases that look like cancer words but are not (they shadow shorter terms).
NOT_CANCER = "none"
_PLURAL_HEADS = ("cancer", "tumor", "tumour", "neoplasm", "carcinoma", "sarcoma", "lymphoma",
                 "melanoma", "glioma", "adenocarcinoma", "mesothelioma", "leukemia", "leukaemia")


@dataclass(frozen=True)
class CancerGroup:
    group_id: str
    label: str
    oncotree_code: str | None
    suppressed_by: tuple[str, ...]
    definition: str
    source: str


@dataclass(frozen=True)
class CancerTerm:
    term: str
    group_id: str
    oncotree_code: str | None
    kind: str
    source: str
    line: int = 0

    @property
    def generic(self) -> bool:
        return self.kind == "generic"

    def spellings(self) -> tuple[str, ...]:
        """The term and, for a cancer noun at its end, its plural."""
        out = [self.term]
        if self.kind != "abbrev" and self.term.lower().endswith(_PLURAL_HEADS):
            out.append(self.term + "s")
        return tuple(out)


@lru_cache(maxsize=4)
def _groups_cached(path: Path) -> tuple[CancerGroup, ...]:
    groups: list[CancerGroup] = []
    seen: set[str] = set()
    for row in read_rows(path, ("group_id", "label", "oncotree_code", "suppressed_by",
                                "definition", "source")):
        gid = row.choice("group_id", CANCER_GROUP_IDS)
        if gid in seen:
            raise row.error("group_id", gid, "duplicate group", "keep one row per group")
        seen.add(gid)
        suppressed = row.values("suppressed_by")
        for other in suppressed:
            if other not in CANCER_GROUP_IDS:
                raise row.error("suppressed_by", other, "not a cancer group",
                                f"use one of {list(CANCER_GROUP_IDS)}")
        groups.append(CancerGroup(gid, row.text("label", required=True),
                                  row.optional("oncotree_code"), suppressed,
                                  row.text("definition", required=True),
                                  row.text("source", required=True)))
    missing = [g for g in CANCER_GROUP_IDS if g not in seen]
    if missing:
        raise VocabularyError(f"{path.name}: groups {missing} have no row",
                              fix=f"add a row for each of {missing} to {path}")
    order = {g: i for i, g in enumerate(CANCER_GROUP_IDS)}
    return tuple(sorted(groups, key=lambda g: order[g.group_id]))


def load_cancer_groups(path: str | Path | None = None) -> tuple[CancerGroup, ...]:
    """The cancer groups (validated, in report order; cached per path)."""
    return _groups_cached(Path(path) if path is not None else vocab_path(CANCER_GROUPS_FILE))


@lru_cache(maxsize=4)
def _terms_cached(path: Path) -> tuple[CancerTerm, ...]:
    allowed = (*CANCER_GROUP_IDS, NOT_CANCER)
    terms: list[CancerTerm] = []
    seen: dict[str, int] = {}
    for row in read_rows(path, ("term", "group_id", "oncotree_code", "kind", "source")):
        term = row.text("term", required=True)
        key = term.casefold()
        if key in seen:
            raise row.error("term", term, f"duplicate of row {seen[key]}", "keep one row per term")
        seen[key] = row.line
        group = row.choice("group_id", allowed)
        if group in ("non-cancer",):
            raise row.error("group_id", group, "non-cancer is what is left when no term matches",
                            "map the phrase to a cancer group, or to 'none'")
        terms.append(CancerTerm(term, group, row.optional("oncotree_code"),
                                row.choice("kind", TERM_KINDS), row.text("source", required=True),
                                row.line))
    return tuple(terms)


def load_cancer_terms(path: str | Path | None = None) -> tuple[CancerTerm, ...]:
    """The cancer phrases (validated; cached per path)."""
    return _terms_cached(Path(path) if path is not None else vocab_path(CANCER_TERMS_FILE))
