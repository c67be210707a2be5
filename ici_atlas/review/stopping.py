"""When to stop prioritised screening: a hypergeometric test with a stated recall target.

Callaghan & Müller-Hansen, Systematic Reviews 2020;9:273, doi:10.1186/s13643-020-01521-4.
H0 is "recall is still below the target" (default 0.95). The records screened after any
point of the screening order are treated as a sample drawn from everything that was
unscreened at that point (an *urn*). If H0 were true, that urn held at least ``K_hat``
relevant records, where ``K_hat`` is the smallest count that puts recall below the target;
the chance of finding as few relevant records as were found in the sample is then at most
the hypergeometric ``P(X <= k)``. Screening may stop when that probability is below alpha
(default 0.05) for some urn. Only the urns that start right after a relevant record (and
the one that starts at the beginning) need checking: for a given number of relevant
records in the sample, the largest urn gives the smallest p-value.

Treating prioritised records as a random sample is conservative as long as the ranking
puts relevant records first at least as often as chance would (the point of ranking);
it is what the authors do when no separate random sample is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Sequence

import numpy as np

TARGET_RECALL = 0.95
ALPHA = 0.05
RULE = "hypergeometric (Callaghan & Müller-Hansen 2020)"


@dataclass(frozen=True)
class StoppingStatus:
    """The stopping test after ``screened`` of ``total`` records (``found`` relevant)."""

    should_stop: bool
    p_value: float  # of H0 "recall < target_recall"; stop when below alpha
    target_recall: float
    alpha: float
    screened: int
    found: int
    total: int
    max_missed: int  # with confidence 1 - alpha, at most this many relevant records are unscreened
    recall_lower_bound: float  # found / (found + max_missed), with confidence 1 - alpha

    @property
    def text(self) -> str:
        """One line for the screener."""
        conf = f"{1 - self.alpha:.0%}"
        bound = (f"{conf} confident at most {self.max_missed:,} relevant record(s) remain unscreened "
                 f"(recall >= {self.recall_lower_bound:.2f})")
        if self.should_stop:
            return (f"Stopping rule: you may stop: {bound}; target recall {self.target_recall:.2f} "
                    f"reached (p = {self.p_value:.3g}).")
        return (f"Stopping rule: keep screening: recall >= {self.target_recall:.2f} not shown yet "
                f"(p = {self.p_value:.3g}, stop when < {self.alpha:g}); {bound}.")

    def to_dict(self) -> dict:
        return {
            "rule": RULE,
            "should_stop": self.should_stop,
            "p_value": round(self.p_value, 6),
            "target_recall": self.target_recall,
            "alpha": self.alpha,
            "screened": self.screened,
            "found": self.found,
            "total": self.total,
            "max_missed": self.max_missed,
            "recall_lower_bound": round(self.recall_lower_bound, 4),
        }


def _check(screened: int, total: int, target_recall: float, alpha: float) -> None:
    if screened > total:
        raise ValueError(f"{screened} records screened out of only {total}")
    if not 0 < target_recall < 1:
        raise ValueError(f"target recall must be between 0 and 1, not {target_recall}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")


def _urns(labels: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each candidate urn j (starting after the j-th relevant record, j = 0..found):
    population size, sample size, relevant records in the sample."""
    found = int(labels.sum())
    before = np.concatenate([[0], np.flatnonzero(labels) + 1])  # records screened before urn j
    return total - before, len(labels) - before, found - np.arange(found + 1)


def _k_hat(found: int, target_recall: float) -> np.ndarray:
    """Smallest number of relevant records in urn j for which recall would be below target:
    found / (j + K) < target  <=>  K > found / target - j (exact arithmetic, no float edge)."""
    threshold = math.floor(Fraction(found) / Fraction(str(target_recall)))
    return threshold - np.arange(found + 1) + 1


def _hypergeom_cdf(k, population, successes, draws) -> np.ndarray:
    """P(X <= k); 0 where ``successes`` cannot fit in the population (H0 impossible)."""
    from scipy.stats import hypergeom

    population, successes = np.asarray(population), np.asarray(successes)
    fits = successes <= population
    p = hypergeom.cdf(k, population, np.minimum(successes, population), draws)
    return np.where(fits, p, 0.0)


def p_value(labels_in_order: Sequence[int], total: int, target_recall: float = TARGET_RECALL) -> float:
    """p-value of H0 "recall < target" after screening ``labels_in_order`` (1 = relevant, in
    the order screened) out of ``total`` records."""
    y = np.asarray(labels_in_order, dtype=np.int64)
    _check(len(y), total, target_recall, ALPHA)
    population, sample, k = _urns(y, total)
    p = _hypergeom_cdf(k, population, _k_hat(int(y.sum()), target_recall), sample)
    return float(p.min())


def _max_missed(y: np.ndarray, total: int, alpha: float) -> int:
    """Most relevant records that can still be unscreened without being rejected at alpha,
    taking the best urn (per urn a binary search: P(X <= k) falls as the urn holds more)."""
    population, sample, k = _urns(y, total)
    unscreened = total - len(y)
    if unscreened == 0:
        return 0
    lo = k.copy()  # the urn holding only the k found: never rejected (P = 1)
    hi = k + unscreened + 1  # more than the urn can hold: rejected
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        rejected = _hypergeom_cdf(k, population, mid, sample) < alpha
        active = hi - lo > 1
        hi = np.where(active & rejected, mid, hi)
        lo = np.where(active & ~rejected, mid, lo)
    return int((lo - k).min())  # lo: the most relevant records urn j may hold


def stopping_status(
    labels_in_order: Sequence[int],
    total: int,
    target_recall: float = TARGET_RECALL,
    alpha: float = ALPHA,
) -> StoppingStatus:
    """The test after each decision: ``labels_in_order`` are the decisions so far (1 =
    include, 0 = exclude) in the order they were made; ``total`` is the number of records
    to screen (screened + unscreened)."""
    y = np.asarray(labels_in_order, dtype=np.int64)
    _check(len(y), total, target_recall, alpha)
    p = p_value(y, total, target_recall)
    found = int(y.sum())
    missed = _max_missed(y, total, alpha)
    bound = 1.0 if missed == 0 else found / (found + missed)
    return StoppingStatus(
        should_stop=p < alpha, p_value=p, target_recall=target_recall, alpha=alpha,
        screened=len(y), found=found, total=total, max_missed=missed, recall_lower_bound=bound,
    )


def first_stop(
    labels_in_order: Sequence[int],
    total: int | None = None,
    target_recall: float = TARGET_RECALL,
    alpha: float = ALPHA,
    after: int = 0,
) -> int:
    """Number of records screened when the rule first says stop (checked after every
    decision from ``after`` on); ``total`` if it never does before everything is screened."""
    y = np.asarray(labels_in_order, dtype=np.int64)
    total = len(y) if total is None else total
    _check(len(y), total, target_recall, alpha)
    for n in range(max(after, 1), len(y) + 1):
        if p_value(y[:n], total, target_recall) < alpha:
            return n
    return total


def labels_in_decision_order(log: Iterable[tuple[str, str]]) -> list[int]:
    """The stopping rule's input from a screening log: ``log`` is ``(record_id, decision)`` in
    the order the decisions were made. A record counts if its latest decision is include or
    exclude (1 / 0), at the place of the first include/exclude since its last other entry
    (a skip, an undo or not-retrieved makes it unscreened again)."""
    latest: dict[str, str] = {}
    first: dict[str, int] = {}
    for position, (record_id, decision) in enumerate(log):
        latest[record_id] = decision
        if decision in ("include", "exclude"):
            first.setdefault(record_id, position)
        else:
            first.pop(record_id, None)
    return [1 if latest[k] == "include" else 0 for k in sorted(first, key=first.__getitem__)]


def screening_stop_status(
    con, stage: str = "title-abstract", target_recall: float = TARGET_RECALL, alpha: float = ALPHA
) -> StoppingStatus:
    """The test for the screening in the store: the records of ``stage``'s pool in force as
    included or excluded (:func:`labels_in_decision_order`), out of the whole pool. Skipped,
    undone and not-retrieved records count as unscreened."""
    from .screening import screening_pool  # screening imports the prioritiser; keep this module light

    pool = {r.record_id for r in screening_pool(con, stage)}
    rows = con.execute("SELECT record_id, decision FROM lit_decisions WHERE stage = ? ORDER BY seq",
                       [stage]).fetchall()
    labels = labels_in_decision_order((k, d) for k, d in rows if k in pool)
    return stopping_status(labels, len(pool), target_recall, alpha)
