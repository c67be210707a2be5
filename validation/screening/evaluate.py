"""Evaluate screening prioritisation and the stopping rule on the SYNERGY labelled sets
(docs/literature.md).

    .venv/bin/python validation/screening/evaluate.py [--shared-data ../shared/data]
        [--seeds 100] [--jobs 2]

For each set, the active-learning simulation of ``ici-atlas lit simulate`` (one random
included + one random excluded start record per seed, refit after every decision) over
``--seeds`` seeds: WSS@95 and recall after 10%/25% screened, mean (min-max), against 100
seeds of random order; then the stopping rule over the same runs: the share of seeds that
stopped with recall >= the target, mean (min) recall at the stop, mean work saved at the
stop (share of records left unscreened).
"""

from __future__ import annotations

import argparse
import os
import statistics as st
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from ici_atlas.review.simulate import load_labelled_csv, simulate_random, simulate_screening
from ici_atlas.review.stopping import ALPHA, TARGET_RECALL

SETS = ("Donners_2021", "Meijboom_2021", "Nelson_2002")


def describe(results, metric) -> str:
    values = [metric(r) for r in results]
    return f"{st.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def one_run(path: Path, seed: int):
    records, labels = load_labelled_csv(path)
    return simulate_screening(records, labels, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("ICI_ATLAS_SHARED_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data"))
    parser.add_argument("--shared-data", default=default)
    parser.add_argument("--seeds", type=int, default=100, help="Active-learning seeds per set (default 100).")
    parser.add_argument("--jobs", type=int, default=1, help="Worker processes (default 1).")
    args = parser.parse_args()
    base = Path(args.shared_data) / "pubmed" / "asreview__synergy-dataset"
    runs = {}
    with ProcessPoolExecutor(args.jobs) as pool:
        for name in SETS:
            runs[name] = list(pool.map(partial(one_run, base / name / f"{name}_records.csv"), range(args.seeds)))

    print("| set | records | included | order | WSS@95 | recall@10% | recall@25% |")
    print("|---|---|---|---|---|---|---|")
    for name in SETS:
        _, labels = load_labelled_csv(base / name / f"{name}_records.csv")
        rand = [simulate_random(labels, seed=s) for s in range(100)]
        for label, results in ((f"active learning ({args.seeds} seeds)", runs[name]), ("random (100 seeds)", rand)):
            print(f"| {name} | {len(labels)} | {sum(labels)} | {label} | {describe(results, lambda r: r.wss(0.95))} | "
                  f"{describe(results, lambda r: r.recall_at(0.10))} | {describe(results, lambda r: r.recall_at(0.25))} |")

    print()
    print(f"Stopping rule: target recall {TARGET_RECALL}, alpha {ALPHA}, checked after every decision.")
    print("| set | seeds | stopped with recall >= target | recall at stop, mean (min) | "
          "screened at stop, mean | work saved at stop, mean (min-max) |")
    print("|---|---|---|---|---|---|")
    for name in SETS:
        results = runs[name]
        ok = sum(r.stop_recall() >= TARGET_RECALL for r in results)
        recalls = [r.stop_recall() for r in results]
        saved = [r.stop_work_saved() for r in results]
        print(f"| {name} | {len(results)} | {ok}/{len(results)} ({ok / len(results):.0%}) | "
              f"{st.mean(recalls):.3f} ({min(recalls):.3f}) | {st.mean(r.stop_screened for r in results):.0f} "
              f"of {results[0].n_records} | {st.mean(saved):.3f} ({min(saved):.3f}-{max(saved):.3f}) |")


if __name__ == "__main__":
    main()
