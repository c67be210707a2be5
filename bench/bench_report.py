"""Benchmark: report build time for the PD-(L)1 set, against the same run's baseline of
building the store it reports on (load the shared records + classify).

    .venv/bin/python bench/bench_report.py [--formats png,svg,pdf]

Steps, each timed (wall clock and CPU of this process):
1. baseline: `ingest.load_files` of every record in $ICI_ATLAS_SHARED_DATA/ctgov (default
   ../shared/data/ctgov) into a new store, then `classify.classify_store`;
2. `report.render_report` into a new folder (figures as PNG + SVG + PDF by default);
3. the same report again into a second folder (a warm run; also checks that index.html is
   byte-identical, as the report promises).
Prints each time, the ratio report/baseline, and the number of figures and tables written.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ici_atlas.concepts import classify
from ici_atlas.store import db, ingest
from ici_atlas.report import render_report  # noqa: E402


def timed(label: str, fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<34} {wall:8.1f} s wall {cpu:8.1f} s CPU", flush=True)
    return value, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="png,svg,pdf")
    parser.add_argument("--shared-data", default=os.environ.get(
        "ICI_ATLAS_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    args = parser.parse_args()
    formats = tuple(f for f in args.formats.split(",") if f)
    ctgov = Path(args.shared_data) / "ctgov"
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "atlas.duckdb"

        def build_store():
            con = db.connect(store)
            ingest.load_files(con, ctgov)
            report = classify.classify_store(con)
            con.close()
            return report

        classified, base = timed("baseline: load + classify", build_store)
        first, cold = timed("report (first run)", lambda: render_report(store, Path(tmp) / "r1", formats=formats))
        _, warm = timed("report (second run)", lambda: render_report(store, Path(tmp) / "r2", formats=formats))
        same = filecmp.cmp(Path(tmp) / "r1" / "index.html", Path(tmp) / "r2" / "index.html", shallow=False)
        print(f"store: {classified.raw_records:,} studies, {classified.pd1_trials:,} PD-(L)1 trials")
        print(f"report: {len(first.figures)} figure files, {len(first.tables)} tables; "
              f"index.html identical across runs: {same}")
        print(f"ratio report/baseline: {cold / base:.2f} (first run), {warm / base:.2f} (second run)")
        print(f"machine: {os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
