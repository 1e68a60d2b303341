"""Evaluation figures as PNG files, drawn on Agg canvases (no display, no pyplot state).

Classification: confusion matrix, ROC, precision-recall and calibration curves (one-vs-rest
per class for multiclass). Regression: predicted vs actual and residuals. All: permutation
importance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    PredictionErrorDisplay,
    RocCurveDisplay,
)
from sklearn.pipeline import Pipeline

from ..core.schema import Schema

Draw = Callable[[Axes], None]


def _save(directory: Path, name: str, title: str, draw: Draw) -> Path:
    figure = Figure(figsize=(6.0, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    draw(axes)
    axes.set_title(title)
    path = directory / f"{name}.png"
    figure.savefig(path, dpi=100)
    return path


def _one_vs_rest(
    y_true: pd.Series, proba: np.ndarray, classes: list[str], schema: Schema
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, is_class, probability) per curve: the positive class only for binary problems."""
    binary = schema.problem_type == "binary_classification"
    shown = schema.classes[-1:] if binary else schema.classes
    return [(c, np.asarray(y_true == c), proba[:, classes.index(c)]) for c in shown]


def _classification(
    directory: Path, schema: Schema, pipeline: Pipeline, x: pd.DataFrame, y: pd.Series
) -> dict[str, Path]:
    proba = pipeline.predict_proba(x)
    classes = [str(c) for c in pipeline.classes_]
    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    curves = _one_vs_rest(y, proba, classes, schema)

    def confusion(ax: Axes) -> None:
        ConfusionMatrixDisplay.from_predictions(
            y, predicted, labels=schema.classes, ax=ax, colorbar=False
        )

    def roc(ax: Axes) -> None:
        for label, truth, score in curves:
            RocCurveDisplay.from_predictions(truth, score, name=label, ax=ax)

    def precision_recall(ax: Axes) -> None:
        for label, truth, score in curves:
            PrecisionRecallDisplay.from_predictions(truth, score, name=label, ax=ax)

    def calibration(ax: Axes) -> None:
        for label, truth, score in curves:
            CalibrationDisplay.from_predictions(truth, score, n_bins=10, name=label, ax=ax)

    return {
        "confusion_matrix": _save(directory, "confusion_matrix", "Confusion matrix", confusion),
        "roc_curve": _save(directory, "roc_curve", "ROC curve (one vs rest)", roc),
        "pr_curve": _save(directory, "pr_curve", "Precision-recall curve", precision_recall),
        "calibration": _save(directory, "calibration", "Calibration curve", calibration),
    }


def _regression(
    directory: Path, pipeline: Pipeline, x: pd.DataFrame, y: pd.Series
) -> dict[str, Path]:
    predicted = pipeline.predict(x)

    def draw(kind: str) -> Draw:
        return lambda ax: PredictionErrorDisplay.from_predictions(
            y, predicted, kind=kind, random_state=0, ax=ax
        )

    return {
        "predicted_vs_actual": _save(
            directory, "predicted_vs_actual", "Predicted vs actual", draw("actual_vs_predicted")
        ),
        "residuals": _save(directory, "residuals", "Residuals", draw("residual_vs_predicted")),
    }


def _importance(directory: Path, importance: list[dict[str, Any]], metric: str) -> Path:
    rows = importance[::-1]  # largest at the top

    def draw(ax: Axes) -> None:
        ax.barh(
            [r["feature"] for r in rows], [r["mean"] for r in rows], xerr=[r["std"] for r in rows]
        )
        ax.axvline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel(f"drop in {metric} when shuffled")

    return _save(directory, "permutation_importance", "Permutation importance (test)", draw)


def write_figures(
    directory: Path,
    schema: Schema,
    pipeline: Pipeline,
    test: tuple[pd.DataFrame, pd.Series],
    importance: list[dict[str, Any]],
    metric: str,
) -> dict[str, Path]:
    """Draw every figure for the problem type into ``directory``; return name -> file."""
    directory.mkdir(parents=True, exist_ok=True)
    x, y = test
    if schema.is_classification:
        paths = _classification(directory, schema, pipeline, x, y)
    else:
        paths = _regression(directory, pipeline, x, y)
    paths["permutation_importance"] = _importance(directory, importance, metric)
    return paths
