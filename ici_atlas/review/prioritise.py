"""Active-learning prioritisation for title/abstract screening.

The model is deliberately simple and well studied: TF-IDF features of title + abstract and a
logistic-regression classifier with balanced class weights, retrained as labels arrive
(the default model family of ASReview; van de Schoot et al., Nat Mach Intell 2021,
doi:10.1038/s42256-020-00287-7). Records are ranked by the predicted probability of inclusion.
Until at least one included and one excluded record are labelled, the order is random
(seeded) — the same "prior knowledge" start that screening tools use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class ScreeningText:
    """The text a screener reads: title and abstract."""

    title: str
    abstract: str

    @property
    def text(self) -> str:
        return f"{self.title or ''} {self.abstract or ''}".strip()


class Prioritiser:
    """Ranks unlabelled records; call :meth:`fit` with the labels known so far."""

    def __init__(self, records: Sequence[ScreeningText], seed: int = 0):
        from sklearn.feature_extraction.text import TfidfVectorizer  # heavy: imported on use

        self.n = len(records)
        self.rng = np.random.default_rng(seed)
        self.vectoriser = TfidfVectorizer(
            sublinear_tf=True, min_df=1, max_df=0.95, ngram_range=(1, 2), stop_words="english"
        )
        texts = [r.text for r in records]
        self.features = self.vectoriser.fit_transform(texts) if any(texts) else None
        self.random_order = self.rng.permutation(self.n)
        self.model = None  # a fitted sklearn LogisticRegression once both classes are labelled

    def fit(self, labelled_idx: Sequence[int], labels: Sequence[int]) -> None:
        y = np.asarray(labels)
        if self.features is None or len(set(y.tolist())) < 2:
            self.model = None
            return
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(class_weight="balanced", C=1.0, solver="liblinear", max_iter=1000)
        model.fit(self.features[np.asarray(labelled_idx)], y)
        self.model = model

    def rank(self, unlabelled_idx: Sequence[int]) -> list[int]:
        """Unlabelled record indices, most likely relevant first (ties: seeded random order)."""
        idx = np.asarray(list(unlabelled_idx), dtype=int)
        if len(idx) == 0:
            return []
        if self.model is None:
            position = np.argsort(self.random_order)
            return idx[np.argsort(position[idx], kind="stable")].tolist()
        proba = self.model.predict_proba(self.features[idx])[:, 1]
        tiebreak = np.argsort(self.random_order)[idx]
        order = np.lexsort((tiebreak, -proba))
        return idx[order].tolist()
