"""The serving fast path scores exactly like the fitted pipeline: same labels, same bits; and
when a library's internals are not what it reads, it falls back instead of stopping the API."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prodml_runtime.config import FeatureConfig, SelectionConfig, TrainConfig
from prodml_runtime.core.model import LoadedModel, predict_frame
from prodml_runtime.core.schema import Schema
from prodml_runtime.serving import service, trees
from prodml_runtime.serving.fast_path import FastModel, probe_records
from prodml_runtime.settings import Settings
from prodml_runtime.training.families import Family, grid
from prodml_runtime.training.train import Candidates, build_pipeline, target_series
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline

from tests.demo import demo_families, demo_project
from tests.serving.support import asyncio_loop, valid_records

#: (model family, estimator settings, feature settings). Which mode each gets is not pinned: a
#: library upgrade may change it; what holds is that it scores as the pipeline does.
CASES = {
    "gradient-boosting": ("hist_gradient_boosting", {"max_iter": 30}, {}),
    "forest-minmax-kbest": (
        "random_forest",
        {"n_estimators": 12, "max_depth": 8},
        {"scaling": "minmax", "selection": SelectionConfig(method="k_best", k=5)},
    ),
    "gradient-boosting-robust": (
        "hist_gradient_boosting",
        {"max_iter": 20},
        {"scaling": "robust", "numeric_imputation": "mean"},
    ),
    "linear": ("linear", {}, {"categorical_imputation": "most_frequent"}),
    "linear-discretized": ("linear", {}, {"discretize_bins": 4}),
}
MODES = ("compiled", "features", "estimator", "pipeline")


@pytest.fixture(scope="module")
def fitted(schema: Schema, sample: pd.DataFrame) -> dict[str, tuple[Pipeline, FastModel]]:
    """Each case's pipeline fitted on the sample (some values knocked out), and its fast path."""
    forest = RandomForestClassifier if schema.is_classification else RandomForestRegressor
    candidates = Candidates({**demo_families(schema), "random_forest": Family(forest(), grid())})
    data = sample.copy()
    nullable = [c.name for c in schema.features if c.nullable]
    rng = np.random.default_rng(0)
    for name in nullable:
        data.loc[rng.random(len(data)) < 0.1, name] = np.nan
    pipelines = {}
    for case, (family, params, features) in CASES.items():
        config = TrainConfig(random_state=0, features=FeatureConfig(**features))
        pipeline = build_pipeline(family, candidates, schema, config, params)
        pipeline.fit(data, target_series(data, schema))
        pipelines[case] = (pipeline, FastModel(pipeline, schema))
    return pipelines


def expected_scores(pipeline: Pipeline, schema: Schema, records: list[dict[str, Any]]):
    frame = pd.DataFrame(records, columns=schema.feature_names)
    model = LoadedModel(pipeline, {"version": "test"}, schema)
    scored = predict_frame(model, frame)
    values = scored.drop(columns="prediction").to_numpy()
    return scored["prediction"].tolist(), values if schema.is_classification else None


@pytest.mark.parametrize("case", CASES)
def test_each_faster_mode_refused_says_why(fitted, case: str) -> None:
    _, fast = fitted[case]
    tried = MODES[: MODES.index(fast.mode)]
    assert [reason.split(":")[0] for reason in fast.reasons] == list(tried), fast.reasons


@pytest.mark.parametrize("case", CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_equals_the_pipeline(
    fitted, schema: Schema, case: str, data: st.DataObject
) -> None:
    records = data.draw(st.lists(valid_records(schema), min_size=1, max_size=6), label="records")
    pipeline, fast = fitted[case]
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


def renamed(estimator: Any, names: tuple[str, ...]) -> Any:
    """A copy of ``estimator`` as a library upgrade that renamed its attributes ``names`` would
    leave it: its own prediction methods still work (they find them under the new names), while
    code reading the old names gets an AttributeError."""
    hidden = copy.deepcopy(estimator)
    moved = {name: hidden.__dict__.pop(name) for name in names}

    def restoring(method: str) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            back = {name: value for name, value in moved.items() if name not in self.__dict__}
            self.__dict__.update(back)
            try:
                return getattr(super(upgraded, self), method)(*args, **kwargs)
            finally:
                for name in back:
                    del self.__dict__[name]

        return call

    methods = [m for m in ("predict", "predict_proba", "decision_function") if hasattr(hidden, m)]
    upgraded = type(
        f"Upgraded{type(hidden).__name__}", (type(hidden),), {m: restoring(m) for m in methods}
    )
    hidden.__class__ = upgraded
    return hidden


def with_model(pipeline: Pipeline, model: Any) -> Pipeline:
    return Pipeline([*pipeline.steps[:-1], (pipeline.steps[-1][0], model)])


def upgraded_pipeline(fitted, case: str, names: tuple[str, ...], in_trees: bool) -> Pipeline:
    """The case's pipeline with ``names`` renamed on its estimator, or on each of its trees."""
    pipeline, _ = fitted[case]
    model = pipeline[-1]
    if in_trees:
        model = copy.copy(model)
        model.estimators_ = [renamed(tree, names) for tree in model.estimators_]
    else:
        model = renamed(model, names)
    return with_model(pipeline, model)


#: (case, private attributes the fast path reads, on each tree rather than on the model)
RENAMED = {
    "boosting-predictors": ("gradient-boosting", ("_predictors",), False),
    "boosting-baseline": ("gradient-boosting", ("_baseline_prediction",), False),
    "boosting-loss": ("gradient-boosting", ("_loss",), False),
    "forest-estimators": ("forest-minmax-kbest", ("estimators_",), False),
    "forest-tree-internals": ("forest-minmax-kbest", ("tree_",), True),
}


def assert_scores_like(fast: FastModel, pipeline: Pipeline, schema: Schema) -> None:
    records = probe_records(schema, count=40, seed=11)
    for batch in (records, records[:1]):
        labels, probabilities = fast.score(batch)
        expected_labels, expected_probabilities = expected_scores(pipeline, schema, batch)
        assert labels == expected_labels
        if schema.is_classification:
            assert np.array_equal(probabilities, expected_probabilities)


@pytest.mark.parametrize("variant", RENAMED)
def test_renamed_private_attributes_fall_back_to_a_mode_that_scores_the_same(
    fitted, schema: Schema, variant: str
) -> None:
    case, names, in_trees = RENAMED[variant]
    pipeline = upgraded_pipeline(fitted, case, names, in_trees)
    fast = FastModel(pipeline, schema)  # does not raise
    assert any("AttributeError" in reason for reason in fast.reasons), fast.reasons
    assert_scores_like(fast, pipeline, schema)
    assert_scores_like(fast, fitted[case][0], schema)  # and as the original model scores


@pytest.mark.parametrize("case", ["gradient-boosting", "forest-minmax-kbest"])
def test_a_mode_that_raises_on_the_probe_records_is_refused(
    fitted, schema: Schema, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    def broken(start: np.ndarray, terms: np.ndarray) -> np.ndarray:
        raise FloatingPointError("overflow in a changed library")

    monkeypatch.setattr(trees, "_sequential_sum", broken)  # used by compiled trees only
    pipeline, _ = fitted[case]
    fast = FastModel(pipeline, schema)
    assert fast.reasons[0].startswith("compiled: FloatingPointError"), fast.reasons
    assert_scores_like(fast, pipeline, schema)


def start_service(
    monkeypatch: pytest.MonkeyPatch,
    pipeline: Pipeline,
    schema: Schema,
    schema_path: Path,
    log: Path,
) -> service.Service:
    """A service serving ``pipeline`` (in place of the registry's champion)."""
    model = LoadedModel(pipeline, {"version": "upgraded", "sha256": "0" * 64}, schema)
    monkeypatch.setattr(service, "load_for_serving", lambda schema, config, trusted: model)
    config = Settings(model_dir=log.parent, schema_path=schema_path, prediction_log=log)
    project = demo_project(schema, log.parent / "data.csv")
    return service.Service(schema, config, project).start()


def test_the_service_starts_ready_on_renamed_internals_and_scores_like_the_pipeline(
    fitted, schema: Schema, schema_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = upgraded_pipeline(fitted, "gradient-boosting", ("_predictors", "_loss"), False)
    service = start_service(monkeypatch, pipeline, schema, schema_path, tmp_path / "log.db")
    try:
        assert service.readiness()[0] == 200
        card = service.model_card()
        assert card["fast_path"] in MODES and card["fast_path_refused"], card
        records = probe_records(schema, count=5, seed=3)
        (outputs,) = asyncio_loop(service, [("request-1", records)])
    finally:
        service.stop()
    labels, probabilities = expected_scores(pipeline, schema, records)
    assert [output["prediction"] for output in outputs] == labels
    if schema.is_classification:
        classes = service.fast.classes  # type: ignore[union-attr]
        got = [[output["probabilities"][c] for c in classes] for output in outputs]
        assert np.array_equal(np.asarray(got), probabilities)


def test_a_pipeline_that_cannot_score_valid_records_runs_not_ready_with_the_reason(
    fitted, schema: Schema, schema_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _ = fitted["gradient-boosting"]
    broken = copy.deepcopy(pipeline[-1])
    del broken._baseline_prediction  # removed, not renamed: scikit-learn itself fails
    service = start_service(
        monkeypatch, with_model(pipeline, broken), schema, schema_path, tmp_path / "log.db"
    )
    status, body = service.readiness()
    assert status == 503 and "cannot score valid records" in body["detail"], body
    assert "_baseline_prediction" in body["detail"]
