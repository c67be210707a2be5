"""Estimators of the between-study variance tau², as ``metafor::rma.uni`` computes them.

Each estimator takes the outcomes ``y`` (k), sampling variances ``v`` (k) and the
design matrix ``X`` (k × p) and returns ``(tau2, info)``. The iterative ones use
metafor's default control (``threshold = 1e-5`` on the change in tau², at most 100
iterations, step-halving to stay >= 0, Paule–Mandel root found with R's Brent
``uniroot`` with ``tol = .Machine$double.eps^0.25``) and the same starting values,
so they land on the same value as metafor rather than on a slightly different
point of the same plateau. All estimates are truncated at 0.

References: DerSimonian & Laird 1986 (DL); Hedges & Olkin 1985 (HE); Sidik &
Jonkman 2005 (SJ); Hunter & Schmidt 2004 (HS); Morris 1983 (EB); Paule & Mandel
1982 (PM); Viechtbauer 2005 (ML, REML, Fisher scoring); Viechtbauer 2010
(metafor, doi:10.18637/jss.v036.i03).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConvergenceError, InputError, StatisticalWarning

METHODS = ("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")

THRESHOLD = 1e-5
MAXITER = 100
UNIROOT_TOL = np.finfo(float).eps ** 0.25
_EPS = np.finfo(float).eps


def _is_intercept_only(X: np.ndarray) -> bool:
    return X.shape[1] == 1 and bool(np.all(X == 1.0))


# The projection P = W - W X (X'WX)^-1 X' W (k x k) is never formed: every quantity
# the estimators need is a weighted residual sum or a p x p product, so time is
# O(k p^2) and memory O(k p) (O(k) for the intercept-only model).


def _wls_resid(X: np.ndarray, w: np.ndarray, y: np.ndarray, io: bool) -> np.ndarray:
    """Residuals y - X b of the weighted least-squares fit with weights w (so P y = w * r)."""
    if io:
        return y - np.dot(w, y) / w.sum()
    WX = X * w[:, None]
    return y - X @ np.linalg.solve(X.T @ WX, WX.T @ y)


def _rss(X: np.ndarray, w: np.ndarray, y: np.ndarray, io: bool | None = None) -> float:
    """y'P y = sum w (y - X b)^2, the weighted residual sum of squares."""
    if io is None:
        io = _is_intercept_only(X)
    r = _wls_resid(X, w, y, io)
    return float(np.dot(w * r, r))


def _trace_p(X: np.ndarray, w: np.ndarray, io: bool) -> float:
    """tr P = sum w - tr((X'WX)^-1 X'W^2 X)."""
    sw = float(w.sum())
    if io:
        return sw - float(np.dot(w, w)) / sw
    WX = X * w[:, None]
    return sw - float(np.trace(np.linalg.solve(X.T @ WX, WX.T @ WX)))


def _pstats(X: np.ndarray, w: np.ndarray, y: np.ndarray, intercept_only: bool):
    """(P y, tr P, tr PP) for P = W - W X (X'WX)^-1 X'W, in O(k p^2) without forming P.

    With A = X'WX, S2 = A^-1 X'W^2 X and S3 = A^-1 X'W^3 X:
    tr P = sum w - tr S2 and tr PP = sum w^2 - 2 tr S3 + tr(S2 S2).
    """
    if intercept_only:
        sw = w.sum()
        sw2 = float(np.dot(w, w))
        py = w * (y - np.dot(w, y) / sw)
        trp = sw - sw2 / sw
        trpp = sw2 - 2 * float(np.dot(w * w, w)) / sw + (sw2 / sw) ** 2
        return py, trp, trpp
    WX = X * w[:, None]
    A = X.T @ WX
    py = w * (y - X @ np.linalg.solve(A, WX.T @ y))
    S2 = np.linalg.solve(A, WX.T @ WX)
    S3 = np.linalg.solve(A, WX.T @ (WX * w[:, None]))
    trp = float(w.sum() - np.trace(S2))
    trpp = float(np.dot(w, w) - 2 * np.trace(S3) + np.sum(S2 * S2.T))
    return py, trp, trpp


def _r_mad(y: np.ndarray) -> float:
    med = np.median(y)
    return 1.4826 * float(np.median(np.abs(y - med)))


def tau2_max(y: np.ndarray) -> float:
    """metafor's upper bound for root searches: max(100, 10 * mad(y)^2)."""
    return max(100.0, 10.0 * _r_mad(y) ** 2)


def estimate_he(y, v, X):
    k, p = X.shape
    if _is_intercept_only(X):
        r = y - y.mean()
        return (float(r @ r) - float(v.sum()) * (k - 1) / k) / (k - 1)
    # P = I - X (X'X)^-1 X' (unweighted): rss = y'P y, diag P = 1 - leverages
    G = np.linalg.solve(X.T @ X, X.T)  # p x k
    r = y - X @ (G @ y)
    lev = np.einsum("ij,ji->i", X, G)
    return (float(r @ r) - float(np.dot(1.0 - lev, v))) / (k - p)


def estimate_dl(y, v, X):
    k, p = X.shape
    io = _is_intercept_only(X)
    w = 1.0 / v
    return (_rss(X, w, y, io) - (k - p)) / _trace_p(X, w, io)


def estimate_hs(y, v, X):
    w = 1.0 / v
    return (_rss(X, w, y) - X.shape[0]) / float(w.sum())


def estimate_sj(y, v, X):
    k, p = X.shape
    t0 = float(np.var(y, ddof=1) * (k - 1) / k) if k > 1 else 0.0
    return t0 * _rss(X, 1.0 / (v + t0), y) / (k - p)


def _fisher(y, v, X, method: str) -> float:
    """Fisher scoring for ML / REML / EB with metafor's start, stopping rule and step-halving."""
    k, p = X.shape
    tau2 = max(0.0, estimate_he(y, v, X))
    change = THRESHOLD + 1
    it = 0
    io = _is_intercept_only(X)
    while change > THRESHOLD:
        it += 1
        old = tau2
        w = 1.0 / (v + tau2)
        Py, trP, trPP = _pstats(X, w, y, io)
        if method == "ML":
            adj = (float(Py @ Py) - float(w.sum())) / float(np.sum(w**2))
        elif method == "REML":
            adj = (float(Py @ Py) - trP) / trPP
        else:  # EB
            adj = (float(y @ Py) * k / (k - p) - k) / float(w.sum())
        if not np.isfinite(adj):
            adj = 0.0
        while tau2 + adj < 0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if it > MAXITER:
            raise ConvergenceError(
                f"Fisher scoring for tau² ({method}) did not converge in {MAXITER} iterations "
                f"(last tau² = {tau2:.6g})",
                fix='Use method="PM" or "DL", or check the data for extreme sampling variances.',
            )
    if method in ("ML", "REML") and tau2 > THRESHOLD:
        # metafor's ll0check: fall back to tau² = 0 if the likelihood is higher there.
        if _loglik(y, v, X, 0.0, method) - _loglik(y, v, X, tau2, method) > UNIROOT_TOL:
            warnings.warn(
                "Fisher scoring may have stopped at a local maximum; tau² set to 0 as metafor does.",
                StatisticalWarning, stacklevel=3,
            )
            tau2 = 0.0
    return tau2


def _loglik(y, v, X, tau2, method):
    k, p = X.shape
    w = 1.0 / (v + tau2)
    WX = X * w[:, None]
    A = X.T @ WX
    beta = np.linalg.solve(A, WX.T @ y)
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    if method == "ML":
        return -0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss
    return (-0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(v + tau2))
            - 0.5 * np.linalg.slogdet(A)[1] - 0.5 * rss)


def zeroin(f, lower: float, upper: float, f_lower: float, f_upper: float,
           tol: float = UNIROOT_TOL, maxiter: int = 100) -> float:
    """Brent's root finder in the form R's ``uniroot`` uses (Forsythe, Malcolm & Moler 1977)."""
    a, b = lower, upper
    fa, fb = f_lower, f_upper
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p_ = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p_ = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p_ > 0:
                q = -q
            else:
                p_ = -p_
            if p_ < (0.75 * cb * q - abs(tol_act * q) / 2) and p_ < abs(prev_step * q / 2):
                new_step = p_ / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise ConvergenceError(
        f"Root search for tau² (Paule–Mandel) did not converge in {maxiter} iterations",
        fix='Use method="REML" or "DL".',
    )


def estimate_pm(y, v, X):
    k, p = X.shape
    target = k - p

    io = _is_intercept_only(X)

    def f(t):
        return _rss(X, 1.0 / (v + t), y, io) - target

    f0 = f(0.0)
    if f0 < 0:
        return 0.0
    upper = tau2_max(y)
    fu = f(upper)
    if fu > 0:
        raise ConvergenceError(
            f"Paule–Mandel tau² exceeds the search bound {upper:g}",
            fix='Use method="REML" or "DL"; the data are extremely heterogeneous.',
        )
    return zeroin(f, 0.0, upper, f0, fu)


def estimate_tau2(y: np.ndarray, v: np.ndarray, X: np.ndarray, method: str) -> float:
    """tau² by ``method`` (FE gives 0), truncated at 0. ``y`` is centred first, as metafor does."""
    method = method.upper()
    if method not in METHODS:
        raise InputError(
            f"Invalid method {method!r}; expected one of {list(METHODS) + ['GLMM']}",
            fix='Use "REML" (default), "DL", "PM", "ML", "FE" or "GLMM".',
        )
    k, p = X.shape
    if method == "FE" or k == 1:
        return 0.0
    y = y - y.mean()
    if method == "DL":
        t = estimate_dl(y, v, X)
    elif method == "HE":
        t = estimate_he(y, v, X)
    elif method == "HS":
        t = estimate_hs(y, v, X)
    elif method == "SJ":
        t = estimate_sj(y, v, X)
    elif method == "PM":
        t = estimate_pm(y, v, X)
    else:
        t = _fisher(y, v, X, method)
    return max(0.0, float(t))
