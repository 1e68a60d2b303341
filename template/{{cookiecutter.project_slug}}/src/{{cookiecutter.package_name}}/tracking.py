"""Experiment tracking in a local runs store, plus stage timing for progress and benchmarks.

Layout::

    runs/
      index.jsonl          # append-only: one summary line per run, oldest first
      <run_id>.json        # the full record: params, metrics, data hash, git commit, durations

Each record is written atomically (temporary file, then ``os.replace``) before its index line
is appended, so the index never points at a missing or partial record.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_RUNS_DIR = Path("runs")
INDEX_FILE = "index.jsonl"

Progress = Callable[[str], None]


class Stopwatch:
    """Wall time per named stage; reports each finished stage to ``progress``."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.durations: dict[str, float] = {}
        self._progress = progress

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.durations[name] = round(self.durations.get(name, 0.0) + elapsed, 3)
        if self._progress:
            self._progress(f"{name}: {elapsed:.1f}s")


def runs_dir(path: Path | str | None = None) -> Path:
    """The runs store: ``path``, else ``$RUNS_DIR``, else ``runs``."""
    return Path(path or os.environ.get("RUNS_DIR") or DEFAULT_RUNS_DIR)


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def git_commit(cwd: Path | None = None) -> str | None:
    """The checked-out commit, or None outside a git repository (or without git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def record_run(root: Path, record: dict[str, Any]) -> Path:
    """Store ``record`` (which must hold ``run_id``) and append its summary to the index."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{record['run_id']}.json"
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=root)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, path)
    with (root / INDEX_FILE).open("a", encoding="utf-8") as index:
        index.write(json.dumps(summary(record)) + "\n")
    return path


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """The index line of a run: when, outcome, model, primary test score, data and code."""
    metrics = record.get("metrics", {})
    metric, champion = metrics.get("primary_metric"), metrics.get("champion")
    score = metrics.get("test", {}).get(champion, {}).get(metric)
    return {
        "run_id": record["run_id"],
        "started_at": record.get("started_at"),
        "status": record.get("status"),
        "model_version": record.get("model_version"),
        "champion": champion,
        "metric": metric,
        "test_score": score,
        "data_sha256": record.get("data", {}).get("sha256"),
        "git_commit": record.get("git_commit"),
    }


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Index lines, oldest first (empty before the first run)."""
    index = root / INDEX_FILE
    if not index.is_file():
        return []
    lines = index.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def read_run(root: Path, run_id: str) -> dict[str, Any]:
    """The full record of one run; FileNotFoundError if there is none."""
    return json.loads((root / f"{run_id}.json").read_text(encoding="utf-8"))
