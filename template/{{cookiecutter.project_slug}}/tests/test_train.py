"""Training beats the baseline, is reproducible and gates on quality."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import (
    TrainConfig,
    load_config,
)
from {{ cookiecutter.package_name }}.metrics import primary_metric
from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.train import (
    BASELINE,
    QualityGateError,
    TrainingResult,
    parameter_grid,
    split_data,
    train,
)


def test_model_beats_the_dummy_baseline(schema: Schema, trained: TrainingResult) -> None:
    metric, higher_is_better = primary_metric(schema)
    champion, baseline = trained.test[trained.champion][metric], trained.test[BASELINE][metric]
    assert trained.champion != BASELINE
    assert (champion > baseline) if higher_is_better else (champion < baseline)
    assert trained.improvement > 0


def test_every_candidate_reports_every_metric(schema: Schema, trained: TrainingResult) -> None:
    expected = (
        {"roc_auc", "f1_macro", "balanced_accuracy", "log_loss"}
        if schema.is_classification
        else {"rmse", "mae", "r2"}
    )
    assert set(trained.test) == {"baseline", "linear", "hist_gradient_boosting"}
    for metrics in trained.test.values():
        assert set(metrics) == expected
    if schema.is_classification:
        assert trained.test[BASELINE]["roc_auc"] == pytest.approx(0.5)


def test_same_seed_gives_identical_metrics(
    sample: pd.DataFrame, schema: Schema, fast_config: TrainConfig, trained: TrainingResult
) -> None:
    again = train(sample, schema, fast_config)
    assert again.test == trained.test
    assert again.champion == trained.champion


def test_split_is_deterministic_disjoint_and_stratified(
    sample: pd.DataFrame, schema: Schema, fast_config: TrainConfig
) -> None:
    first, second = split_data(sample, schema, fast_config), split_data(sample, schema, fast_config)
    for a, b in zip(first, second, strict=True):
        assert a.features.index.equals(b.features.index)
    indexes = [set(part.features.index) for part in first]
    assert sum(map(len, indexes)) == len(sample) == len(set().union(*indexes))
    if schema.is_classification:
        overall = sample[schema.target].value_counts(normalize=True)
        test_share = first[2].target.value_counts(normalize=True)
        assert (test_share - overall).abs().max() < 0.03


def test_quality_gate_refuses_a_model_not_better_than_baseline(
    sample: pd.DataFrame, schema: Schema, fast_config: TrainConfig
) -> None:
    strict = fast_config.model_copy(update={"min_improvement": 1e9})
    with pytest.raises(QualityGateError, match="not registered"):
        train(sample, schema, strict)


def test_project_config_is_valid_and_searches_hyperparameters(config_path: Path) -> None:
    config = load_config(config_path)
    assert len(parameter_grid(config.hist_gradient_boosting)) > 1
    assert 0 < config.test_size < 0.5 and 0 < config.validation_size < 0.5


def test_parameter_grid_covers_every_combination() -> None:
    assert parameter_grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert parameter_grid({}) == [{}]
