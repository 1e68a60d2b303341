"""The prediction log keeps every row under concurrent writers, is idempotent, and prunes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from prodml_runtime.core import clock
from prodml_runtime.io import atomic
from prodml_runtime.io.parquet_log import SCHEMA, ParquetLog
from prodml_runtime.io.prediction_log import (
    ABANDONED_AFTER_SECONDS,
    BatchRunBusy,
    Entry,
    PredictionLog,
)


def entry(request_id: str, item: int = 0, when: str = "", source: str = "api") -> Entry:
    return Entry(
        request_id=request_id,
        item=item,
        model_version="v1",
        source=source,
        inputs={"x": 1.5, "colour": "red", "flag": None},
        outputs={"prediction": "yes", "probabilities": {"yes": 0.75, "no": 0.25}},
        latency_ms=1.25,
        timestamp=when,
    )


def _write_many(path: str, prefix: str, count: int) -> None:
    log = PredictionLog(path)
    for index in range(count):
        log.append([entry(f"{prefix}-{index}")])
    log.close()


def test_entries_round_trip(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log" / "predictions.db")
    assert log.append([entry("a"), entry("a", item=1)]) == 2
    frame = log.read()
    assert list(frame["request_id"]) == ["a", "a"] and list(frame["item"]) == [0, 1]
    assert frame["inputs"][0] == {"x": 1.5, "colour": "red", "flag": None}
    assert frame["outputs"][1]["probabilities"] == {"yes": 0.75, "no": 0.25}
    assert frame["timestamp"][0].endswith("Z")


def test_relogging_a_batch_adds_nothing_but_api_rows_are_all_kept(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    assert log.begin_batch("batch-1")
    assert log.append([entry("batch-1", item=i, source="batch") for i in range(5)]) == 5
    assert log.append([entry("batch-1", item=i, source="batch") for i in range(5)]) == 0
    log.commit_batch("batch-1")
    assert not log.begin_batch("batch-1"), "a committed run is not logged again"
    # A client reusing a request id still gets every prediction logged.
    assert log.append([entry("client-id"), entry("client-id")]) == 2
    assert log.count() == 7


def test_a_large_append_is_one_transaction_over_several_statements(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log.db")
    log.begin_batch("batch-big")
    log.commit_batch("batch-big")
    rows = [entry("batch-big", item=i, source="batch") for i in range(1000)]
    assert log.append(rows) == 1000
    assert log.append([*rows[:10], entry("batch-big", item=1000, source="batch")]) == 1
    assert log.read()["item"].tolist() == list(range(1001))
    # A row SQLite refuses, in the last of several statements: none of the rows is written.
    good = [entry("batch-bad", item=i, source="batch").row() for i in range(999)]
    with pytest.raises(sqlite3.Error):
        log.append_rows([*good, (*good[0][:-1], object())])
    assert log.count() == 1001


def test_concurrent_threads_and_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "predictions.db")
    log = PredictionLog(path)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_many, args=(path, f"p{n}", 100)) for n in range(2)]
    for process in processes:
        process.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: log.append([entry(f"t-{i}")]), range(400)))
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert log.count() == 600
    assert log.read()["request_id"].is_unique


def test_prune_deletes_only_rows_past_retention(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    old = clock.iso(time.time() - 40 * 86400, digits=6)
    log.append([entry("old", when=old), entry("new")])
    assert log.prune(retention_days=30) == 1
    assert list(log.read()["request_id"]) == ["new"]


def test_read_filters_by_time_and_source(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    log.append([entry("early", when="2026-01-01T00:00:00.000000Z"), entry("late")])
    assert list(log.read(since="2026-06-01T00:00:00Z")["request_id"]) == ["late"]
    assert log.read(source="batch").empty


def test_non_finite_values_are_refused(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    bad = Entry("r", "v1", "api", {"x": float("nan")}, {}, 1.0)
    with pytest.raises(ValueError):
        log.append([bad])
    assert log.count() == 0


def test_a_batch_run_counts_only_once_committed(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    log.append([entry("api-1")])
    assert log.begin_batch("batch-1")
    log.append([entry("batch-1", item=i, source="batch") for i in range(3)])
    assert log.count() == 1 and list(log.read()["request_id"]) == ["api-1"]
    log.commit_batch("batch-1")
    assert log.count() == 4


def test_a_failed_batch_run_leaves_nothing(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    log.begin_batch("batch-1")
    log.append([entry("batch-1", item=i, source="batch") for i in range(3)])
    log.abandon_batch("batch-1")
    with sqlite3.connect(tmp_path / "predictions.db") as raw:
        assert raw.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 0
    assert log.begin_batch("batch-1"), "the run can be logged again"


_KILLED_WRITER = """
import os, sys
from {package}.prediction_log import Entry, PredictionLog
log = PredictionLog(sys.argv[1])
log.begin_batch("batch-killed")
log.append([Entry("batch-killed", "v1", "batch", dict(), dict(), 1.0, item=i) for i in range(50)])
os.kill(os.getpid(), 9)
"""


def test_a_killed_batch_writer_is_cleared_by_the_next_run(tmp_path: Path) -> None:
    """kill -9 mid-run: its rows never count, and the next batch run deletes them."""
    path = tmp_path / "predictions.db"
    code = _KILLED_WRITER.format(package=PredictionLog.__module__.rpartition(".")[0])
    killed = subprocess.run([sys.executable, "-c", code, str(path)], check=False)
    assert killed.returncode == -9
    log = PredictionLog(path)
    assert log.count() == 0
    assert log.begin_batch("batch-other")
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 0
        runs = raw.execute("SELECT request_id FROM batch_runs").fetchall()
    assert runs == [("batch-other",)]
    assert log.begin_batch("batch-killed"), "the killed run can be run again"


def test_a_silent_batch_run_of_another_host_is_abandoned(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    silent = clock.iso(time.time() - ABANDONED_AFTER_SECONDS - 60, digits=6)
    with sqlite3.connect(tmp_path / "predictions.db") as raw:
        raw.execute(
            "INSERT INTO batch_runs VALUES ('batch-away', 'writing', 'otherhost-1', ?, ?)",
            (silent, silent),
        )
    assert log.clear_abandoned() == 1


def test_a_run_being_written_by_a_live_process_is_not_taken_over(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    assert log.begin_batch("batch-1")
    with pytest.raises(BatchRunBusy, match="is being logged by process"):
        PredictionLog(tmp_path / "predictions.db").begin_batch("batch-1")


def test_a_parquet_log_run_is_logged_by_one_live_process_at_a_time(tmp_path: Path) -> None:
    log = ParquetLog(tmp_path / "log")
    with log.batch("batch-1") as staged:
        assert staged is not None
        pq.write_table(SCHEMA.empty_table(), staged / "part-000000000000.parquet")
        busy = pytest.raises(BatchRunBusy, match="is being logged by another process")
        with busy, ParquetLog(tmp_path / "log").batch("batch-1"):
            pass
    assert log.logged("batch-1"), "the first run committed"
    # A writer that is gone (here: a process that has ended) blocks nobody.
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                           capture_output=True, check=True).stdout.strip()  # fmt: skip
    writer = f"{atomic.process_name().rpartition('-')[0]}-{ended}"
    (day,) = (tmp_path / "log").glob("date=*")
    (day / f".run=batch-2.{writer}-0123abcd.tmp").mkdir()
    with log.batch("batch-2") as staged:
        assert staged is not None
        pq.write_table(SCHEMA.empty_table(), staged / "part-000000000000.parquet")
    assert log.logged("batch-2") and not [p for p in day.iterdir() if p.name.startswith(".")]


def test_batch_rows_of_a_log_made_before_batch_runs_still_count(tmp_path: Path) -> None:
    path = tmp_path / "predictions.db"
    log = PredictionLog(path)
    log.begin_batch("batch-old")
    log.append([entry("batch-old", item=i, source="batch") for i in range(2)])
    log.close()
    with sqlite3.connect(path) as raw:
        raw.executescript("DROP VIEW logged; DROP TABLE batch_runs;")
    assert PredictionLog(path).count() == 2
