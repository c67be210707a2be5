"""ici_atlas.meta against R metafor reference values (validation/references/*.json).

The references are written by validation/make_references.R (metafor 3.8-1, lme4 1.1-31;
the versions are recorded in each file). Tolerances: |ours - metafor| <= tol * max(1, |metafor|)
with tol = 1e-6 for the closed-form and iterative estimators and 1e-4 for the GLMM.
Purposeful differences are listed in validation/README.md and handled explicitly below.
"""

from __future__ import annotations

import json
import math
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from ici_atlas.meta import pool_by_subgroup, pool_metareg, pool_proportions
from ici_atlas.meta.glmm import fit_glmm
from ici_atlas.meta.transforms import compute_effects

REF = Path(__file__).resolve().parent.parent / "validation" / "references"
TOL = 1e-6
TOL_GLMM = 1e-4


def _load(name: str) -> dict:
    return json.loads((REF / f"{name}.json").read_text())


DATASETS = _load("datasets")["datasets"]
RMA = _load("rma")["cases"]
GLMM = _load("glmm")["cases"]
SUBGROUP = _load("subgroup")["cases"]
METAREG = _load("metareg")["cases"]


def close(ours, ref, tol=TOL) -> bool:
    if ref is None:  # metafor NA / Inf (e.g. z = estimate/0 when the KnHa SE is 0)
        return ours is None or not math.isfinite(ours)
    return abs(ours - ref) <= tol * max(1.0, abs(ref))


def _id(c: dict) -> str:
    extra = "" if c.get("to", "only0") == "only0" and c.get("add") is None else \
        f"-{c.get('to')}-add{c.get('add')}"
    return f"{c['dataset']}-{c['measure']}-{c['method']}-{c['test']}{extra}"


def test_reference_grid_is_complete():
    combos = {(c["dataset"], c["measure"], c["method"], c["test"]) for c in RMA}
    for d in DATASETS:
        for m in ("PR", "PLN", "PLO", "PAS", "PFT"):
            for meth in ("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"):
                for t in ("z", "knha"):
                    assert (d, m, meth, t) in combos
    sizes = {len(d["events"]) for d in DATASETS.values()}
    assert {2, 3, 200} <= sizes
    zeros = DATASETS["zeros"]
    assert 0 in zeros["events"] and any(e == n for e, n in zip(zeros["events"], zeros["totals"]))


@pytest.mark.r_reference
@pytest.mark.parametrize("case", RMA, ids=_id)
def test_rma_matches_metafor(case):
    d = DATASETS[case["dataset"]]
    assert "error" not in case, case.get("error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = pool_proportions(d["events"], d["totals"], measure=case["measure"],
                             method=case["method"], test=case["test"], add=case["add"],
                             to=case["to"])
    if "yi" in case:
        eff = compute_effects(d["events"], d["totals"], case["measure"], add=case["add"],
                              to=case["to"])
        np.testing.assert_allclose(eff.yi, case["yi"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(eff.vi, case["vi"], rtol=1e-12, atol=1e-12)
    ours = {
        "b": r.yi_estimate, "se": r.se, "zval": r.zval, "pval": r.pval,
        "ci_lb": r.yi_ci_lb, "ci_ub": r.yi_ci_ub, "pi_lb": r.yi_pi_lb, "pi_ub": r.yi_pi_ub,
        "tau2": r.tau2, "I2": r.I2, "H2": r.H2, "QE": r.Q, "QEp": r.Q_p,
        "pred_prop": r.estimate, "ci_lb_prop": r.ci_lb, "ci_ub_prop": r.ci_ub,
        "pi_lb_prop": r.pi_lb, "pi_ub_prop": r.pi_ub,
    }
    for key, val in ours.items():
        ref = case[key]
        if key.endswith("_prop") and ref is not None:
            ref = min(max(ref, 0.0), 1.0)  # we clip to [0, 1]; metafor does not for PR/PLN
        assert close(val, ref), f"{key}: ours {val!r} vs metafor {ref!r}"


@pytest.mark.r_reference
@pytest.mark.parametrize("case", GLMM, ids=lambda c: f"{c['dataset']}-{c['test']}")
def test_glmm_matches_metafor(case):
    d = DATASETS[case["dataset"]]
    r = fit_glmm(d["events"], d["totals"], test=case["test"])
    if "error" in case:
        # lme4 refuses data whose proportions are all identical ("Response is constant");
        # we return the boundary fit tau² = 0, which is the ML estimate there.
        assert case["dataset"] == "homogeneous"
        assert r["tau2"] == 0.0
        p = sum(d["events"]) / sum(d["totals"])
        assert close(r["b"], math.log(p / (1 - p)), TOL)
        return
    for key in ("b", "se", "zval", "pval", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "I2",
                "H2", "QE_LRT", "QEp_LRT", "QE_Wld", "QEp_Wld"):
        ref = case[key]
        if key.startswith("QE") and "Wld" in key and (
            0 in d["events"] or any(e == n for e, n in zip(d["events"], d["totals"]))
        ):
            assert math.isnan(r[key])  # undefined with 0/all-event studies (see README)
            continue
        assert close(r[key], ref, TOL_GLMM), f"{key}: ours {r[key]!r} vs metafor {ref!r}"
    assert close(r["ll_conditional"], case["ll"], TOL_GLMM)


@pytest.mark.r_reference
@pytest.mark.parametrize("case", SUBGROUP,
                         ids=lambda c: f"{c['dataset']}-{c['measure']}-{c['method']}-{c['test']}")
def test_subgroups_match_metafor(case):
    d = DATASETS[case["dataset"]]
    kw = dict(measure=case["measure"], method=case["method"], test=case["test"])
    sep = pool_by_subgroup(d["events"], d["totals"], d["group"], **kw)
    assert list(sep.groups) == case["levels"]
    for j, lev in enumerate(case["levels"]):
        assert close(sep.groups[lev].yi_estimate, case["est"][j])
        assert close(sep.groups[lev].se, case["se"][j])
        assert close(sep.groups[lev].tau2, case["tau2"][j])
    assert close(sep.Q_between, case["Q_between_separate"])
    assert close(sep.p_between, case["p_between_separate"])
    com = pool_by_subgroup(d["events"], d["totals"], d["group"], tau2="common", **kw)
    assert close(com.Q_between, case["Q_between_common"])
    assert close(com.p_between, case["p_between_common"])


@pytest.mark.r_reference
@pytest.mark.parametrize("case", METAREG, ids=lambda c: "-".join(
    [c["dataset"], c["method"], c["test"], "+".join(np.atleast_1d(c["mods"]))]))
def test_metareg_matches_metafor(case):
    d = DATASETS[case["dataset"]]
    mods = {m: d[m] for m in np.atleast_1d(case["mods"])}
    r = pool_metareg(d["events"], d["totals"], mods, measure=case["measure"],
                     method=case["method"], test=case["test"])
    assert len(r.coefficients) == len(case["b"])
    for j, c in enumerate(r.coefficients):
        for key in ("b", "se", "zval", "pval", "ci_lb", "ci_ub"):
            ours = c["estimate"] if key == "b" else c[key]
            assert close(ours, case[key][j]), f"{c['name']} {key}: {ours} vs {case[key][j]}"
    for key in ("QM", "QMp", "QE", "QEp", "tau2", "I2", "H2"):
        assert close(getattr(r, key), case[key]), key
    if case["R2"] is not None:
        assert close(r.R2, case["R2"])


@pytest.mark.r_reference
def test_r_script_regenerates_committed_references(rscript, tmp_path):
    """Re-run validation/make_references.R and compare with the committed files."""
    script = REF.parent / "make_references.R"
    proc = subprocess.run([rscript, str(script), str(tmp_path)], capture_output=True, text=True,
                          cwd=REF.parent.parent, timeout=600)
    if proc.returncode != 0 and "there is no package called" in proc.stderr:
        from conftest import skip_or_fail

        skip_or_fail(f"R package missing: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr

    def same(a, b, path="") -> None:
        if isinstance(a, dict):
            assert set(a) == set(b), path
            for key in a:
                same(a[key], b[key], f"{path}.{key}")
        elif isinstance(a, list):
            assert len(a) == len(b), path
            for i, (x, y) in enumerate(zip(a, b)):
                same(x, y, f"{path}[{i}]")
        elif isinstance(a, float) and isinstance(b, (int, float)):
            assert abs(a - b) <= 1e-9 * max(1.0, abs(a)), path
        else:
            assert a == b, path

    for name in ("datasets", "rma", "glmm", "subgroup", "metareg"):
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        committed = _load(name)
        for key in ("R", "metafor", "lme4"):  # versions may legitimately differ
            fresh.pop(key, None)
            committed.pop(key, None)
        same(fresh, committed, name)
