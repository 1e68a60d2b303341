"""The train and evaluate jobs on a file with unlabelled rows (a nullable target)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import TrainConfig
from {{ cookiecutter.package_name }}.core.schema import Schema
from {{ cookiecutter.package_name }}.core.validation import DataValidationError
from {{ cookiecutter.package_name }}.io import run_store
from {{ cookiecutter.package_name }}.jobs import Outputs, evaluate_job, train_job


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
    runs = run_store.store_in(tmp_path)  # a runs/ folder, or an MLflow database
    return Outputs(tmp_path / "models", tmp_path / "reports", tmp_path / "card.md", runs)


def test_unlabelled_rows_are_left_out_of_training_and_evaluation_and_counted(
    tmp_path: Path, unlabelled_file: Path, schema: Schema, fast_config: TrainConfig
) -> None:
    nullable = with_target(schema, nullable=True)
    outcome = train_job(unlabelled_file, nullable, fast_config, outputs(tmp_path))
    assert outcome.report is not None, outcome.message
    assert outcome.report["data"]["rows"] == 540 and outcome.report["data"]["unlabelled_rows"] == 60
    report = evaluate_job(unlabelled_file, outputs(tmp_path), outcome.version)
    assert report["data"]["rows"] == 540


def test_without_a_nullable_target_unlabelled_rows_are_refused(
    tmp_path: Path, unlabelled_file: Path, schema: Schema, fast_config: TrainConfig
) -> None:
    with pytest.raises(DataValidationError, match="refusing to train on it"):
        train_job(
            unlabelled_file, with_target(schema, nullable=False), fast_config, outputs(tmp_path)
        )
    assert not (tmp_path / "models").exists(), "nothing is registered"
