"""The runs store, local or MLflow: a run's record is read back whole, and the index summarizes
it. The local store keeps atomic records and an append-only index under runs/; MLflow holds each
record as a run with params, metrics, tags and run.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prodml_runtime.io.run_store import RunNotFoundError, RunStore
from prodml_runtime.io.run_store_local import INDEX_FILE
from prodml_runtime.project import Tracking
from prodml_runtime.training.tracking import new_run_id

TRACKING: list[Tracking] = ["local", "mlflow"]


def _record(run_id: str, score: float, started: str = "2026-01-02T03:04:05Z") -> dict[str, Any]:
    return {
        "run_id": run_id,
        "started_at": started,
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


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    """The module's MLflow store: creating its database takes seconds, so tests find their
    runs by run id."""
    return RunStore.inside("mlflow", "demo", tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(params=TRACKING)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RunStore:
    """A store of each kind: a new local one, the module's MLflow one."""
    if request.param == "mlflow":
        found: RunStore = request.getfixturevalue("mlflow_store")
        return found
    return RunStore.inside("local", "demo", tmp_path)


def _two_runs(store: RunStore) -> tuple[str, str]:
    first, second = new_run_id(), new_run_id()
    store.record(_record(first, 0.7))
    store.record(_record(second, 0.8, started="2026-01-02T03:04:06Z"))
    return first, second


def test_runs_are_recorded_and_read_back(store: RunStore) -> None:
    first, second = _two_runs(store)
    entries = [e for e in store.runs() if e["run_id"] in (first, second)]
    assert [e["run_id"] for e in entries] == [first, second], "oldest first"
    assert entries[1] == {
        "run_id": second,
        "started_at": "2026-01-02T03:04:06Z",
        "status": "promoted",
        "model_version": f"v-{second}",
        "champion": "c",
        "metric": "m",
        "test_score": 0.8,
        "data_sha256": "ab" * 32,
        "git_commit": None,
    }
    assert store.run(first) == _record(first, 0.7)
    assert store.run(second) == _record(second, 0.8, started="2026-01-02T03:04:06Z")
    with pytest.raises(RunNotFoundError):
        store.run("missing")


def test_the_local_store_writes_the_record_and_appends_to_the_index(tmp_path: Path) -> None:
    store = RunStore.inside("local", "demo", tmp_path)
    first, second = _two_runs(store)
    assert sorted(p.name for p in Path(store.location).iterdir()) == sorted(
        [f"{first}.json", f"{second}.json", INDEX_FILE]
    ), "no temporary files are left behind"


def test_an_mlflow_run_holds_params_metrics_tags_and_the_record(mlflow_store: RunStore) -> None:
    import mlflow

    first, _ = _two_runs(mlflow_store)
    client = mlflow.MlflowClient(tracking_uri=mlflow_store.location)
    experiment = client.get_experiment_by_name("demo")
    assert experiment is not None and experiment.artifact_location.endswith("/mlartifacts")
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


@pytest.mark.parametrize("tracking", TRACKING)
def test_an_empty_store_has_no_runs_and_is_not_created(tracking: Tracking, tmp_path: Path) -> None:
    where = tmp_path / ("missing" if tracking == "local" else "mlflow.db")
    given = where if tracking == "local" else f"sqlite:///{where}"
    assert RunStore.at(tracking, "demo", given).runs() == []
    assert not where.exists()


@pytest.mark.parametrize(
    ("tracking", "variable", "default", "other"),
    [
        ("local", "RUNS_DIR", "runs", "elsewhere"),
        ("mlflow", "MLFLOW_TRACKING_URI", "sqlite:///mlflow.db", "sqlite:///other.db"),
    ],
)
def test_the_store_is_given_else_the_environment_else_the_default(
    monkeypatch: pytest.MonkeyPatch, tracking: Tracking, variable: str, default: str, other: str
) -> None:
    monkeypatch.delenv(variable, raising=False)
    assert RunStore.at(tracking, "demo").location == default
    monkeypatch.setenv(variable, other)
    assert RunStore.at(tracking, "demo").location == other
    assert RunStore.at(tracking, "demo", "given").location == "given"
