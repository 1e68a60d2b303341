"""Every feature earns its place, within its cost; denied and personal columns stay out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.schema import Schema, parse_schema
from prodml_runtime.data.sample import generate_sample
from prodml_runtime.io import registry
from prodml_runtime.training.train import Candidates, TrainingResult, train
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.inspection import permutation_importance
from sklearn.metrics import get_scorer

SCORERS = {
    "binary_classification": "roc_auc",
    "multiclass_classification": "roc_auc_ovr",
    "regression": "neg_root_mean_squared_error",
}


def _column_transformers(estimator: BaseEstimator) -> Iterator[ColumnTransformer]:
    if isinstance(estimator, ColumnTransformer):
        yield estimator
    for _, step in getattr(estimator, "steps", []):
        yield from _column_transformers(step)


def _denied(schema: Schema) -> list[str]:
    return [c.name for c in schema.columns if c.role != "feature"]


def test_every_feature_is_measured_and_the_champion_uses_its_inputs(
    schema: Schema, trained: TrainingResult
) -> None:
    """Data 2: each schema feature gets a held-out importance, and shuffling the features
    together makes the champion worse (how much one feature helps is a property of the data)."""
    split = trained.test_split
    scorer = get_scorer(SCORERS[schema.problem_type])
    result = permutation_importance(
        trained.pipeline,
        split.features,
        split.target,
        scoring=scorer,
        n_repeats=3,
        random_state=0,
    )
    importance = dict(zip(split.features.columns, result.importances_mean, strict=True))
    assert set(importance) == set(schema.feature_names)
    assert np.isfinite(list(importance.values())).all()
    rows = np.random.default_rng(0).permutation(len(split.features))
    shuffled = split.features.iloc[rows].set_index(split.features.index)
    intact = scorer(trained.pipeline, split.features, split.target)
    assert scorer(trained.pipeline, shuffled, split.target) < intact


def test_feature_pipeline_stays_within_its_cost_budget(
    schema: Schema, trained: TrainingResult, sample: pd.DataFrame
) -> None:
    """Data 3: transforming 1,000 rows stays within the schema's feature_budget."""
    preprocess = trained.pipeline[:-1]
    rows = sample.sample(1000, replace=True, random_state=0)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        matrix = np.asarray(preprocess.transform(rows))
        timings.append((time.perf_counter() - start) * 1000)
    budget = schema.feature_budget
    assert min(timings) <= budget.ms_per_1k_rows, f"{min(timings):.0f} ms per 1,000 rows"
    assert matrix.nbytes / 1024 <= budget.kb_per_1k_rows, f"{matrix.nbytes / 1024:.0f} KB"


def test_denied_columns_never_reach_the_model(
    schema: Schema, trained: TrainingResult, sample: pd.DataFrame
) -> None:
    """Data 4: id, target and ignored columns are not inputs of the fitted pipeline."""
    assert set(trained.pipeline.feature_names_in_) == set(schema.feature_names)
    transformers = list(_column_transformers(trained.pipeline))
    assert transformers, "the feature pipeline selects its columns with a ColumnTransformer"
    for transformer in transformers:
        assert set(transformer.feature_names_in_) <= set(schema.feature_names)
    rows = sample.head(50)
    scrambled = rows.copy()
    for name in _denied(schema):
        if name != schema.target:
            scrambled[name] = scrambled[name].sample(frac=1.0, random_state=0).to_numpy()
    np.testing.assert_array_equal(
        trained.pipeline.predict(rows), trained.pipeline.predict(scrambled)
    )


def test_personal_data_never_reaches_the_artifact(
    schema: Schema,
    sample: pd.DataFrame,
    model_dir: Path,
    fast_config: TrainConfig,
    candidates: Candidates,
    tmp_path: Path,
    register: Callable[..., str],
) -> None:
    """Data 5: no value of an id or ignored column is in the stored model or its metadata."""
    hidden = [c.name for c in schema.columns if c.role in ("id", "ignored")]
    version = registry.champion(model_dir) if hidden else ""
    if not hidden:  # the schema has none: add one, and train on it
        raw = schema.model_dump(mode="json")
        raw["columns"].append({"name": "personal_note", "role": "ignored", "type": "string"})
        schema = parse_schema(raw)
        sample = generate_sample(schema, rows=400, seed=5)
        linear_only = Candidates({"linear": candidates.families["linear"]})
        result = train(sample, schema, fast_config, linear_only)
        model_dir = tmp_path / "models"
        version = register(result, model_dir, schema=schema)
        hidden = ["personal_note"]
    stored = b"".join(path.read_bytes() for path in sorted((model_dir / version).iterdir()))
    values = sample[hidden].stack().astype(str).unique()
    for value in values[:: max(1, len(values) // 200)]:  # a leak holds many values: sample them
        assert value.encode() not in stored, f"{value!r} is in the stored model"


def test_a_new_feature_is_one_schema_entry(
    schema: Schema, fast_config: TrainConfig, candidates: Candidates
) -> None:
    """Data 6: a column added to the schema is generated, validated, encoded and trained on."""
    raw = schema.model_dump(mode="json")
    raw["columns"].append({"name": "new_signal", "type": "numeric", "min": 0, "max": 10})
    extended = parse_schema(raw)
    linear_only = Candidates({"linear": candidates.families["linear"]})
    result = train(generate_sample(extended, rows=400, seed=5), extended, fast_config, linear_only)
    assert "new_signal" in result.pipeline.feature_names_in_
    names = result.pipeline[:-1].get_feature_names_out()
    assert any("new_signal" in name for name in names)
