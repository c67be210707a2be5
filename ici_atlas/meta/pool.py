"""``pool_proportions``: one call from event counts to a pooled proportion.

Computes the effect sizes (``transforms``), fits the model (``rma`` or, for
``method="GLMM"``, ``glmm``), and back-transforms estimate, confidence and
prediction intervals to the proportion scale (``backtransform``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InputError
from .backtransform import to_proportion
from .rma import check_level, check_test, fit_rma
from .transforms import check_counts, check_measure, compute_effects


@dataclass
class PoolResult:
    """A pooled proportion. Proportion-scale fields first; ``yi_*``/``se`` on the measure's scale."""

    estimate: float
    ci_lb: float
    ci_ub: float
    pi_lb: float
    pi_ub: float
    tau2: float
    I2: float
    H2: float
    Q: float
    Q_p: float
    k: int
    yi_estimate: float
    se: float
    yi_ci_lb: float
    yi_ci_ub: float
    yi_pi_lb: float
    yi_pi_ub: float
    method: str
    measure: str
    test: str
    level: float
    zval: float
    pval: float
    df: float | None
    events: int
    total: int
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for key, val in list(d.items()):
            if isinstance(val, float) and math.isnan(val):
                d[key] = None
        return d

    def summary(self) -> str:
        pct = lambda x: "NA" if x is None or math.isnan(x) else f"{100 * x:.1f}%"  # noqa: E731
        test = "Hartung-Knapp-Sidik-Jonkman (t, df = {:g})".format(self.df) if self.test == "knha" \
            else ("t" if self.test == "t" else "Wald (z)")
        lines = [
            f"Pooled proportion ({self.method}, measure {self.measure}, k = {self.k}, "
            f"{self.events}/{self.total} events)",
            f"  estimate {pct(self.estimate)}  {round(100 * self.level)}% CI "
            f"{pct(self.ci_lb)} to {pct(self.ci_ub)}  ({test})",
            f"  prediction interval {pct(self.pi_lb)} to {pct(self.pi_ub)}",
            f"  tau² = {self.tau2:.4g}  I² = {self.I2:.1f}%  H² = {self.H2:.3g}  "
            f"Q = {self.Q:.4g} (df = {self.k - 1}, p = {self.Q_p:.3g})",
            f"  on the {self.measure} scale: {self.yi_estimate:.4f} (SE {self.se:.4f})",
        ]
        return "\n".join(lines)


def _result(fit_pred: dict, *, tau2, I2, H2, Q, Q_p, k, measure, method, test, level,
            zval, pval, df, ev, n, extra=None) -> PoolResult:
    bt_measure = "PLO" if method == "GLMM" else measure
    ests = to_proportion(
        [fit_pred["pred"], fit_pred["ci_lb"], fit_pred["ci_ub"], fit_pred["pi_lb"],
         fit_pred["pi_ub"]], bt_measure, totals=n,
    )
    return PoolResult(
        estimate=float(ests[0]), ci_lb=float(ests[1]), ci_ub=float(ests[2]),
        pi_lb=float(ests[3]), pi_ub=float(ests[4]),
        tau2=float(tau2), I2=float(I2), H2=float(H2), Q=float(Q), Q_p=float(Q_p), k=int(k),
        yi_estimate=float(fit_pred["pred"]), se=float(fit_pred["se"]),
        yi_ci_lb=float(fit_pred["ci_lb"]), yi_ci_ub=float(fit_pred["ci_ub"]),
        yi_pi_lb=float(fit_pred["pi_lb"]), yi_pi_ub=float(fit_pred["pi_ub"]),
        method=method, measure=measure, test=test, level=level, zval=float(zval),
        pval=float(pval), df=None if df is None or math.isnan(df) else float(df),
        events=int(np.sum(ev)), total=int(np.sum(n)), extra=extra or {},
    )


def pool_proportions(
    events, totals, measure: str = "PLO", method: str = "REML", test: str = "z",
    level: float = 0.95, add: float | None = None, to: str = "only0", labels=None,
) -> PoolResult:
    """Pool single proportions (events/totals per study) by random- or common-effect model.

    ``measure``: PLO (logit, default), PR, PLN, PAS, PFT. ``method``: REML (default), DL,
    PM, ML, HE, SJ, HS, EB, FE (common effect) or GLMM (random-intercept logistic model,
    measure PLO). ``test``: "z" (Wald) or "knha" (Hartung–Knapp–Sidik–Jonkman). ``add``/``to``:
    zero-cell correction as metafor's escalc (``add=None`` means escalc's default: 1/2 for
    PR/PLN/PLO, 0 for PAS/PFT). Returns a :class:`PoolResult`.
    """
    method = str(method).upper()
    measure = check_measure(measure)
    test = check_test(test)
    level = check_level(level)
    if method == "GLMM":
        if measure != "PLO":
            raise InputError(
                f"Invalid measure {measure!r} for method GLMM; expected 'PLO'",
                fix="The random-intercept logistic model works on the logit scale: use measure PLO.",
            )
        from .glmm import pool_glmm

        return pool_glmm(events, totals, test=test, level=level, add=add, to=to, labels=labels)
    eff = compute_effects(events, totals, measure, add=add, to=to, labels=labels)
    fit = fit_rma(eff.yi, eff.vi, None, method=method, test=test, level=level)
    pred = fit.predict()
    return _result(
        pred, tau2=fit.tau2, I2=fit.I2, H2=fit.H2, Q=fit.QE, Q_p=fit.QEp, k=fit.k,
        measure=measure, method=method, test=test, level=level, zval=fit.zval[0],
        pval=fit.pval[0], df=fit.ddf, ev=eff.events, n=eff.totals,
        extra={"add": eff.add, "to": eff.to, "n_adjusted": int(eff.adjusted.sum())},
    )


__all__ = ["PoolResult", "pool_proportions", "check_counts"]
