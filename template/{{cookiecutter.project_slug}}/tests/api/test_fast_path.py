"""The serving fast path scores exactly like the fitted pipeline: same labels, same bits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline
from test_api_properties import SCHEMA, valid_records

from {{ cookiecutter.package_name }}.config import FeatureConfig, SelectionConfig, TrainConfig
from {{ cookiecutter.package_name }}.fast_path import FastModel
from {{ cookiecutter.package_name }}.predict import predict_frame
from {{ cookiecutter.package_name }}.registry import LoadedModel
from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.train import build_pipeline, target_series

#: (model family, estimator settings, feature settings, the fast path mode expected)
CASES = {
    "gradient-boosting": ("hist_gradient_boosting", {"max_iter": 30}, {}, "compiled"),
    "forest-minmax-kbest": (
        "random_forest",
        {"n_estimators": 12, "max_depth": 8},
        {"scaling": "minmax", "selection": SelectionConfig(method="k_best", k=5)},
        "compiled",
    ),
    "gradient-boosting-robust": (
        "hist_gradient_boosting",
        {"max_iter": 20},
        {"scaling": "robust", "numeric_imputation": "mean"},
        "compiled",
    ),
    "linear": ("linear", {}, {"categorical_imputation": "most_frequent"}, "features"),
    "linear-discretized": ("linear", {}, {"discretize_bins": 4}, "estimator"),
}


@pytest.fixture(scope="module")
def fitted(schema: Schema, sample: pd.DataFrame) -> dict[str, tuple[Pipeline, FastModel, str]]:
    """Each case's pipeline fitted on the sample (some values knocked out), its fast path, and
    the mode expected."""
    data = sample.copy()
    nullable = [c.name for c in schema.features if c.nullable]
    rng = np.random.default_rng(0)
    for name in nullable:
        data.loc[rng.random(len(data)) < 0.1, name] = np.nan
    pipelines = {}
    for case, (family, params, features, mode) in CASES.items():
        config = TrainConfig(random_state=0, features=FeatureConfig(**features))
        pipeline = build_pipeline(family, schema, config, params)
        pipeline.fit(data, target_series(data, schema))
        pipelines[case] = (pipeline, FastModel(pipeline, schema), mode)
    return pipelines


def expected_scores(pipeline: Pipeline, schema: Schema, records: list[dict[str, Any]]):
    frame = pd.DataFrame(records, columns=schema.feature_names)
    model = LoadedModel(pipeline, {"version": "test"}, schema)
    scored = predict_frame(model, frame)
    values = scored.drop(columns="prediction").to_numpy()
    return scored["prediction"].tolist(), values if schema.is_classification else None


@pytest.mark.parametrize("case", CASES)
def test_mode_and_fallback(fitted, schema: Schema, case: str) -> None:
    _, fast, mode = fitted[case]
    assert fast.mode == mode, fast.reasons


@pytest.mark.parametrize("case", CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(valid_records(SCHEMA), min_size=1, max_size=6))
def test_fast_path_equals_the_pipeline(fitted, schema: Schema, case: str, records) -> None:
    pipeline, fast, _ = fitted[case]
    labels, probabilities = fast.score(records)
    expected_labels, expected_probabilities = expected_scores(pipeline, schema, records)
    assert labels == expected_labels  # labels, or regression values compared exactly
    if schema.is_classification:
        assert np.array_equal(probabilities, expected_probabilities)
    # One record alone (the /predict case) matches the pipeline on that record alone too.
    (label,), probability = fast.score(records[:1])
    (expected_label,), expected_probability = expected_scores(pipeline, schema, records[:1])
    assert label == expected_label
    if schema.is_classification:
        assert np.array_equal(probability, expected_probability)
