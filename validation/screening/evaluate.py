"""Evaluate screening prioritisation on the SYNERGY labelled sets (docs/literature.md).

    .venv/bin/python validation/screening/evaluate.py [--shared-data ../shared/data]

For each set: WSS@95 and recall after 10%/25% screened, mean (min-max) over 5 seeds of the
active-learning order, against 100 seeds of random order.
"""

from __future__ import annotations

import argparse
import os
import statistics as st
from pathlib import Path

from ici_atlas.review.simulate import load_labelled_csv, simulate_random, simulate_screening

SETS = ("Donners_2021", "Meijboom_2021", "Nelson_2002")


def describe(results, metric) -> str:
    values = [metric(r) for r in results]
    return f"{st.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = os.environ.get("ICI_ATLAS_SHARED_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data"))
    parser.add_argument("--shared-data", default=default)
    args = parser.parse_args()
    base = Path(args.shared_data) / "pubmed" / "asreview__synergy-dataset"
    print("| set | records | included | order | WSS@95 | recall@10% | recall@25% |")
    print("|---|---|---|---|---|---|---|")
    for name in SETS:
        records, labels = load_labelled_csv(base / name / f"{name}_records.csv")
        active = [simulate_screening(records, labels, seed=s) for s in range(5)]
        rand = [simulate_random(labels, seed=s) for s in range(100)]
        for label, runs in (("active learning (5 seeds)", active), ("random (100 seeds)", rand)):
            print(f"| {name} | {len(labels)} | {sum(labels)} | {label} | {describe(runs, lambda r: r.wss(0.95))} | "
                  f"{describe(runs, lambda r: r.recall_at(0.10))} | {describe(runs, lambda r: r.recall_at(0.25))} |")


if __name__ == "__main__":
    main()
