"""The train and evaluate jobs on a file with unlabelled rows (a nullable target)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.core.validation import DataValidationError
from prodml_runtime.io.run_store import RunStore
from prodml_runtime.jobs import Outputs, evaluate_job, train_job
from prodml_runtime.project import Project


def with_target(schema: Schema, nullable: bool) -> Schema:
    """``schema`` with its target nullable (unlabelled rows allowed) or not."""
    columns = tuple(
        c.model_copy(update={"nullable": nullable}) if c.name == schema.target else c
        for c in schema.columns
    )
    return schema.model_copy(update={"columns": columns})


@pytest.fixture
def unlabelled_file(tmp_path: Path, sample: pd.DataFrame, schema: Schema) -> Path:
    frame = sample.head(600).copy()
    frame[schema.target] = frame[schema.target].astype(object)
    frame.loc[frame.index[::10], schema.target] = None  # 60 rows without a label
    path = tmp_path / "partly-labelled.csv"
    frame.to_csv(path, index=False)
    return path


def outputs(tmp_path: Path) -> Outputs:
    runs = RunStore.inside("local", "demo", tmp_path)  # a runs/ folder
    return Outputs(tmp_path / "models", tmp_path / "reports", tmp_path / "card.md", runs)


def test_unlabelled_rows_are_left_out_of_training_and_evaluation_and_counted(
    tmp_path: Path,
    unlabelled_file: Path,
    schema: Schema,
    fast_config: TrainConfig,
    project: Project,
) -> None:
    nullable = with_target(schema, nullable=True)
    outcome = train_job(unlabelled_file, nullable, fast_config, outputs(tmp_path), project)
    assert outcome.report is not None, outcome.message
    assert outcome.report["data"]["rows"] == 540 and outcome.report["data"]["unlabelled_rows"] == 60
    report = evaluate_job(unlabelled_file, outputs(tmp_path), project, outcome.version)
    assert report["data"]["rows"] == 540


def test_without_a_nullable_target_unlabelled_rows_are_refused(
    tmp_path: Path,
    unlabelled_file: Path,
    schema: Schema,
    fast_config: TrainConfig,
    project: Project,
) -> None:
    not_nullable = with_target(schema, nullable=False)
    with pytest.raises(DataValidationError, match="refusing to train on it"):
        train_job(unlabelled_file, not_nullable, fast_config, outputs(tmp_path), project)
    assert not (tmp_path / "models").exists(), "nothing is registered"
