"""The model contract: the configs are valid, every family of models.py suits the problem and
its search, fits rows of the schema and gives one valid prediction per row, and the model file
takes every family's fitted model and every derived feature (features.py) as reviewed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.coerce import coerce_features
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import artifact
from prodml_runtime.training.config_check import check_config
from prodml_runtime.training.derived import Derive
from prodml_runtime.training.train import Candidates, build_pipeline, target_series

from {{ cookiecutter.package_name }}.project import PROJECT

FAMILIES = list(PROJECT.parts.families)


@pytest.fixture(scope="module")
def candidates() -> Candidates:
    return Candidates(PROJECT.parts.families, PROJECT.parts.features)


def test_every_family_and_search_setting_is_accepted_before_training(
    schema: Schema, train_config: TrainConfig, candidates: Candidates, sample: pd.DataFrame
) -> None:
    check_config(schema, train_config, candidates, sample)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_fits_and_predicts_and_its_model_file_loads(
    family: str,
    schema: Schema,
    train_config: TrainConfig,
    candidates: Candidates,
    sample: pd.DataFrame,
) -> None:
    config = train_config.model_copy(update={"jobs": 1})
    pipeline = build_pipeline(family, candidates, schema, config, rows=len(sample))
    features = sample[schema.feature_names]
    pipeline.fit(features, target_series(sample, schema))
    loaded = artifact.loads(artifact.dumps(pipeline), PROJECT.parts.trusted)
    if schema.is_classification:
        probabilities = loaded.predict_proba(features)
        assert np.allclose(probabilities.sum(axis=1), 1.0)
        assert {str(c) for c in loaded.classes_} <= set(schema.classes)
        np.testing.assert_array_equal(probabilities, pipeline.predict_proba(features))
    else:
        predicted = loaded.predict(features)
        assert np.isfinite(predicted).all()
        np.testing.assert_array_equal(predicted, pipeline.predict(features))


def test_each_derived_feature_gives_one_number_per_row(
    schema: Schema, sample: pd.DataFrame
) -> None:
    derived = PROJECT.parts.features
    if not len(derived):
        pytest.skip("features.py registers no derived feature")
    coerced = coerce_features(sample, schema)
    values = Derive(tuple(derived)).on_columns(coerced, len(coerced))
    assert set(values) == set(derived.names)
    for name, column in values.items():
        assert column.shape == (len(sample),), name
        assert np.isfinite(column).any(), f"{name} is never a finite number"
