"""Offline metrics per problem type (pure functions of labels and predictions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from .schema import Schema


def primary_metric(schema: Schema) -> tuple[str, bool]:
    """The metric used to pick and gate models, and whether higher is better."""
    return ("roc_auc", True) if schema.is_classification else ("rmse", False)


def classification_metrics(
    schema: Schema, y_true: pd.Series, proba: np.ndarray, classes: list[str]
) -> dict[str, float]:
    """ROC-AUC (one-vs-rest macro for multiclass), macro F1, balanced accuracy, log-loss."""
    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    if schema.problem_type == "binary_classification":
        positive = classes.index(schema.classes[-1])
        roc_auc = roc_auc_score(y_true == schema.classes[-1], proba[:, positive])
    else:
        roc_auc = roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
    return {
        "roc_auc": float(roc_auc),
        "f1_macro": float(f1_score(y_true, predicted, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, predicted)),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
    }


def regression_metrics(y_true: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R²."""
    return {
        "rmse": float(np.sqrt(mean_squared_error(y_true, predicted))),
        "mae": float(mean_absolute_error(y_true, predicted)),
        "r2": float(r2_score(y_true, predicted)),
    }


def evaluate(
    schema: Schema, model: Pipeline, features: pd.DataFrame, y_true: pd.Series
) -> dict[str, float]:
    """All metrics of ``model`` on one labelled dataset."""
    if schema.is_classification:
        classes = [str(c) for c in model.classes_]
        return classification_metrics(schema, y_true, model.predict_proba(features), classes)
    return regression_metrics(y_true, model.predict(features))


def improvement(schema: Schema, candidate: dict[str, float], baseline: dict[str, float]) -> float:
    """How much ``candidate`` beats ``baseline`` on the primary metric (positive = better)."""
    name, higher_is_better = primary_metric(schema)
    delta = candidate[name] - baseline[name]
    return delta if higher_is_better else -delta
