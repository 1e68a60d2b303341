"""Leak check of schema inference: a column that alone predicts the target almost perfectly is
most likely the target in disguise (hours awake next to hours asleep, a status written after
the outcome), and is left out of the model until its owner says it is known at prediction time.

Each feature is scored on its own, on a sample of the labelled rows, by a model of that column
only fitted on one half of the sample and scored on the other (then the other way round): a
small decision tree for a number or a date, the class (or mean) of each value for a category
or a boolean; a missing value is a value too (a date filled in only after the outcome). The
score is the balanced accuracy for classes (a majority class alone does not
score high), R^2 for a number; a numeric column's squared correlation counts for a number too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: A column scoring at least this alone is taken for a leak.
LEAK_SCORE = 0.98
#: At most this many labelled rows are scored (a sample drawn once): fast on a million rows.
LEAK_ROWS = 20_000
#: Fewer labelled rows than this say nothing.
MIN_ROWS = 20
#: What a missing category is, to the check.
MISSING = "(missing)"


@dataclass(frozen=True)
class Sample:
    """The rows the check scores on (positions in the frame) and the target on them."""

    rows: np.ndarray
    target: pd.Series
    classification: bool

    @classmethod
    def of(cls, target: pd.Series, classification: bool, seed: int = 0) -> Sample:
        """Up to ``LEAK_ROWS`` rows where ``target`` (as read) is present."""
        labelled = np.flatnonzero(target.notna().to_numpy())
        if len(labelled) > LEAK_ROWS:
            labelled = np.sort(np.random.default_rng(seed).choice(labelled, LEAK_ROWS, False))
        return cls(labelled, target.iloc[labelled].reset_index(drop=True), classification)

    @property
    def measure(self) -> str:
        return "balanced accuracy" if self.classification else "R^2"


def _per_value(x: pd.Series, y: pd.Series, test: pd.Series, classification: bool) -> np.ndarray:
    """Each test value's class (most frequent) or mean in training; unseen values get the
    overall one."""
    grouped = y.groupby(x.to_numpy(), sort=False)
    table = grouped.agg(lambda v: v.value_counts().index[0]) if classification else grouped.mean()
    overall = y.value_counts().index[0] if classification else y.mean()
    predicted: np.ndarray = test.map(table).fillna(overall).to_numpy()
    return predicted


def _tree(x: pd.Series, y: pd.Series, test: pd.Series, classification: bool) -> np.ndarray:
    """A small tree's prediction from the number alone."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    leaf = max(5, len(x) // 200)
    if classification:
        leaves = max(4, 2 * y.nunique())  # a threshold per class, not an interleaving
        model: DecisionTreeClassifier | DecisionTreeRegressor = DecisionTreeClassifier(
            max_leaf_nodes=leaves, min_samples_leaf=leaf, random_state=0
        )
    else:
        model = DecisionTreeRegressor(max_leaf_nodes=32, min_samples_leaf=leaf, random_state=0)
    model.fit(x.to_numpy(dtype=float).reshape(-1, 1), y.to_numpy())
    predicted: np.ndarray = model.predict(test.to_numpy(dtype=float).reshape(-1, 1))
    return predicted


def _score(y: pd.Series, predicted: np.ndarray, classification: bool) -> float:
    if classification:
        recalls = [np.mean(predicted[(y == c).to_numpy()] == c) for c in y.unique()]
        return float(np.mean(recalls))
    truth = y.to_numpy(dtype=float)
    spread = float(np.sum((truth - truth.mean()) ** 2))
    return 1.0 - float(np.sum((truth - predicted.astype(float)) ** 2)) / spread if spread else 0.0


def single_feature_score(values: pd.Series, sample: Sample, categorical: bool) -> float:
    """How well a column alone predicts the target on held-out halves of ``sample``: its
    ``values`` on the sample's rows, read (numbers, or categories when ``categorical``)."""
    x, y = values.reset_index(drop=True), sample.target
    if x.isna().any():
        if categorical:
            x = x.astype(object).where(x.notna(), MISSING)
        else:  # below every number: a tree splits it off as it would a small value
            present = x.dropna()
            low, high = (float(present.min()), float(present.max())) if len(present) else (0, 0)
            x = x.fillna(low - (high - low) - 1.0)
    if len(x) < MIN_ROWS or x.nunique() < 2:
        return 0.0
    half = np.random.default_rng(1).permutation(len(x)) % 2 == 0
    predicted = np.empty(len(x), dtype=object if sample.classification else float)
    fit = _per_value if categorical else _tree
    for train in (half, ~half):
        predicted[~train] = fit(x[train], y[train], x[~train], sample.classification)
    score = _score(y, predicted, sample.classification)
    if not sample.classification and not categorical:
        correlation = np.corrcoef(x.to_numpy(dtype=float), y.to_numpy(dtype=float))[0, 1]
        score = max(score, float(np.nan_to_num(correlation) ** 2))
    return score
