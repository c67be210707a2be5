"""ici_atlas.meta at scale: 10^6 studies in bounded memory, checked against independent sums.

The tau² estimators used to build the k × k projection P = W − WX(X′WX)⁻¹X′W (7.28 TiB
for k = 10^6); they now work with weighted sums and p × p products (O(k·p²) time, O(k·p)
memory). Here every method (FE, DL, HE, HS, SJ, PM, ML, REML, EB) pools 1,000,000
studies — all of them are cheap enough for the full 10^6 — and must stay below ~1 GiB
of additional memory (measured with tracemalloc, which sees numpy's buffers). Results at
k = 10^6 are compared with closed forms evaluated here in chunks of 10^5 studies (FE,
DL, HS, HE, SJ, and DL with moderators) or with the estimating equation the estimator
solves (PM: the root is bracketed; ML/REML/EB: one more Fisher-scoring step from the
estimate is below metafor's 1e-5 threshold). The O(k) formulas with moderators are
checked against the dense P at small k.

The GLMM is fitted on 10^6 binomial rows (totals 20–200) and on 10^5 rows whose
(events, total) pairs are all distinct (the worst case for collapsing identical pairs).
No timing is asserted (speed belongs in benchmarks); memory bounds are.
"""

from __future__ import annotations

import tracemalloc
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from ici_atlas.meta import pool_proportions
from ici_atlas.meta import tau2 as t2mod
from ici_atlas.meta.glmm import collapse, fit_glmm, marginal_loglik
from ici_atlas.meta.rma import fit_rma
from ici_atlas.meta.transforms import compute_effects

K = 1_000_000
CHUNK = 100_000
GiB = 2**30
METHODS = ("FE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML", "EB")


@contextmanager
def peak_memory():
    """Peak memory (bytes) allocated inside the block, numpy buffers included."""
    box = {}
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield box
    finally:
        box["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def _counts(k: int, seed: int, lo: int = 20, hi: int = 200, tau: float = 0.5):
    rng = np.random.default_rng(seed)
    n = rng.integers(lo, hi + 1, size=k)
    p = 1 / (1 + np.exp(-rng.normal(-1.0, tau, size=k)))
    return rng.binomial(n, p), n


@pytest.fixture(scope="module")
def big():
    x, n = _counts(K, 20261207)
    eff = compute_effects(x, n, "PLO")
    return x, n, eff.yi, eff.vi


def _chunks(*arrays):
    for s in range(0, arrays[0].shape[0], CHUNK):
        yield tuple(a[s:s + CHUNK] for a in arrays)


def _wmean(y, w) -> float:
    sw = swy = 0.0
    for yc, wc in _chunks(y, w):
        sw += float(np.sum(wc))
        swy += float(np.dot(wc, yc))
    return swy / sw


def _wss(y, w) -> float:
    """sum w (y - weighted mean)^2, two passes over chunks."""
    mu = _wmean(y, w)
    return sum(float(np.dot(wc, (yc - mu) ** 2)) for yc, wc in _chunks(y, w))


def _sum(f, *arrays) -> float:
    return sum(float(np.sum(f(*c))) for c in _chunks(*arrays))


def _pool(x, n, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pool_proportions(x, n, method=method)


@pytest.mark.parametrize("method", METHODS)
def test_pool_1e6_studies_in_bounded_memory(big, method):
    x, n, _, _ = big
    with peak_memory() as mem:
        r = _pool(x, n, method)
    assert mem["peak"] < GiB, f"{method}: peak {mem['peak'] / 2**20:.0f} MiB"
    assert r.k == K and 0 < r.ci_lb < r.estimate < r.ci_ub < 1
    assert np.isfinite([r.tau2, r.I2, r.Q, r.se]).all()
    assert (r.tau2 == 0) == (method == "FE")


def _closed_form_tau2(method, y, v):
    k = y.size
    w = 1 / v
    q = _wss(y, w)
    sw = _sum(lambda a: a, w)
    sw2 = _sum(lambda a: a * a, w)
    if method == "DL":
        return (q - (k - 1)) / (sw - sw2 / sw)
    if method == "HS":
        return (q - k) / sw
    ybar = _sum(lambda a: a, y) / k
    ss = _sum(lambda a: (a - ybar) ** 2, y)
    if method == "HE":
        return (ss - _sum(lambda a: a, v) * (k - 1) / k) / (k - 1)
    t0 = ss / k  # SJ
    return t0 * _wss(y, 1 / (v + t0)) / (k - 1)


@pytest.mark.parametrize("method", ["FE", "DL", "HS", "HE", "SJ"])
def test_1e6_matches_chunked_closed_forms(big, method):
    x, n, y, v = big
    r = _pool(x, n, method)
    tau2 = 0.0 if method == "FE" else max(0.0, _closed_form_tau2(method, y, v))
    assert r.tau2 == pytest.approx(tau2, rel=1e-9)
    w = 1 / (v + tau2)
    assert r.yi_estimate == pytest.approx(_wmean(y, w), rel=1e-10)
    assert r.se == pytest.approx(_sum(lambda a: a, w) ** -0.5, rel=1e-10)
    assert r.Q == pytest.approx(_wss(y, 1 / v), rel=1e-10)


def test_1e6_pm_is_the_root_of_the_generalised_q(big):
    x, n, y, v = big
    r = _pool(x, n, "PM")
    assert r.tau2 > 0.01
    # R's uniroot locates the root to ~1.2e-4: the generalised Q crosses k - 1 in between
    assert _wss(y, 1 / (v + r.tau2 - 3e-4)) > K - 1 > _wss(y, 1 / (v + r.tau2 + 3e-4))


@pytest.mark.parametrize("method", ["ML", "REML", "EB"])
def test_1e6_fisher_scoring_has_converged(big, method):
    x, n, y, v = big
    r = _pool(x, n, method)
    w = 1 / (v + r.tau2)
    mu = _wmean(y, w)
    sw, sw2, sw3 = (_sum(lambda a, j=j: a**j, w) for j in (1, 2, 3))
    py2 = _sum(lambda a, b: (a * (b - mu)) ** 2, w, y)
    ypy = _wss(y, w)
    if method == "ML":
        adj = (py2 - sw) / sw2
    elif method == "REML":
        adj = (py2 - (sw - sw2 / sw)) / (sw2 - 2 * sw3 / sw + (sw2 / sw) ** 2)
    else:
        adj = (ypy * K / (K - 1) - K) / sw
    assert abs(adj) < 1e-5  # metafor's stopping threshold on the change in tau²
    assert r.yi_estimate == pytest.approx(mu, rel=1e-10)


def test_1e6_with_moderators_in_bounded_memory_and_chunked_dl(big):
    _, _, y, v = big
    rng = np.random.default_rng(5)
    g = rng.integers(0, 3, size=K)
    X = np.column_stack([np.ones(K), rng.normal(size=K), g == 1, g == 2]).astype(float)
    for method in ("DL", "PM", "REML", "SJ", "HE"):
        with peak_memory() as mem:
            fit = fit_rma(y, v, X, method=method, test="knha")
        assert mem["peak"] < GiB, f"{method}: peak {mem['peak'] / 2**20:.0f} MiB"
        assert np.isfinite(fit.beta).all() and fit.tau2 > 0
        if method == "DL":
            dl = fit
    # DL with moderators from chunked normal equations
    w = 1 / v
    A = sum(Xc.T @ (Xc * wc[:, None]) for Xc, wc in _chunks(X, w))
    B = sum(Xc.T @ (Xc * (wc**2)[:, None]) for Xc, wc in _chunks(X, w))
    b = np.linalg.solve(A, sum(Xc.T @ (wc * yc) for Xc, wc, yc in _chunks(X, w, y)))
    rss = sum(float(np.dot(wc, (yc - Xc @ b) ** 2)) for Xc, wc, yc in _chunks(X, w, y))
    trp = _sum(lambda a: a, w) - float(np.trace(np.linalg.solve(A, B)))
    tau2 = (rss - (K - 4)) / trp
    assert dl.tau2 == pytest.approx(tau2, rel=1e-9)
    assert dl.QE == pytest.approx(rss, rel=1e-10)


# --- the O(k p^2) formulas against the dense k x k projection at small k -----------------


def _dense_p(X, w):
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


@pytest.mark.parametrize("p", [1, 2, 4])
def test_projection_free_formulas_equal_dense_p(p):
    rng = np.random.default_rng(p)
    k = 80
    X = np.column_stack([np.ones(k)] + [rng.normal(size=k) for _ in range(p - 1)])
    y = rng.normal(size=k)
    v = rng.uniform(0.01, 0.5, size=k)
    w = 1 / (v + 0.1)
    io = p == 1
    P = _dense_p(X, w)
    py, trp, trpp = t2mod._pstats(X, w, y, io)
    np.testing.assert_allclose(py, P @ y, rtol=1e-10, atol=1e-12)
    assert trp == pytest.approx(np.trace(P), rel=1e-12)
    assert trpp == pytest.approx(np.sum(P * P), rel=1e-10)
    assert t2mod._rss(X, w, y) == pytest.approx(y @ P @ y, rel=1e-12)
    assert t2mod._trace_p(X, w, io) == pytest.approx(np.trace(P), rel=1e-12)
    # HE: unweighted projection
    Pu = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    he = (y @ Pu @ y - np.sum(np.diag(Pu) * v)) / (k - p)
    assert t2mod.estimate_he(y, v, X) == pytest.approx(he, rel=1e-12)
    P0 = _dense_p(X, 1 / v)
    assert t2mod.estimate_dl(y, v, X) == pytest.approx(
        (y @ P0 @ y - (k - p)) / np.trace(P0), rel=1e-10)
    assert t2mod.estimate_hs(y, v, X) == pytest.approx((y @ P0 @ y - k) / np.sum(1 / v),
                                                       rel=1e-10)


# --- GLMM -------------------------------------------------------------------------------


def test_glmm_1e6_rows_finishes_in_bounded_memory():
    x, n = _counts(K, 7)  # simulated with beta = -1, tau² = 0.25
    with peak_memory() as mem:
        r = fit_glmm(x, n)
    assert mem["peak"] < GiB, f"peak {mem['peak'] / 2**20:.0f} MiB"
    assert r["k"] == K
    assert abs(r["b"] + 1) < 0.01 and abs(r["tau2"] - 0.25) < 0.01
    assert 0 < r["se"] < 0.01 and r["ci_lb"] < r["b"] < r["ci_ub"]
    # a maximum: no neighbour has a higher likelihood
    xu, nu, cu = collapse(x, n)
    tau = r["tau2"] ** 0.5
    best = marginal_loglik(r["b"], tau, xu, nu, counts=cu)
    for db, dt in ((1e-4, 0), (-1e-4, 0), (0, 1e-4), (0, -1e-4)):
        assert marginal_loglik(r["b"] + db, tau + dt, xu, nu, counts=cu) < best


def test_glmm_1e5_distinct_pairs_finishes_in_bounded_memory():
    x, n = _counts(100_000, 8, lo=1_000, hi=100_000)
    assert collapse(x, n)[0].size > 99_000  # nothing to collapse: the worst case
    with peak_memory() as mem:
        r = fit_glmm(x, n)
    assert mem["peak"] < GiB, f"peak {mem['peak'] / 2**20:.0f} MiB"
    assert abs(r["b"] + 1) < 0.02 and abs(r["tau2"] - 0.25) < 0.02


def test_glmm_collapsed_likelihood_equals_per_study_sum():
    x, n = _counts(100_000, 9, lo=5, hi=60, tau=1.5)
    xu, nu, cu = collapse(x, n)
    assert xu.size < 3000 and cu.sum() == x.size
    for beta, tau in ((-1.0, 0.0), (-1.2, 0.3), (-0.8, 1.5), (-1.0, 4.0)):
        full = marginal_loglik(beta, tau, x.astype(float), n.astype(float))
        assert marginal_loglik(beta, tau, xu, nu, counts=cu) == pytest.approx(full, rel=1e-12)
