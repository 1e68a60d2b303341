"""The feature pipeline: built from the schema, robust to missing/unknown values, skew-free."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.config import ConfigError, FeatureConfig, TrainConfig
from prodml_runtime.core.schema import Schema, parse_schema
from prodml_runtime.data.sample import generate_sample
from prodml_runtime.io.tables import read_table
from prodml_runtime.training.features import build_preprocessor
from prodml_runtime.training.train import (
    Candidates,
    TrainingResult,
    build_pipeline,
    target_series,
)


def _width(schema: Schema, sample: pd.DataFrame, **features: object) -> int:
    """Encoded feature count after fitting the preprocessor configured with ``features``."""
    config = FeatureConfig.model_validate(features)
    pipeline = build_preprocessor(schema, config).fit(sample, target_series(sample, schema))
    return pipeline.transform(sample).shape[1]


def test_output_is_finite_with_one_row_per_input(schema: Schema, sample: pd.DataFrame) -> None:
    matrix = build_preprocessor(schema).fit_transform(sample)
    assert matrix.shape[0] == len(sample)
    assert np.isfinite(matrix).all(), "missing values are imputed"


def test_id_target_and_ignored_columns_never_become_features(
    schema: Schema, sample: pd.DataFrame
) -> None:
    names = build_preprocessor(schema).fit(sample).get_feature_names_out()
    denied = [c.name for c in schema.columns if c.role != "feature"]
    assert not [n for n in names for d in denied if d in n]


def test_output_ignores_non_feature_columns(schema: Schema, sample: pd.DataFrame) -> None:
    pipeline = build_preprocessor(schema).fit(sample)
    without = sample[schema.feature_names]
    np.testing.assert_array_equal(pipeline.transform(sample), pipeline.transform(without))


def test_unknown_category_is_encoded_as_all_zeros(
    schema: Schema, sample: pd.DataFrame, feature_of
) -> None:
    name = feature_of("categorical").name
    pipeline = build_preprocessor(schema).fit(sample)
    row = sample.head(1).copy()
    row[name] = row[name].astype(object)
    row.loc[row.index[0], name] = "brand-new"
    encoded = pd.Series(pipeline.transform(row)[0], index=pipeline.get_feature_names_out())
    assert (encoded[[n for n in encoded.index if f"__{name}_" in n]] == 0).all()


def test_csv_round_trip_gives_identical_features(
    schema: Schema, sample: pd.DataFrame, tmp_path
) -> None:
    """Training-serving skew check: data read back from disk transforms exactly the same."""
    path = tmp_path / "data.csv"
    sample.to_csv(path, index=False)
    pipeline = build_preprocessor(schema).fit(sample)
    np.testing.assert_allclose(pipeline.transform(sample), pipeline.transform(read_table(path)))


@pytest.mark.parametrize("method", ["k_best", "rfe"])
def test_k_best_and_rfe_keep_k_features(schema: Schema, sample: pd.DataFrame, method: str) -> None:
    k = max(1, min(4, _width(schema, sample) - 1))  # fewer than all, whatever the schema
    assert _width(schema, sample, selection={"method": method, "k": k}) == k


def test_l1_selection_drops_more_features_with_a_stronger_penalty(
    schema: Schema, sample: pd.DataFrame
) -> None:
    full = _width(schema, sample)
    weak = _width(schema, sample, selection={"method": "l1", "l1_strength": 0.01})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no features were selected" is fine here
        strong = _width(schema, sample, selection={"method": "l1", "l1_strength": 30.0})
        extreme = _width(schema, sample, selection={"method": "l1", "l1_strength": 1e6})
    assert extreme < full and extreme <= strong <= weak <= full


def test_chi2_needs_minmax_scaling_and_a_classification_target(
    schema: Schema, sample: pd.DataFrame
) -> None:
    chi2 = {"method": "k_best", "k": 3, "score": "chi2"}
    with pytest.raises(ValueError, match="minmax"):
        FeatureConfig.model_validate({"selection": chi2})
    if schema.is_classification:
        assert _width(schema, sample, scaling="minmax", selection=chi2) == 3
    else:
        with pytest.raises(ConfigError, match="classification"):
            _width(schema, sample, scaling="minmax", selection=chi2)


def test_discretization_is_off_by_default_and_bins_numeric_features_when_on(
    schema: Schema, sample: pd.DataFrame, feature_of
) -> None:
    feature_of("numeric")
    numeric = schema.features_of_type("numeric")
    default = build_preprocessor(schema).fit(sample)
    names = list(default.get_feature_names_out())
    scaled = default.transform(sample)[:, [names.index(f"numeric__{n}") for n in numeric]]
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-9)  # standardized, not binned
    config = FeatureConfig(discretize_bins=4)
    binned = build_preprocessor(schema, config).fit(sample)
    names = list(binned.get_feature_names_out())
    columns = [i for i, n in enumerate(names) if n.startswith("numeric__")]
    assert len(columns) == 4 * len(numeric)
    one_hot = binned.transform(sample)[:, columns]
    assert set(np.unique(one_hot)) <= {0.0, 1.0}
    np.testing.assert_array_equal(one_hot.sum(axis=1), len(numeric))  # one bin per feature


def test_numeric_imputation_strategy_is_configurable(
    schema: Schema, sample: pd.DataFrame, feature_of
) -> None:
    name = feature_of("numeric").name
    config = FeatureConfig(numeric_imputation="mean", scaling="none")
    pipeline = build_preprocessor(schema, config).fit(sample)
    row = sample.head(1).copy()
    row[name] = np.nan
    names = list(pipeline.get_feature_names_out())
    imputed = pipeline.transform(row)[0, names.index(f"numeric__{name}")]
    assert imputed == pytest.approx(sample[name].mean())


def test_trained_model_scores_a_row_with_an_unknown_category(
    schema: Schema, sample: pd.DataFrame, trained: TrainingResult, feature_of
) -> None:
    name = feature_of("categorical").name
    row = sample.head(1).copy()
    row[name] = "never-seen-in-training"
    model = trained.pipeline
    output = model.predict_proba(row) if schema.is_classification else model.predict(row)
    assert np.isfinite(output).all()


def test_a_wide_schema_with_awkward_names_trains_and_scores_without_pandas_warnings(
    schema: Schema, fast_config: TrainConfig, candidates: Candidates
) -> None:
    """200 more features of every type, named as exports name them (units, unicode, dots, a
    leading digit): the pipeline fits and scores them, and builds its frames at once."""
    raw = schema.model_dump(mode="json", exclude_none=True)
    kinds: list[dict[str, object]] = [
        {"type": "numeric"},
        {"type": "categorical", "categories": ["a", "b", "c"], "nullable": True},
        {"type": "boolean"},
        {"type": "datetime", "format": "%d.%m.%Y", "as_of": "2025-01-31"},
    ]
    names = ["weight (kg) {}", "größe_{}", "{}th.value", "x {}"]
    for i in range(200):
        raw["columns"].append({"name": names[i % 4].format(i), **kinds[i % 4]})
    wide = parse_schema(raw)
    frame = generate_sample(wide, rows=300, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        pipeline = build_pipeline("linear", candidates, wide, fast_config)
        pipeline.fit(frame, target_series(frame, wide))
        scores = pipeline.predict(frame.head(50))
    assert len(scores) == 50
    assert len(pipeline[0].get_feature_names_out()) > 200
