"""Active-learning prioritisation for title/abstract screening.

Features: TF-IDF of the words and two-word terms of title + abstract (sublinear tf, terms in
more than 95% of records dropped, no stop-word list), computed once for the whole pool;
only the classifiers are refitted after each decision.

Model: two linear SVMs with balanced class weights (C = 0.3), their scores combined by
averaging ranks, records shown most likely relevant first:

* one trained on the labelled records only;
* one trained on the labelled records plus 50 random unlabelled records presumed
  excluded. With few labels the first model cannot tell what an ordinary, irrelevant
  record looks like; the presumed exclusions (right most of the time, inclusions being
  rare) show it. The idea is AutoTAR's random sample temporarily labelled non-relevant
  (Cormack & Grossman 2015, "Autonomy and Reliability of Continuous Active Learning for
  Technology-Assisted Review", arXiv:1504.06868; AutoTAR uses 100). They are drawn afresh at every refit from a generator seeded with (seed, number of
  labelled records), so the ranking is a function of the seed and the labels so far.

Until at least one included and one excluded record are labelled, the order is random
(seeded). Measured against ASReview's default model (ELAS u4) with
``bench/bench_screening.py``; numbers in docs/literature.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

C = 0.3  # SVM regularisation
PRESUMED_EXCLUDED = 50  # random unlabelled records added as exclusions to the second model


@dataclass(frozen=True)
class ScreeningText:
    """The text a screener reads: title and abstract."""

    title: str
    abstract: str

    @property
    def text(self) -> str:
        return f"{self.title or ''} {self.abstract or ''}".strip()


def _balanced_svm(features, y: np.ndarray, seed: int):
    from sklearn.svm import LinearSVC  # heavy: imported on use

    n_pos = int(y.sum())
    weights = {0: 1.0, 1: (len(y) - n_pos) / n_pos}
    return LinearSVC(C=C, class_weight=weights, random_state=seed).fit(features, y)


def _ranks(scores: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(scores, kind="stable"), kind="stable").astype(float)


class _Ensemble:
    """The fitted pair: labelled-only and labelled + presumed excluded."""

    def __init__(self, models):
        self.models = models

    def score(self, features, rows: np.ndarray) -> np.ndarray:
        """Scores of ``rows`` of ``features``: each model's decision values over the whole
        matrix (cheaper than copying the rows out first), ranked within ``rows``, averaged."""
        return np.mean([_ranks(m.decision_function(features)[rows]) for m in self.models], axis=0)


class Prioritiser:
    """Ranks unlabelled records; call :meth:`fit` with the labels known so far."""

    def __init__(self, records: Sequence[ScreeningText], seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer  # heavy: imported on use

        self.n = len(records)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        texts = [r.text for r in records]
        vectoriser = TfidfVectorizer(sublinear_tf=True, min_df=1, max_df=0.95, ngram_range=(1, 2))
        try:
            self.features = vectoriser.fit_transform(texts).tocsr() if any(texts) else None
        except ValueError:  # no term left (e.g. two records whose every word is in both)
            self.features = None  # nothing to learn from: the seeded random order
        self.random_order = self.rng.permutation(self.n)
        self.model: _Ensemble | None = None  # fitted once both classes are labelled

    def fit(self, labelled_idx: Sequence[int], labels: Sequence[int]) -> None:
        idx = np.asarray(labelled_idx, dtype=int)
        y = np.asarray(labels, dtype=int)
        if self.features is None or len(set(y.tolist())) < 2:
            self.model = None
            return
        plain = _balanced_svm(self.features[idx], y, self.seed)
        unlabelled = np.setdiff1d(np.arange(self.n), idx)
        draw = np.random.default_rng([self.seed, len(idx)])
        presumed = draw.choice(unlabelled, min(PRESUMED_EXCLUDED, len(unlabelled)), replace=False)
        if len(presumed):
            aug_idx = np.concatenate([idx, presumed])
            aug_y = np.concatenate([y, np.zeros(len(presumed), dtype=int)])
            self.model = _Ensemble([plain, _balanced_svm(self.features[aug_idx], aug_y, self.seed)])
        else:
            self.model = _Ensemble([plain])

    def rank(self, unlabelled_idx: Sequence[int]) -> list[int]:
        """Unlabelled record indices, most likely relevant first (ties: seeded random order)."""
        idx = np.asarray(list(unlabelled_idx), dtype=int)
        if len(idx) == 0:
            return []
        tiebreak = np.argsort(self.random_order)[idx]
        if self.model is None:
            return idx[np.argsort(tiebreak, kind="stable")].tolist()
        score = self.model.score(self.features, idx)
        return idx[np.lexsort((tiebreak, -score))].tolist()
