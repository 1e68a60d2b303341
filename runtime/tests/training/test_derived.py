"""Derived features (a project's features.py): each registered function is a numeric model input
named after it, travels with the model file (trusted through the project's parts) and scores
the same after loading; a function that fails or gives the wrong shape is one line naming it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.config import FeatureConfig, TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry
from prodml_runtime.training.derived import DerivedFeatureError, DerivedFeatures
from prodml_runtime.training.features import build_preprocessor
from prodml_runtime.training.train import Candidates, train

from tests.demo import demo_project

FEATURES = DerivedFeatures()


@FEATURES
def numeric_total(features: pd.DataFrame) -> pd.Series:
    """The sum of the numeric and boolean features (0 without any)."""
    return features.select_dtypes("number").sum(axis=1)


@FEATURES
def missing_count(features: pd.DataFrame) -> pd.Series:
    """How many features the row lacks."""
    return features.isna().sum(axis=1)


NAMES = ["numeric_total", "missing_count"]


def _scores(schema: Schema, model: Any, rows: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(rows) if schema.is_classification else model.predict(rows)


def test_derived_features_are_numeric_inputs_named_after_their_functions(
    schema: Schema, sample: pd.DataFrame
) -> None:
    assert FEATURES.names == NAMES and len(FEATURES) == 2
    plain = build_preprocessor(schema, FeatureConfig(scaling="none"), 0, FEATURES).fit(sample)
    names = list(plain.get_feature_names_out())
    assert [f"derived__{name}" for name in NAMES] == [n for n in names if "derived" in n]
    coerced = plain.named_steps["coerce"].transform(sample[schema.feature_names])
    matrix = plain.transform(sample)
    for function in FEATURES:
        column = matrix[:, names.index(f"derived__{function.__name__}")]
        np.testing.assert_allclose(column, function(coerced).to_numpy(dtype=float))
    scaled = build_preprocessor(schema, FeatureConfig(), 0, FEATURES).fit(sample)
    column = scaled.transform(sample)[:, names.index("derived__numeric_total")]
    assert column.mean() == pytest.approx(0.0, abs=1e-9), "scaled as numeric features are"
    assert "numeric_total" not in build_preprocessor(schema).fit(sample).get_feature_names_out()


def test_a_model_with_derived_features_records_them_and_uses_them(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig, candidates: Candidates
) -> None:
    linear = Candidates({"linear": candidates.families["linear"]}, FEATURES)
    result = train(sample, schema, fast_config, linear)
    names = list(result.pipeline[:-1].get_feature_names_out())
    assert {f"derived__{name}" for name in NAMES} <= set(names)
    assert list(result.pipeline.feature_names_in_) == schema.feature_names, "inputs unchanged"
    assert result.registry_params()["candidates"]["derived_features"] == NAMES


def test_derived_features_survive_saving_and_loading(
    schema: Schema,
    sample: pd.DataFrame,
    sample_path: Path,
    fast_config: TrainConfig,
    candidates: Candidates,
    register: Callable[..., str],
    tmp_path: Path,
) -> None:
    linear = Candidates({"linear": candidates.families["linear"]}, FEATURES)
    result = train(sample, schema, fast_config, linear)
    version = register(result, tmp_path)
    project = demo_project(schema, sample_path, features=FEATURES)
    functions = [f"{__name__}.{name}" for name in NAMES]
    assert set(functions) <= set(project.parts.trusted)
    loaded = registry.load(tmp_path, version, trusted=project.parts.trusted)
    rows = sample[schema.feature_names].head(300)
    np.testing.assert_array_equal(
        _scores(schema, loaded.pipeline, rows), _scores(schema, result.pipeline, rows)
    )
    without = demo_project(schema, sample_path)  # the features were removed from features.py
    with pytest.raises(registry.RegistryError, match="refusing to load") as refused:
        registry.load(tmp_path, version, trusted=without.parts.trusted)
    assert all(name in str(refused.value) for name in functions)


def _failing() -> dict[str, Callable[[pd.DataFrame], Any]]:
    """Functions that fail or give something other than one number per row, by reason."""

    def divides(features: pd.DataFrame) -> Any:
        return 1 / 0

    def explains(features: pd.DataFrame) -> Any:
        raise ValueError("first line\nsecond line")

    def two_columns(features: pd.DataFrame) -> Any:
        return np.ones((len(features), 2))

    def one_short(features: pd.DataFrame) -> Any:
        return np.ones(len(features) - 1)

    def words(features: pd.DataFrame) -> Any:
        return ["high"] * len(features)

    return {
        "failed: ZeroDivisionError: division by zero": divides,
        "failed: ValueError: first line second line": explains,
        "gave shape": two_columns,
        "gave shape (": one_short,
        "must give numbers: ValueError": words,
    }


@pytest.mark.parametrize("problem", ["binary"], indirect=True)
def test_a_failing_or_misshapen_feature_is_one_line_naming_it(
    schema: Schema, sample: pd.DataFrame
) -> None:
    for reason, function in _failing().items():
        broken = DerivedFeatures()
        broken(function)
        with pytest.raises(DerivedFeatureError) as refused:
            build_preprocessor(schema, None, 0, broken).fit_transform(sample)
        message = str(refused.value)
        assert message.startswith(f"derived feature {function.__name__!r} (features.py) ")
        assert reason in message and "\n" not in message


@pytest.mark.parametrize("problem", ["binary"], indirect=True)
def test_train_stops_on_a_failing_feature_in_one_line(
    schema: Schema,
    sample_path: Path,
    schema_path: Path,
    fast_config_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = DerivedFeatures()
    broken(_failing()["failed: ZeroDivisionError: division by zero"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    group = command_line(demo_project(schema, sample_path, features=broken))
    args = ["train", "--data", str(sample_path), "--config", str(fast_config_path)]
    result = CliRunner().invoke(group, [*args, "--runs-store", "runs"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert "derived feature 'divides' (features.py) failed: ZeroDivisionError" in line
    assert not (tmp_path / "models").exists()
