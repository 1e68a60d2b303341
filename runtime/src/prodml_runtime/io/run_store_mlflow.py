"""The runs store in MLflow: every training run becomes an MLflow run.

The tracking URI is ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` (a file in the
directory commands run from, the project root under ``make``): no server, works offline. The
experiment is named after the project; a sqlite store keeps its artifacts in ``mlartifacts/`` next
to the database. Each run holds the flattened config as params; test, validation and CV
mean metrics per family (``test.<family>.<metric>``) and stage durations (``duration.<stage>``)
as metrics; data hash, git commit, model version and library versions as tags; and the full
record as the artifact ``run.json``. Browse them with
``mlflow ui --backend-store-uri sqlite:///mlflow.db``.

mlflow is imported inside the functions: importing it takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import clock
from ..settings import settings
from .run_store_local import RunNotFoundError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

#: The environment variable naming the store (``settings.Settings.mlflow_tracking_uri``).
LOCATION_ENV = "MLFLOW_TRACKING_URI"
ARTIFACTS_DIR = "mlartifacts"
RECORD_ARTIFACT = "run.json"
_SQLITE = "sqlite:///"
_MAX_PARAM = 6000  # MLflow's limit on a param value
_BATCH = 100  # MLflow's limit on params (and tags) per log_batch call


def location(given: str | Path | None = None) -> str:
    """The tracking URI: ``given``, else ``$MLFLOW_TRACKING_URI``, else sqlite:///mlflow.db."""
    return str(given or settings().mlflow_tracking_uri)


def store_in(directory: Path) -> str:
    """The URI of a sqlite store kept inside ``directory`` (tests, benchmarks)."""
    directory.mkdir(parents=True, exist_ok=True)
    return _SQLITE + str(directory.resolve() / "mlflow.db")


def _sqlite_file(uri: str) -> Path | None:
    path = uri[len(_SQLITE) :] if uri.startswith(_SQLITE) else ""
    return Path(path) if path and path != ":memory:" else None


def connect(uri: str) -> MlflowClient:
    """A client of the store at tracking URI ``uri``."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _existing_experiment(client: MlflowClient, name: str) -> str | None:
    experiment = client.get_experiment_by_name(name)
    return None if experiment is None else experiment.experiment_id


def _experiment_id(client: MlflowClient, uri: str, name: str) -> str:
    """The experiment's id, creating it (artifacts next to a sqlite database) if need be."""
    from mlflow.exceptions import MlflowException

    existing = _existing_experiment(client, name)
    if existing is not None:
        return existing
    database = _sqlite_file(uri)
    artifacts = (database.resolve().parent / ARTIFACTS_DIR).as_uri() if database else None
    try:
        return client.create_experiment(name, artifact_location=artifacts)
    except MlflowException:  # created meanwhile by another process
        existing = _existing_experiment(client, name)
        if existing is None:
            raise
        return existing


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _metrics(record: dict[str, Any]) -> dict[str, float]:
    metrics = record.get("metrics", {})
    flat = {}
    for split in ("test", "validation"):
        flat.update(_flatten(metrics.get(split) or {}, split))
    for key, value in _flatten(metrics.get("cv") or {}, "cv").items():
        if key.endswith(".mean"):
            flat[key.removesuffix(".mean")] = value
    for stage, seconds in record.get("durations", {}).items():
        flat[f"duration.{stage}"] = seconds
    return {key: float(value) for key, value in flat.items() if _number(value)}


def _tags(record: dict[str, Any]) -> dict[str, str]:
    metrics, data = record.get("metrics", {}), record.get("data", {})
    tags = {
        "run_id": record["run_id"],
        "status": record.get("status"),
        "message": record.get("message"),
        "started_at": record.get("started_at"),
        "model_version": record.get("model_version"),
        "champion": metrics.get("champion"),
        "primary_metric": metrics.get("primary_metric"),
        "data_hash": data.get("sha256"),
        "data_path": data.get("path"),
        "data_rows": data.get("rows"),
        "git_commit": record.get("git_commit"),
        "mlflow.source.git.commit": record.get("git_commit"),
    }
    for name, version in record.get("libraries", {}).items():
        tags[f"library.{name}"] = version
    return {key: str(value)[:5000] for key, value in tags.items() if value is not None}


def _start_time(record: dict[str, Any]) -> int | None:
    try:
        return int(clock.parse(record.get("started_at") or "") * 1000)
    except ValueError:
        return None


def record_run(store: str | Path, record: dict[str, Any], experiment: str) -> None:
    """Log ``record`` (which must hold ``run_id``) as one finished run of ``experiment``."""
    from mlflow.entities import Metric, Param

    uri = location(store)
    database = _sqlite_file(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    client = connect(uri)
    experiment_id = _experiment_id(client, uri, experiment)
    run = client.create_run(
        experiment_id,
        start_time=_start_time(record),
        tags=_tags(record),
        run_name=record["run_id"],
    )
    run_id, now = run.info.run_id, int(time.time() * 1000)
    params = [Param(k, _param(v)) for k, v in _flatten(record.get("params", {}), "").items()]
    for start in range(0, len(params), _BATCH):
        client.log_batch(run_id, params=params[start : start + _BATCH])
    metrics = [Metric(k, v, now, 0) for k, v in _metrics(record).items()]
    client.log_batch(run_id, metrics=metrics)
    client.log_dict(run_id, record, RECORD_ARTIFACT)
    failed = record.get("status") == "canary_failed"
    client.set_terminated(run_id, status="FAILED" if failed else "FINISHED")


def _summary(run: Run) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    champion, metric = tags.get("champion"), tags.get("primary_metric")
    return {
        "run_id": tags.get("run_id", run.info.run_name),
        "started_at": tags.get("started_at"),
        "status": tags.get("status"),
        "model_version": tags.get("model_version"),
        "champion": champion,
        "metric": metric,
        "test_score": metrics.get(f"test.{champion}.{metric}"),
        "data_sha256": tags.get("data_hash"),
        "git_commit": tags.get("git_commit"),
    }


def _runs(store: str | Path, experiment: str, filter_string: str = "") -> list[Run]:
    uri = location(store)
    database = _sqlite_file(uri)
    if database is not None and not database.is_file():
        return []  # nothing recorded yet: do not create an empty database by looking
    client = connect(uri)
    experiment_id = _existing_experiment(client, experiment)
    if experiment_id is None:
        return []
    found: list[Run] = []
    token: str | None = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string, max_results=1000, page_token=token
        )
        found.extend(page)
        token = page.token
        if not token:
            break
    return sorted(found, key=lambda run: (run.info.start_time, run.info.end_time or 0))


def list_runs(store: str | Path, experiment: str) -> list[dict[str, Any]]:
    """Run summaries, oldest first (empty before the first run)."""
    return [_summary(run) for run in _runs(store, experiment)]


def read_run(store: str | Path, run_id: str, experiment: str) -> dict[str, Any]:
    """The full record of one run (its ``run.json``); RunNotFoundError if there is none."""
    found = re.fullmatch(r"[\w-]+", run_id)
    runs = _runs(store, experiment, f"tags.run_id = '{run_id}'") if found else []
    if not runs:
        raise RunNotFoundError(f"no run {run_id!r} in {location(store)}")
    client = connect(location(store))
    with tempfile.TemporaryDirectory() as directory:
        path = client.download_artifacts(runs[-1].info.run_id, RECORD_ARTIFACT, directory)
        record: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        return record


def run_of(store: str | Path, experiment: str, model_version: str) -> str | None:
    """The MLflow id of the run that registered ``model_version`` (None if none did)."""
    runs = _runs(store, experiment, f"tags.model_version = '{model_version}'")
    return runs[-1].info.run_id if runs else None
