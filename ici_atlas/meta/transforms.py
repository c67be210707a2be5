"""Effect sizes for single proportions, computed as ``metafor::escalc`` does.

``compute_effects(events, totals, measure, add, to)`` returns the transformed
proportions ``yi`` and their sampling variances ``vi`` for one of

* ``PR``  raw proportion, ``vi = p(1-p)/n``
* ``PLN`` log proportion, ``vi = 1/x - 1/n``
* ``PLO`` logit proportion, ``vi = 1/x + 1/(n-x)``
* ``PAS`` arcsine square root, ``vi = 1/(4n)``
* ``PFT`` Freeman–Tukey double arcsine, ``vi = 1/(4n+2)``

Zero-cell handling follows escalc: ``add`` is added to the events and the
non-events of the studies selected by ``to`` (``"only0"``: studies with 0 events
or 0 non-events; ``"all"``: every study; ``"if0all"``: every study if any has a
zero cell; ``"none"``: no study). As in escalc the adjustment is applied for every
measure, but its default is 1/2 for PR, PLN and PLO and 0 for PAS and PFT (whose
variances need no correction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

MEASURES = ("PR", "PLN", "PLO", "PAS", "PFT")
TO_OPTIONS = ("only0", "all", "if0all", "none")
#: escalc's default ``add`` per measure (1/2, except 0 for the variance-stabilising ones).
DEFAULT_ADD = {"PR": 0.5, "PLN": 0.5, "PLO": 0.5, "PAS": 0.0, "PFT": 0.0}


@dataclass(frozen=True)
class Effects:
    """Per-study transformed proportions and what produced them."""

    yi: np.ndarray
    vi: np.ndarray
    events: np.ndarray  # as given (unadjusted)
    totals: np.ndarray  # as given (unadjusted)
    measure: str
    add: float
    to: str
    adjusted: np.ndarray  # bool per study: did the zero-cell correction touch it


def check_measure(measure: str) -> str:
    m = str(measure).upper()
    if m not in MEASURES:
        raise InputError(
            f"Invalid measure {measure!r}; expected one of {list(MEASURES)}",
            fix="Use PLO (logit, the default), PR, PLN, PAS or PFT.",
        )
    return m


def check_counts(events, totals, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """Validate events/totals: same length, k >= 1, non-negative integers, events <= totals."""
    ev = np.asarray(events, dtype=float).ravel()
    n = np.asarray(totals, dtype=float).ravel()
    if ev.shape != n.shape:
        raise InputError(
            f"events has {ev.size} values but totals has {n.size}",
            fix="Give one events count and one total per study.",
        )
    if ev.size == 0:
        raise InputError("No studies given (k = 0)", fix="Pass at least one study.")

    def name(i: int) -> str:
        if labels is not None:
            return f"study {labels[i]!r} (index {i})"
        return f"study index {i}"

    for field, arr in (("events", ev), ("totals", n)):
        bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"Invalid {field} {arr[i]!r} for {name(i)}; expected a non-negative integer",
                fix=f"Correct the {field} of that study.",
            )
    zero = n <= 0
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        raise InputError(
            f"Invalid totals {n[i]:g} for {name(i)}; expected a positive integer",
            fix="Drop studies without patients or correct their total.",
        )
    over = ev > n
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise InputError(
            f"Invalid events {ev[i]:g} for {name(i)}: larger than totals {n[i]:g}",
            fix="Events (responders) cannot exceed the number of patients; check both columns.",
        )
    return ev, n


def compute_effects(
    events, totals, measure: str = "PLO", add: float | None = None, to: str = "only0",
    labels=None,
) -> Effects:
    """Transformed proportions and sampling variances (metafor ``escalc``, vtype "LS")."""
    measure = check_measure(measure)
    if to not in TO_OPTIONS:
        raise InputError(
            f"Invalid to {to!r}; expected one of {list(TO_OPTIONS)}",
            fix='Use "only0" (default), "all", "if0all" or "none".',
        )
    if add is None:
        add = DEFAULT_ADD[measure]
    add = float(add)
    if not np.isfinite(add) or add < 0:
        raise InputError(f"Invalid add {add!r}; expected a number >= 0", fix="Use add=0.5.")
    ev, n = check_counts(events, totals, labels)
    xi = ev.copy()
    mi = n - ev
    zero_cell = (xi == 0) | (mi == 0)
    if to == "all":
        adjusted = np.ones(xi.size, dtype=bool)
    elif to == "only0":
        adjusted = zero_cell
    elif to == "if0all":
        adjusted = np.full(xi.size, bool(zero_cell.any()))
    else:
        adjusted = np.zeros(xi.size, dtype=bool)
    if add == 0:
        adjusted = np.zeros(xi.size, dtype=bool)
    xi = xi + add * adjusted
    mi = mi + add * adjusted
    ni = xi + mi
    pri = xi / ni
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PR":
            yi = pri
            vi = pri * (1 - pri) / ni
        elif measure == "PLN":
            yi = np.log(pri)
            vi = 1 / xi - 1 / ni
        elif measure == "PLO":
            yi = np.log(pri / (1 - pri))
            vi = 1 / xi + 1 / mi
        elif measure == "PAS":
            yi = np.arcsin(np.sqrt(pri))
            vi = 1 / (4 * ni)
        else:  # PFT
            yi = 0.5 * (np.arcsin(np.sqrt(xi / (ni + 1))) + np.arcsin(np.sqrt((xi + 1) / (ni + 1))))
            vi = 1 / (4 * ni + 2)
    return Effects(yi, vi, ev, n, measure, add, to, adjusted)
