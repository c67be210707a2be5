"""Subgroup analysis and meta-regression of single proportions.

* ``pool_by_subgroup``: one pooled result per subgroup plus a test for subgroup
  differences. ``tau2="separate"`` (default) fits each subgroup on its own (its own
  tau²) and tests the subgroup estimates against each other with a common-effect
  Wald test, Q_between = Σ w_g (θ_g − θ̄)², w_g = 1/SE_g², chi² with G − 1 df — the
  same number as ``rma(est, sei=se, mods=~group, method="FE")`` gives for QM (and
  as R package meta's default subgroup test). ``tau2="common"`` fits one mixed-effects
  model with the subgroup as a factor (``rma(yi, vi, mods=~factor(group))``) and
  reports its omnibus QM test (F test with ``test="knha"``).
* ``pool_metareg``: mixed-effects meta-regression on continuous and/or categorical
  moderators (``rma(yi, vi, mods=~...)``): coefficients with SE, CI and tests, QM,
  residual heterogeneity QE, tau², I², H² and R² (the proportional reduction in tau²
  against the intercept-only model, metafor's default definition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..errors import InputError
from .pool import PoolResult, pool_proportions
from .rma import check_level, check_test, fit_rma
from .transforms import check_measure, compute_effects


def sort_levels(labels) -> list[str]:
    """Distinct labels in the order R's ``sort``/``factor`` gives in usual locales
    (case-insensitive first, so "melanoma" < "NSCLC")."""
    return sorted(set(labels), key=lambda s: (s.lower(), s))


def _labels_of(groups, k: int) -> np.ndarray:
    g = np.asarray(groups, dtype=object).ravel()
    if g.size != k:
        raise InputError(
            f"groups has {g.size} values but there are {k} studies",
            fix="Give one subgroup label per study.",
        )
    for i, val in enumerate(g):
        if val is None or (isinstance(val, float) and math.isnan(val)) or str(val).strip() == "":
            raise InputError(
                f"Missing subgroup label for study index {i}",
                fix="Label every study or drop the unlabelled ones.",
            )
    return np.array([str(x) for x in g], dtype=object)


@dataclass
class SubgroupResult:
    """Per-subgroup pooled results and the test for subgroup differences."""

    groups: dict
    overall: PoolResult | None
    Q_between: float
    df_between: int
    p_between: float
    test_between: str
    tau2_mode: str

    def to_dict(self) -> dict:
        return {
            "groups": {g: r.to_dict() for g, r in self.groups.items()},
            "overall": self.overall.to_dict() if self.overall else None,
            "Q_between": self.Q_between, "df_between": self.df_between,
            "p_between": self.p_between, "test_between": self.test_between,
            "tau2_mode": self.tau2_mode,
        }

    def summary(self) -> str:
        out = []
        for g, r in self.groups.items():
            out.append(f"[{g}] " + r.summary())
        out.append(
            f"Test for subgroup differences ({self.test_between}): "
            f"Q = {self.Q_between:.4g}, df = {self.df_between}, p = {self.p_between:.3g}"
        )
        return "\n".join(out)


def _design(groups_or_mods, k: int) -> tuple[np.ndarray, list[str]]:
    """Design matrix with intercept; strings become treatment-coded factors (R's sorted levels)."""
    cols = [np.ones(k)]
    names = ["intrcpt"]
    if isinstance(groups_or_mods, dict):
        items = list(groups_or_mods.items())
    else:
        items = [("mod", groups_or_mods)]
    for name, values in items:
        arr = np.asarray(values, dtype=object).ravel()
        if arr.size != k:
            raise InputError(
                f"Moderator {name!r} has {arr.size} values but there are {k} studies",
                fix="Give one value per study.",
            )
        try:
            num = np.array([float(x) for x in arr])
            if not np.all(np.isfinite(num)):
                i = int(np.flatnonzero(~np.isfinite(num))[0])
                raise InputError(
                    f"Moderator {name!r} is missing or not finite for study index {i}",
                    fix="Fill in the moderator or drop that study.",
                )
            cols.append(num)
            names.append(str(name))
        except (TypeError, ValueError):
            labels = _labels_of(arr, k)
            levels = sort_levels(labels)
            for lev in levels[1:]:
                cols.append((labels == lev).astype(float))
                names.append(f"{name}{lev}")
    return np.column_stack(cols), names


def pool_by_subgroup(
    events, totals, groups, measure: str = "PLO", method: str = "REML", test: str = "z",
    level: float = 0.95, add: float | None = None, to: str = "only0", labels=None,
    tau2: str = "separate",
) -> SubgroupResult:
    """Pool each subgroup and test for differences between them (see module docstring)."""
    measure = check_measure(measure)
    test = check_test(test)
    level = check_level(level)
    method = str(method).upper()
    ev = np.asarray(events, dtype=float).ravel()
    n = np.asarray(totals, dtype=float).ravel()
    g = _labels_of(groups, ev.size)
    levels = sort_levels(g)
    if tau2 not in ("separate", "common"):
        raise InputError(
            f"Invalid tau2 {tau2!r}; expected one of ['separate', 'common']",
            fix='Use "separate" (each subgroup its own tau²) or "common".',
        )
    lab = None if labels is None else np.asarray(labels, dtype=object)
    results = {}
    for lev in levels:
        idx = np.flatnonzero(g == lev)
        results[lev] = pool_proportions(
            ev[idx], n[idx], measure=measure, method=method, test=test, level=level,
            add=add, to=to, labels=None if lab is None else list(lab[idx]),
        )
    overall = pool_proportions(ev, n, measure=measure, method=method, test=test, level=level,
                               add=add, to=to, labels=labels)
    G = len(levels)
    if G < 2:
        return SubgroupResult(results, overall, float("nan"), 0, float("nan"), "none", tau2)
    if tau2 == "separate":
        est = np.array([results[lv].yi_estimate for lv in levels])
        se = np.array([results[lv].se for lv in levels])
        w = 1 / se**2
        mean = np.sum(w * est) / np.sum(w)
        Qb = float(np.sum(w * (est - mean) ** 2))
        return SubgroupResult(results, overall, Qb, G - 1, float(stats.chi2.sf(Qb, G - 1)),
                              "Wald chi2 on separate subgroup estimates", tau2)
    if method == "GLMM":
        raise InputError(
            'tau2="common" is not available for method GLMM',
            fix='Use tau2="separate" or a method such as REML.',
        )
    eff = compute_effects(ev, n, measure, add=add, to=to, labels=labels)
    X, _ = _design({"group": g}, ev.size)
    fit = fit_rma(eff.yi, eff.vi, X, method=method, test=test, level=level)
    name = "F test (knha)" if test == "knha" else "Wald chi2"
    return SubgroupResult(results, overall, fit.QM, G - 1, fit.QMp,
                          f"{name} of the subgroup factor in one model with common tau²", tau2)


@dataclass
class MetaRegResult:
    """A mixed-effects meta-regression on the measure's scale."""

    coefficients: list
    QM: float
    QMdf: tuple
    QMp: float
    QE: float
    QEp: float
    tau2: float
    I2: float
    H2: float
    R2: float
    k: int
    method: str
    measure: str
    test: str
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    def summary(self) -> str:
        lines = [f"Meta-regression ({self.method}, measure {self.measure}, test {self.test}, "
                 f"k = {self.k}): tau² = {self.tau2:.4g}, I² = {self.I2:.1f}%, "
                 f"R² = {self.R2:.1f}%",
                 f"  QM = {self.QM:.4g} (df = {self.QMdf}), p = {self.QMp:.3g}; "
                 f"QE = {self.QE:.4g}, p = {self.QEp:.3g}"]
        for c in self.coefficients:
            lines.append(f"  {c['name']:<20} {c['estimate']:>9.4f}  SE {c['se']:.4f}  "
                         f"CI {c['ci_lb']:.4f} to {c['ci_ub']:.4f}  p = {c['pval']:.3g}")
        return "\n".join(lines)


def pool_metareg(
    events, totals, moderators, measure: str = "PLO", method: str = "REML", test: str = "z",
    level: float = 0.95, add: float | None = None, to: str = "only0", labels=None,
) -> MetaRegResult:
    """Meta-regression of transformed proportions on ``moderators`` (dict name → values).

    Numeric moderators enter as they are; text moderators become factors with the
    alphabetically first level as reference (as R's ``factor``).
    """
    measure = check_measure(measure)
    method = str(method).upper()
    if method == "GLMM":
        raise InputError("Meta-regression with method GLMM is not implemented",
                         fix="Use method REML (or ML, DL, PM) for meta-regression.")
    eff = compute_effects(events, totals, measure, add=add, to=to, labels=labels)
    X, names = _design(moderators, eff.yi.size)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputError("The moderators are collinear (the design matrix is not of full rank)",
                         fix="Drop a redundant moderator or merge sparse levels.")
    fit = fit_rma(eff.yi, eff.vi, X, method=method, test=test, level=level, coef_names=names)
    if method == "FE":
        # metafor: adjusted R² of the weighted least-squares regression, in %
        w = 1 / eff.vi
        k, p = X.shape
        ybar = np.sum(w * eff.yi) / w.sum()
        tss = float(np.sum(w * (eff.yi - ybar) ** 2))
        rss = float(np.sum(w * (eff.yi - X @ fit.beta) ** 2))
        R2 = 0.0 if tss == 0 else max(0.0, 100 * (1 - (rss / tss) * (k - 1) / (k - p)))
    else:
        t0 = fit_rma(eff.yi, eff.vi, None, method=method, test=test, level=level).tau2
        R2 = 0.0 if t0 == 0 else max(0.0, 100 * (t0 - fit.tau2) / t0)
    coefs = [
        {"name": nm, "estimate": float(fit.beta[j]), "se": float(fit.se[j]),
         "zval": float(fit.zval[j]), "pval": float(fit.pval[j]),
         "ci_lb": float(fit.ci_lb[j]), "ci_ub": float(fit.ci_ub[j])}
        for j, nm in enumerate(names)
    ]
    return MetaRegResult(coefs, fit.QM, fit.QMdf, fit.QMp, fit.QE, fit.QEp, fit.tau2, fit.I2,
                         fit.H2, R2, fit.k, method, measure, test)


__all__ = ["SubgroupResult", "pool_by_subgroup", "MetaRegResult", "pool_metareg"]
