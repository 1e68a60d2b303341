"""The prediction log: every prediction (API and batch) with its inputs, outputs and lineage.

One SQLite table in WAL mode, so concurrent writers (server threads, worker processes, a batch
job) never lose a row and readers never block writers. Each row carries ``(request_id, item)``:
``item`` is the record's position in a batch request or file (0 for a single prediction).
Batch rows are unique on that key (writing it twice keeps the first row), which makes
re-running a batch job idempotent; API rows are all kept, even when a client reuses a request
id. ``prune`` enforces the retention period.

A batch run's rows count only once its output file is in place: ``begin_batch`` registers the
run in ``batch_runs`` as ``writing``, its rows are appended as it scores, and ``commit_batch``
marks it ``committed`` in one statement after the output was renamed into place. Readers see
the ``logged`` view: API rows and committed batch rows. A run that fails has its rows deleted;
one killed outright leaves them invisible until the next batch run (or ``prune``) finds its
process gone and deletes them, so a rerun on a fixed file never doubles what was logged.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..core import clock
from ..core.errors import ProjectError
from .atomic import process_gone, process_name

COLUMNS = (
    "request_id",
    "item",
    "timestamp",
    "model_version",
    "source",
    "inputs",
    "outputs",
    "latency_ms",
)
_CREATE = """
CREATE TABLE IF NOT EXISTS predictions (
    request_id TEXT NOT NULL,
    item INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    model_version TEXT NOT NULL,
    source TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    latency_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_timestamp ON predictions (timestamp);
CREATE UNIQUE INDEX IF NOT EXISTS predictions_batch_key ON predictions (request_id, item)
    WHERE source = 'batch';
CREATE TABLE IF NOT EXISTS batch_runs (
    request_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('writing', 'committed')),
    writer TEXT NOT NULL,
    started TEXT NOT NULL,
    heartbeat TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS logged AS
    SELECT * FROM predictions AS p WHERE p.source != 'batch' OR EXISTS (
        SELECT 1 FROM batch_runs AS r WHERE r.request_id = p.request_id AND r.state = 'committed'
    );
"""
#: Batch rows logged before ``batch_runs`` existed were written in one go: they count.
_ADOPT_EARLIER_BATCHES = """
INSERT OR IGNORE INTO batch_runs
    SELECT request_id, 'committed', 'earlier', MIN(timestamp), MAX(timestamp) FROM predictions
    WHERE source = 'batch' GROUP BY request_id
"""
#: Compact, strict JSON (NaN and infinity refused) for log rows and API responses; one encoder
#: for all calls (``json.dumps`` with options builds a new one each time).
to_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_ROW = f"({', '.join('?' * len(COLUMNS))})"
#: A batch run that has not logged a chunk for this long was abandoned (its writer may be on
#: another host, where its process cannot be asked for).
ABANDONED_AFTER_SECONDS = 900
#: Rows per INSERT statement: SQLite's lowest limit on a statement's parameters is 999.
_ROWS_PER_INSERT = 999 // len(COLUMNS)


def _insert(rows: int) -> str:
    return "INSERT OR IGNORE INTO predictions VALUES " + ", ".join([_ROW] * rows)


def decode(frame: pd.DataFrame) -> pd.DataFrame:
    """Log rows with their ``inputs`` and ``outputs`` JSON decoded into dicts."""
    decoded: pd.DataFrame = frame.assign(
        inputs=[json.loads(text) for text in frame["inputs"]],
        outputs=[json.loads(text) for text in frame["outputs"]],
    )
    return decoded


class BatchRunBusy(ProjectError, RuntimeError):
    """Another live process is logging the same batch run (same file, same model)."""


@dataclass(frozen=True)
class Entry:
    """One logged prediction. ``inputs`` are the features sent; ``outputs`` the response."""

    request_id: str
    model_version: str
    source: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    latency_ms: float
    item: int = 0
    timestamp: str = ""

    def row(self) -> tuple[Any, ...]:
        return (
            self.request_id,
            self.item,
            self.timestamp or clock.iso(digits=6),
            self.model_version,
            self.source,
            to_json(self.inputs),
            to_json(self.outputs),
            float(self.latency_ms),
        )


class PredictionLog:
    """Append-only prediction store at ``path`` (created on first use); safe across threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        try:
            connection = self._connection
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            connection.executescript(_CREATE)
            if "batch_runs" not in tables and "predictions" in tables:
                connection.execute(_ADOPT_EARLIER_BATCHES)
        except sqlite3.Error:
            self.close()
            if new:  # e.g. a full disk: leave no empty database behind
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            raise

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @property
    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections are not shared between threads)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def append(self, entries: Iterable[Entry]) -> int:
        """Write ``entries`` in one transaction; return how many were new (not already logged)."""
        return self.append_rows(entry.row() for entry in entries)

    def append_rows(self, rows: Iterable[tuple[Any, ...]]) -> int:
        """Write rows in ``COLUMNS`` order (inputs/outputs as JSON text) in one transaction.

        Rows go in multi-row INSERT statements, a few API requests' rows in a single one: SQLite
        works on a whole statement without the GIL (batch scoring's log worker writes while the
        main thread scores), and the API pays one statement per micro-batch.
        """
        rows = list(rows)
        connection = self._connection
        before = connection.total_changes
        if len(rows) <= _ROWS_PER_INSERT:  # one statement: its own transaction
            if rows:
                connection.execute(_insert(len(rows)), [value for row in rows for value in row])
            return connection.total_changes - before
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                part = rows[start : start + _ROWS_PER_INSERT]
                connection.execute(_insert(len(part)), [value for row in part for value in row])
        return connection.total_changes - before

    def count(self) -> int:
        """Rows that count: API rows and the rows of committed batch runs."""
        return int(self._connection.execute("SELECT COUNT(*) FROM logged").fetchone()[0])

    def begin_batch(self, request_id: str) -> bool:
        """Register a batch run; False if a committed run already logged this request id.

        A run left ``writing`` by a process that is gone (killed, crashed) is cleared first, with
        its rows; BatchRunBusy if a live process is writing the same run now.
        """
        self.clear_abandoned()
        with self._connection as connection:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute(
                "SELECT state, writer FROM batch_runs WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is not None and row[0] == "committed":
                return False
            if row is not None:
                raise BatchRunBusy(
                    f"batch run {request_id} is being logged by process {row[1]}: wait for it "
                    "to finish, or stop it and run again"
                )
            now = clock.iso(digits=6)
            connection.execute(
                "INSERT INTO batch_runs VALUES (?, 'writing', ?, ?, ?)",
                (request_id, process_name(), now, now),
            )
        return True

    def heartbeat(self, request_id: str) -> None:
        """Say that the writer of a batch run is still at work (see ``ABANDONED_AFTER_SECONDS``)."""
        self._connection.execute(
            "UPDATE batch_runs SET heartbeat = ? WHERE request_id = ?",
            (clock.iso(digits=6), request_id),
        )

    def commit_batch(self, request_id: str) -> None:
        """Make a batch run's rows count (one statement: all of them, at once)."""
        self._connection.execute(
            "UPDATE batch_runs SET state = 'committed' WHERE request_id = ?", (request_id,)
        )

    def abandon_batch(self, request_id: str) -> None:
        """Delete an uncommitted batch run and its rows."""
        with self._connection as connection:
            connection.execute("BEGIN IMMEDIATE")
            self._delete_run(connection, request_id)

    @staticmethod
    def _delete_run(connection: sqlite3.Connection, request_id: str) -> None:
        state = connection.execute(
            "SELECT state FROM batch_runs WHERE request_id = ?", (request_id,)
        ).fetchone()
        if state is not None and state[0] == "writing":
            connection.execute(
                "DELETE FROM predictions WHERE source = 'batch' AND request_id = ?", (request_id,)
            )
            connection.execute("DELETE FROM batch_runs WHERE request_id = ?", (request_id,))

    def clear_abandoned(self) -> int:
        """Delete the uncommitted runs (and rows) of batch writers that are gone: ended on this
        host, or silent for ``ABANDONED_AFTER_SECONDS`` (another host's); return how many."""
        runs = self._connection.execute(
            "SELECT request_id, writer, heartbeat FROM batch_runs WHERE state = 'writing'"
        ).fetchall()
        silent = clock.iso(clock.now() - ABANDONED_AFTER_SECONDS, digits=6)
        gone = [run for run, who, beat in runs if process_gone(who) or beat < silent]
        if gone:
            with self._connection as connection:
                connection.execute("BEGIN IMMEDIATE")
                for request_id in gone:
                    self._delete_run(connection, request_id)
        return len(gone)

    def read(self, since: str | None = None, source: str | None = None) -> pd.DataFrame:
        """Logged rows (oldest first), optionally from ``since`` (ISO time) and one ``source``.

        Columns: ``COLUMNS`` with ``inputs`` and ``outputs`` decoded into dicts.
        """
        query, params = "SELECT * FROM logged WHERE 1=1", list[str]()
        if since:
            query, params = query + " AND timestamp >= ?", [*params, since]
        if source:
            query, params = query + " AND source = ?", [*params, source]
        rows = self._connection.execute(query + " ORDER BY timestamp, item", params).fetchall()
        return decode(pd.DataFrame(rows, columns=list(COLUMNS)))

    def prune(self, retention_days: int) -> int:
        """Delete rows older than ``retention_days`` (and abandoned batch runs); return how many
        rows were deleted."""
        self.clear_abandoned()
        cutoff = clock.iso(clock.now() - retention_days * 86400, digits=6)
        with self._connection as connection:
            deleted = connection.execute(
                "DELETE FROM predictions WHERE timestamp < ?", (cutoff,)
            ).rowcount
            connection.execute(
                "DELETE FROM batch_runs WHERE started < ? AND state = 'committed' AND NOT EXISTS "
                "(SELECT 1 FROM predictions AS p WHERE p.request_id = batch_runs.request_id)",
                (cutoff,),
            )
            return deleted

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
