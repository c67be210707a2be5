"""Measure the cross-registry grouping of ici_atlas.concepts.registrations.

Labels: the ``cross_registrations`` column of the EBM DataLab COVID-19 TrialsTracker list
``trial_list_2020-12-16.csv`` (IDs of other registrations of the row's trial, curated by
hand in the tracker's ``manual_data.xlsx`` sheet "cross registrations"). Every row's
trialid + its cross-registration IDs are one trial; label pairs are all pairs inside one
trial (after joining rows that share an ID).

* tune:   ICTRP export of 7 July 2020 (``COVID19-web_7Jul2020.xlsx`` from the tracker
          repository), registrations whose ID is NOT in the April file -> choose the threshold
* report: ICTRP CSV export ``COVID19-1135-trials.csv`` (April 2020, shared data)

Pairs are counted between registrations of the file (both IDs present). Usage:
    .venv/bin/python validation/registries/measure_dedup.py [--threshold T]
"""

from __future__ import annotations

import argparse
import io
import itertools
import re
import sys
import time
import os
from pathlib import Path

import pandas as pd

from ici_atlas.concepts.registrations import ACCEPT_THRESHOLD, group_registrations
from ici_atlas.sources.registries.ictrp import read_ictrp_csv
from ici_atlas.sources.registries.model import Registration, classify_id

SHARED = Path(os.environ.get("ICI_ATLAS_SHARED_DATA", "../shared/data")) / "registries/ebmdatalab+covid_trials_tracker-covid/notebooks"
APRIL = SHARED / "archived_raw_data/COVID19-1135-trials.csv"
LABELS = SHARED / "processed_data_sets/trial_list_2020-12-16.csv"
#: The tuning file is not in the shared data (see docs/registries.md): pass its path.
JULY = Path(os.environ.get("ICI_ATLAS_ICTRP_JULY_2020", "COVID19-web_7Jul2020.xlsx"))


def node(text: str) -> str | None:
    found = classify_id(str(text).strip())
    return f"{found[0]}:{found[1]}" if found else None


def label_groups() -> tuple[list[set[str]], set[str], int]:
    df = pd.read_csv(LABELS, dtype=str)
    groups: list[set[str]] = []
    unparsed = 0
    for tid, cross in zip(df.trialid, df.cross_registrations):
        if not isinstance(cross, str) or cross.strip() in ("", "None"):
            continue
        ids = [tid] + [x for x in re.split(r"[;,]\s*", cross) if x.strip()]
        nodes = {node(x) for x in ids}
        unparsed += sum(1 for x in ids if node(x) is None)
        groups.append({n for n in nodes if n})
    # join rows sharing an ID
    merged: list[set[str]] = []
    for g in groups:
        hits = [m for m in merged if m & g]
        for h in hits:
            merged.remove(h)
            g = g | h
        merged.append(g)
    listed = {node(t) for t in df.trialid}
    return merged, {n for n in listed if n}, unparsed


def label_pairs(groups, present: set[str]) -> set[frozenset]:
    out = set()
    for g in groups:
        inside = sorted(g & present)
        out.update(frozenset(p) for p in itertools.combinations(inside, 2))
    return out


def regs_from_csv_bytes(ref: str, data: bytes) -> list[Registration]:
    return [r for r in read_ictrp_csv(ref, data) if isinstance(r, Registration)]


def evaluate(regs, groups, threshold):
    g = group_registrations(regs, threshold=threshold)
    present = {r.key for r in regs}
    labels = label_pairs(groups, present)
    pred = g.pairs()
    tp = pred & labels
    p = len(tp) / len(pred) if pred else float("nan")
    r = len(tp) / len(labels) if labels else float("nan")
    return g, labels, pred, tp, p, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=None)
    args = ap.parse_args()
    groups, listed, unparsed = label_groups()
    print(f"label groups: {len(groups)} trials with cross-registrations "
          f"({sum(len(g) for g in groups)} IDs; {unparsed} IDs not recognised)")

    april = regs_from_csv_bytes(APRIL.name, APRIL.read_bytes())
    april_ids = {r.key for r in april}
    july_all = tune = []
    if JULY.exists():
        xl = pd.read_excel(JULY, dtype=str)
        buf = io.StringIO()
        xl.to_csv(buf, index=False)
        july_all = regs_from_csv_bytes(JULY.name, buf.getvalue().encode())
        tune = [r for r in july_all if r.key not in april_ids]
        print(f"tune set: {len(tune)} registrations of {len(july_all)} in the July export "
              f"(those not in the April file); report set: {len(april)} registrations")
    else:
        print(f"tuning file {JULY} not found (not in the shared data; set "
              "ICI_ATLAS_ICTRP_JULY_2020): tuning skipped, report only")

    if tune:
        print("\n# tuning (July minus April): threshold, pairs predicted, TP, label pairs, P, R, F1")
    best = None
    for t in ([x / 100 for x in range(50, 96, 5)] if tune else []):
        _, labels, pred, tp, p, r = evaluate(tune, groups, t)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        print(f"  {t:.2f}  {len(pred):4d}  {len(tp):3d}  {len(labels):3d}  P={p:.3f}  R={r:.3f}  F1={f1:.3f}")
        if best is None or f1 > best[1] + 1e-9:
            best = (t, f1)
    if best:
        print(f"best F1 on the tuning set at threshold {best[0]:.2f}; "
              f"code default ACCEPT_THRESHOLD = {ACCEPT_THRESHOLD}")

    threshold = args.threshold if args.threshold is not None else ACCEPT_THRESHOLD
    print(f"\n# report: April CSV (COVID19-1135-trials.csv), threshold {threshold}")
    t0 = time.time()
    g, labels, pred, tp, p, r = evaluate(april, groups, threshold)
    print(f"  grouping took {time.time() - t0:.2f}s")
    print(f"  label pairs with both IDs in the file: {len(labels)}")
    print(f"  predicted pairs: {len(pred)}; true positives: {len(tp)}")
    print(f"  precision {len(tp)}/{len(pred)} = {p:.3f}; recall {len(tp)}/{len(labels)} = {r:.3f}")
    print("  missed label pairs:")
    for pair in sorted(map(sorted, labels - pred)):
        a, b = pair
        cands = [c for c in g.candidates() if {c.left_id, c.right_id} ==
                 {x.split(":", 1)[1] if not x.startswith(("EUCTR", "CTIS")) else x.replace(":", "")
                  for x in pair}]
        print(f"    {a} ~ {b}   best candidate score: "
              f"{cands[0].score if cands else 'not scored (below floor or not in top-k)'}")
    print("  predicted pairs not in the labels:")
    for pair in sorted(map(sorted, pred - labels)):
        a, b = pair
        both_listed = a in listed and b in listed
        note = ("both listed as separate trials in the tracker list" if both_listed
                else "not both in the tracker list")
        cand = [c for c in g.candidates(accepted=True)
                if {g.registrations[c.left].key, g.registrations[c.right].key} == {a, b}]
        comp = cand[0].components if cand else {}
        print(f"    {a} ~ {b}  score {cand[0].score if cand else '?'} {comp}  ({note})")

    if july_all:
        print("\n# report on the whole July export (overlaps the tuning set; for scale only)")
        _, labels, pred, tp, p, r = evaluate(july_all, groups, threshold)
        print(f"  label pairs {len(labels)}, predicted {len(pred)}, TP {len(tp)}, "
              f"P={p:.3f}, R={r:.3f}")


if __name__ == "__main__":
    sys.exit(main())
