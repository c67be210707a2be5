"""Replay a labelled screening set through the prioritiser: recall curve and WSS@95.

Work saved over sampling at recall R (Cohen et al., JAMIA 2006, doi:10.1197/jamia.M1929):
``WSS@R = (N - n_R) / N - (1 - R)``, where ``n_R`` is the number of records screened
when the fraction R of the included records has been found.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from .prioritise import Prioritiser, ScreeningText

REQUIRED_COLUMNS = ("title", "abstract", "label_included")


@dataclass
class SimulationResult:
    n_records: int
    n_included: int
    order: list[int]  # screening order (record indices)
    found: list[int] = field(default_factory=list)  # cumulative included after each record

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

    def summary(self) -> dict:
        return {
            "n_records": self.n_records,
            "n_included": self.n_included,
            "wss95": round(self.wss(0.95), 4),
            "recall_at_10pct": round(self.recall_at(0.10), 4),
            "recall_at_25pct": round(self.recall_at(0.25), 4),
            "screened_at_95pct_recall": self.screened_at_recall(0.95),
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
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Labels file {str(path)!r} not found", fix="Pass a CSV with title, abstract, label_included.")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
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
    if not records:
        raise InputError(f"Labels file {path.name!r} has no records", fix="Pass a non-empty labelled CSV.")
    return records, labels


def simulate_screening(
    records: Sequence[ScreeningText], labels: Sequence[int], seed: int = 0, batch_size: int = 5
) -> SimulationResult:
    """Screen in the prioritiser's order, retraining every ``batch_size`` labels."""
    y = np.asarray(labels, dtype=int)
    model = Prioritiser(records, seed=seed)
    n = len(records)
    order: list[int] = []
    remaining = set(range(n))
    while remaining:
        model.fit(order, y[order].tolist()) if order else None
        ranked = model.rank(sorted(remaining))
        step = ranked[:batch_size] if model.model is not None else ranked[:1]
        for idx in step:
            order.append(idx)
            remaining.discard(idx)
    found = np.cumsum(y[order]).tolist()
    return SimulationResult(n_records=n, n_included=int(y.sum()), order=order, found=found)


def simulate_random(labels: Sequence[int], seed: int = 0) -> SimulationResult:
    """The baseline: screening in a random order (same seed → same order)."""
    y = np.asarray(labels, dtype=int)
    order = np.random.default_rng(seed).permutation(len(y)).tolist()
    return SimulationResult(len(y), int(y.sum()), order, np.cumsum(y[order]).tolist())
