"""The end-to-end jobs behind ``train``, ``evaluate`` and ``monitor``: what the CLI and the
benchmarks run.

train: read and validate the data -> tune and choose (``train.train``) -> save a new version
with its lineage and the training data's reference profile (for monitoring) -> canary (load
it back, score held-out rows) -> ``promotion.promote`` (the gate) -> evaluate the new champion
(reports and model card). Every run that reaches the registry is recorded in the runs store,
promoted or not.

monitor: the champion's reference against the prediction log or a batch file, the runtime's
checks and the project's own (``checks.py``) -> report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from .config import MonitorConfig, TrainConfig
from .core import clock
from .core.coerce import target_values
from .core.errors import ProjectError
from .core.gate import PromotionRefused
from .core.model import PredictionError, predict_frame
from .core.schema import Schema
from .core.validation import check
from .io import promotion, registry
from .io.run_store import RunStore
from .io.tables import TableError, read_table
from .monitoring.checks import ALERT, data_checks, own_checks
from .monitoring.current import current_from_file, current_from_log, reference_profile
from .monitoring.report import breach_lines, write_report
from .project import Project
from .training.config_check import check_config
from .training.derived import DerivedFeatureError
from .training.evaluate import write_evaluation
from .training.tracking import Progress, Stopwatch, git_commit, new_run_id
from .training.train import Candidates, TrainingResult, train

CANARY_ROWS = 20


class CanaryError(ProjectError, RuntimeError):
    """The stored artifact could not be loaded or scored: it is not promoted."""


@dataclass(frozen=True)
class Outputs:
    """Where a job writes: registry, reports, model card and runs store."""

    models: Path
    reports: Path
    model_card: Path
    runs: RunStore


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run produced and whether its model became champion."""

    run_id: str
    version: str
    promoted: bool
    message: str
    result: TrainingResult
    durations: dict[str, float]
    report: dict[str, Any] | None


def _labelled_data(
    path: Path, schema: Schema, what: str, consequence: str = ""
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The valid file's labelled rows and its record (path, sha256, rows used). A nullable
    target's unlabelled rows are left out, and counted in the record; TableError if none is
    left."""
    frame = read_table(path, **schema.reading)
    check(frame, schema, what, consequence=consequence)
    labelled = frame[target_values(frame[schema.target], schema).notna()].reset_index(drop=True)
    if labelled.empty:
        unlabelled = f"none of its {len(frame)} rows has a {schema.target} value"
        raise TableError(
            f"{what} has no labelled rows: {unlabelled}"
            if len(frame)
            else f"{what} has no rows: the file holds only a header"
        )
    record = {"path": str(path), "sha256": registry.sha256(path), "rows": len(labelled)}
    if len(labelled) < len(frame):
        record["unlabelled_rows"] = len(frame) - len(labelled)
    return labelled, record


def _canary(root: Path, version: str, result: TrainingResult, trusted: Sequence[str]) -> None:
    try:
        model = registry.load(root, version, trusted)
        predict_frame(model, result.test_split.features.head(CANARY_ROWS))
    except (registry.RegistryError, PredictionError, DerivedFeatureError) as error:
        raise CanaryError(f"canary check failed, {version} not promoted: {error}") from None


def train_job(
    data_path: Path,
    schema: Schema,
    config: TrainConfig,
    outputs: Outputs,
    project: Project,
    progress: Progress | None = None,
) -> TrainOutcome:
    """Train the project's candidates, register, canary, promote and evaluate; record the run.

    Raises TableError or DataValidationError before anything is written, and CanaryError
    when the stored model does not score. A model refused by the promotion gate stays
    registered as a challenger: ``promoted`` is False and ``message`` says why.
    """
    with threadpool_limits(limits=config.threads):  # the canary and evaluation predict too
        return _train_job(data_path, schema, config, outputs, project, progress)


def _train_job(
    data_path: Path,
    schema: Schema,
    config: TrainConfig,
    outputs: Outputs,
    project: Project,
    progress: Progress | None,
) -> TrainOutcome:
    parts = project.parts
    candidates = Candidates(parts.families, parts.features)
    stopwatch = Stopwatch(progress)
    started = clock.iso()
    with stopwatch.stage("load_validate"):
        frame, data = _labelled_data(
            data_path, schema, f"training data {data_path}", "refusing to train on it"
        )
        check_config(schema, config, candidates, frame)
    run_id, commit = new_run_id(), git_commit()
    result = train(frame, schema, config, candidates, progress)
    stopwatch.durations.update(result.durations)
    with stopwatch.stage("reference_profile"):
        reference = reference_profile(result.pipeline, schema, frame)
    with stopwatch.stage("save"):
        lineage = {"data_hash": data["sha256"], "git_commit": commit, "run_id": run_id}
        version = registry.save(
            result.pipeline,
            outputs.models,
            schema=schema,
            metrics=result.registry_metrics(),
            params=result.registry_params(),
            lineage=lineage,
            reference=reference,
        )
    record = {
        "run_id": run_id,
        "started_at": started,
        "model_version": version,
        "params": result.registry_params(),
        "metrics": result.registry_metrics(),
        "data": data,
        "git_commit": commit,
        "libraries": registry.library_versions(),
        "durations": stopwatch.durations,
    }
    try:
        with stopwatch.stage("canary"):
            _canary(outputs.models, version, result, parts.trusted)
        with stopwatch.stage("promote"):
            message = promotion.promote(outputs.models, version)
        promoted = True
    except CanaryError as error:
        outputs.runs.record({**record, "status": "canary_failed", "message": str(error)})
        raise
    except PromotionRefused as error:
        promoted, message = False, str(error)
    # Recorded before the evaluation: a run killed while evaluating has promoted its model.
    outputs.runs.record(
        {**record, "status": "promoted" if promoted else "refused", "message": message}
    )
    report = None
    if promoted:
        with stopwatch.stage("evaluation"):
            champion = registry.load(outputs.models, version, parts.trusted)
            reports, card = outputs.reports, outputs.model_card
            report = write_evaluation(
                champion, frame, data, reports, card, project.name, candidates
            )
    return TrainOutcome(run_id, version, promoted, message, result, stopwatch.durations, report)


def evaluate_job(
    data_path: Path, outputs: Outputs, project: Project, version: str | None = None
) -> dict[str, Any]:
    """Evaluate ``version`` (default: the champion) on the test split of ``data_path``."""
    parts = project.parts
    model = registry.load(outputs.models, version, parts.trusted)
    frame, data = _labelled_data(data_path, model.schema, f"evaluation data {data_path}")
    reports, card = outputs.reports, outputs.model_card
    candidates = Candidates(parts.families, parts.features)
    return write_evaluation(model, frame, data, reports, card, project.name, candidates)


def monitor_job(
    models: Path,
    output: Path,
    config: MonitorConfig,
    project: Project,
    *,
    log_path: Path,
    input_path: Path | None = None,
    since: str | None = None,
    labels_path: Path | None = None,
    engine: Any = None,
) -> dict[str, Any]:
    """Compare the champion's reference with the log (or ``input_path``); write the report.

    A Parquet log's parts are tallied on the cluster ``engine``'s workers when one is given
    (``scoring.dataset.Engine``).

    Returns the report (``status`` "alert" when a threshold is breached, ``breaches`` one line
    each). Raises RegistryError (no champion or reference), MonitorError (no data, bad labels)
    or TableError (unreadable input file).
    """
    from .monitoring.quality import quality_check

    parts = project.parts
    model = registry.load(models, None, parts.trusted)
    reference = registry.load_reference(models, model.version)
    if input_path is not None:
        current = current_from_file(input_path, model, reference)
    else:
        current = current_from_log(log_path, model, reference, since, engine)
    found = data_checks(model, reference, current, config)
    checks = found["checks"] + own_checks(parts.checks, current, reference, model, config)
    quality = None
    if labels_path is not None:
        quality = quality_check(model, labels_path, log_path, config.labels)
        keys = ("check", "subject", "value", "threshold", "rule", "status")
        checks.append({k: quality[k] for k in keys})
    report: dict[str, Any] = {
        "model_version": model.version,
        "generated_at": clock.iso(digits=6),
        "source": current.source,
        "rows": current.rows,
        "violations": current.violations,
        "reference_rows": reference["rows"],
        "model_age_days": found["model_age"],
        "checks": checks,
        "features": found["features"],
        "prediction": found["prediction"],
        "quality": quality,
    }
    report["breaches"] = breach_lines(report)
    report["status"] = ALERT if report["breaches"] else "ok"
    write_report(report, output)
    return report
