"""Replay a labelled screening set through the prioritiser: recall curve, WSS@95, and where
the stopping rule would have stopped.

Protocol (the same in ``ici-atlas lit simulate`` and ``bench/bench_screening.py``): the
screener starts from one random included and one random excluded record (seeded; both
count as screened), then takes the top-ranked record, the model refitted after every
decision. Work saved over sampling at recall R (Cohen et al., JAMIA 2006,
doi:10.1197/jamia.M1929): ``WSS@R = (N - n_R) / N - (1 - R)``, where ``n_R`` is the number of
records screened when the fraction R of the included records has been found.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from .prioritise import Prioritiser, ScreeningText
from .stopping import ALPHA, RULE, TARGET_RECALL, p_value

REQUIRED_COLUMNS = ("title", "abstract", "label_included")


@dataclass
class SimulationResult:
    n_records: int
    n_included: int
    order: list[int]  # screening order (record indices)
    found: list[int] = field(default_factory=list)  # cumulative included after each record
    n_start: int = 0  # records given before the model ranks (counted as screened)
    seconds_per_decision: float | None = None  # model refit + ranking, per decision
    stop_screened: int | None = None  # records screened when the stopping rule said stop
    target_recall: float = TARGET_RECALL
    alpha: float = ALPHA

    def screened_at_recall(self, recall: float) -> int:
        target = math.ceil(recall * self.n_included)
        for i, hits in enumerate(self.found, start=1):
            if hits >= target:
                return i
        return self.n_records

    def wss(self, recall: float = 0.95) -> float:
        return (self.n_records - self.screened_at_recall(recall)) / self.n_records - (1 - recall)

    def recall_at(self, fraction: float) -> float:
        n = max(1, int(round(fraction * self.n_records)))
        return self.found[n - 1] / self.n_included if self.n_included else float("nan")

    def stop_recall(self) -> float | None:
        """Recall when the stopping rule said stop."""
        if self.stop_screened is None or not self.n_included:
            return None
        return self.found[self.stop_screened - 1] / self.n_included

    def stop_work_saved(self) -> float | None:
        """Share of the records left unscreened when the stopping rule said stop."""
        if self.stop_screened is None:
            return None
        return (self.n_records - self.stop_screened) / self.n_records

    def summary(self) -> dict:
        def rounded(x):
            return None if x is None else round(x, 4)

        return {
            "n_records": self.n_records,
            "n_included": self.n_included,
            "wss95": round(self.wss(0.95), 4),
            "recall_at_10pct": round(self.recall_at(0.10), 4),
            "recall_at_25pct": round(self.recall_at(0.25), 4),
            "screened_at_95pct_recall": self.screened_at_recall(0.95),
            "start_records": self.order[: self.n_start],
            "seconds_per_decision": (None if self.seconds_per_decision is None
                                     else round(self.seconds_per_decision, 5)),
            "stop_rule": f"{RULE}, target recall {self.target_recall:g}, alpha {self.alpha:g}",
            "stop_screened": self.stop_screened,
            "stop_recall": rounded(self.stop_recall()),
            "stop_work_saved": rounded(self.stop_work_saved()),
        }

    def curve(self, points: int = 20) -> list[dict]:
        """Recall after screening each 1/points of the records."""
        rows = []
        for j in range(1, points + 1):
            frac = j / points
            rows.append({"screened_fraction": round(frac, 4), "recall": round(self.recall_at(frac), 4)})
        return rows


def load_labelled_csv(path: str | Path) -> tuple[list[ScreeningText], list[int]]:
    """Read a labelled set (SYNERGY layout: title, abstract, label_included)."""
    from ..sources.bibfiles import read_text  # UTF-8 (BOM) or UTF-16; binary and bad bytes refused

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Labels file {str(path)!r} not found", fix="Pass a CSV with title, abstract, label_included.")
    text = read_text(path)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                f"Labels file {path.name!r} lacks column(s) {missing}; found {reader.fieldnames}",
                fix="The CSV needs columns title, abstract, label_included (0/1).",
            )
        records, labels = [], []
        for line, row in enumerate(reader, start=2):
            value = (row["label_included"] or "").strip()
            if value not in ("0", "1"):
                raise InputError(
                    f"{path.name} line {line}: label_included {value!r} is not 0 or 1",
                    fix="Label every record 0 (excluded) or 1 (included).",
                )
            records.append(ScreeningText(row["title"] or "", row["abstract"] or ""))
            labels.append(int(value))
    except csv.Error as exc:
        raise InputError(f"{path.name} line {reader.line_num}: not readable as CSV ({exc})",
                         fix="Export the labelled set again as CSV (comma-separated, quoted).") from None
    if not records:
        raise InputError(f"Labels file {path.name!r} has no records", fix="Pass a non-empty labelled CSV.")
    return records, labels


def start_records(labels: Sequence[int], seed: int = 0) -> list[int]:
    """The simulation's prior knowledge: one random included and one random excluded record
    (seeded). A set with only one class starts from one random record of it."""
    y = np.asarray(labels, dtype=int)
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(y == 1), np.flatnonzero(y == 0)]
    return [int(rng.choice(idx)) for idx in classes if len(idx)]


def simulate_screening(
    records: Sequence[ScreeningText],
    labels: Sequence[int],
    seed: int = 0,
    batch_size: int = 1,
    start: Sequence[int] | None = None,
    target_recall: float = TARGET_RECALL,
    alpha: float = ALPHA,
    full_order: bool = False,
) -> SimulationResult:
    """Screen in the prioritiser's order from ``start`` (default: :func:`start_records`),
    refitting every ``batch_size`` decisions, and note where the stopping rule stops.

    Once every included record is found and the stopping rule has said stop, no metric can
    change any more: the remaining records are appended in the last ranking unless
    ``full_order`` asks for the model to keep choosing one by one to the end."""
    y = np.asarray(labels, dtype=int)
    n, total = len(y), int(y.sum())
    first = list(start_records(y, seed) if start is None else start)
    order = list(first)
    model = Prioritiser(records, seed=seed)
    remaining = np.ones(n, dtype=bool)
    remaining[order] = False
    found = int(y[order].sum())
    stop = next((k for k in range(1, len(order) + 1)
                 if p_value(y[order[:k]], n, target_recall) < alpha), None)
    model_seconds, model_decisions = 0.0, 0
    while remaining.any():
        settled = not full_order and found == total and stop is not None
        tick = time.perf_counter()
        model.fit(order, y[order].tolist())
        ranked = model.rank(np.flatnonzero(remaining))
        if settled:
            order.extend(ranked)
            break
        model_seconds += time.perf_counter() - tick
        step = ranked[:batch_size] if model.model is not None else ranked[:1]
        model_decisions += len(step)
        for idx in step:
            order.append(idx)
            remaining[idx] = False
            found += int(y[idx])
            if stop is None and p_value(y[order], n, target_recall) < alpha:
                stop = len(order)
    return SimulationResult(
        n_records=n, n_included=total, order=order, found=np.cumsum(y[order]).tolist(),
        n_start=len(first),
        seconds_per_decision=model_seconds / model_decisions if model_decisions else None,
        stop_screened=stop if stop is not None else n, target_recall=target_recall, alpha=alpha,
    )


def simulate_random(labels: Sequence[int], seed: int = 0) -> SimulationResult:
    """The baseline: screening in a random order (same seed → same order)."""
    y = np.asarray(labels, dtype=int)
    order = np.random.default_rng(seed).permutation(len(y)).tolist()
    return SimulationResult(len(y), int(y.sum()), order, np.cumsum(y[order]).tolist())


#: Columns of :func:`screening_simulation` (the keys of ``lit simulate --json`` plus the seed).
SIMULATION_TABLE = {
    "seed": "int", "n_records": "int", "n_included": "int", "wss95": "float",
    "recall_at_10pct": "float", "recall_at_25pct": "float", "screened_at_95pct_recall": "int",
    "start_records": "list", "seconds_per_decision": "float", "stop_rule": "str",
    "stop_screened": "int", "stop_recall": "float", "stop_work_saved": "float",
}


def screening_simulation(data, title: str = "title", abstract: str = "abstract",
                         label: str = "label_included", seeds: int | Sequence[int] = 1,
                         target_recall: float = TARGET_RECALL, alpha: float = ALPHA):
    """Replay a labelled set (a pandas DataFrame, or the path of a CSV in the SYNERGY layout)
    through the prioritiser, once per seed, with the protocol of ``lit simulate``: one row per
    seed with WSS@95, recall after 10% / 25% screened, seconds per decision and where the
    stopping rule stopped (recall and work saved there)."""
    import pandas as pd

    from ..tables import frame

    if isinstance(data, (str, Path)):
        records, labels = load_labelled_csv(data)
    else:
        missing = [c for c in (title, abstract, label) if c not in data.columns]
        if missing:
            raise InputError(f"Columns {missing} not in the data frame; it has {list(data.columns)}",
                             fix="Name the columns with title=, abstract=, label=.")
        values = pd.to_numeric(data[label], errors="coerce")
        bad = data.index[~values.isin([0, 1])]
        if len(bad):
            raise InputError(f"Row {bad[0]!r}: {label} {data.loc[bad[0], label]!r} is not 0 or 1",
                             fix="Label every record 0 (excluded) or 1 (included).")
        records = [ScreeningText(str(t) if pd.notna(t) else "", str(a) if pd.notna(a) else "")
                   for t, a in zip(data[title], data[abstract])]
        labels = values.astype(int).tolist()
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    rows = [{"seed": seed, **simulate_screening(records, labels, seed=seed, target_recall=target_recall,
                                                alpha=alpha).summary()} for seed in seed_list]
    return frame(rows, SIMULATION_TABLE)
