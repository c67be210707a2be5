"""Back-transformations from the measure's scale to the proportion scale.

Mirrors metafor's ``transf.*`` functions: identity (PR), ``exp`` (PLN),
``transf.ilogit`` (PLO), ``transf.iarcsin`` (PAS) and ``transf.ipft.hm`` (PFT, the
Miller (1978) inversion evaluated at the harmonic mean of the sample sizes).
On the proportion scale every value is clipped to [0, 1]; metafor leaves raw-scale
(PR) and log-scale (PLN) bounds outside [0, 1] as they are (see validation/README.md).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import StatisticalWarning

PFT_WARNING = (
    "Freeman–Tukey (PFT) back-transformation: the pooled proportion depends on the sample "
    "size plugged into the inversion (here the harmonic mean of the study sizes, as "
    "metafor's transf.ipft.hm), and the inversion is not monotone, so back-transformed "
    "estimates and intervals can be misleading (Schwarzer et al. 2019, Res Synth Methods "
    "10:476-483, doi:10.1002/jrsm.1348). Prefer measure PLO or method GLMM."
)


def pft(p, n):
    """metafor ``transf.pft``: the double arcsine of proportion ``p`` at sample size ``n``."""
    x = np.asarray(p, dtype=float) * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def ipft(z, n):
    """Inverse of the double arcsine at sample size ``n`` (Miller 1978), as ``transf.ipft``."""
    z = np.asarray(z, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(2 * z)
        out = 0.5 * (1 - np.sign(np.cos(2 * z)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    out = np.where(np.isnan(out), np.nan, out)
    out = np.where(z > pft(1.0, n), 1.0, out)
    out = np.where(z < pft(0.0, n), 0.0, out)
    return out


def harmonic_mean(n) -> float:
    n = np.asarray(n, dtype=float)
    return float(1.0 / np.mean(1.0 / n))


def to_proportion(z, measure: str, totals=None, warn: bool = True):
    """Back-transform value(s) ``z`` on the scale of ``measure`` to a proportion in [0, 1]."""
    z = np.asarray(z, dtype=float)
    if measure == "PR":
        out = z
    elif measure == "PLN":
        out = np.exp(z)
    elif measure in ("PLO", "GLMM"):
        out = 1.0 / (1.0 + np.exp(-z))
    elif measure == "PAS":
        out = np.where(z < 0, 0.0, np.where(z > np.arcsin(1.0), 1.0, np.sin(z) ** 2))
    elif measure == "PFT":
        if warn:
            warnings.warn(PFT_WARNING, StatisticalWarning, stacklevel=3)
        out = ipft(z, harmonic_mean(totals))
    else:  # pragma: no cover - measures are checked upstream
        raise ValueError(measure)
    return np.clip(out, 0.0, 1.0)
