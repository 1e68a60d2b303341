"""The training contract, on rows of the schema: a run registers a champion, records the run
and writes the evaluation; the champion loads verified and scores every row; the same data and
config give the same model file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from prodml_runtime.core.model import predict_frame
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry
from prodml_runtime.jobs import Outputs, TrainOutcome, train_job
from prodml_runtime.project import Project

from {{ cookiecutter.package_name }}.project import PROJECT


def test_a_run_registers_a_champion_and_records_itself(
    trained: tuple[TrainOutcome, Outputs],
) -> None:
    outcome, outputs = trained
    assert outcome.promoted, outcome.message
    assert registry.champion(outputs.models) == outcome.version
    (run,) = [r for r in outputs.runs.runs() if r["run_id"] == outcome.run_id]
    assert run["status"] == "promoted" and run["model_version"] == outcome.version
    report = json.loads((outputs.reports / "metrics.json").read_text(encoding="utf-8"))
    assert report["model_version"] == outcome.version
    assert outcome.version in outputs.model_card.read_text(encoding="utf-8")


def test_the_champion_loads_and_scores_every_row(
    models: Path, schema: Schema, sample: pd.DataFrame
) -> None:
    model = registry.load(models, None, PROJECT.parts.trusted)
    scored = predict_frame(model, sample[schema.feature_names])
    assert len(scored) == len(sample)
    if schema.is_classification:
        assert set(scored["prediction"]) <= set(schema.classes)
        probabilities = scored[[f"proba_{c}" for c in model.classes]].to_numpy()
        assert np.allclose(probabilities.sum(axis=1), 1.0)
    else:
        assert np.isfinite(scored["prediction"].to_numpy(dtype=float)).all()


def test_the_same_data_and_config_give_the_same_model_file(
    tmp_path: Path,
    trained: tuple[TrainOutcome, Outputs],
    sample_file: Path,
    schema: Schema,
    quick_project: Project,
) -> None:
    first, outputs = trained
    again = Outputs(tmp_path / "models", tmp_path / "reports", tmp_path / "card.md", outputs.runs)
    config = first.result.config
    second = train_job(sample_file, schema, config, again, quick_project)
    before = registry.read_metadata(outputs.models, first.version)
    after = registry.read_metadata(again.models, second.version)
    assert before["sha256"] == after["sha256"]
    assert before["metrics"]["test"] == after["metrics"]["test"]
