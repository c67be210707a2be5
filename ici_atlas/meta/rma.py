"""Random- and common-effect models fitted as ``metafor::rma.uni`` fits them.

``fit_rma(y, v, X, method, test, level)`` estimates tau² (see ``tau2.py``), then
the weighted least-squares coefficients with weights ``1/(v + tau²)``, their
covariance, Wald (``test="z"``) or Hartung–Knapp–Sidik–Jonkman (``test="knha"``:
covariance multiplied by the weighted residual mean square, t with k − p df)
tests and intervals, the omnibus test of moderators (QM), the residual
heterogeneity test (Q / QE with k − p df), I² and H² (metafor's definitions:
``I² = tau²/(vt + tau²)`` with the "typical" variance ``vt = (k − p)/tr(P)``; for the
common-effect model from Q) and a prediction interval as ``predict.rma`` gives it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ..errors import InputError, StatisticalWarning
from .tau2 import estimate_tau2

TESTS = ("z", "knha")


@dataclass
class RmaFit:
    """A fitted model on the transformed scale (``beta`` has one entry per column of X)."""

    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    tau2: float
    QE: float
    QEp: float
    I2: float
    H2: float
    QM: float
    QMp: float
    QMdf: tuple
    k: int
    p: int
    method: str
    test: str
    level: float
    ddf: float
    s2w: float
    crit: float
    ll: float = float("nan")
    coef_names: list = field(default_factory=list)

    def predict(self, x: np.ndarray | None = None) -> dict:
        """Predicted value, CI and prediction interval at covariates ``x`` (default: intercept)."""
        x = np.array([1.0]) if x is None else np.asarray(x, dtype=float)
        pred = float(x @ self.beta)
        vpred = float(x @ self.vb @ x)
        se = np.sqrt(vpred)
        # metafor gives no prediction interval for a common-effect model
        half_pi = float("nan") if self.method == "FE" else self.crit * np.sqrt(vpred + self.tau2)
        return {
            "pred": pred, "se": se,
            "ci_lb": pred - self.crit * se, "ci_ub": pred + self.crit * se,
            "pi_lb": pred - half_pi, "pi_ub": pred + half_pi,
        }


def check_test(test: str) -> str:
    t = str(test).lower()
    if t not in TESTS:
        raise InputError(
            f"Invalid test {test!r}; expected one of {list(TESTS)}",
            fix='Use "z" (Wald) or "knha" (Hartung–Knapp–Sidik–Jonkman).',
        )
    return t


def check_level(level: float) -> float:
    lv = float(level)
    if lv > 1:
        lv = lv / 100.0  # accept metafor's 95
    if not 0 < lv < 1:
        raise InputError(f"Invalid level {level!r}; expected a number in (0, 1)", fix="Use 0.95.")
    return lv


def _crit(test: str, ddf: float, level: float) -> float:
    a = (1 - level) / 2
    if test == "knha":
        return float(-special.stdtrit(ddf, a)) if ddf > 0 else float("nan")
    return float(-special.ndtri(a))


def fit_rma(
    y, v, X=None, method: str = "REML", test: str = "z", level: float = 0.95,
    coef_names: list | None = None, tau2: float | None = None,
) -> RmaFit:
    """Fit a (mixed-effects) meta-regression model; ``X=None`` is the intercept-only model."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    k = y.size
    X = np.ones((k, 1)) if X is None else np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    p = X.shape[1]
    test = check_test(test)
    level = check_level(level)
    method = method.upper()
    if p > k or (method != "FE" and p + 1 > k and k > 1):
        raise InputError(
            f"Too few studies (k = {k}) for {p} coefficient(s) plus tau²",
            fix="Use fewer moderators or a common-effect model (method FE).",
        )
    bad = ~np.isfinite(y) | ~np.isfinite(v) | (v <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"Study index {i} has an undefined outcome or a zero sampling variance "
            f"(yi = {y[i]!r}, vi = {v[i]!r})",
            fix='Keep the zero-cell correction on (to="only0") or use measure PAS/PFT.',
        )
    t2 = estimate_tau2(y, v, X, method) if tau2 is None else float(tau2)
    w = 1.0 / (v + t2)
    WX = X * w[:, None]
    A = X.T @ WX
    vb = np.linalg.inv(A)
    beta = vb @ (WX.T @ y)
    resid = y - X @ beta
    s2w = 1.0
    if test == "knha":
        if method == "FE":
            warnings.warn(
                "The Knapp–Hartung method is not meant for common-effect (FE) models.",
                StatisticalWarning, stacklevel=2,
            )
        rss = float(np.sum(w * resid**2))
        s2w = 0.0 if rss <= np.finfo(float).eps else (rss / (k - p) if k > p else float("nan"))
        if k <= p:
            warnings.warn(
                f"Knapp–Hartung needs k > {p} studies (k - p residual df); with k = {k} the "
                "confidence interval is undefined (NaN), as in metafor. Use test='z'.",
                StatisticalWarning, stacklevel=2,
            )
        elif s2w == 0.0:
            warnings.warn(
                "Knapp–Hartung: the weighted residuals are all 0 (identical study estimates), "
                "so the adjusted standard error and the interval width are 0 (as in metafor).",
                StatisticalWarning, stacklevel=2,
            )
        vb = s2w * vb
        ddf = float(k - p)
    else:
        ddf = float("nan")
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    crit = _crit(test, ddf, level)
    # omnibus test of all coefficients except the intercept (or of the intercept if alone)
    btt = list(range(1, p)) if p > 1 and np.allclose(X[:, 0], 1.0) else list(range(p))
    m = len(btt)
    try:
        sub = vb[np.ix_(btt, btt)]
        QM = float(beta[btt] @ np.linalg.solve(sub, beta[btt]))
    except np.linalg.LinAlgError:
        QM = float("nan")
    if test == "knha":
        QM = QM / m
        QMdf = (m, k - p)
        QMp = float(special.fdtrc(m, k - p, QM)) if k > p else float("nan")
        pval = 2 * special.stdtr(ddf, -np.abs(zval)) if ddf > 0 else np.full(p, np.nan)
    else:
        QMdf = (m, None)
        QMp = float(special.chdtrc(m, QM))
        pval = 2 * special.ndtr(-np.abs(zval))
    # heterogeneity (always with common-effect weights)
    if k > p:
        wf = 1.0 / v
        WXf = X * wf[:, None]
        bf = np.linalg.solve(X.T @ WXf, WXf.T @ y)
        QE = max(0.0, float(np.sum(wf * (y - X @ bf) ** 2)))
        QEp = float(special.chdtrc(k - p, QE))
        # tr(P) for P = W - W X (X'WX)^-1 X'W
        trP = float(wf.sum() - np.trace(np.linalg.solve(X.T @ WXf, WXf.T @ WXf)))
        vt = (k - p) / trP
        if method == "FE":
            I2 = max(0.0, 100 * (QE - (k - p)) / QE) if QE > 0 else 0.0
            H2 = QE / (k - p)
        else:
            I2 = 100 * t2 / (vt + t2)
            H2 = t2 / vt + 1
    else:
        QE, QEp, I2, H2 = 0.0, 1.0, 0.0, 1.0
    return RmaFit(
        beta=beta, vb=vb, se=se, zval=zval, pval=np.asarray(pval),
        ci_lb=beta - crit * se, ci_ub=beta + crit * se, tau2=t2,
        QE=QE, QEp=QEp, I2=I2, H2=H2, QM=QM, QMp=QMp, QMdf=QMdf, k=k, p=p,
        method=method, test=test, level=level, ddf=ddf, s2w=s2w, crit=crit,
        coef_names=list(coef_names) if coef_names else [f"b{j}" for j in range(p)],
    )
