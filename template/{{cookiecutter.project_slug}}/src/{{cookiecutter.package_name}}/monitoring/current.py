"""The data monitoring judges: the training reference and the current data.

``reference_profile`` runs at training time and is stored with the model version
(``reference.json``), so a rollback also rolls back the reference. A datetime feature is
profiled as the inputs the model derives from it (``core.dates``). The current data is the
prediction log (``current_from_log``) or a batch file scored by the champion
(``current_from_file``), validated and coerced as batch scoring does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from ..core.coerce import coerce_features
from ..core.dates import with_parts
from ..core.errors import ProjectError
from ..core.model import LoadedModel, predict_frame
from ..core.schema import Schema
from ..core.validation import row_problems
from ..io.prediction_log import PredictionLog
from ..io.tables import columns, read_chunks
from . import drift


class MonitorError(ProjectError, RuntimeError):
    """Nothing to monitor (no logged predictions) or an unusable input or labels file."""


def _profile(values: pd.Series, kind: str) -> dict[str, Any]:
    if kind in ("numeric", "datetime"):  # a datetime's derived inputs are numbers
        return drift.numeric_profile(values)
    return drift.categorical_profile(values)


def monitored(features: pd.DataFrame, schema: Schema) -> dict[str, dict[str, Any]]:
    """The profile of each monitored input of coerced ``features``."""
    kinds = {c.name: c.type for c in schema.features}
    inputs = with_parts(features, schema)
    return {str(n): _profile(inputs[n], kinds.get(str(n), "datetime")) for n in inputs.columns}


def reference_profile(pipeline: Pipeline, schema: Schema, frame: pd.DataFrame) -> dict[str, Any]:
    """The training data's profile: every feature, and the model's predictions on it."""
    features = coerce_features(frame, schema)
    scorer = LoadedModel(pipeline, {"version": "reference"}, schema)
    predictions = predict_frame(scorer, features)["prediction"]
    kind = "categorical" if schema.is_classification else "numeric"
    return {
        "rows": len(frame),
        "features": monitored(features, schema),
        "prediction": _profile(predictions, kind),
    }


@dataclass(frozen=True)
class Current:
    """The data being judged: valid rows' monitored inputs (``with_parts``), the champion's
    predictions, row counts."""

    source: str
    features: pd.DataFrame
    predictions: pd.Series
    rows: int
    violations: int


def current_from_log(log_path: Path, model: LoadedModel, since: str | None) -> Current:
    """Logged predictions (all versions' inputs; the champion's outputs) since ``since``."""
    if not log_path.is_file():
        raise MonitorError(
            f"no prediction log at {log_path}: run `make predict` or serve some traffic first"
        )
    logged = PredictionLog(log_path).read(since=since)
    if logged.empty:
        window = f" since {since}" if since else ""
        raise MonitorError(
            f"no logged predictions in {log_path}{window}: run `make predict` or serve some "
            "traffic first"
        )
    schema = model.schema
    inputs = pd.DataFrame.from_records(logged["inputs"].tolist(), columns=schema.feature_names)
    problems = row_problems(inputs, schema)
    valid = inputs.drop(index=problems.index)
    champion = logged["model_version"] == model.version
    predictions = pd.Series([o.get("prediction") for o in logged.loc[champion, "outputs"]])
    source = f"prediction log {log_path}" + (f" since {since}" if since else "")
    inputs = with_parts(coerce_features(valid, schema), schema)
    return Current(source, inputs, predictions, len(logged), len(problems))


def current_from_file(path: Path, model: LoadedModel, chunk_rows: int = 50_000) -> Current:
    """A batch file, validated and scored with the champion in chunks (nothing logged)."""
    schema = model.schema
    missing = [name for name in schema.feature_names if name not in columns(path)]
    if missing:
        raise MonitorError(f"{path} is missing column(s): {', '.join(missing)}")
    features, predictions, rows, violations = [], [], 0, 0
    for chunk in read_chunks(path, chunk_rows, schema.feature_names, schema.na_values):
        rows += len(chunk)
        problems = row_problems(chunk, schema)
        violations += len(problems)
        valid = coerce_features(chunk.drop(index=problems.index), schema)
        features.append(valid)
        if len(valid):
            predictions.append(predict_frame(model, valid)["prediction"])
    if rows == 0:
        raise MonitorError(f"{path} has no rows")
    frame = with_parts(pd.concat(features), schema)
    scored = pd.concat(predictions) if predictions else pd.Series(dtype=float)
    return Current(f"file {path}", frame, scored.reset_index(drop=True), rows, violations)
