"""``pool()``: a random-effects meta-analysis of proportions on any table, as in metafor.

>>> import pandas as pd
>>> from ici_atlas import pool
>>> arms = pd.DataFrame({"trial": ["A", "B", "C"], "responders": [12, 30, 8],
...                      "patients": [40, 100, 35]})
>>> res = pool(arms, events="responders", total="patients", label="trial")
>>> round(res.estimate, 3)
0.276

``res.summary()`` prints the model like metafor's ``print(rma(...))``, ``res.to_frame()``
gives one row per pooled group (the overall model last), ``res.studies`` the input rows
with their proportions and exact intervals, and ``res.forest()`` draws a forest plot
(a matplotlib Figure). With ``by=``, each subgroup is pooled with its own tau² and the
subgroups are tested against each other. The engine is :mod:`ici_atlas.meta`, checked
against R metafor (``validation/``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from .meta.exact import exact_ci, exact_cis

from .errors import InputError, StatisticalWarning
from .meta import pool_by_subgroup, pool_proportions
from .meta.pool import PoolResult
from .meta.tau2 import METHODS
from .meta.transforms import MEASURES
from .tables import frame

TESTS = ("z", "knha")
RESULT_COLUMNS: dict[str, str] = {
    "group": "str", "k": "int", "events": "int", "total": "int", "estimate": "float",
    "ci_lb": "float", "ci_ub": "float", "pi_lb": "float", "pi_ub": "float", "tau2": "float",
    "I2": "float", "H2": "float", "Q": "float", "Q_p": "float", "method": "str",
    "measure": "str", "test": "str", "level": "float",
}
STUDY_COLUMNS: dict[str, str] = {
    "label": "str", "group": "str", "events": "int", "total": "int", "proportion": "float",
    "ci_lb": "float", "ci_ub": "float",
}


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _finite(x: float | None) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


@dataclass
class Pooled:
    """The result of :func:`pool`."""

    overall: PoolResult
    studies: pd.DataFrame
    subgroups: dict[str, PoolResult] = field(default_factory=dict)
    between: dict[str, Any] | None = None
    by: str | None = None
    warnings: list[str] = field(default_factory=list)

    # -- the numbers
    @property
    def estimate(self) -> float:
        return self.overall.estimate

    @property
    def ci(self) -> tuple[float, float]:
        return self.overall.ci_lb, self.overall.ci_ub

    @property
    def pi(self) -> tuple[float, float]:
        return self.overall.pi_lb, self.overall.pi_ub

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup (with ``by``) and a last row ``overall``; proportions on
        the 0–1 scale; statistics that do not exist for k = 1 are missing (NaN), never 0."""
        rows = [self._row(name, r) for name, r in self.subgroups.items()]
        rows.append(self._row("overall", self.overall))
        spec = dict(RESULT_COLUMNS)
        if self.by is not None:  # the test for subgroup differences, on the overall row
            spec.update({"Q_between": "float", "df_between": "int", "p_between": "float"})
            b = self.between or {}
            ok = _finite(b.get("Q"))
            rows[-1].update(Q_between=b.get("Q") if ok else None,
                            df_between=b.get("df") if ok else None,
                            p_between=b.get("p") if ok else None)
        return frame(rows, spec)

    @staticmethod
    def _row(name: str, r: PoolResult) -> dict[str, Any]:
        single = r.k < 2
        return {
            "group": name, "k": r.k, "events": r.events, "total": r.total,
            "estimate": r.estimate, "ci_lb": r.ci_lb, "ci_ub": r.ci_ub,
            "pi_lb": None if single else r.pi_lb, "pi_ub": None if single else r.pi_ub,
            "tau2": None if single else r.tau2, "I2": None if single else r.I2,
            "H2": None if single else r.H2, "Q": None if single else r.Q,
            "Q_p": None if single else r.Q_p, "method": r.method, "measure": r.measure,
            "test": r.test, "level": r.level,
        }

    # -- text
    def summary(self) -> str:
        """The model as text, laid out like metafor's ``print(rma(...))``, with the
        estimate back-transformed to a proportion."""
        out = []
        if self.subgroups:
            for name, r in self.subgroups.items():
                out.append(f"Subgroup {self.by} = {name}")
                out.append(_describe(r))
                out.append("")
            out.append("Overall (all studies)")
        out.append(_describe(self.overall))
        if self.between is not None and _finite(self.between.get("Q")):
            out.append("")
            out.append("Test for Subgroup Differences:")
            out.append(f"QM(df = {self.between['df']}) = {self.between['Q']:.4f}, "
                       f"p-val {_p(self.between['p'])}  ({self.between['test']})")
        for w in self.warnings:
            out.append(f"Warning: {w}")
        return "\n".join(out)

    def __repr__(self) -> str:  # what a notebook shows
        return self.summary()

    # -- figure
    def forest(self, title: str | None = None, xlabel: str = "Proportion (%)"):
        """A forest plot (matplotlib Figure): each study with its exact interval, each
        subgroup's and the overall pooled estimate as a diamond with its confidence
        interval, the prediction interval dotted."""
        from .figures.forest import plot_forest

        return plot_forest(self.studies, self.to_frame(), title=title, xlabel=xlabel)


def _p(p: float) -> str:
    return "< .0001" if p < 1e-4 else f"= {p:.4f}"


def _pct(x: float) -> str:
    return "NA" if not _finite(x) else f"{100 * x:.1f}%"


def _describe(r: PoolResult) -> str:
    level = f"{round(100 * r.level)}%"
    if r.k < 2:
        return "\n".join([
            f"Single study (k = 1): {r.events}/{r.total} = {_pct(r.estimate)}",
            f"  {level} CI {_pct(r.ci_lb)} to {_pct(r.ci_ub)}; no heterogeneity statistics "
            "with one study",
        ])
    model = "Fixed-Effects Model" if r.method == "FE" else "Random-Effects Model"
    estimator = "" if r.method == "FE" else f"; tau^2 estimator: {r.method}"
    lines = [f"{model} (k = {r.k}{estimator})", ""]
    if r.method != "FE":
        lines += [
            f"tau^2 (estimated amount of total heterogeneity): {r.tau2:.4f}",
            f"tau (square root of estimated tau^2 value):      {math.sqrt(max(r.tau2, 0)):.4f}",
        ]
    lines += [
        f"I^2 (total heterogeneity / total variability):   {r.I2:.2f}%",
        f"H^2 (total variability / sampling variability):  {r.H2:.2f}",
        "",
        "Test for Heterogeneity:",
        f"Q(df = {r.k - 1}) = {r.Q:.4f}, p-val {_p(r.Q_p)}",
        "",
        f"Model Results ({r.measure} scale{', Knapp-Hartung t' if r.test == 'knha' else ''}):",
        "",
        f"{'estimate':>9} {'se':>8} {'tval' if r.test == 'knha' else 'zval':>8} "
        f"{'pval':>8} {'ci.lb':>8} {'ci.ub':>8}",
        f"{r.yi_estimate:9.4f} {r.se:8.4f} {r.zval:8.4f} {_pval(r.pval):>8} "
        f"{r.yi_ci_lb:8.4f} {r.yi_ci_ub:8.4f}",
        "",
        f"Proportion: {_pct(r.estimate)} ({level} CI {_pct(r.ci_lb)} to {_pct(r.ci_ub)}; "
        f"{level} PI {_pct(r.pi_lb)} to {_pct(r.pi_ub)}); {r.events}/{r.total} events",
    ]
    return "\n".join(lines)


def _pval(p: float) -> str:
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


# ------------------------------------------------------------------------------ input

def _column(data: pd.DataFrame, name: str, option: str) -> pd.Series:
    if name not in data.columns:
        raise InputError(f"Invalid column {name!r} for {option}; expected one of "
                         f"{[str(c) for c in data.columns]}",
                         fix=f"Pass the exact column name as {option}.")
    return data[name]


def _counts(series: pd.Series, name: str, labels: Sequence[str]) -> np.ndarray:
    out = np.empty(len(series), dtype=float)
    for i, (raw, label) in enumerate(zip(series.tolist(), labels)):
        text = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or value != int(value):
            raise InputError(f"Invalid value {text!r} in {label}, column {name!r}; expected a "
                             "non-negative whole number",
                             fix=f"Correct {label} or remove it.")
        if value > 2**53:
            raise InputError(f"Invalid value {text!r} in {label}, column {name!r}: too large "
                             "to pool exactly (more than 2^53)",
                             fix=f"Check {label}: counts are patients or events of one study.")
        out[i] = value
    return out


def _row_labels(data: pd.DataFrame, label: str | None) -> list[str]:
    if label is None:
        return [f"study {i + 1}" for i in range(len(data))]
    return [str(v) for v in _column(data, label, "label").tolist()]


def pool(data: pd.DataFrame | str | Any, events: str = "events", total: str = "total", *,
         measure: str = "PLO", method: str = "REML", test: str = "z", level: float = 0.95,
         by: str | None = None, label: str | None = None) -> Pooled:
    """Pool single proportions (``events`` of ``total`` per row) across the rows of
    ``data`` — a DataFrame, or the path of a CSV/TSV, Parquet or XLSX file.

    ``measure``: PLO (logit, default), PR, PLN, PAS, PFT. ``method``: REML (default), DL,
    PM, ML, HE, SJ, HS, EB, FE (common effect) or GLMM. ``test``: ``"z"`` (Wald) or
    ``"knha"`` (Hartung–Knapp–Sidik–Jonkman). ``by``: a column of subgroup labels.
    ``label``: a column naming each study (for messages and the forest plot).
    """
    source = None
    if not isinstance(data, pd.DataFrame):
        from pathlib import Path

        from .tables import read_table_file

        source = Path(data).name
        data = read_table_file(data)
    if len(data) == 0:
        raise InputError("No data rows to pool" + (f" in {source}" if source else ""),
                         fix="Give one row per study.")
    measure_u = str(measure).upper()
    if measure_u not in MEASURES:
        from .errors import invalid_choice

        raise invalid_choice("measure", measure, MEASURES, "Use e.g. measure='PLO'.")
    method_u = str(method).upper()
    if method_u not in (*METHODS, "GLMM"):
        from .errors import invalid_choice

        raise invalid_choice("method", method, [*METHODS, "GLMM"], "Use e.g. method='REML'.")
    if test not in TESTS:
        from .errors import invalid_choice

        raise invalid_choice("test", test, TESTS, "Use test='z' or test='knha'.")
    labels = _row_labels(data, label)
    # rows of a file are named by their line (the header is line 1), of a frame by position
    where = [(f"line {i + 2} of {source}" if source else f"row {i + 1}")
             + (f" ({lab})" if label else "") for i, lab in enumerate(labels)]
    ev = _counts(_column(data, events, "events"), events, where)
    n = _counts(_column(data, total, "total"), total, where)
    for i in range(len(ev)):
        if n[i] == 0:
            raise InputError(f"Invalid total 0 in {where[i]}, column {total!r}",
                             fix=f"Remove {where[i]} (a study without patients) or correct it.")
        if ev[i] > n[i]:
            raise InputError(f"Invalid {events} {int(ev[i])} in {where[i]}: larger than "
                             f"{total!r} = {int(n[i])}", fix=f"Check both columns in {where[i]}.")
    groups = None
    if by is not None:
        raw = _column(data, by, "by").tolist()
        groups = []
        for i, g in enumerate(raw):
            text = "" if g is None or (isinstance(g, float) and math.isnan(g)) else str(g).strip()
            if not text:
                raise InputError(f"Missing subgroup in {where[i]}, column {by!r}",
                                 fix=f"Fill in {by!r} for {where[i]} or remove the row.")
            groups.append(text)
    kw = dict(measure=measure_u, method=method_u, test=test, level=level, labels=labels)
    caught_messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        if groups is None:
            overall = pool_proportions(ev, n, **kw)
            subgroups: dict[str, PoolResult] = {}
            between = None
        else:
            sub = pool_by_subgroup(ev, n, groups, **kw)
            overall, subgroups = sub.overall, dict(sub.groups)
            between = {"Q": sub.Q_between, "df": sub.df_between, "p": sub.p_between,
                       "test": sub.test_between}
    for w in caught:
        if issubclass(w.category, StatisticalWarning):
            text = str(w.message)
            if text not in caught_messages and "k = 1" not in text:
                caught_messages.append(text)
    los, his = exact_cis(ev, n, level)
    study_rows = [{"label": labels[i], "group": groups[i] if groups else None,
                   "events": int(ev[i]), "total": int(n[i]), "proportion": ev[i] / n[i],
                   "ci_lb": float(los[i]), "ci_ub": float(his[i])} for i in range(len(ev))]
    # A one-study subgroup reports its exact interval (its model has no spread).
    for name, r in subgroups.items():
        if r.k < 2:
            r.ci_lb, r.ci_ub = exact_ci(r.events, r.total, level)
    if overall.k < 2:
        overall.ci_lb, overall.ci_ub = exact_ci(overall.events, overall.total, level)
    return Pooled(overall=overall, studies=frame(study_rows, STUDY_COLUMNS), subgroups=subgroups,
                  between=between, by=by, warnings=caught_messages)


__all__ = ["Pooled", "pool", "exact_ci"]
