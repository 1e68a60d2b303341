"""Derived features (a project's ``features.py``) on the API's fast path: one written with
arithmetic keeps the API on a compiled mode, scoring bit for bit as the pipeline; one using a
pandas method makes the fast path fall back, saying why, and the API still answers as the
pipeline does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import promotion, registry
from prodml_runtime.serving.fast_path import probe_records
from prodml_runtime.training.derived import DerivedFeatures
from prodml_runtime.training.train import (
    Candidates,
    TrainingResult,
    build_pipeline,
    target_series,
)

from tests.demo import demo_families, demo_project

#: The two numeric features the derived features read, set for the schema under test (the
#: functions are module-level: the model file refers to them by their import path).
READS: dict[str, str] = {}
ARITHMETIC = DerivedFeatures()
PANDAS_ONLY = DerivedFeatures()
KINDS = {"arithmetic": ARITHMETIC, "pandas-only": PANDAS_ONLY}
COMPILED = ("compiled", "features")


@ARITHMETIC
def per_unit(features: Any) -> Any:
    return features[READS["a"]] / (features[READS["b"]] + 1)


@PANDAS_ONLY
def per_unit_filled(features: Any) -> Any:
    return features[READS["a"]].fillna(0) / (features[READS["b"]] + 1)


def read_from(schema: Schema) -> None:
    numeric = schema.features_of_type("numeric")
    if len(numeric) < 2:
        pytest.skip("the schema has fewer than two numeric features")
    READS.update(a=numeric[0], b=numeric[1])


@pytest.fixture(autouse=True)
def reads(schema: Schema) -> None:
    read_from(schema)


@pytest.fixture(scope="module")
def registries(
    tmp_path_factory: pytest.TempPathFactory,
    schema: Schema,
    sample: pd.DataFrame,
    trained: TrainingResult,
) -> dict[str, Path]:
    """A registry per kind of derived feature, its champion a boosting model using it (with
    the session model's metrics as the promotion gate's evidence: not judged here)."""
    read_from(schema)
    roots = {}
    for kind, features in KINDS.items():
        candidates = Candidates(demo_families(schema), features)
        config = TrainConfig(random_state=0)
        pipeline = build_pipeline("hist_gradient_boosting", candidates, schema, config)
        features = sample[schema.feature_names]
        pipeline.set_params(model__max_iter=30).fit(features, target_series(sample, schema))
        roots[kind] = tmp_path_factory.mktemp(f"derived-{kind}")
        evidence = {"metrics": trained.registry_metrics(), "params": trained.registry_params()}
        version = registry.save(pipeline, roots[kind], schema=schema, **evidence)
        promotion.promote(roots[kind], version)
    return roots


def served(
    start_api, root: Path, schema: Schema, sample_path: Path, framework: str, kind: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[dict[str, Any]]], Any]:
    """``GET /model``, some records, their answers (alone and as a batch), and the model."""
    project = demo_project(schema, sample_path, serving=framework, features=KINDS[kind])
    records = probe_records(schema, count=24, seed=5)
    with start_api(root, project) as call:
        card = json.loads(call("GET", "/model")[1])
        alone = [json.loads(call("POST", "/predict", json=record)[1]) for record in records[:3]]
        status, text, _ = call("POST", "/predict/batch", json={"records": records})
        assert status == 200, text
    pipeline = registry.load(root, trusted=project.parts.trusted).pipeline
    return card, records, [alone, json.loads(text)["predictions"]], pipeline


def assert_scores_like(
    answers: list[dict[str, Any]], records: list[dict[str, Any]], pipeline: Any, schema: Schema
) -> None:
    """The answers are the pipeline's on the same records, bit for bit."""
    frame = pd.DataFrame(records, columns=schema.feature_names)
    if schema.is_classification:
        classes = [str(c) for c in pipeline.classes_]
        got = [[answer["probabilities"][c] for c in classes] for answer in answers]
        assert np.array_equal(np.asarray(got), pipeline.predict_proba(frame))
    else:
        got = [answer["prediction"] for answer in answers]
        assert np.array_equal(np.asarray(got), pipeline.predict(frame))


def test_an_arithmetic_derived_feature_keeps_a_compiled_mode_and_its_scores(
    start_api, registries, schema: Schema, sample_path: Path, framework: str
) -> None:
    root = registries["arithmetic"]
    card, records, (alone, batch), pipeline = served(
        start_api, root, schema, sample_path, framework, "arithmetic"
    )
    assert card["fast_path"] in COMPILED, card["fast_path_refused"]
    assert not any("per_unit" in reason for reason in card["fast_path_refused"])
    for i, answer in enumerate(alone):
        assert_scores_like([answer], records[i : i + 1], pipeline, schema)
    assert_scores_like(batch, records, pipeline, schema)


def test_a_pandas_only_derived_feature_falls_back_saying_why_and_scores_right(
    start_api, registries, schema: Schema, sample_path: Path, framework: str
) -> None:
    root = registries["pandas-only"]
    card, records, (alone, batch), pipeline = served(
        start_api, root, schema, sample_path, framework, "pandas-only"
    )
    assert card["fast_path"] not in COMPILED
    refused = {reason.split(":")[0]: reason for reason in card["fast_path_refused"]}
    for mode in COMPILED:
        assert "per_unit_filled" in refused[mode] and "fillna" in refused[mode], refused
    for i, answer in enumerate(alone):
        assert_scores_like([answer], records[i : i + 1], pipeline, schema)
    assert_scores_like(batch, records, pipeline, schema)
