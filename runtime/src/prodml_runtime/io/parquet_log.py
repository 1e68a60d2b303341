"""The prediction log as a partitioned Parquet dataset, written by a cluster engine's workers.

Its rows have the SQLite log's columns and lineage (``prediction_log.COLUMNS``: the same
request id, item, model version and JSON inputs and outputs for the same input and model), in
``<root>/date=<YYYY-MM-DD>/run=<request id>/part-<first row, 12 digits>.parquet``. It is
append-only: a batch run adds one run folder. The workers write their parts into the run's
staging folder, which is renamed into place once the predictions are in place: all of a run's
rows count at once, as ``PredictionLog.commit_batch`` makes them. A run already in the log is
not logged again (a rerun is idempotent), a killed run leaves only a staging folder that the
next run deletes, and a run started while a live process logs the same one stops with
BatchRunBusy before scoring. ``monitor --log <root>`` reads it part by part.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..core import clock
from . import atomic
from .prediction_log import BatchRunBusy, PredictionLog, decode

SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("item", pa.int64()),
        ("timestamp", pa.string()),
        ("model_version", pa.string()),
        ("source", pa.string()),
        ("inputs", pa.string()),
        ("outputs", pa.string()),
        ("latency_ms", pa.float64()),
    ]
)


class ParquetLog:
    """The Parquet prediction log at ``root`` (a folder, created on first use)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def logged(self, request_id: str) -> bool:
        """Whether a committed run logged ``request_id``."""
        return any(self.root.glob(f"date=*/run={request_id}"))

    @contextmanager
    def batch(self, request_id: str) -> Iterator[Path | None]:
        """A new staging folder for the parts of run ``request_id`` (None if it was logged),
        put in place when the block succeeds (its rows count from then on, unless it holds
        none), deleted when it fails. Deletes the staging folders of today's ended writers;
        BatchRunBusy if a live process is logging the same run."""
        if self.logged(request_id):
            yield None
            return
        day = self.root / f"date={clock.iso()[:10]}"
        day.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale(day)
        run = f"run={request_id}"
        staged = atomic.staging_folder(day / run)
        # Staging left is a live writer's: the same run, started by another process, is under
        # way (two that start at once both stop; a rerun then logs it once).
        rivals = [p for p in day.iterdir() if p != staged and atomic.staging_target(p.name) == run]
        if rivals:
            atomic.remove(staged)
            raise BatchRunBusy(
                f"batch run {request_id} is being logged by another process ({rivals[0].name} "
                f"in {day}): wait for it to finish, or stop it and run again"
            )
        try:
            yield staged
            atomic.remove_stale(staged)  # the staging files of workers that died mid-write
            if any(staged.iterdir()):
                os.rename(staged, day / f"run={request_id}")
        finally:
            atomic.remove(staged)

    def parts(self, since: str | None = None) -> list[Path]:
        """The part files of committed runs, oldest day first (from the day of ``since``)."""
        days = sorted(p for p in self.root.glob("date=*") if p.is_dir())
        if since:
            days = [day for day in days if day.name[len("date=") :] >= since[:10]]
        return [part for day in days for part in sorted(day.glob("run=*/part-*.parquet"))]

    def read(self, since: str | None = None, source: str | None = None) -> pd.DataFrame:
        """Logged rows (oldest first), optionally from ``since`` (ISO time) and one ``source``,
        as ``PredictionLog.read`` gives them."""
        frames = [read_part(part, since) for part in self.parts(since)]
        frame = pd.concat(frames, ignore_index=True) if frames else SCHEMA.empty_table().to_pandas()
        if source:
            frame = frame[frame["source"] == source]
        return decode(frame.sort_values(["timestamp", "item"], ignore_index=True))

    def count(self) -> int:
        return sum(pq.ParquetFile(part).metadata.num_rows for part in self.parts())

    def prune(self, retention_days: int) -> int:
        """Delete the days older than ``retention_days``; return how many rows they held."""
        cutoff = clock.iso(clock.now() - retention_days * 86400)[:10]
        deleted = 0
        for day in sorted(self.root.glob("date=*")):
            if day.name[len("date=") :] < cutoff:
                deleted += sum(
                    pq.ParquetFile(part).metadata.num_rows
                    for part in day.glob("run=*/part-*.parquet")
                )
                aside = atomic.staging_path(day)  # out of sight at once, then deleted
                os.rename(day, aside)
                atomic.remove(aside)
        return deleted


def open_log(path: Path) -> ParquetLog | PredictionLog:
    """The log at ``path``: a folder is a Parquet log, a file the SQLite log."""
    return ParquetLog(path) if path.is_dir() else PredictionLog(path)


def read_part(part: Path, since: str | None = None) -> pd.DataFrame:
    """One part's rows (JSON not decoded), from ``since`` on."""
    filters = [("timestamp", ">=", since)] if since else None
    frame: pd.DataFrame = pq.read_table(part, filters=filters, schema=SCHEMA).to_pandas()
    return frame
