"""Unit and property-based tests of ici_atlas.meta (no R needed)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ici_atlas.errors import ConvergenceError, InputError, StatisticalWarning
from ici_atlas.meta import pool_by_subgroup, pool_metareg, pool_proportions
from ici_atlas.meta.backtransform import ipft, pft
from ici_atlas.meta.tau2 import zeroin
from ici_atlas.meta.transforms import compute_effects

EV = [3, 10, 0, 25, 7]
N = [40, 60, 30, 100, 50]


def test_known_values_from_metafor():
    # metafor 3.8-1: rma(yi, vi, data=escalc("PLO", xi=EV, ni=N), test="knha") printed
    # estimate -1.7224, se 0.3332, tau^2 0.2123, I^2 55.58%, Q 9.9055; predict(transf=
    # transf.ilogit) pred 0.1516, ci 0.0661-0.3106, pi 0.0355-0.4641.
    r = pool_proportions(EV, N, test="knha")
    assert round(r.yi_estimate, 4) == -1.7224 and round(r.se, 4) == 0.3332
    assert round(r.tau2, 4) == 0.2123 and round(r.I2, 2) == 55.58 and round(r.Q, 4) == 9.9055
    assert [round(x, 4) for x in (r.estimate, r.ci_lb, r.ci_ub, r.pi_lb, r.pi_ub)] == [
        0.1516, 0.0661, 0.3106, 0.0355, 0.4641]
    d = r.to_dict()
    for key in ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "I2", "H2", "Q", "Q_p",
                "k", "yi_estimate", "se", "method", "measure", "test"):
        assert key in d
    assert "Pooled proportion (REML, measure PLO, k = 5" in r.summary()


@pytest.mark.parametrize("events,totals,field", [
    ([3, 5], [2, 10], "events"),
    ([-1, 5], [10, 10], "events"),
    ([1.5, 5], [10, 10], "events"),
    ([1, 5], [10, 0], "totals"),
    ([1, float("nan")], [10, 10], "events"),
])
def test_invalid_input_names_study_and_field(events, totals, field):
    with pytest.raises(InputError) as exc:
        pool_proportions(events, totals, labels=["KN-001", "CM-057"])
    assert field in exc.value.message and "study" in exc.value.message and exc.value.fix


def test_empty_and_mismatched_input():
    with pytest.raises(InputError, match="k = 0"):
        pool_proportions([], [])
    with pytest.raises(InputError, match="events has 2"):
        pool_proportions([1, 2], [3])
    with pytest.raises(InputError, match="measure"):
        pool_proportions(EV, N, measure="OR")
    with pytest.raises(InputError, match="method"):
        pool_proportions(EV, N, method="XX")
    with pytest.raises(InputError, match="test"):
        pool_proportions(EV, N, test="t2")


def test_zero_cells_follow_escalc_rules():
    # PLO: 0/30 gets 1/2 added to both cells -> logit(0.5/31)
    eff = compute_effects([0, 5], [30, 10], "PLO")
    assert math.isclose(eff.yi[0], math.log(0.5 / 30.5)) and eff.adjusted.tolist() == [True, False]
    # PAS/PFT: escalc's default add is 0 for these measures
    assert compute_effects([0, 5], [30, 10], "PAS").yi[0] == 0.0
    assert compute_effects([0, 5], [30, 10], "PLO", to="all").adjusted.all()
    assert compute_effects([1, 5], [30, 10], "PLO", to="if0all").adjusted.sum() == 0
    with pytest.raises(InputError, match="undefined outcome"):
        pool_proportions([0, 5, 3], [30, 10, 9], to="none")


def test_pft_warns_and_inverts():
    with pytest.warns(StatisticalWarning, match="10.1002/jrsm.1348"):
        r = pool_proportions(EV, N, measure="PFT")
    assert 0 < r.estimate < 1
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(ipft(pft(p, 50.0), 50.0), p, atol=1e-12)


def test_single_study_and_fe_without_prediction_interval():
    r = pool_proportions([5], [20])
    assert r.k == 1 and r.tau2 == 0 and math.isclose(r.estimate, 0.25)
    fe = pool_proportions(EV, N, method="FE")
    assert math.isnan(fe.pi_lb) and fe.to_dict()["pi_lb"] is None


def test_knha_with_identical_estimates_warns():
    with pytest.warns(StatisticalWarning, match="Knapp"):
        r = pool_proportions([10, 20, 30], [50, 100, 150], test="knha")
    assert r.ci_lb == r.ci_ub == pytest.approx(0.2)


def test_zeroin_matches_known_root():
    f = lambda x: x**3 - 2  # noqa: E731
    assert zeroin(f, 0.0, 2.0, f(0.0), f(2.0), tol=1e-12) == pytest.approx(2 ** (1 / 3), abs=1e-11)


def test_glmm_handles_zero_and_all_event_studies():
    r = pool_proportions([0, 3, 12, 0, 7, 20], [15, 40, 60, 22, 35, 20], method="GLMM")
    assert 0 < r.estimate < 1 and r.tau2 > 0 and r.ci_lb < r.estimate < r.ci_ub
    assert r.extra["nAGQ"] == 7
    with pytest.raises(ConvergenceError):
        pool_proportions([0, 0], [10, 20], method="GLMM")
    # 0/10 next to 10/10: the likelihood grows without bound in tau (metafor 3.8-1 returns
    # tau² = 29616 with beta = -14.4 here); we refuse with a fix instead
    with pytest.raises(ConvergenceError, match="no finite maximum-likelihood"):
        pool_proportions([0, 10], [10, 10], method="GLMM")
    with pytest.raises(InputError, match="PLO"):
        pool_proportions(EV, N, method="GLMM", measure="PR")
    with pytest.warns(StatisticalWarning, match="not defined for the GLMM"):
        pool_proportions(EV, N, method="GLMM", test="knha")


def test_glmm_large_tau_with_zero_event_studies_matches_metafor():
    # Plain Newton for the conditional modes b_i oscillates and diverges here (large tau²,
    # 0-event studies), which used to give a wrong fit with SE ~ 1e-6; the modes are now
    # bracketed. metafor 3.8-1 / lme4 1.1-31: rma.glmm(measure="PLO", xi=, ni=) gives
    # b = 2.441766847612, se = 1.135191980696, tau2 = 4.143000103181 for the first data
    # set and b = -3.013134, se = 1.075787, tau2 = 6.429175 for the second.
    from ici_atlas.meta.glmm import _modes, fit_glmm

    r = fit_glmm([26, 56, 52, 18], [50, 58, 52, 24])
    assert r["b"] == pytest.approx(2.441766847612, rel=1e-4)
    assert r["se"] == pytest.approx(1.135191980696, rel=1e-4)
    assert r["tau2"] == pytest.approx(4.143000103181, rel=1e-4)
    x = np.array([324.0, 0, 308, 34, 6, 5])
    n = np.array([731.0, 573, 708, 383, 217, 337])
    r = fit_glmm(x, n)
    assert r["b"] == pytest.approx(-3.013134, rel=1e-3) and r["se"] > 1
    assert r["tau2"] == pytest.approx(6.429175, rel=1e-3)
    b = _modes(-3.0, 6.25, x, n)
    score = x - n / (1 + np.exp(3.0 - b)) - b / 6.25
    assert np.all(np.abs(b) < 20) and np.max(np.abs(score)) < 1e-8


def test_subgroup_and_metareg_shapes():
    groups = ["a", "a", "b", "b", "b"]
    s = pool_by_subgroup(EV, N, groups)
    assert list(s.groups) == ["a", "b"] and s.df_between == 1 and 0 <= s.p_between <= 1
    assert "Test for subgroup differences" in s.summary()
    with pytest.raises(InputError, match="Missing subgroup"):
        pool_by_subgroup(EV, N, ["a", "", "b", "b", "b"])
    m = pool_metareg(EV + [4, 9], N + [30, 45], {"year": [2015, 2016, 2018, 2019, 2020, 2021, 2022]})
    assert [c["name"] for c in m.coefficients] == ["intrcpt", "year"]
    with pytest.raises(InputError, match="collinear"):
        pool_metareg(EV, N, {"a": [1, 2, 3, 4, 5], "b": [2, 4, 6, 8, 10]})


# ---------------------------------------------------------------- properties
@st.composite
def studies(draw, min_k=1, max_k=12):
    k = draw(st.integers(min_k, max_k))
    totals = draw(st.lists(st.integers(1, 500), min_size=k, max_size=k))
    events = [draw(st.integers(0, n)) for n in totals]
    return events, totals


MEAS = st.sampled_from(["PR", "PLN", "PLO", "PAS", "PFT"])
METH = st.sampled_from(["FE", "DL", "REML", "PM", "ML", "HE", "SJ", "EB", "HS"])
TEST = st.sampled_from(["z", "knha"])


def _pool(ev, n, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pool_proportions(ev, n, **kw)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=studies(min_k=2), measure=MEAS, method=METH, test=TEST)
def test_property_estimate_in_unit_interval_and_inside_ci(data, measure, method, test):
    ev, n = data
    try:
        r = _pool(ev, n, measure=measure, method=method, test=test)
    except ConvergenceError:
        return  # legal outcome for pathological data, reported with a fix
    for v in (r.estimate, r.ci_lb, r.ci_ub):
        assert 0.0 <= v <= 1.0
    assert r.ci_lb - 1e-12 <= r.estimate <= r.ci_ub + 1e-12
    assert r.yi_ci_lb <= r.yi_estimate <= r.yi_ci_ub
    assert r.tau2 >= 0 and 0 <= r.I2 <= 100
    # random effects: H² = 1 + tau²/vt >= 1; common effect: H² = Q/(k-1), which can be < 1
    assert r.H2 >= (0 if method == "FE" else 1 - 1e-12)


@settings(max_examples=100, deadline=None)
@given(data=studies(min_k=2), measure=MEAS, method=METH, test=TEST, seed=st.integers(0, 2**32 - 1))
def test_property_study_order_does_not_matter(data, measure, method, test, seed):
    ev, n = data
    perm = np.random.default_rng(seed).permutation(len(ev))
    try:
        a = _pool(ev, n, measure=measure, method=method, test=test)
    except ConvergenceError:
        return
    b = _pool([ev[i] for i in perm], [n[i] for i in perm], measure=measure, method=method,
              test=test)
    for key in ("yi_estimate", "se", "tau2", "Q", "I2"):
        x, y = getattr(a, key), getattr(b, key)
        assert x == pytest.approx(y, rel=1e-6, abs=1e-7), key


@settings(max_examples=12, deadline=None)
@given(data=studies(min_k=2, max_k=8))
def test_property_glmm_in_unit_interval(data):
    ev, n = data
    if sum(ev) in (0, sum(n)):
        return
    try:
        r = _pool(ev, n, method="GLMM")
    except ConvergenceError as exc:
        assert "no finite maximum-likelihood" in exc.message and exc.fix
        return
    assert 0 <= r.ci_lb <= r.estimate <= r.ci_ub <= 1 and r.tau2 >= 0


def test_bench_inputs_are_deterministic_and_pool():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "bench_meta.py"
    spec = importlib.util.spec_from_file_location("bench_meta", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    a, b = mod.make_inputs(5, 1), mod.make_inputs(5, 1)
    assert all((x1 == x2).all() and (n1 == n2).all() for (x1, n1), (x2, n2) in zip(a, b))
    assert all(3 <= len(x) <= 30 and (n >= 20).all() and (n <= 600).all() for x, n in a)
    elapsed, est = mod.run_python(a)
    assert elapsed > 0 and ((est > 0) & (est < 1)).all()
