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

import os
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from ..core.coerce import coerce_features
from ..core.model import LoadedModel, predict_frame
from ..core.schema import PROBABILITY_PREFIX, Schema
from ..core.validation import row_problems
from ..io.prediction_log import PredictionLog
from ..io.registry import sha256
from ..io.tables import AtomicWriter, TableError, columns, file_format, read_chunks
from .log_rows import BackgroundLog

DEFAULT_CHUNK_ROWS = 50_000
#: First columns of a rejects file: the row's position in the input (0 = first data row), why.
REJECT_COLUMNS = ["row", "reason"]


def batch_request_id(input_path: Path, version: str) -> str:
    """The prediction log's request id of a batch run: the same file and model give the same id."""
    return f"batch-{sha256(input_path)[:16]}-{version}"


def default_rejects_path(output_path: Path) -> Path:
    """``<output stem>.rejects.csv`` next to the output."""
    return output_path.with_name(f"{output_path.stem}.rejects.csv")


def input_columns(schema: Schema) -> list[str]:
    """What batch scoring reads of a file: the id, the features, the passthrough columns."""
    wanted = [c.name for c in schema.columns if c.role in ("id", "feature")]
    return wanted + [n for n in schema.passthrough if n not in wanted]


def copied_columns(schema: Schema) -> list[str]:
    """The input columns copied into each prediction: the id (if any), then passthrough ones."""
    return ([schema.id] if schema.id else []) + list(schema.passthrough)


def output_columns(model: LoadedModel) -> list[str]:
    """Columns of a predictions file: row (the input row, 0 for the first), the copied columns,
    prediction, proba_<class>..., model_version. With the rejects file (row, reason, the
    inputs) it accounts for every input row."""
    schema = model.schema
    names = ["row", *copied_columns(schema), "prediction"]
    if schema.is_classification:
        names += [PROBABILITY_PREFIX + str(c) for c in model.pipeline.classes_]
    return [*names, "model_version"]


def column_types(input_path: Path, names: list[str]) -> dict[str, pa.DataType]:
    """Input columns' types as read: text from CSV, the file's own from Parquet."""
    if file_format(input_path, "input") != "parquet":
        return dict.fromkeys(names, pa.string())
    read = pq.ParquetFile(input_path).schema_arrow
    return {name: read.field(name).type for name in names}


def output_schema(model: LoadedModel, input_path: Path) -> pa.Schema:
    """The Arrow schema of the predictions of ``input_path`` (``output_columns``, typed)."""
    fields = []
    copied = column_types(input_path, copied_columns(model.schema))
    for name in output_columns(model):
        if name in copied:
            fields.append(pa.field(name, copied[name]))
        elif name == "row":
            fields.append(pa.field(name, pa.int64()))
        elif name.startswith(PROBABILITY_PREFIX) or (
            name == "prediction" and not model.schema.is_classification
        ):
            fields.append(pa.field(name, pa.float64()))
        else:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


@dataclass(frozen=True)
class ScoredChunk:
    """One chunk scored: the predictions (``output_columns``), the rejects (``row``, ``reason``,
    the inputs), the valid rows' coerced features (what the log records) and the latency per row.
    """

    scored: pd.DataFrame
    rejects: pd.DataFrame
    features: pd.DataFrame
    latency_ms: float


def score_chunk(model: LoadedModel, chunk: pd.DataFrame) -> ScoredChunk:
    """Validate, coerce and score ``chunk`` (``input_columns``, indexed by row number).

    The one scoring step of every engine: the local loop calls it per chunk, Dask per partition.
    """
    schema = model.schema
    problems = row_problems(chunk, schema)
    rejects = chunk.loc[problems.index]
    rejects.insert(0, "reason", problems)
    rejects.insert(0, "row", problems.index)
    valid: pd.DataFrame = chunk.drop(index=problems.index) if len(problems) else chunk
    if not len(valid):
        empty = pd.DataFrame({name: [] for name in output_columns(model)})
        return ScoredChunk(empty, rejects, valid, 0.0)
    features = coerce_features(valid, schema)
    started = time.perf_counter()
    scored = predict_frame(model, features)
    latency_ms = 1000.0 * (time.perf_counter() - started) / len(valid)
    for position, name in enumerate(["row", *copied_columns(schema)]):
        kept = valid.index if name == "row" else valid[name]
        scored.insert(position, name, kept.to_numpy())
    scored["model_version"] = model.version
    return ScoredChunk(scored, rejects, features, latency_ms)


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
    wanted = input_columns(schema)
    found = columns(input_path, separator=schema.separator, encoding=schema.encoding)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise TableError(f"{input_path} is missing column(s): {', '.join(missing)}")
    request_id = None if log is None else batch_request_id(input_path, model.version)
    # The log to write to: none when logging is off or this run was logged before (idempotent).
    batch_log = log if log is not None and log.begin_batch(str(request_id)) else None
    output: AtomicWriter | None = None
    rejects: AtomicWriter | None = None
    background: BackgroundLog | None = None
    rows, committed = 0, False
    try:
        output = _writer(output_path, output_schema(model, input_path), "output")
        rejects = _writer(rejects_path, None, "rejects file")
        if batch_log is not None:
            background = BackgroundLog(batch_log, str(request_id), model)
        # The model's native threads leave a core to the log's worker thread and to the reader
        # (measured on 2 cores: 92k rows/s, not 69k, logged; 215k, not 46k unlimited, unlogged).
        with threadpool_limits(limits=max(1, (os.cpu_count() or 1) - 1)):
            for chunk in read_chunks(input_path, chunk_rows, wanted, **schema.reading):
                rows += len(chunk)
                part = score_chunk(model, chunk)
                if len(part.rejects):
                    rejects.write(part.rejects)
                if not len(part.scored):
                    continue
                output.write(part.scored)
                if background is not None:
                    background.append(part.features, part.scored, part.latency_ms)
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
    scored_rows = output.rows
    return BatchSummary(
        rows,
        scored_rows,
        rows - scored_rows,
        logged,
        model.version,
        output_path,
        rejects_path,
        request_id,
    )
