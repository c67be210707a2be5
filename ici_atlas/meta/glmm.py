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

Scale: a study enters the likelihood only through (x_i, n_i), so identical pairs are
evaluated once and weighted by their count (exact); the conditional modes are found by
a bracketed, vectorised Newton iteration (warm-started between evaluations); the
likelihood is maximised by damped Newton steps with finite-difference derivatives
(Nelder–Mead only as a fallback). Time is O(k) per evaluation (about 80 evaluations),
memory O(k); 10^6 studies take about half a second when totals repeat (e.g. 20–200
patients) and about 20 s when all 10^6 (events, total) pairs differ.

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


def _softplus(eta):
    """log(1 + exp(eta)), stable; as np.logaddexp(0, eta) to an ulp but ~2.5x faster."""
    if np.ndim(eta) == 0:
        return np.logaddexp(0.0, eta)
    out = np.abs(eta)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(eta, 0.0)
    return out


def _expit2(eta):
    """(expit(eta), expit(eta) * (1 - expit(eta))), stable for any eta."""
    e = np.exp(-np.abs(eta))
    d = 1.0 / (1.0 + e)
    ed = e * d
    return np.where(eta >= 0, d, ed), ed * d


def _loglik_terms(eta, x, n):
    """Binomial log-likelihood without the binomial coefficient, elementwise."""
    return x * eta - n * _softplus(eta)


def _lchoose(x, n):
    return special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)


def collapse(x, n):
    """Distinct (events, total) pairs and how often each occurs.

    A study's likelihood depends on its data only through (x_i, n_i), so the sum over
    studies equals the count-weighted sum over distinct pairs: with 10^6 studies of
    20–200 patients the likelihood is evaluated on at most ~20,000 pairs.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    if x.size < 2:
        return x, n, np.ones_like(x)
    order = np.lexsort((n, x))
    xs, ns = x[order], n[order]
    new = np.empty(xs.size, dtype=bool)
    new[0] = True
    new[1:] = (xs[1:] != xs[:-1]) | (ns[1:] != ns[:-1])
    start = np.flatnonzero(new)
    counts = np.diff(np.append(start, xs.size)).astype(float)
    return xs[start], ns[start], counts


def _modes(beta: float, s2: float, x, n, b0=None):
    """Conditional modes of b_i: safeguarded Newton on each study's concave log-posterior.

    The score g(b) = x - n expit(beta + b) - b/s2 is decreasing with its root in
    [(x - n) s2, x s2]; every iterate narrows that bracket, and a Newton step that would
    leave it is replaced by bisection (plain Newton can oscillate and diverge for large
    tau² and 0-event studies). Vectorised over studies; a study leaves the active set
    once its step is below 1e-12. ``b0`` is an optional (warm) start.
    """
    x = np.asarray(x, dtype=float)
    lo = (x - n) * s2
    hi = x * s2
    b = np.zeros_like(x) if b0 is None else np.clip(np.asarray(b0, dtype=float), lo, hi)
    act = None
    for _ in range(300):
        if act is None:
            bb, xa, na, la, ha = b, x, n, lo, hi
        else:
            bb, xa, na, la, ha = b[act], x[act], n[act], lo[act], hi[act]
        p, pq = _expit2(beta + bb)
        g = xa - na * p - bb / s2
        la = np.where(g > 0, bb, la)
        ha = np.where(g < 0, bb, ha)
        new = bb + g / (na * pq + 1 / s2)
        out = ~((new >= la) & (new <= ha))
        if out.any():
            new = np.where(out, 0.5 * (la + ha), new)
        step = new - bb
        if act is None:
            b, lo, hi = new, la, ha
        else:
            b[act], lo[act], hi[act] = new, la, ha
        big = ~(np.abs(step) < 1e-12)
        if not big.any():
            break
        act = np.flatnonzero(big) if act is None else act[big]
    return b


def _wsum(terms, counts) -> float:
    return float(np.sum(terms) if counts is None else np.dot(counts, terms))


def marginal_loglik(beta: float, tau: float, x, n, lchoose=None, counts=None, b0=None,
                    return_modes: bool = False):
    """AGQ (7-node) approximation of the marginal log-likelihood at (beta, tau).

    ``counts`` weights each row (collapsed data, see :func:`collapse`); ``b0`` is a
    starting point for the conditional modes (they are solved to 1e-12 from any start).
    Memory is O(k) (a few arrays of length k per node), time O(k) per evaluation.
    """
    if lchoose is None:
        lchoose = _lchoose(x, n)
    if tau <= 0:
        ll = _wsum(lchoose + _loglik_terms(beta, x, n), counts)
        return (ll, None) if return_modes else ll
    s2 = tau * tau
    b = _modes(beta, s2, x, n, b0)
    h = n * _expit2(beta + b)[1] + 1 / s2
    s = 1 / np.sqrt(h)
    # log integrand at the nodes b + sqrt(2) s x_q, node by node (7 arrays of length k)
    const = 0.5 * math.log(2 * math.pi * s2)
    logf = []
    for xq in _GH_X:
        node = b + (math.sqrt(2) * xq) * s
        logf.append(_loglik_terms(beta + node, x, n) - node**2 / (2 * s2) - const)
    m = logf[0].copy()
    for lf in logf[1:]:
        np.maximum(m, lf, out=m)
    acc = np.zeros_like(m)
    for lf, xq, wq in zip(logf, _GH_X, _GH_W):
        acc += (wq * math.exp(xq * xq)) * np.exp(lf - m)
    ll = _wsum(lchoose + (np.log(acc) + m) + np.log(math.sqrt(2) * s), counts)
    return (ll, b) if return_modes else ll


def conditional_loglik(beta: float, tau: float, x, n, lchoose, counts=None, b0=None) -> float:
    """Binomial log-likelihood at the conditional modes of b_i (what metafor reports as ll).

    metafor computes ``ll = ll_saturated - deviance(glmer_fit)/2`` and lme4's ``deviance``
    of a GLMM is the sum of deviance residuals at the conditional modes, so metafor's
    "log-likelihood" of the GLMM is this conditional quantity, not the marginal one.
    """
    if tau <= 0:
        return _wsum(lchoose + _loglik_terms(beta, x, n), counts)
    b = _modes(beta, tau * tau, x, n, b0)
    return _wsum(lchoose + _loglik_terms(beta + b, x, n), counts)


class _Deviance:
    """-log L(beta, |tau|) on collapsed data, memoised, with warm-started conditional modes."""

    def __init__(self, x, n, counts, lchoose):
        self.x, self.n, self.counts, self.lchoose = x, n, counts, lchoose
        self.cache: dict = {}
        self.modes = None
        self.evals = 0

    def __call__(self, z) -> float:
        key = (float(z[0]), abs(float(z[1])))
        val = self.cache.get(key)
        if val is None:
            self.evals += 1
            ll, b = marginal_loglik(key[0], key[1], self.x, self.n, self.lchoose, self.counts,
                                    b0=self.modes, return_modes=True)
            if b is not None and np.all(np.isfinite(b)):
                self.modes = b
            val = -ll
            if len(self.cache) > 4096:
                self.cache.clear()
            self.cache[key] = val
        return val


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


def _newton(f, z, maxiter: int = 40, h: float = 1e-4):
    """Damped Newton minimisation of f(beta, |tau|) with finite-difference derivatives.

    Gradient and Hessian come from the 3 x 3 stencil around z (8 new evaluations per
    step); a Hessian that is not positive definite is shifted (Levenberg–Marquardt) and
    every step is halved until f decreases. Returns (z, converged).
    """
    z = np.array([z[0], abs(z[1])], dtype=float)
    fz = f(z)
    for _ in range(maxiter):
        e0, e1 = np.array([h, 0.0]), np.array([0.0, h])
        fp0, fm0, fp1, fm1 = f(z + e0), f(z - e0), f(z + e1), f(z - e1)
        g = np.array([fp0 - fm0, fp1 - fm1]) / (2 * h)
        H = np.empty((2, 2))
        H[0, 0] = (fp0 - 2 * fz + fm0) / h**2
        H[1, 1] = (fp1 - 2 * fz + fm1) / h**2
        H[0, 1] = H[1, 0] = (f(z + e0 + e1) - f(z + e0 - e1) - f(z - e0 + e1)
                             + f(z - e0 - e1)) / (4 * h * h)
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
            return z, False
        lo = float(np.linalg.eigvalsh(H)[0])
        scale = max(abs(H[0, 0]), abs(H[1, 1]), 1e-300)
        if lo <= 1e-8 * scale:
            H = H + (1e-3 * scale - lo) * np.eye(2)
        step = np.linalg.solve(H, g)
        big = float(np.max(np.abs(step)))
        if big > 1.0:  # trust region of 1 logit unit
            step = step / big
        t = 1.0
        while True:
            cand = z - t * step
            cand[1] = abs(cand[1])
            fc = f(cand)
            if fc < fz:
                break
            t /= 2
            if t < 1e-6:  # no decrease along a descent direction: at the noise floor
                return z, big < 1e-6
        z, fz = cand, fc
        if t * big < 1e-9:
            return z, True
        if z[1] > 3 * TAU_MAX:
            return z, False
    return z, False


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
    lch = _lchoose(x, n)
    # the likelihood is a sum over studies of a function of (x_i, n_i): evaluate it once
    # per distinct pair, weighted by its count (exact; fast when k is large)
    xu, nu, cu = collapse(x, n)
    nll = _Deviance(xu, nu, cu, _lchoose(xu, nu))
    p_all = x.sum() / n.sum()
    if p_all in (0.0, 1.0):
        raise ConvergenceError(
            f"GLMM cannot be fitted: {'no' if p_all == 0 else 'every'} patient in all {k} "
            "studies had the event, so the pooled logit is infinite",
            fix="Report the raw counts; a pooled proportion of 0 or 1 needs no model.",
        )
    # at tau = 0 the likelihood is maximised in closed form by the pooled logit
    beta0 = math.log(p_all / (1 - p_all))
    eff = compute_effects(x, n, "PLO")
    if k > 1:
        # damped Newton on (beta, |tau|) from the pooled logit and the DerSimonian–Laird
        # tau of the corrected logits; Nelder–Mead (from the spread of the logits) only
        # if Newton fails; then the same tight Newton polish either way
        w = 1 / eff.vi
        yw = np.dot(w, eff.yi) / w.sum()
        q = float(np.dot(w, (eff.yi - yw) ** 2))
        tau2_dl = (q - (k - 1)) / (w.sum() - np.dot(w, w) / w.sum())
        z, ok = _newton(nll, np.array([beta0, max(0.05, math.sqrt(max(tau2_dl, 0.0)))]))
        if not ok and not z[1] > 3 * TAU_MAX:
            tau0 = max(0.1, float(np.std(eff.yi)))
            fatol = max(1e-10, 1e-15 * abs(nll(np.array([beta0, tau0]))))
            res = optimize.minimize(nll, np.array([beta0, tau0]), method="Nelder-Mead",
                                    options={"xatol": 1e-7, "fatol": fatol, "maxiter": 2000})
            if not res.success or not np.all(np.isfinite(res.x)):
                raise ConvergenceError(
                    f"GLMM maximum-likelihood fit did not converge ({res.message})",
                    fix='Use method="REML" with measure PLO (normal approximation) instead.',
                )
            z = np.array([res.x[0], abs(res.x[1])])
        if not z[1] > 3 * TAU_MAX:
            z = _polish(nll, z)
        # lme4 checks the boundary: compare with tau = 0 at the best beta there
        fz = nll(z)
        if nll(np.array([beta0, 0.0])) <= fz + max(1e-10, 1e-15 * abs(fz)):
            z = np.array([beta0, 0.0])
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
    ll = -nll(np.array([beta, tau]))
    ll_cond = conditional_loglik(beta, tau, xu, nu, nll.lchoose, cu, b0=nll.modes)
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
