"""Feature governance on this project's schema: the fitted feature pipeline stays within the
schema's ``feature_budget``, and the columns the schema keeps out (id and ignored) change no
prediction, nor do their values reach the model file."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry

from {{ cookiecutter.package_name }}.project import PROJECT


def kept_out(schema: Schema, text_only: bool = False) -> list[str]:
    return [
        c.name
        for c in schema.columns
        if c.role in ("id", "ignored") and (c.type == "string" or not text_only)
    ]


def test_the_feature_pipeline_stays_within_its_budget(
    schema: Schema, sample: pd.DataFrame, models: Path
) -> None:
    features = registry.load(models, None, PROJECT.parts.trusted).pipeline[:-1]
    rows = sample.sample(1000, replace=True, random_state=0)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        matrix = np.asarray(features.transform(rows))
        timings.append((time.perf_counter() - start) * 1000)
    budget = schema.feature_budget
    assert min(timings) <= budget.ms_per_1k_rows, f"{min(timings):.0f} ms per 1,000 rows"
    assert matrix.nbytes / 1024 <= budget.kb_per_1k_rows, f"{matrix.nbytes / 1024:.0f} KB"


def test_columns_kept_out_change_no_prediction(
    schema: Schema, sample: pd.DataFrame, models: Path
) -> None:
    denied = kept_out(schema)
    if not denied:
        pytest.skip("the schema has no id or ignored column")
    pipeline = registry.load(models, None, PROJECT.parts.trusted).pipeline
    rows = sample.head(50)
    scrambled = rows.copy()
    for name in denied:
        scrambled[name] = scrambled[name].sample(frac=1.0, random_state=0).to_numpy()
    np.testing.assert_array_equal(pipeline.predict(rows), pipeline.predict(scrambled))


def test_no_text_of_an_id_or_ignored_column_is_in_the_model_files(
    schema: Schema, sample: pd.DataFrame, models: Path
) -> None:
    hidden = kept_out(schema, text_only=True)
    if not hidden:
        pytest.skip("the schema has no text id or ignored column (numbers say nothing alone)")
    version = registry.champion(models)
    stored = b"".join(path.read_bytes() for path in sorted((models / version).iterdir()))
    values = sample[hidden].stack().astype(str).unique()
    for value in values[:: max(1, len(values) // 200)]:
        assert value.encode() not in stored, f"{value!r} is in the stored model"
