"""Fixtures of the project's contract tests: its schema and configs, rows made from the schema,
and a model trained on them the project's way (its families, features and configs) into a
temporary registry. The tests never read the real data: every case comes from the schema."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from prodml_runtime.config import (
    MonitorConfig,
    TrainConfig,
    load_config,
    load_monitor_config,
    load_schema,
)
from prodml_runtime.core.schema import Schema
from prodml_runtime.data.sample import generate_sample
from prodml_runtime.io.run_store import RunStore
from prodml_runtime.jobs import Outputs, TrainOutcome, train_job
from prodml_runtime.project import Project
from prodml_runtime.settings import Settings
from threadpoolctl import threadpool_limits

from {{ cookiecutter.package_name }}.project import PROJECT

from .cases import ROOT

# One native thread per pool: the data is small, and pytest may run beside other work.
threadpool_limits(1)

ROWS = 800


@pytest.fixture(scope="session")
def schema() -> Schema:
    return load_schema(ROOT / "configs" / "schema.yaml")


@pytest.fixture(scope="session")
def train_config() -> TrainConfig:
    return load_config(ROOT / "configs" / "train.yaml")


@pytest.fixture(scope="session")
def monitor_config() -> MonitorConfig:
    return load_monitor_config(ROOT / "configs" / "monitor.yaml")


@pytest.fixture(scope="session")
def sample(schema: Schema) -> pd.DataFrame:
    """Rows made from the schema alone (``make data`` writes more of them)."""
    return generate_sample(schema, rows=ROWS, seed=11)


@pytest.fixture(scope="session")
def sample_file(
    tmp_path_factory: pytest.TempPathFactory, schema: Schema, sample: pd.DataFrame
) -> Path:
    """``sample`` as a CSV written the way the schema says the data files are."""
    path = tmp_path_factory.mktemp("data") / "sample.csv"
    sample.to_csv(path, index=False, **schema.writing)
    return path


@pytest.fixture(scope="session")
def quick_project() -> Project:
    """The project with its linear family alone: every family fits in test_models.py."""
    return replace(PROJECT, models={"linear": PROJECT.parts.families["linear"]})


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
    schema: Schema,
    train_config: TrainConfig,
    sample_file: Path,
    quick_project: Project,
) -> tuple[TrainOutcome, Outputs]:
    """``train`` the project's way on the sample, with two folds and no promotion margin."""
    work = tmp_path_factory.mktemp("work")
    config = train_config.model_copy(update={"cv_folds": 2, "jobs": 1, "min_improvement": 0.0})
    runs = RunStore.inside("local", PROJECT.name, work)
    outputs = Outputs(work / "models", work / "reports", work / "model-card.md", runs)
    return train_job(sample_file, schema, config, outputs, quick_project), outputs


@pytest.fixture(scope="session")
def models(trained: tuple[TrainOutcome, Outputs]) -> Path:
    """The registry holding the trained champion."""
    return trained[1].models


@pytest.fixture
def settings(tmp_path: Path, models: Path, sample_file: Path) -> Settings:
    """Serving settings: the trained registry, this project's schema, a fresh prediction log."""
    return Settings(
        model_dir=models,
        schema_path=ROOT / "configs" / "schema.yaml",
        example_data=sample_file,
        prediction_log=tmp_path / "predictions.db",
    )
