"""Shared fixtures of the runtime's tests: a demo project for each problem type (``demo``), its
sample data and a model trained on it (session-scoped).

``problem`` runs a test for each demo schema; a module whose subject does not depend on the
problem type overrides it with one. The tests derive their cases from the schema, never from
the demo's columns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from prodml_runtime.config import TrainConfig, load_schema
from prodml_runtime.core.model import LoadedModel
from prodml_runtime.core.schema import Column, ColumnType, Schema
from prodml_runtime.data.sample import generate_sample
from prodml_runtime.io import promotion, registry
from prodml_runtime.io.run_store import RunStore
from prodml_runtime.monitoring.current import reference_profile
from prodml_runtime.project import Project
from prodml_runtime.training.train import Candidates, TrainingResult, train
from threadpoolctl import threadpool_limits

from tests.demo import (
    PROBLEMS,
    SCHEMAS,
    BadCell,
    Bound,
    a_bound,
    bad_cells,
    demo_families,
    demo_project,
    first_feature,
)

# The test data is small: one thread per native pool is as fast, and parallel test runners
# (CI, pytest-xdist) do not oversubscribe the cores with OpenMP threads that spin-wait.
threadpool_limits(1)


@pytest.fixture(scope="session", params=PROBLEMS)
def problem(request: pytest.FixtureRequest) -> str:
    """The demo project's problem type: binary, multiclass or regression."""
    return str(request.param)


@pytest.fixture(scope="session")
def schema_path(problem: str) -> Path:
    return SCHEMAS / f"{problem}.yaml"


@pytest.fixture(scope="session")
def schema(schema_path: Path) -> Schema:
    return load_schema(schema_path)


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
def sample_path(tmp_path_factory: pytest.TempPathFactory, sample: pd.DataFrame) -> Path:
    """``sample`` as a CSV file."""
    path = tmp_path_factory.mktemp("data") / "sample.csv"
    sample.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def fast_config() -> TrainConfig:
    """Three folds, one job: a fast suite (a project's configs/train.yaml has its settings)."""
    # pytest-xdist runs a suite's tests on every core already: one job each.
    return TrainConfig(random_state=0, min_improvement=0.0, cv_folds=3, jobs=1)


@pytest.fixture(scope="session")
def fast_config_path(tmp_path_factory: pytest.TempPathFactory, fast_config: TrainConfig) -> Path:
    """``fast_config`` as a YAML file, for the CLI."""
    path = tmp_path_factory.mktemp("config") / "train.yaml"
    path.write_text(yaml.safe_dump(fast_config.model_dump(mode="json")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def candidates(schema: Schema) -> Candidates:
    return Candidates(demo_families(schema))


@pytest.fixture(scope="session")
def project(schema: Schema, sample_path: Path) -> Project:
    return demo_project(schema, sample_path)


@pytest.fixture(scope="session")
def runs_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the one runs store the session's training runs share: creating a store
    can take seconds (an MLflow database), so tests find their runs by run id or model version."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def runs_store(runs_home: Path) -> RunStore:
    """The local runs store in ``runs_home``."""
    return RunStore.inside("local", "demo", runs_home)


@pytest.fixture(scope="session")
def trained(
    sample: pd.DataFrame, schema: Schema, fast_config: TrainConfig, candidates: Candidates
) -> TrainingResult:
    return train(sample, schema, fast_config, candidates)


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
def loaded(model_dir: Path) -> LoadedModel:
    return registry.load(model_dir)


@pytest.fixture(scope="session")
def monitored(
    tmp_path_factory: pytest.TempPathFactory,
    trained: TrainingResult,
    schema: Schema,
    sample: pd.DataFrame,
    register: Register,
) -> Path:
    """A registry whose champion carries the reference profile of its training data."""
    root = tmp_path_factory.mktemp("monitored")
    register(
        trained, root, promote=True, reference=reference_profile(trained.pipeline, schema, sample)
    )
    return root
