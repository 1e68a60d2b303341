"""The data monitoring judges: the training reference and the current data.

``reference_profile`` runs at training time and is stored with the model version
(``reference.json``), so a rollback also rolls back the reference. A datetime feature is
profiled as the inputs the model derives from it (``core.dates``). The current data is the
prediction log (``current_from_log``: SQLite, or the Dask engine's Parquet folder) or a batch
file scored by the champion (``current_from_file``), validated and coerced as batch scoring
does, and tallied part by part (``tally``): the parts' counts add up to the whole's.
"""

from __future__ import annotations

from functools import partial
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
from ..io.parquet_log import ParquetLog, read_part
from ..io.prediction_log import PredictionLog, decode
from ..io.tables import columns, read_chunks
from . import drift
from .tally import Current, tally_current, total


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


def tally_rows(
    inputs: pd.DataFrame,
    model: LoadedModel,
    reference: dict[str, Any],
    predictions: pd.Series | None = None,
) -> Current:
    """The tallies of one part's raw ``inputs``: its rows that break the schema are counted
    and set aside, the rest coerced; ``predictions`` None scores them with ``model``."""
    schema = model.schema
    problems = row_problems(inputs, schema)
    features = coerce_features(inputs.drop(index=problems.index), schema)
    if predictions is None:
        predictions = (
            predict_frame(model, features)["prediction"] if len(features) else pd.Series([])
        )
    parts = with_parts(features, schema)
    return tally_current(reference, parts, predictions, len(inputs), len(problems))


def tally_logged(logged: pd.DataFrame, model: LoadedModel, reference: dict[str, Any]) -> Current:
    """The tallies of decoded log rows: all versions' inputs, the champion's outputs."""
    names = model.schema.feature_names
    inputs = pd.DataFrame.from_records(logged["inputs"].tolist(), columns=names)
    champion = logged["model_version"] == model.version
    predictions = pd.Series([o.get("prediction") for o in logged.loc[champion, "outputs"]])
    return tally_rows(inputs, model, reference, predictions)


def tally_log_part(
    part: str, model: LoadedModel, reference: dict[str, Any], since: str | None
) -> Current:
    """The tallies of one part of a Parquet log (a task of ``monitor --engine dask|spark``)."""
    return tally_logged(decode(read_part(Path(part), since)), model, reference)


def current_from_log(
    log_path: Path,
    model: LoadedModel,
    reference: dict[str, Any],
    since: str | None,
    engine: Any = None,
) -> Current:
    """Logged predictions since ``since``: a SQLite log, or a Parquet log folder tallied part
    by part (on the cluster ``engine``'s workers if given, ``scoring.dataset.Engine``), the
    parts' tallies merged."""
    window = f" since {since}" if since else ""
    if not log_path.exists():
        raise MonitorError(
            f"no prediction log at {log_path}: run `make predict` or serve some traffic first"
        )
    if log_path.is_dir():
        found = ParquetLog(log_path).parts(since)
        task = partial(tally_log_part, reference=reference, since=since)
        paths = [str(part) for part in found]
        parts = (
            engine.map(task, paths, model)
            if engine is not None
            else [task(p, model) for p in paths]
        )
    else:
        logged = PredictionLog(log_path).read(since=since)
        parts = [tally_logged(logged, model, reference)] if len(logged) else []
    if not parts or sum(part.rows for part in parts) == 0:
        raise MonitorError(
            f"no logged predictions in {log_path}{window}: run `make predict` or serve some "
            "traffic first"
        )
    return total(parts, f"prediction log {log_path}{window}")


def current_from_file(
    path: Path, model: LoadedModel, reference: dict[str, Any], chunk_rows: int = 50_000
) -> Current:
    """A batch file, validated and scored with the champion chunk by chunk (nothing logged)."""
    schema = model.schema
    found = columns(path, separator=schema.separator, encoding=schema.encoding)
    missing = [name for name in schema.feature_names if name not in found]
    if missing:
        raise MonitorError(f"{path} is missing column(s): {', '.join(missing)}")
    chunks = read_chunks(path, chunk_rows, schema.feature_names, **schema.reading)
    parts = [tally_rows(chunk, model, reference) for chunk in chunks]
    if not parts or sum(part.rows for part in parts) == 0:
        raise MonitorError(f"{path} has no rows")
    return total(parts, f"file {path}")
