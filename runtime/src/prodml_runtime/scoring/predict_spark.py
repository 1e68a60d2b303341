"""The Spark engine of ``dataset``: a DataFrame of the partitions (``Piece``, one per Spark
partition) scored by ``mapInPandas``, the model broadcast to every executor once. Without a
master URL, local mode on this machine (``LOCAL_MASTER``). The executors read and write the
same paths as the driver: on a cluster, a shared file system, and the project installed on
every executor's Python."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from ..core.model import LoadedModel
from .dataset import EngineError, Piece, Task, score_piece

#: Without --master: 2 cores here; local mode gives a failed task no retry unless told (the 4).
LOCAL_MASTER = "local[2,4]"
PIECES = "path string, row_groups array<int>, start long"
COUNTS = "rows long, scored long"
T = TypeVar("T")


@dataclass(frozen=True)
class SparkEngine:
    """A Spark cluster, through its ``session``."""

    session: Any

    def map(self, function: Callable[[Any, Any], T], items: Sequence[Any], shared: Any) -> list[T]:
        """``function(item, shared)`` of every item on the executors (``shared`` broadcast)."""
        context = self.session.sparkContext
        shipped = context.broadcast(shared)
        tasks = context.parallelize(list(items), max(len(items), 1))
        return list(_failures(tasks.map(lambda item: function(item, shipped.value)).collect))

    def score(self, pieces: list[Piece], model: LoadedModel, task: Task) -> tuple[int, int]:
        """Every piece read and scored by ``mapInPandas``, one Spark partition each."""
        context = self.session.sparkContext
        shipped = context.broadcast(model)
        rows = [
            (p.path, None if p.row_groups is None else list(p.row_groups), p.start) for p in pieces
        ]
        frame = self.session.createDataFrame(context.parallelize(rows, len(rows)), PIECES)

        def scored(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for batch in batches:
                for path, groups, start in batch.itertuples(index=False):
                    groups = None if groups is None else tuple(int(g) for g in groups)
                    yield score_piece(Piece(path, groups, int(start)), shipped.value, task)

        with _pandas_3_accepted():
            counts = _failures(frame.mapInPandas(scored, COUNTS).collect)
        return sum(row["rows"] for row in counts), sum(row["scored"] for row in counts)


@contextmanager
def _pandas_3_accepted() -> Iterator[None]:
    """Silence PySpark's warning that it does not yet support pandas 3 in full: Spark converts
    only the pieces and the counts with pandas, never the data."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
        yield


def _failures(collect: Callable[[], list[Any]]) -> list[Any]:
    """``collect()``, a failed task's error (after Spark's retries) as an EngineError."""
    from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
    from pyspark.errors import PythonException

    try:
        return collect()
    except (PythonException, Py4JJavaError) as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise EngineError(f"a Spark task failed: {lines[-1] if lines else error}") from None


@contextmanager
def connect(master: str | None) -> Iterator[SparkEngine]:
    """A session on ``master`` or in local mode (``LOCAL_MASTER``), stopped afterwards unless
    it was already running."""
    with _pandas_3_accepted():
        from pyspark.sql import SparkSession

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise EngineError(
            "Spark needs a Java runtime (JDK 17 or later): install one (e.g. apt install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )
    # Executors in local mode run this interpreter (and so see this project).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    running = SparkSession.getActiveSession()
    builder = (
        SparkSession.builder.master(master or LOCAL_MASTER)
        .appName("prodml-scoring")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    try:
        with _pandas_3_accepted():
            session = running or builder.getOrCreate()
    except Exception as error:  # py4j and pyspark raise several kinds; all mean "no session"
        raise EngineError(
            f"cannot start Spark on {master or LOCAL_MASTER}: {error}; check the master URL "
            "or leave out --master to run in local mode"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield SparkEngine(session)
    finally:
        if running is None:
            session.stop()
