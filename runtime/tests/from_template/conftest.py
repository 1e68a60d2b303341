"""Shared fixtures: a small generated dataset and a model trained on it (session-scoped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from threadpoolctl import threadpool_limits

from {{ cookiecutter.package_name }}.config import TrainConfig, load_schema
from {{ cookiecutter.package_name }}.core.schema import Column, ColumnType, Schema
from {{ cookiecutter.package_name }}.data.sample import generate_sample
from {{ cookiecutter.package_name }}.io import promotion, registry, run_store
from {{ cookiecutter.package_name }}.monitoring.current import reference_profile
from {{ cookiecutter.package_name }}.training.train import (
    TrainingResult,
    train,
)

# The test data is small: one thread per native pool is as fast, and parallel test runners
# (CI, pytest-xdist) do not oversubscribe the cores with OpenMP threads that spin-wait.
threadpool_limits(1)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = PROJECT_ROOT / "configs" / "schema.yaml"
CONFIG_PATH = PROJECT_ROOT / "configs" / "train.yaml"


@pytest.fixture(scope="session")
def schema_path() -> Path:
    return SCHEMA_PATH


@pytest.fixture(scope="session")
def config_path() -> Path:
    return CONFIG_PATH


@pytest.fixture(scope="session")
def schema() -> Schema:
    return load_schema(SCHEMA_PATH)


# The tests hold for any valid schema: they derive their cases from it, never from the example's
# columns. A test that needs a kind of column the schema lacks is skipped, saying so.


def first_feature(schema: Schema, column_type: ColumnType) -> Column:
    """The first feature of ``column_type``; the test is skipped when the schema has none."""
    names = schema.features_of_type(column_type)
    if not names:
        pytest.skip(f"the schema has no {column_type} feature")
    return schema.column(names[0])


@dataclass(frozen=True)
class Bound:
    """A declared bound of a numeric feature and a value just beyond it."""

    column: Column
    check: str  # the validation check it breaks: "max" or "min"
    limit: float
    beyond: float


def a_bound(schema: Schema) -> Bound:
    """The first declared max (else min) of a numeric feature; skipped when none is declared."""
    numeric = [schema.column(name) for name in schema.features_of_type("numeric")]
    for column in numeric:
        if column.max is not None:
            return Bound(column, "max", column.max, column.max + 1)
    for column in numeric:
        if column.min is not None:
            return Bound(column, "min", column.min, column.min - 1)
    pytest.skip("the schema declares no min or max on a numeric feature")


@dataclass(frozen=True)
class BadCell:
    """A value a feature column refuses, and the validation check that refuses it."""

    column: str
    value: object
    check: str

    def put(self, frame: pd.DataFrame, rows: object) -> None:
        """Write the value into ``frame`` at ``rows`` (index labels) of its column."""
        frame[self.column] = frame[self.column].astype(object)
        frame.loc[rows, self.column] = self.value


def bad_cells(schema: Schema) -> list[BadCell]:
    """One refused value per kind the schema allows: every schema has at least one (each type
    has values it refuses), and a declared bound adds one."""
    cells = []
    kinds: dict[ColumnType, tuple[str, str]] = {
        "numeric": ("oops", "numeric_type"),
        "categorical": ("not-a-category", "category"),
        "boolean": ("maybe", "boolean"),
        "datetime": ("not-a-date", "datetime"),
    }
    for column_type, (value, check) in kinds.items():
        names = schema.features_of_type(column_type)
        if names:
            cells.append(BadCell(names[0], value, check))
    numeric = [schema.column(name) for name in schema.features_of_type("numeric")]
    bounded = next((c for c in numeric if c.max is not None or c.min is not None), None)
    if bounded is not None:
        bound = a_bound(schema)
        cells.insert(1, BadCell(bound.column.name, bound.beyond, bound.check))
    return cells


@pytest.fixture(scope="session")
def feature_of(schema: Schema) -> Callable[[ColumnType], Column]:
    """``feature_of("categorical")``: the schema's first feature of that type, or a skip."""
    return lambda column_type: first_feature(schema, column_type)


@pytest.fixture
def bound(schema: Schema) -> Bound:
    """A declared bound of a numeric feature (skipped when the schema declares none)."""
    return a_bound(schema)


@pytest.fixture(scope="session")
def invalid_cells(schema: Schema) -> list[BadCell]:
    """Refused values the schema's features allow: at least one for every schema."""
    return bad_cells(schema)


@pytest.fixture(scope="session")
def sample(schema: Schema) -> pd.DataFrame:
    return generate_sample(schema, rows=1200, seed=7)


@pytest.fixture(scope="session")
def fast_config() -> TrainConfig:
    """Tiny grid and random searches: a fast suite (configs/train.yaml has the real ones)."""
    learning_rate = {"loguniform": [0.05, 0.2]}
    return TrainConfig(
        random_state=0,
        min_improvement=0.0,
        cv_folds=3,
        jobs=1,  # pytest-xdist runs a suite's tests on every core already
        models={
            "linear": {"search": "grid"},
            "hist_gradient_boosting": {
                "search": "random",
                "n_iter": 2,
                "space": {"max_iter": [40, 80], "learning_rate": learning_rate},
            },
        },
    )


@pytest.fixture(scope="session")
def fast_config_path(tmp_path_factory: pytest.TempPathFactory, fast_config: TrainConfig) -> Path:
    """``fast_config`` as a YAML file, for the CLI."""
    path = tmp_path_factory.mktemp("config") / "train.yaml"
    path.write_text(yaml.safe_dump(fast_config.model_dump(mode="json")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def runs_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the one runs store the session's training runs share: creating a store
    can take seconds (an MLflow database), so tests find their runs by run id or model version."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def runs_store(runs_home: Path) -> str:
    """The location of that store, as ``--runs-store`` and ``run_store`` functions take it."""
    return run_store.store_in(runs_home)


@pytest.fixture(scope="session")
def trained(sample: pd.DataFrame, schema: Schema, fast_config: TrainConfig) -> TrainingResult:
    return train(sample, schema, fast_config)


Register = Callable[..., str]


@pytest.fixture(scope="session")
def register(schema: Schema) -> Register:
    """``register(result, root, promote=False, schema=..., **metadata)``: save a training result
    in the registry at ``root`` with its metrics and params (and lineage or reference, when
    given), promoted if asked; returns its version."""

    def save(result: TrainingResult, root: Path, promote: bool = False, **metadata: Any) -> str:
        metadata.setdefault("schema", schema)
        version = registry.save(
            result.pipeline,
            root,
            metrics=result.registry_metrics(),
            params=result.registry_params(),
            **metadata,
        )
        if promote:
            promotion.promote(root, version)
        return version

    return save


@pytest.fixture(scope="session")
def model_dir(
    tmp_path_factory: pytest.TempPathFactory, trained: TrainingResult, register: Register
) -> Path:
    """A registry holding the trained model as champion."""
    root = tmp_path_factory.mktemp("models")
    lineage = {"data_hash": "ab" * 32, "git_commit": "0" * 40, "run_id": "run-fixture"}
    register(trained, root, promote=True, lineage=lineage)
    return root


@pytest.fixture(scope="session")
def loaded(model_dir: Path) -> registry.LoadedModel:
    return registry.load(model_dir)


@pytest.fixture(scope="session")
def monitored(
    tmp_path_factory: pytest.TempPathFactory,
    trained: TrainingResult,
    schema: Schema,
    sample: pd.DataFrame,
    register,
) -> Path:
    """A registry whose champion carries the reference profile of its training data."""
    root = tmp_path_factory.mktemp("monitored")
    register(
        trained, root, promote=True, reference=reference_profile(trained.pipeline, schema, sample)
    )
    return root
