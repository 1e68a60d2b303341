"""Scoring a dataset on a cluster engine (``predict_dask``, ``predict_spark``): the local engine's
``score_chunk`` on every partition.

The input is a Parquet dataset (a folder of ``.parquet`` files), a glob of CSV or Parquet files
or one file; its files are taken in sorted order, and each row keeps its global number (its
position in the files read one after another, 0 = the first), as if they were one file scored
by ``predict_file``. A Parquet partition (a ``Piece``) is a run of row groups (about
``partition_rows`` rows; the row counts come from the files' footers), a CSV partition one file
(counted first on the cluster). The engine ships the model to every worker once; each partition
is read, validated, coerced and scored by ``score_chunk`` and written by its worker as
``part-<first row, 12 digits>.parquet`` of the predictions and of the rejects. Both folders are
staged and renamed into place when every partition is done: a failed run leaves them as they
were, and a task the engine retries (its worker died) rewrites the same part, so no row is
written twice. The same input and model give the same parts, so a rerun is idempotent. The
workers also log their partitions' predictions into the Parquet prediction log
(``io.parquet_log``), under the request id the local engine would give the same file; the run
counts there once the predictions are in place, and a run that was logged is not logged again.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.errors import ProjectError
from ..core.model import LoadedModel
from ..core.schema import Schema
from ..io import atomic
from ..io.parquet_log import ParquetLog
from ..io.registry import sha256
from ..io.tables import (
    PART,
    TableError,
    columns,
    file_format,
    read_chunks,
    read_row_groups,
    write_part,
)
from .log_rows import log_table
from .predict import (
    BatchSummary,
    batch_request_id,
    column_types,
    input_columns,
    output_schema,
    score_chunk,
)

#: Rows per partition by default: fewer, larger tasks than the local engine's chunks (10M rows
#: on 2 Dask workers: 1.57x the local engine's throughput with 50k, 1.65x with 250k at 4M rows).
PARTITION_ROWS = 250_000
T = TypeVar("T")


class EngineError(ProjectError, RuntimeError):
    """The cluster cannot be reached or used."""


@dataclass(frozen=True)
class Piece:
    """One partition: a CSV file (``row_groups`` None) or row groups of a Parquet file, whose
    first row is row ``start`` of the dataset."""

    path: str
    row_groups: tuple[int, ...] | None
    start: int


@dataclass(frozen=True)
class Task:
    """What scoring a partition needs besides the model: the input columns to read and how the
    files write cells (``Schema.reading``), the staging folders of the predictions and rejects
    with their Arrow schemas, and the log's (staging folder, request id), None for no log."""

    usecols: tuple[str, ...]
    reading: tuple[tuple[str, Any], ...]
    outputs: tuple[str, str]
    schemas: tuple[pa.Schema, pa.Schema]
    log: tuple[str, str] | None


class Engine(Protocol):
    """A cluster to run on (``predict_dask.DaskEngine``, ``predict_spark.SparkEngine``)."""

    def map(self, function: Callable[[Any, Any], T], items: Sequence[Any], shared: Any) -> list[T]:
        """``function(item, shared)`` of every item, in order."""
        ...

    def score(self, pieces: list[Piece], model: LoadedModel, task: Task) -> tuple[int, int]:
        """Score every piece into ``task``'s staging folders; the rows read and scored."""
        ...


#: What each partition's task returns: its rows, and how many were scored.
COUNTS = pd.DataFrame({"rows": pd.Series(dtype="int64"), "scored": pd.Series(dtype="int64")})


def input_files(source: str) -> list[Path]:
    """The files of a Parquet dataset folder, a glob or one file, sorted; TableError if none or
    if they mix CSV and Parquet."""
    if glob.has_magic(source):
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
    elif Path(source).is_dir():
        files = sorted(p for p in Path(source).rglob("*.parquet") if p.name[0] not in "._")
    else:
        files = [Path(source)] if Path(source).is_file() else []
    if not files:
        raise TableError(
            f"no input files at {source}: give a Parquet dataset folder, a glob such as "
            "'data/*.csv' (quoted) or a file"
        )
    kinds = {file_format(path, "input") for path in files}
    if len(kinds) > 1:
        raise TableError(f"{source} mixes CSV and Parquet files: score each kind separately")
    return files


def dataset_request_id(files: list[Path], version: str) -> str:
    """The log's request id of a run: the local engine's for one file; for several, from the
    digest of their digests (the same files and model give the same id)."""
    if len(files) == 1:
        return batch_request_id(files[0], version)
    digests = hashlib.sha256("".join(sha256(path) for path in files).encode())
    return f"batch-{digests.hexdigest()[:16]}-{version}"


def default_rejects_path(output: Path) -> Path:
    """``<output stem>.rejects<suffix>`` next to the output folder."""
    return output.with_name(f"{output.stem}.rejects{output.suffix}")


def check_columns(files: list[Path], wanted: list[str], schema: Schema) -> None:
    """TableError naming the first file missing an input column (before anything is read)."""
    for path in files:
        found = columns(path, separator=schema.separator, encoding=schema.encoding)
        missing = [name for name in wanted if name not in found]
        if missing:
            raise TableError(
                f"{path} is missing column(s): {', '.join(missing)}; nothing was scored "
                f"(fix or move that file: all {len(files)} files must have them)"
            )


def _csv_rows(path: str, first: tuple[str, tuple[tuple[str, Any], ...]]) -> int:
    column, reading = first
    return sum(len(chunk) for chunk in read_chunks(Path(path), 100_000, [column], **dict(reading)))


def pieces(
    files: list[Path], engine: Engine, partition_rows: int, first: str, task: Task
) -> list[Piece]:
    """The partitions with their first row numbers (a CSV file's rows counted on the cluster,
    read as ``task.reading`` says)."""
    if file_format(files[0]) == "csv":
        counts = engine.map(_csv_rows, [str(p) for p in files], (first, task.reading))
        starts = [0, *pd.Series(counts).cumsum().tolist()]
        return [Piece(str(p), None, int(s)) for p, s in zip(files, starts, strict=False)]
    found, start = [], 0
    for path in files:
        metadata = pq.ParquetFile(path).metadata
        groups: list[int] = []
        rows = 0
        for group in range(metadata.num_row_groups):
            groups.append(group)
            rows += metadata.row_group(group).num_rows
            if rows >= partition_rows or group == metadata.num_row_groups - 1:
                found.append(Piece(str(path), tuple(groups), start))
                start, groups, rows = start + rows, [], 0
    return found


def read_piece(
    piece: Piece, usecols: Sequence[str], reading: tuple[tuple[str, Any], ...]
) -> pd.DataFrame:
    """A partition's input columns, indexed by their rows' numbers in the dataset, read as
    ``reading`` (``Schema.reading``'s items) says."""
    path = Path(piece.path)
    read = dict(reading)
    if piece.row_groups is None:
        chunks = list(read_chunks(path, 1 << 40, usecols, **read))
        frame = chunks[0] if chunks else pd.DataFrame(columns=list(usecols), dtype=object)
    else:
        frame = read_row_groups(path, piece.row_groups, usecols, read["missing"])
    frame.index = pd.RangeIndex(piece.start, piece.start + len(frame))
    return frame


def score_partition(chunk: pd.DataFrame, model: LoadedModel, task: Task) -> pd.DataFrame:
    """Score one partition with ``score_chunk``, write its predictions and rejects parts into
    ``task``'s staging folders and its log rows into the log's; return its counts
    (``COUNTS``)."""
    part = score_chunk(model, chunk)
    frames = (part.scored, part.rejects)
    for frame, folder, schema in zip(frames, task.outputs, task.schemas, strict=True):
        if len(frame):
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            write_part(table, Path(folder), int(frame["row"].iloc[0]))
    if task.log is not None and len(part.scored):
        rows = log_table(task.log[1], model, part.features, part.scored, part.latency_ms)
        write_part(rows, Path(task.log[0]), int(part.scored["row"].iloc[0]))
    counts: pd.DataFrame = pd.DataFrame({"rows": [len(chunk)], "scored": [len(part.scored)]})
    return counts


def score_piece(piece: Piece, model: LoadedModel, task: Task) -> pd.DataFrame:
    """Read and score one partition (``score_partition``)."""
    return score_partition(read_piece(piece, task.usecols, task.reading), model, task)


def _rejects_schema(model: LoadedModel, files: list[Path]) -> pa.Schema:
    wanted = input_columns(model.schema)
    types = column_types(files[0], wanted)
    fields = [pa.field("row", pa.int64()), pa.field("reason", pa.string())]
    return pa.schema(fields + [pa.field(name, types[name]) for name in wanted])


def predict_dataset(
    model: LoadedModel,
    source: str,
    output: Path,
    engine: Engine,
    *,
    rejects: Path | None = None,
    partition_rows: int = PARTITION_ROWS,
    log: ParquetLog | None = None,
) -> BatchSummary:
    """Score a dataset on ``engine`` into Parquet datasets (folders) of predictions and rejects,
    and into the Parquet prediction ``log`` unless None.

    Raises TableError before anything is written when an input file is unreadable or misses
    a column, or when the destinations clash; after scoring, TableError (no rows), EngineError
    or PredictionError leave both folders as they were. When no row is valid the rejects are
    written (as ``predict_file`` does) and TableError raised.
    """
    files = [path.absolute() for path in input_files(source)]  # workers have their own cwd
    wanted = input_columns(model.schema)
    check_columns(files, wanted, model.schema)
    rejects = rejects or default_rejects_path(output)
    inputs = {path.resolve() for path in files}
    if output.resolve() == rejects.resolve() or {output.resolve(), rejects.resolve()} & inputs:
        raise TableError("the output and rejects folders must differ from each other and the input")
    for folder in (output, rejects):
        if folder.exists() and not folder.is_dir():
            raise TableError(f"{folder} is a file: give a folder for the Parquet dataset")
    schemas = (output_schema(model, files[0]), _rejects_schema(model, files))
    request_id = None if log is None else dataset_request_id(files, model.version)
    staging: AbstractContextManager[Path | None] = (
        nullcontext(None) if log is None else log.batch(str(request_id))
    )
    with staging as staged_log, atomic.folder(rejects) as staged_rejects:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale(output.parent, output.name)
        staged_output = atomic.staging_folder(output)
        logging = None if staged_log is None else (str(staged_log.absolute()), str(request_id))
        staged = (staged_output, staged_rejects)
        folders = (str(staged_output.absolute()), str(staged_rejects.absolute()))
        reading = tuple(model.schema.reading.items())
        task = Task(tuple(wanted), reading, folders, schemas, logging)
        try:
            found = pieces(files, engine, partition_rows, wanted[0], task)
            rows, scored = engine.score(found, model, task) if found else (0, 0)
            for folder in staged:
                atomic.remove_stale(folder)  # the staging files of workers that died mid-write
            if rows == 0:
                raise TableError(f"{source} has no rows to score")
            if scored:
                atomic.replace_folder(staged_output, output)
        finally:
            atomic.remove(staged_output)
        if rows == scored:  # an empty part keeps the rejects dataset's columns
            pq.write_table(schemas[1].empty_table(), staged_rejects / PART.format(0))
    if scored == 0:
        raise TableError(f"all {rows} rows of {source} break the schema: see {rejects}")
    logged = scored if staged_log is not None else 0
    return BatchSummary(
        rows, scored, rows - scored, logged, model.version, output, rejects, request_id
    )
