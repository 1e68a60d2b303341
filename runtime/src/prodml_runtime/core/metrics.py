"""Offline metrics per problem type (pure functions of labels and predictions)."""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from .schema import Schema

#: The metric that picks the champion and gates promotion, per problem type.
PRIMARY_METRIC = {
    "binary_classification": "roc_auc",
    "multiclass_classification": "roc_auc_macro",
    "regression": "rmse",
}
#: Losses and errors: every other metric is better when higher.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae"})


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def primary_metric(schema: Schema) -> tuple[str, bool]:
    """The metric used to pick and gate models, and whether higher is better."""
    name = PRIMARY_METRIC[schema.problem_type]
    return name, higher_is_better(name)


Metrics = dict[str, float]
#: Metric name -> how to compute it, evaluated only when asked for.
Thunks = dict[str, Callable[[], float]]


def _pick(thunks: Thunks, names: Collection[str] | None) -> Metrics:
    return {name: float(f()) for name, f in thunks.items() if names is None or name in names}


def binary_metrics(
    y_true: pd.Series, proba: np.ndarray, positive: str, names: Collection[str] | None = None
) -> Metrics:
    """ROC-AUC, PR-AUC (average precision), F1, balanced accuracy, log-loss, Brier score.

    ``proba`` is the probability of ``positive``; labels are predicted at 0.5. ``names``
    restricts the result to those metrics (all by default); the same holds below.
    """
    is_positive = np.asarray(y_true == positive)
    predicted = proba >= 0.5
    thunks: Thunks = {
        "roc_auc": lambda: roc_auc_score(is_positive, proba),
        "pr_auc": lambda: average_precision_score(is_positive, proba),
        "f1": lambda: f1_score(is_positive, predicted),
        "balanced_accuracy": lambda: balanced_accuracy_score(is_positive, predicted),
        "log_loss": lambda: log_loss(is_positive, proba, labels=[False, True]),
        "brier": lambda: brier_score_loss(is_positive, proba),
    }
    return _pick(thunks, names)


def multiclass_metrics(
    y_true: pd.Series,
    proba: np.ndarray,
    classes: list[str],
    names: Collection[str] | None = None,
) -> Metrics:
    """One-vs-rest ROC-AUC and F1 (macro and weighted), balanced accuracy, log-loss.

    ``proba`` has one column per entry of ``classes``, in that order.
    """
    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    order = np.argsort(classes)  # sklearn's ROC-AUC wants the labels sorted
    proba, labels = proba[:, order], sorted(classes)

    def roc_auc(average: str) -> float:
        score: float = roc_auc_score(
            y_true, proba, multi_class="ovr", average=average, labels=labels
        )
        return score

    thunks: Thunks = {
        "roc_auc_macro": lambda: roc_auc("macro"),
        "roc_auc_weighted": lambda: roc_auc("weighted"),
        "f1_macro": lambda: f1_score(y_true, predicted, average="macro", labels=labels),
        "f1_weighted": lambda: f1_score(y_true, predicted, average="weighted", labels=labels),
        "balanced_accuracy": lambda: balanced_accuracy_score(y_true, predicted),
        "log_loss": lambda: log_loss(y_true, proba, labels=labels),
    }
    return _pick(thunks, names)


def regression_metrics(
    y_true: pd.Series, predicted: np.ndarray, names: Collection[str] | None = None
) -> Metrics:
    """RMSE, MAE and R²."""
    thunks: Thunks = {
        "rmse": lambda: np.sqrt(mean_squared_error(y_true, predicted)),
        "mae": lambda: mean_absolute_error(y_true, predicted),
        "r2": lambda: r2_score(y_true, predicted),
    }
    return _pick(thunks, names)


def model_metrics(
    schema: Schema,
    model: BaseEstimator,
    features: pd.DataFrame,
    y_true: pd.Series,
    names: Collection[str] | None = None,
) -> Metrics:
    """The metrics (all, or ``names``) of a fitted ``model`` on one labelled dataset."""
    if not schema.is_classification:
        return regression_metrics(y_true, model.predict(features), names)
    proba = model.predict_proba(features)
    classes = [str(c) for c in model.classes_]
    if schema.problem_type == "binary_classification":
        positive = schema.classes[-1]
        return binary_metrics(y_true, proba[:, classes.index(positive)], positive, names)
    return multiclass_metrics(y_true, proba, classes, names)


def lift(candidate: Metrics, reference: Metrics) -> Metrics:
    """How much ``candidate`` beats ``reference`` on each metric (positive = better)."""
    return {
        name: (value - reference[name]) * (1.0 if higher_is_better(name) else -1.0)
        for name, value in candidate.items()
        if name in reference
    }
