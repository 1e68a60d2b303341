"""The MLflow runs store: each record is an MLflow run with params, metrics, tags and run.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.io.run_store import (
    EXPERIMENT,
    RunNotFoundError,
    list_runs,
    location,
    read_run,
    record_run,
)
from {{ cookiecutter.package_name }}.training.tracking import new_run_id


def _record(run_id: str, score: float) -> dict:
    return {
        "run_id": run_id,
        "started_at": "2026-01-02T03:04:05Z",
        "status": "promoted",
        "model_version": f"v-{run_id}",
        "params": {"family": "c", "best_params": {"c": {"alpha": 0.5}}, "config": {"seed": 1}},
        "metrics": {
            "primary_metric": "m",
            "higher_is_better": True,
            "champion": "c",
            "test": {"c": {"m": score}},
            "cv": {"c": {"m": {"mean": 0.6, "std": 0.1}}},
            "validation": {"c": {"m": 0.65}},
        },
        "data": {"path": "data.csv", "sha256": "ab" * 32, "rows": 10},
        "git_commit": None,
        "libraries": {"python": "3.x", "scikit-learn": "1.x"},
        "durations": {"train": 1.5},
    }


def test_runs_are_logged_to_mlflow_and_read_back(runs_store: str) -> None:
    import mlflow

    first, second = new_run_id(), new_run_id()
    record_run(runs_store, _record(first, 0.7))
    record_run(runs_store, _record(second, 0.8))

    entries = {e["run_id"]: e for e in list_runs(runs_store)}
    assert entries[second] == {
        "run_id": second,
        "started_at": "2026-01-02T03:04:05Z",
        "status": "promoted",
        "model_version": f"v-{second}",
        "champion": "c",
        "metric": "m",
        "test_score": 0.8,
        "data_sha256": "ab" * 32,
        "git_commit": None,
    }
    assert read_run(runs_store, first) == _record(first, 0.7)
    with pytest.raises(RunNotFoundError):
        read_run(runs_store, "missing")

    client = mlflow.MlflowClient(tracking_uri=runs_store)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.artifact_location.endswith("/mlartifacts")
    (run,) = client.search_runs([experiment.experiment_id], f"tags.run_id = '{first}'")
    assert run.info.status == "FINISHED" and run.info.run_name == first
    assert run.data.params["family"] == "c" and run.data.params["best_params.c.alpha"] == "0.5"
    assert run.data.params["config.seed"] == "1"
    assert run.data.metrics == {
        "test.c.m": 0.7,
        "validation.c.m": 0.65,
        "cv.c.m": 0.6,
        "duration.train": 1.5,
    }
    tags = run.data.tags
    assert tags["data_hash"] == "ab" * 32 and tags["model_version"] == f"v-{first}"
    assert tags["library.scikit-learn"] == "1.x" and "git_commit" not in tags


def test_an_empty_store_has_no_runs_and_is_not_created(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert list_runs(uri) == []
    assert not (tmp_path / "mlflow.db").exists()


def test_the_store_is_given_else_the_tracking_uri_else_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert location() == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///other.db")
    assert location() == "sqlite:///other.db" and location("http://host") == "http://host"
