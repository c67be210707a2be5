"""Clopper–Pearson (exact) confidence intervals of single proportions, one or many at once."""

from __future__ import annotations

import numpy as np
from scipy import stats


def exact_cis(events, totals, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson intervals of ``events[i] / totals[i]`` (arrays, vectorised: one
    call for a million studies)."""
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    alpha = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(x == 0, 0.0, stats.beta.ppf(alpha / 2, np.maximum(x, 1), n - x + 1))
        hi = np.where(x == n, 1.0, stats.beta.ppf(1 - alpha / 2, x + 1, np.maximum(n - x, 1)))
    return lo, hi


def exact_ci(events: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of one proportion."""
    lo, hi = exact_cis([events], [total], level)
    return float(lo[0]), float(hi[0])
