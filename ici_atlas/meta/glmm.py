"""Random-intercept logistic model for single proportions (``rma.glmm(measure="PLO")``).

Model: ``x_i ~ Binomial(n_i, expit(beta + b_i))``, ``b_i ~ N(0, tau²)``, fitted by
maximum likelihood. As in metafor (which calls ``lme4::glmer(..., nAGQ = 7)``) the
marginal likelihood of each study is approximated by adaptive Gauss–Hermite
quadrature with 7 nodes centred at the conditional mode of ``b_i`` and scaled by
its conditional curvature. The standard error of ``beta`` comes from the inverse
of the Hessian of the deviance in (tau, beta), as lme4's ``vcov`` does (it uses a
finite-difference Hessian; we use central differences on the exact same
approximated likelihood). Studies with 0 or all events enter as they are — no
continuity correction.

Also reported, like ``rma.glmm``: the Wald and likelihood-ratio tests for
heterogeneity (saturated vs. common-effect logistic model, k − 1 df) and I²/H²
computed from tau² and the "typical" within-study variance of the escalc logits
(with escalc's zero-cell correction, which only enters I²/H²).

If the optimiser fails, :class:`ConvergenceError` is raised with a fix (use
``method="REML"``); there is no silent fallback.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special, stats

from ..errors import ConvergenceError
from .transforms import check_counts, compute_effects

NAGQ = 7
#: a between-study SD of 10 on the logit scale means the MLE is running off to infinity
TAU_MAX = 10.0
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(NAGQ)


def _loglik_terms(eta, x, n):
    """Binomial log-likelihood without the binomial coefficient, elementwise."""
    return x * eta - n * np.logaddexp(0.0, eta)


def marginal_loglik(beta: float, tau: float, x, n, lchoose=None) -> float:
    """AGQ (7-node) approximation of the marginal log-likelihood at (beta, tau)."""
    if lchoose is None:
        lchoose = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    if tau <= 0:
        return float(np.sum(lchoose + _loglik_terms(beta, x, n)))
    s2 = tau * tau
    b = np.zeros_like(x, dtype=float)
    for _ in range(100):  # Newton for the conditional modes (concave, converges fast)
        p = special.expit(beta + b)
        g = x - n * p - b / s2
        h = n * p * (1 - p) + 1 / s2
        step = g / h
        b = b + step
        if np.max(np.abs(step)) < 1e-12:
            break
    p = special.expit(beta + b)
    h = n * p * (1 - p) + 1 / s2
    s = 1 / np.sqrt(h)
    nodes = b[:, None] + math.sqrt(2) * s[:, None] * _GH_X[None, :]
    logf = (_loglik_terms(beta + nodes, x[:, None], n[:, None])
            - nodes**2 / (2 * s2) - 0.5 * math.log(2 * math.pi * s2))
    m = logf.max(axis=1, keepdims=True)
    integral = np.log(np.sum(_GH_W * np.exp(_GH_X**2) * np.exp(logf - m), axis=1)) + m[:, 0]
    return float(np.sum(lchoose + integral + np.log(math.sqrt(2) * s)))


def conditional_loglik(beta: float, tau: float, x, n, lchoose) -> float:
    """Binomial log-likelihood at the conditional modes of b_i (what metafor reports as ll).

    metafor computes ``ll = ll_saturated - deviance(glmer_fit)/2`` and lme4's ``deviance``
    of a GLMM is the sum of deviance residuals at the conditional modes, so metafor's
    "log-likelihood" of the GLMM is this conditional quantity, not the marginal one.
    """
    if tau <= 0:
        return float(np.sum(lchoose + _loglik_terms(beta, x, n)))
    s2 = tau * tau
    b = np.zeros_like(x, dtype=float)
    for _ in range(100):
        p = special.expit(beta + b)
        step = (x - n * p - b / s2) / (n * p * (1 - p) + 1 / s2)
        b = b + step
        if np.max(np.abs(step)) < 1e-12:
            break
    return float(np.sum(lchoose + _loglik_terms(beta + b, x, n)))


def _hessian(f, z, h=1e-4):
    k = len(z)
    H = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            ei = np.zeros(k); ej = np.zeros(k)  # noqa: E702
            ei[i] = h; ej[j] = h  # noqa: E702
            H[i, j] = H[j, i] = (f(z + ei + ej) - f(z + ei - ej) - f(z - ei + ej)
                                 + f(z - ei - ej)) / (4 * h * h)
    return H


def _polish(f, z, steps: int = 6):
    """Newton steps with finite-difference derivatives; keeps a step only if it helps."""
    fz = f(z)
    for _ in range(steps):
        if z[1] <= 1e-5:
            break
        h = 1e-5
        g = np.array([(f(z + e) - f(z - e)) / (2 * h) for e in np.eye(2) * h])
        H = _hessian(f, z)
        try:
            if np.any(np.linalg.eigvalsh(H) <= 0):
                break
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        cand = z - step
        cand[1] = abs(cand[1])
        fc = f(cand)
        if not fc < fz:
            break
        z, fz = cand, fc
        if np.max(np.abs(step)) < 1e-9:
            break
    return z


def fit_glmm(events, totals, test: str = "z", level: float = 0.95, labels=None) -> dict:
    """Fit the model; returns a dict of metafor-named results on the logit scale."""
    x, n = check_counts(events, totals, labels)
    k = x.size
    lch = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    nll = lambda z: -marginal_loglik(z[0], abs(z[1]), x, n, lch)  # noqa: E731
    p_all = x.sum() / n.sum()
    if p_all in (0.0, 1.0):
        raise ConvergenceError(
            f"GLMM cannot be fitted: {'no' if p_all == 0 else 'every'} patient in all {k} "
            "studies had the event, so the pooled logit is infinite",
            fix="Report the raw counts; a pooled proportion of 0 or 1 needs no model.",
        )
    beta0 = math.log(p_all / (1 - p_all))
    # start tau from the spread of corrected logits (any sensible value works)
    eff = compute_effects(x, n, "PLO")
    tau0 = max(0.1, float(np.std(eff.yi)))
    if k > 1:
        # Nelder–Mead on (beta, |tau|) to get close, then Newton steps to converge tightly
        res = optimize.minimize(nll, np.array([beta0, tau0]), method="Nelder-Mead",
                                options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 2000})
        if not res.success or not np.all(np.isfinite(res.x)):
            raise ConvergenceError(
                f"GLMM maximum-likelihood fit did not converge ({res.message})",
                fix='Use method="REML" with measure PLO (normal approximation) instead.',
            )
        z = _polish(nll, np.array([res.x[0], abs(res.x[1])]))
        # lme4 checks the boundary: compare with tau = 0 at the best beta there
        b_fe = optimize.minimize_scalar(lambda b: nll(np.array([b, 0.0])),
                                        bracket=(beta0 - 1, beta0 + 1), tol=1e-12).x
        if nll(np.array([b_fe, 0.0])) <= nll(z) + 1e-10:
            z = np.array([b_fe, 0.0])
    else:
        z = np.array([beta0, 0.0])
    if not np.all(np.isfinite(z)):
        raise ConvergenceError(
            "GLMM maximum-likelihood fit did not converge",
            fix='Use method="REML" with measure PLO (normal approximation) instead.',
        )
    beta, tau = float(z[0]), float(z[1])
    if tau > TAU_MAX:
        raise ConvergenceError(
            f"GLMM has no finite maximum-likelihood estimate: tau keeps growing (reached "
            f"{tau:.3g} on the logit scale); typical when studies with 0 events and studies "
            "with all events are mixed and little else is observed",
            fix='Use method="REML" with measure PLO, or report the studies separately.',
        )
    if tau > 1e-6:
        H = _hessian(nll, z)
        try:
            V = np.linalg.inv(H)
            var_b = V[0, 0]
        except np.linalg.LinAlgError:
            var_b = float("nan")
        if not (np.isfinite(var_b) and var_b > 0):
            var_b = 1.0 / H[0, 0]
    else:
        p = special.expit(beta)
        var_b = 1.0 / float(np.sum(n * p * (1 - p)))
    se = math.sqrt(var_b)
    tau2 = tau * tau
    if test == "z":
        crit = float(stats.norm.isf((1 - level) / 2))
        pval = float(2 * stats.norm.sf(abs(beta / se)))
        df = float("nan")
    else:  # "t" (and knha mapped to t): t with k - 1 df, no variance adjustment
        df = float(k - 1)
        crit = float(stats.t.isf((1 - level) / 2, df)) if df > 0 else float("nan")
        pval = float(2 * stats.t.sf(abs(beta / se), df)) if df > 0 else float("nan")
    # heterogeneity tests: common-effect vs saturated logistic model
    ll_fe = float(np.sum(lch + _loglik_terms(beta0, x, n)))
    ph = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        ll_sat = float(np.sum(lch + np.where(x > 0, x * np.log(ph), 0.0)
                              + np.where(n - x > 0, (n - x) * np.log1p(-ph), 0.0)))
    qe_lrt = max(0.0, -2 * (ll_fe - ll_sat))
    if np.any((x == 0) | (x == n)):
        qe_wld = float("nan")  # the saturated model's Wald statistic is undefined
    else:
        eta = np.log(ph / (1 - ph))
        w = 1 / (1 / x + 1 / (n - x))
        qe_wld = float(np.sum(w * (eta - np.sum(w * eta) / w.sum()) ** 2))
    dfq = k - 1
    qep = lambda q: float(stats.chi2.sf(q, dfq)) if dfq > 0 else 1.0  # noqa: E731
    wi = 1 / eff.vi
    trP = wi.sum() - np.sum(wi**2) / wi.sum()
    vt = (k - 1) / trP if k > 1 else float("nan")
    I2 = 100 * tau2 / (vt + tau2) if k > 1 else 0.0
    H2 = tau2 / vt + 1 if k > 1 else 1.0
    ll = marginal_loglik(beta, tau, x, n, lch)
    ll_cond = conditional_loglik(beta, tau, x, n, lch)
    return {
        "b": beta, "se": se, "zval": beta / se, "pval": pval, "df": df,
        "ci_lb": beta - crit * se, "ci_ub": beta + crit * se,
        "pi_lb": beta - crit * math.sqrt(se**2 + tau2),
        "pi_ub": beta + crit * math.sqrt(se**2 + tau2),
        "tau2": tau2, "I2": I2, "H2": H2,
        "QE_Wld": qe_wld, "QEp_Wld": qep(qe_wld) if np.isfinite(qe_wld) else float("nan"),
        "QE_LRT": qe_lrt, "QEp_LRT": qep(qe_lrt), "ll": ll, "ll_conditional": ll_cond, "k": k,
        "events": x, "totals": n,
    }


def pool_glmm(events, totals, test="z", level=0.95, add=None, to="only0", labels=None):
    """``pool_proportions(..., method="GLMM")``: the GLMM as a :class:`PoolResult`."""
    import warnings

    from ..errors import StatisticalWarning
    from .pool import _result

    if test == "knha":
        warnings.warn(
            "The Hartung–Knapp adjustment is not defined for the GLMM; using t with k − 1 df "
            "and the model-based SE (metafor's rma.glmm(test='t')).",
            StatisticalWarning, stacklevel=3,
        )
    r = fit_glmm(events, totals, test="z" if test == "z" else "t", level=level, labels=labels)
    pred = {key: r[key] for key in ("ci_lb", "ci_ub", "pi_lb", "pi_ub", "se")}
    pred["pred"] = r["b"]
    return _result(
        pred, tau2=r["tau2"], I2=r["I2"], H2=r["H2"], Q=r["QE_LRT"], Q_p=r["QEp_LRT"],
        k=r["k"], measure="PLO", method="GLMM", test=test, level=level, zval=r["zval"],
        pval=r["pval"], df=r["df"], ev=r["events"], n=r["totals"],
        extra={"QE_Wld": r["QE_Wld"], "QEp_Wld": r["QEp_Wld"], "QE_LRT": r["QE_LRT"],
               "QEp_LRT": r["QEp_LRT"], "ll": r["ll"], "ll_conditional": r["ll_conditional"],
               "nAGQ": NAGQ,
               "Q_is": "likelihood-ratio test (saturated vs common-effect logistic model)"},
    )
