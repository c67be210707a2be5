"""Benchmark: 1,000 subgroup meta-analyses (REML, PLO, Knapp–Hartung) vs R metafor.

The input is synthetic (a fixed seed; it is a benchmark input, not data): 1,000
subgroups with k = 3..30 studies, n = 20..600 patients per study and true response
rates 5–50% with between-study heterogeneity on the logit scale. The same inputs are
written to a temporary CSV; Rscript runs the same 1,000 fits with metafor
(escalc + rma(test="knha") + predict(transf=transf.ilogit)) and times its loop with
proc.time(); we also time the whole Rscript call (wall, including R start-up and
loading metafor). Both engines' pooled estimates are compared.

Run: .venv/bin/python bench/bench_meta.py [--fits 1000] [--seed 20261129]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ici_atlas.meta import pool_proportions  # noqa: E402

R_CODE = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
groups <- split(d, d$subgroup)
res <- numeric(length(groups))
t0 <- proc.time()
for (i in seq_along(groups)) {
  g <- groups[[i]]
  es <- escalc("PLO", xi = g$events, ni = g$totals)
  fit <- rma(yi, vi, data = es, method = "REML", test = "knha")
  res[i] <- predict(fit, transf = transf.ilogit)$pred
}
el <- proc.time() - t0
cat(sprintf('{"elapsed": %.6f, "user": %.6f, "n": %d}\n', el[["elapsed"]], el[["user.self"]],
            length(groups)))
writeLines(sprintf("%.12f", res), args[2])
"""


def make_inputs(fits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(fits):
        k = int(rng.integers(3, 31))
        n = rng.integers(20, 601, size=k)
        p = rng.uniform(0.05, 0.50)
        tau = rng.uniform(0.0, 0.6)
        eta = np.log(p / (1 - p)) + rng.normal(0, tau, size=k)
        x = rng.binomial(n, 1 / (1 + np.exp(-eta)))
        out.append((x, n))
    return out


def run_python(inputs) -> tuple[float, np.ndarray]:
    est = np.empty(len(inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        for i, (x, n) in enumerate(inputs):
            est[i] = pool_proportions(x, n, measure="PLO", method="REML", test="knha").estimate
        elapsed = time.perf_counter() - t0
    return elapsed, est


def run_r(inputs, tmp: Path) -> tuple[dict, float, np.ndarray] | None:
    rscript = shutil.which("Rscript")
    if not rscript:
        return None
    data = tmp / "bench_inputs.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subgroup", "events", "totals"])
        for i, (x, n) in enumerate(inputs):
            for xi, ni in zip(x, n):
                w.writerow([f"g{i:05d}", int(xi), int(ni)])
    script = tmp / "bench.R"
    script.write_text(R_CODE)
    out = tmp / "r_estimates.txt"
    t0 = time.perf_counter()
    proc = subprocess.run([rscript, str(script), str(data), str(out)], capture_output=True,
                          text=True, check=True)
    wall = time.perf_counter() - t0
    timing = json.loads(proc.stdout.strip().splitlines()[-1])
    return timing, wall, np.array([float(v) for v in out.read_text().split()])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261129)
    a = ap.parse_args()
    inputs = make_inputs(a.fits, a.seed)
    ks = [len(x) for x, _ in inputs]
    print(f"{a.fits} subgroup fits (REML, PLO, knha); k {min(ks)}-{max(ks)}, "
          f"{sum(ks)} studies in total")
    py_s, py_est = run_python(inputs)
    print(f"ici_atlas.meta : {py_s:8.3f} s  ({1000 * py_s / a.fits:.3f} ms per fit)")
    with tempfile.TemporaryDirectory() as tmp:
        r = run_r(inputs, Path(tmp))
    if r is None:
        print("Rscript not found: no same-run baseline (install r-base-core r-cran-metafor)")
        return
    timing, wall, r_est = r
    print(f"R metafor loop : {timing['elapsed']:8.3f} s  (proc.time elapsed; "
          f"{1000 * timing['elapsed'] / a.fits:.3f} ms per fit)")
    print(f"R wall (Rscript incl. start-up): {wall:8.3f} s")
    print(f"ratio metafor loop / ici_atlas : {timing['elapsed'] / py_s:6.1f}x")
    print(f"ratio Rscript wall / ici_atlas : {wall / py_s:6.1f}x")
    print(f"max |estimate difference|      : {np.max(np.abs(py_est - r_est)):.2e}")


if __name__ == "__main__":
    main()
