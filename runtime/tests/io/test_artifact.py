"""The model file: every pipeline training builds loads from the reviewed types, and the same
model always gives the same bytes (for each problem type: its estimators differ)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import artifact, registry
from prodml_runtime.training.families import Family
from prodml_runtime.training.train import (
    BASELINE,
    Candidates,
    TrainingResult,
    build_pipeline,
    target_series,
)
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

FEATURE_VARIANTS = {
    "default": {},
    "robust": {"scaling": "robust"},
    "chi2": {"scaling": "minmax", "selection": {"method": "k_best", "k": 3, "score": "chi2"}},
    "bins-rfe": {"discretize_bins": 3, "selection": {"method": "rfe", "k": 3}},
    "l1": {"selection": {"method": "l1", "l1_strength": 0.1}},
    "anova": {"selection": {"method": "k_best", "k": 3}},
}
#: The families a generated project's models.py lists (fewer trees: the types are the same).
FAMILIES = (BASELINE, "linear", "hist_gradient_boosting", "random_forest")


def generated_families(schema: Schema) -> dict[str, Family]:
    if schema.is_classification:
        estimators: tuple[Any, ...] = (
            LogisticRegression(max_iter=2000),
            HistGradientBoostingClassifier(early_stopping=False, max_iter=20),
            RandomForestClassifier(n_estimators=10, n_jobs=1),
        )
    else:
        estimators = (
            Ridge(),
            HistGradientBoostingRegressor(early_stopping=False, max_iter=20),
            RandomForestRegressor(n_estimators=10, n_jobs=1),
        )
    return {name: Family(e) for name, e in zip(FAMILIES[1:], estimators, strict=True)}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("features", FEATURE_VARIANTS.values(), ids=list(FEATURE_VARIANTS))
def test_every_pipeline_training_builds_loads_from_the_reviewed_types(
    family: str, features: dict[str, Any], schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    config = TrainConfig.model_validate({"features": features})
    if features.get("selection", {}).get("score") == "chi2" and not schema.is_classification:
        pytest.skip("chi2 selection needs a classification target")
    families = generated_families(schema)
    rows = sample.head(300)
    pipeline = build_pipeline(family, Candidates(families), schema, config).fit(
        rows[schema.feature_names], target_series(rows, schema)
    )
    version = registry.save(pipeline, tmp_path, schema=schema, metrics={}, params={})
    trusted = [f.type_name for f in families.values()]  # what a project's Parts.trusted lists
    loaded = registry.load(tmp_path, version, trusted)
    features_only = rows[schema.feature_names]
    method = "predict_proba" if schema.is_classification else "predict"
    np.testing.assert_array_equal(
        getattr(loaded.pipeline, method)(features_only), getattr(pipeline, method)(features_only)
    )


def test_the_same_model_always_gives_the_same_bytes(trained: TrainingResult) -> None:
    """skops names arrays after object ids and stamps the time: neither reaches the file."""
    assert artifact.dumps(trained.pipeline) == artifact.dumps(copy.deepcopy(trained.pipeline))
