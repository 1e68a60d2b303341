"""Shared fixtures: a small generated dataset and a model trained on it (session-scoped)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from {{ cookiecutter.package_name }} import registry
from {{ cookiecutter.package_name }}.config import TrainConfig
from {{ cookiecutter.package_name }}.data import generate_sample
from {{ cookiecutter.package_name }}.schema import (
    Schema,
    load_schema,
)
from {{ cookiecutter.package_name }}.train import (
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


@pytest.fixture(scope="session")
def sample(schema: Schema) -> pd.DataFrame:
    return generate_sample(schema, rows=1200, seed=7)


@pytest.fixture(scope="session")
def fast_config() -> TrainConfig:
    """A small grid so the suite stays fast; the real grid lives in configs/train.yaml."""
    return TrainConfig(
        random_state=0,
        min_improvement=0.0,
        hist_gradient_boosting={"max_iter": [80], "learning_rate": [0.1]},
    )


@pytest.fixture(scope="session")
def trained(sample: pd.DataFrame, schema: Schema, fast_config: TrainConfig) -> TrainingResult:
    return train(sample, schema, fast_config)


@pytest.fixture(scope="session")
def model_dir(
    tmp_path_factory: pytest.TempPathFactory, trained: TrainingResult, schema: Schema
) -> Path:
    """A registry holding the trained model as champion."""
    root = tmp_path_factory.mktemp("models")
    version = registry.save(
        trained.pipeline, root, schema=schema, metrics=trained.test, params=trained.params
    )
    registry.promote(root, version)
    return root


@pytest.fixture(scope="session")
def loaded(model_dir: Path) -> registry.LoadedModel:
    return registry.load(model_dir)
