"""Metrics per problem type, on hand-made predictions whose values are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.core.metrics import (
    binary_metrics,
    higher_is_better,
    lift,
    multiclass_metrics,
    primary_metric,
    regression_metrics,
)
from prodml_runtime.core.schema import Schema


def test_binary_metrics_of_a_perfect_and_an_uninformative_model() -> None:
    y = pd.Series(["no", "no", "no", "yes"], dtype=object)
    perfect = binary_metrics(y, np.array([0.1, 0.2, 0.3, 0.9]), positive="yes")
    assert set(perfect) == {"roc_auc", "pr_auc", "f1", "balanced_accuracy", "log_loss", "brier"}
    assert perfect["roc_auc"] == perfect["pr_auc"] == perfect["f1"] == 1.0
    assert perfect["balanced_accuracy"] == 1.0
    assert perfect["brier"] == pytest.approx((0.01 + 0.04 + 0.09 + 0.01) / 4)
    prior = binary_metrics(y, np.full(4, 0.25), positive="yes")
    assert prior["roc_auc"] == 0.5 and prior["f1"] == 0.0 and prior["balanced_accuracy"] == 0.5
    assert prior["log_loss"] > perfect["log_loss"]


def test_multiclass_metrics_average_one_vs_rest() -> None:
    classes = ["low", "medium", "high"]
    y = pd.Series(["low", "low", "medium", "high"], dtype=object)
    proba = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    metrics = multiclass_metrics(y, proba, classes)
    assert set(metrics) == {
        "roc_auc_macro",
        "roc_auc_weighted",
        "f1_macro",
        "f1_weighted",
        "balanced_accuracy",
        "log_loss",
    }
    assert metrics["roc_auc_macro"] == metrics["roc_auc_weighted"] == 1.0
    assert metrics["f1_macro"] == metrics["balanced_accuracy"] == 1.0
    assert metrics["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.6, 0.7, 0.7])))


def test_regression_metrics() -> None:
    metrics = regression_metrics(pd.Series([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert metrics == pytest.approx({"rmse": 1.0, "mae": 0.5, "r2": 1 - 4 / 5})


def test_lift_is_positive_when_the_candidate_is_better() -> None:
    assert lift({"roc_auc": 0.9, "log_loss": 0.3}, {"roc_auc": 0.5, "log_loss": 0.7}) == (
        pytest.approx({"roc_auc": 0.4, "log_loss": 0.4})
    )
    assert lift({"rmse": 12.0}, {"rmse": 10.0}) == pytest.approx({"rmse": -2.0})
    assert not higher_is_better("brier") and higher_is_better("r2")


def test_primary_metric_matches_the_problem_type(schema: Schema) -> None:
    name, higher = primary_metric(schema)
    expected = {
        "binary_classification": ("roc_auc", True),
        "multiclass_classification": ("roc_auc_macro", True),
        "regression": ("rmse", False),
    }
    assert (name, higher) == expected[schema.problem_type]
