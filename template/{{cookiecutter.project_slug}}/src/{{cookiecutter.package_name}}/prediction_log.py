"""The prediction log: every prediction (API and batch) with its inputs, outputs and lineage.

One SQLite table in WAL mode, so concurrent writers (server threads, worker processes, a batch
job) never lose a row and readers never block writers. Each row carries ``(request_id, item)``:
``item`` is the record's position in a batch request or file (0 for a single prediction).
Batch rows are unique on that key (writing it twice keeps the first row), which makes
re-running a batch job idempotent; API rows are all kept, even when a client reuses a request
id. ``prune`` enforces the retention period.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

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
"""
#: Compact, strict JSON (NaN and infinity refused) for log rows and API responses; one encoder
#: for all calls (``json.dumps`` with options builds a new one each time).
to_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_ROW = f"({', '.join('?' * len(COLUMNS))})"
#: Rows per INSERT statement: SQLite's lowest limit on a statement's parameters is 999.
_ROWS_PER_INSERT = 999 // len(COLUMNS)


def _insert(rows: int) -> str:
    return "INSERT OR IGNORE INTO predictions VALUES " + ", ".join([_ROW] * rows)


def timestamp(seconds: float | None = None) -> str:
    """A UTC time (default: now) as ISO 8601 with microseconds; such timestamps sort as text.

    For example ``2026-01-31T12:00:00.000001Z``.
    """
    seconds = time.time() if seconds is None else seconds
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1e6):06d}Z"
    )


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
            self.timestamp or timestamp(),
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
        self._connection.executescript(_CREATE)

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
        return int(self._connection.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])

    def read(self, since: str | None = None, source: str | None = None) -> pd.DataFrame:
        """Logged rows (oldest first), optionally from ``since`` (ISO time) and one ``source``.

        Columns: ``COLUMNS`` with ``inputs`` and ``outputs`` decoded into dicts.
        """
        query, params = "SELECT * FROM predictions WHERE 1=1", []
        if since:
            query, params = query + " AND timestamp >= ?", [*params, since]
        if source:
            query, params = query + " AND source = ?", [*params, source]
        rows = self._connection.execute(query + " ORDER BY timestamp, item", params).fetchall()
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame["inputs"] = [json.loads(text) for text in frame["inputs"]]
        frame["outputs"] = [json.loads(text) for text in frame["outputs"]]
        return frame

    def prune(self, retention_days: int) -> int:
        """Delete rows older than ``retention_days``; return how many were deleted."""
        cutoff = timestamp(time.time() - retention_days * 86400)
        with self._connection as connection:
            return connection.execute(
                "DELETE FROM predictions WHERE timestamp < ?", (cutoff,)
            ).rowcount

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
