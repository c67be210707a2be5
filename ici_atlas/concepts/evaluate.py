"""Measure the classifiers against hand-labelled records: ``python -m ici_atlas.concepts.evaluate``.

The labels (``tests/labels/trials_labelled.tsv``) name each record's file in the shared
ClinicalTrials.gov data folder; this module reads each record there, classifies it with
:func:`ici_atlas.concepts.trial.classify_study` and counts, per field, true positives,
false positives and false negatives over (trial, value) pairs:

* ``is_pd1_pdl1``, ``bispecific``, ``monotherapy_arm``: the value ``yes`` per trial;
* ``agents``, ``target_class``, ``partner_classes``, ``cancer_groups``: each listed value;
* ``phase``: the one phase string per trial (so precision = recall = accuracy).

Precision = TP / (TP + FP), recall = TP / (TP + FN).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ici_atlas import config
from ici_atlas.concepts.trial import classify_study
from ici_atlas.errors import InputError

FIELDS = ("is_pd1_pdl1", "agents", "target_class", "bispecific", "monotherapy_arm",
          "partner_classes", "cancer_groups", "phase")
FLAGS = ("is_pd1_pdl1", "bispecific", "monotherapy_arm")
LABEL_COLUMNS = ("nct_id", "source_file", *FIELDS, "labeller_note")
DEFAULT_LABELS = Path(__file__).resolve().parents[2] / "tests" / "labels" / "trials_labelled.tsv"


@dataclass
class FieldScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (nct, labelled, predicted)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_labels(path: str | Path = DEFAULT_LABELS) -> list[dict[str, str]]:
    """The labelled rows (dicts keyed by :data:`LABEL_COLUMNS`)."""
    path = Path(path)
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = cells
            missing = [c for c in LABEL_COLUMNS if c not in header]
            if missing:
                raise InputError(f"{path.name} header lacks {missing}",
                                 fix=f"use the columns {list(LABEL_COLUMNS)}")
            continue
        if len(cells) != len(header):
            raise InputError(f"{path.name} line {number}: {len(cells)} cells, expected {len(header)}",
                             fix="check the tabs on that line")
        rows.append(dict(zip(header, cells)))
    return rows


_FILES: dict[Path, object] = {}


def load_record(ctgov_root: Path, source_file: str, nct_id: str) -> dict:
    """The v2 study ``nct_id`` from ``source_file`` (a single study or a list of studies)."""
    path = ctgov_root / source_file
    if path not in _FILES:
        _FILES[path] = orjson.loads(path.read_bytes())
    data = _FILES[path]
    studies = data if isinstance(data, list) else (
        [data] if isinstance(data, dict) and "protocolSection" in data else data.get("studies", []))
    for study in studies:
        ident = study.get("protocolSection", {}).get("identificationModule", {})
        if ident.get("nctId") == nct_id:
            return study
    raise InputError(f"{nct_id} not found in {path}", fix="correct source_file in the labels")


def _values(name: str, text: str) -> set[str]:
    text = text.strip()
    if name in FLAGS:
        return {"yes"} if text == "yes" else set()
    if name == "phase":
        return {text or "NA"}
    return {v.strip() for v in text.split(";") if v.strip()}


def _predicted(trial: dict) -> dict[str, str]:
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    return {
        "is_pd1_pdl1": yes(trial["is_pd1_pdl1"]),
        "agents": ";".join(trial["agents"]),
        "target_class": ";".join(trial["target_class"]),
        "bispecific": yes(trial["bispecific"]),
        "monotherapy_arm": yes(trial["monotherapy_arm"]),
        "partner_classes": ";".join(trial["partner_classes"]),
        "cancer_groups": ";".join(trial["cancer_groups"]),
        "phase": trial["phases"] or "NA",
    }


def evaluate(labels: list[dict[str, str]], ctgov_root: str | Path) -> dict[str, FieldScore]:
    """Score every field of :data:`FIELDS` over the labelled records."""
    root = Path(ctgov_root)
    scores = {f: FieldScore() for f in FIELDS}
    for row in labels:
        record = load_record(root, row["source_file"], row["nct_id"])
        predicted = _predicted(classify_study(record).trial)
        for name in FIELDS:
            truth = _values(name, row[name])
            guess = _values(name, predicted[name])
            score = scores[name]
            score.tp += len(truth & guess)
            score.fp += len(guess - truth)
            score.fn += len(truth - guess)
            if truth != guess:
                score.errors.append((row["nct_id"], ";".join(sorted(truth)), ";".join(sorted(guess))))
    return scores


def render_table(scores: dict[str, FieldScore], n: int) -> str:
    lines = [f"{n} labelled records", "",
             "| field | TP | FP | FN | precision | recall |", "|---|---:|---:|---:|---:|---:|"]
    for name, s in scores.items():
        lines.append(f"| {name} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.3f} | {s.recall:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ici_atlas.concepts.evaluate",
                                     description="Precision/recall of the classifiers on the labelled set.")
    parser.add_argument("--labels", default=str(DEFAULT_LABELS))
    parser.add_argument("--ctgov", default=None,
                        help="shared ClinicalTrials.gov folder (default $ICI_ATLAS_SHARED_DATA/ctgov "
                             "or ../shared/data/ctgov)")
    parser.add_argument("--errors", action="store_true", help="also list every disagreement")
    args = parser.parse_args(argv)
    ctgov = Path(args.ctgov) if args.ctgov else _default_ctgov()
    labels = load_labels(args.labels)
    scores = evaluate(labels, ctgov)
    sys.stdout.write(render_table(scores, len(labels)))
    if args.errors:
        for name, s in scores.items():
            for nct, truth, guess in s.errors:
                sys.stdout.write(f"{name}\t{nct}\tlabel={truth}\tpredicted={guess}\n")
    return 0


def _default_ctgov() -> Path:
    import os
    env = os.environ.get(config.ENV_SHARED_DATA)
    base = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
    return base / "ctgov"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
