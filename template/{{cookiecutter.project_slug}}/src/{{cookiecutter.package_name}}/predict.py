"""Scoring with a loaded model: ``predict_frame`` and batch files (chunked, validated, logged).

The web servers score through the compiled fast path (``fast_path.py``), checked against
``predict_frame``'s pipeline when the model loads.

``predict_file`` is batch scoring: it streams a CSV or Parquet file in chunks (bounded memory),
writes rows that break the schema aside with the reason and their row number, scores the rest,
and writes the predictions atomically (never a half-written file). Every scored row is logged
with ``request_id = batch-<sha256 of the file, 16 hex>-<model version>`` and ``item`` = its row
number, so scoring the same file with the same model twice adds no log rows and writes the same
bytes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from .data import _check_column, _expectation
from .features import category_text, numbers
from .prediction_log import PredictionLog, timestamp
from .registry import LoadedModel, sha256
from .schema import Schema
from .tables import AtomicWriter, TableError, columns, file_format, read_chunks

PROBABILITY_PREFIX = "proba_"
DEFAULT_CHUNK_ROWS = 50_000
#: First columns of a rejects file: the row's position in the input (0 = first data row), why.
REJECT_COLUMNS = ["row", "reason"]
_BOOLEAN_TEXT = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}
_BOOLEAN_VALUES = [*_BOOLEAN_TEXT, 0, 1]


class PredictionError(RuntimeError):
    """The model produced unusable output (NaN or infinite values)."""


def predict_frame(model: LoadedModel, features: pd.DataFrame) -> pd.DataFrame:
    """One row per input: ``prediction`` and, for classification, ``proba_<class>`` columns."""
    pipeline = model.pipeline
    out = pd.DataFrame(index=features.index)
    if model.schema.is_classification:
        proba = pipeline.predict_proba(features)
        classes = [str(c) for c in pipeline.classes_]
        if not np.isfinite(proba).all():
            raise PredictionError(f"model {model.version} returned non-finite probabilities")
        out["prediction"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        for index, name in enumerate(classes):
            out[PROBABILITY_PREFIX + name] = proba[:, index]
    else:
        predicted = np.asarray(pipeline.predict(features), dtype=float)
        if not np.isfinite(predicted).all():
            raise PredictionError(f"model {model.version} returned non-finite predictions")
        out["prediction"] = predicted
    return out


def canonical_features(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The features as the pipeline reads them, whatever the source dtypes (vectorized).

    numeric and boolean become float (missing = NaN), categorical text (missing = NaN): the
    values logged for monitoring, identical whether a file is read in one chunk or many.
    """
    out = pd.DataFrame(index=df.index)
    for column in schema.features:
        values = df[column.name]
        if column.type == "numeric":
            out[column.name] = numbers(values)
        elif column.type == "boolean":
            if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                out[column.name] = values.astype(float)
            else:
                lowered = values.astype(str).str.lower().where(values.notna())
                out[column.name] = lowered.map(_BOOLEAN_TEXT).astype(float)
        elif pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            out[column.name] = values.astype(object).where(values.notna(), np.nan)
        else:
            text = [np.nan if pd.isna(v) else category_text(v) for v in values.tolist()]
            out[column.name] = pd.Series(text, index=df.index, dtype=object)
    return out


def row_problems(df: pd.DataFrame, schema: Schema) -> pd.Series:
    """Why each row breaks the schema (index: row, value: reasons joined by "; ").

    Rows absent from the result are valid. The target is not checked (scoring data has none),
    nor id uniqueness (a property of the whole file). Columns must be present.
    """
    reasons: list[pd.Series] = []
    for column in schema.columns:
        if column.role not in ("feature", "id") or column.name not in df.columns:
            continue
        values = df[column.name]
        if column.type in ("categorical", "boolean"):  # only values not plainly valid
            allowed = column.categories if column.type == "categorical" else _BOOLEAN_VALUES
            values = values[~values.isin(list(allowed or ()))]
        for check_name, bad in _check_column(column, values, whole_file=False):
            text = f"{column.name}: {check_name} (expected {_expectation(column, check_name)})"
            reasons.append(pd.Series(text, index=bad.index, dtype=object))
    if not reasons:
        return pd.Series(dtype=object)
    joined = pd.concat(reasons).groupby(level=0, sort=True).agg("; ".join)
    return joined.astype(object)


def batch_request_id(input_path: Path, version: str) -> str:
    """The prediction log's request id of a batch run: the same file and model give the same id."""
    return f"batch-{sha256(input_path)[:16]}-{version}"


def default_rejects_path(output_path: Path) -> Path:
    """``<output stem>.rejects.csv`` next to the output."""
    return output_path.with_name(f"{output_path.stem}.rejects.csv")


def output_columns(model: LoadedModel) -> list[str]:
    """Columns of a predictions file: id (if any), prediction, proba_<class>..., model_version."""
    schema = model.schema
    names = [schema.id] if schema.id else []
    names.append("prediction")
    if schema.is_classification:
        names += [PROBABILITY_PREFIX + str(c) for c in model.pipeline.classes_]
    return [*names, "model_version"]


def _arrow_schema(model: LoadedModel) -> pa.Schema:
    fields = []
    for name in output_columns(model):
        if name.startswith(PROBABILITY_PREFIX) or (
            name == "prediction" and not model.schema.is_classification
        ):
            fields.append(pa.field(name, pa.float64()))
        else:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def _json_values(values: pd.Series) -> pa.Array:
    """Each value as JSON text: a number (null if missing or not finite), a quoted string, null."""
    array = pa.array(values, from_pandas=True)
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        array = array.cast(pa.string())
        # Control characters (rare) need JSON's escapes: leave those columns to ``json``.
        if pc.any(pc.match_substring_regex(array, "[\\x00-\\x1f]")).as_py():
            return pa.array([json.dumps(v) for v in array.to_pylist()], pa.string())
        escaped = pc.replace_substring(pc.replace_substring(array, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise('"', escaped, '"', "")
    else:
        if pa.types.is_floating(kind):
            array = pc.if_else(pc.is_finite(array), array, pa.scalar(None, kind))
        text = pc.cast(array, pa.string())
    return pc.fill_null(text, "null")


def _json_objects(fields: dict[str, pa.Array]) -> pa.Array:
    """Row-wise JSON objects from equal-length arrays of JSON texts, one per key."""
    parts: list[Any] = []
    for index, (name, texts) in enumerate(fields.items()):
        parts += [("{" if index == 0 else ",") + json.dumps(name) + ":", texts]
    return pc.binary_join_element_wise(*parts, "}", "")


def json_records(frame: pd.DataFrame) -> list[str]:
    """One compact JSON object per row (the logged inputs), built column by column by Arrow.

    Half the time of ``DataFrame.to_json``, and every float keeps all its digits. Missing and
    non-finite numbers are null.
    """
    return _json_objects({n: _json_values(frame[n]) for n in frame.columns}).to_pylist()


def _outputs_json(model: LoadedModel, scored: pd.DataFrame) -> list[str]:
    """The logged outputs, shaped like an API response: prediction (and probabilities)."""
    fields = {"prediction": _json_values(scored["prediction"])}
    if model.schema.is_classification:
        probabilities = [c for c in scored.columns if c.startswith(PROBABILITY_PREFIX)]
        fields["probabilities"] = _json_objects(
            {c[len(PROBABILITY_PREFIX) :]: _json_values(scored[c]) for c in probabilities}
        )
    return _json_objects(fields).to_pylist()


def _log_rows(
    request_id: str,
    model: LoadedModel,
    features: pd.DataFrame,
    scored: pd.DataFrame,
    latency_ms: float,
) -> Iterator[tuple[Any, ...]]:
    inputs = json_records(features)
    return zip(
        repeat(request_id),
        features.index.tolist(),
        repeat(timestamp()),
        repeat(model.version),
        repeat("batch"),
        inputs,
        _outputs_json(model, scored),
        repeat(latency_ms),
    )


def _set_aside(chunk: pd.DataFrame, schema: Schema, rejects: AtomicWriter) -> pd.DataFrame:
    """Write the chunk's rows that break the schema to ``rejects``; return the valid rows."""
    problems = row_problems(chunk, schema)
    if not len(problems):
        return chunk
    bad = chunk.loc[problems.index]
    bad.insert(0, "reason", problems)
    bad.insert(0, "row", problems.index)
    rejects.write(bad)
    return chunk.drop(index=problems.index)


class _BackgroundLog:
    """Builds and appends each chunk's log rows on a worker thread while the next chunk is scored.

    Arrow builds the JSON and SQLite writes without holding the GIL, so logging overlaps the
    scoring of the next chunk. At most one chunk waits, so memory stays bounded; a write error
    surfaces on the next ``append`` or on ``close``.
    """

    def __init__(self, log: PredictionLog, request_id: str, model: LoadedModel) -> None:
        self._log = log
        self._request_id = request_id
        self._model = model
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prediction-log")
        self._pending: Future[int] | None = None
        self.logged = 0

    def append(self, features: pd.DataFrame, scored: pd.DataFrame, latency_ms: float) -> None:
        """Log a chunk (the frames are not modified afterwards: the worker reads them)."""
        self._wait()
        self._pending = self._pool.submit(self._write, features, scored, latency_ms)

    def _write(self, features: pd.DataFrame, scored: pd.DataFrame, latency_ms: float) -> int:
        rows = _log_rows(self._request_id, self._model, features, scored, latency_ms)
        added = self._log.append_rows(rows)
        self._log.heartbeat(self._request_id)
        return added

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.logged += pending.result()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown()


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did: rows read, scored, rejected, and new prediction-log rows."""

    rows: int
    scored: int
    rejected: int
    logged: int
    model_version: str
    output: Path
    rejects: Path
    request_id: str | None


def _check_destination(path: Path, what: str) -> None:
    """TableError, before any work, if ``path`` cannot be written as a file."""
    if path.is_dir():
        raise TableError(f"{what} {path} is a directory: give a file path")
    folder = next((p for p in path.parents if p.exists()), Path("."))
    if not folder.is_dir():
        raise TableError(f"{what} {path} is under {folder}, which is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TableError(f"{what} {path}: no permission to write in {folder}")


def _writer(path: Path, arrow_schema: pa.Schema | None, what: str) -> AtomicWriter:
    try:
        return AtomicWriter(path, arrow_schema)
    except OSError as error:
        raise TableError(f"cannot write {what} {path}: {error.strerror or error}") from None


def predict_file(
    model: LoadedModel,
    input_path: Path,
    output_path: Path,
    *,
    rejects_path: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    log: PredictionLog | None = None,
) -> BatchSummary:
    """Score a CSV or Parquet file into a CSV or Parquet file, chunk by chunk.

    Rows breaking the schema go to ``rejects_path`` (CSV, default ``<output>.rejects.csv``) with
    their row number and reason; the rest are scored into ``output_path`` with the model
    version and, unless ``log`` is None, appended to the prediction log (source "batch"), where
    they count once the output is in place (``PredictionLog.commit_batch``). Raises TableError
    (bad path, unreadable file, missing columns, no rows or no valid row) or PredictionError;
    the output, the rejects file and the log are then left as they were.
    """
    schema = model.schema
    rejects_path = rejects_path or default_rejects_path(output_path)
    file_format(output_path, "output")
    if file_format(rejects_path, "rejects file") != "csv":
        raise TableError(f"rejects file {rejects_path} must be a .csv file")
    if len({input_path.resolve(), output_path.resolve(), rejects_path.resolve()}) < 3:
        raise TableError("input, output and rejects files must be three different files")
    _check_destination(output_path, "output")
    _check_destination(rejects_path, "rejects file")
    wanted = [c.name for c in schema.columns if c.role in ("id", "feature")]
    missing = [name for name in wanted if name not in columns(input_path)]
    if missing:
        raise TableError(f"{input_path} is missing column(s): {', '.join(missing)}")
    request_id = None if log is None else batch_request_id(input_path, model.version)
    # The log to write to: none when logging is off or this run was logged before (idempotent).
    batch_log = log if log is not None and log.begin_batch(str(request_id)) else None
    output: AtomicWriter | None = None
    rejects: AtomicWriter | None = None
    background: _BackgroundLog | None = None
    rows, committed = 0, False
    try:
        output = _writer(output_path, _arrow_schema(model), "output")
        rejects = _writer(rejects_path, None, "rejects file")
        if batch_log is not None:
            background = _BackgroundLog(batch_log, str(request_id), model)
        # While the log's worker thread works, the model's native threads leave it a core
        # (measured on 2 cores when the main thread still built the JSON: 92k rows/s, not 69k).
        threads = max(1, (os.cpu_count() or 1) - 1) if background is not None else None
        with threadpool_limits(limits=threads):
            for chunk in read_chunks(input_path, chunk_rows, wanted):
                rows += len(chunk)
                valid = _set_aside(chunk, schema, rejects)
                if not len(valid):
                    continue
                features = canonical_features(valid, schema)
                started = time.perf_counter()
                scored = predict_frame(model, features)
                latency_ms = 1000.0 * (time.perf_counter() - started) / len(valid)
                if schema.id:
                    scored.insert(0, schema.id, valid[schema.id].to_numpy())
                scored["model_version"] = model.version
                output.write(scored)
                if background is not None:
                    background.append(features, scored, latency_ms)
            if background is not None:
                background.close()
        if rows == 0:
            raise TableError(f"{input_path} has no rows to score")
        if output.rows == 0:
            rejects.commit(pd.DataFrame(columns=[*REJECT_COLUMNS, *wanted]))
            raise TableError(
                f"all {rows} rows of {input_path} break the schema: see {rejects_path}"
            )
        output.commit(pd.DataFrame(columns=output_columns(model)))
        rejects.commit(pd.DataFrame(columns=[*REJECT_COLUMNS, *wanted]))
        if batch_log is not None:
            batch_log.commit_batch(str(request_id))
        committed = True
    finally:
        for writer in (output, rejects):
            if writer is not None:
                writer.discard()
        if background is not None:
            with suppress(Exception):  # already failing: keep the first error
                background.close()
        if batch_log is not None and not committed:
            with suppress(Exception):  # e.g. a full disk: the next run clears it
                batch_log.abandon_batch(str(request_id))
    logged = background.logged if background is not None else 0
    scored = output.rows if output is not None else 0
    return BatchSummary(
        rows,
        scored,
        rows - scored,
        logged,
        model.version,
        output_path,
        rejects_path,
        request_id,
    )
