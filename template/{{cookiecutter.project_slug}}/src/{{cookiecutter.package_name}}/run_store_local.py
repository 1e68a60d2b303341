"""The runs store: every training run recorded as JSON files under ``runs/``.

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
from pathlib import Path
from typing import Any

from . import atomic

#: Environment variable naming the store; ``DEFAULT_LOCATION`` when it is unset.
LOCATION_ENV = "RUNS_DIR"
DEFAULT_LOCATION = "runs"
LOCATION_HELP = "Runs store directory [default: $RUNS_DIR or runs]."
INDEX_FILE = "index.jsonl"


class RunNotFoundError(LookupError):
    """The store holds no run with that id."""


def location(given: str | Path | None = None) -> str:
    """The runs store: ``given``, else ``$RUNS_DIR``, else ``runs``."""
    return str(given or os.environ.get(LOCATION_ENV) or DEFAULT_LOCATION)


def store_in(directory: Path) -> str:
    """The location of a store kept inside ``directory`` (tests, benchmarks)."""
    return str(directory)


def record_run(store: str | Path, record: dict[str, Any]) -> None:
    """Store ``record`` (which must hold ``run_id``) and append its summary to the index."""
    root = Path(store)
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(root / f"{record['run_id']}.json", json.dumps(record, indent=2) + "\n")
    with (root / INDEX_FILE).open("a", encoding="utf-8") as index:
        index.write(json.dumps(summary(record)) + "\n")


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


def list_runs(store: str | Path) -> list[dict[str, Any]]:
    """Run summaries, oldest first (empty before the first run)."""
    index = Path(store) / INDEX_FILE
    if not index.is_file():
        return []
    lines = index.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def read_run(store: str | Path, run_id: str) -> dict[str, Any]:
    """The full record of one run; RunNotFoundError if there is none."""
    path = Path(store) / f"{run_id}.json"
    if "/" in run_id or not path.is_file():
        raise RunNotFoundError(f"no run {run_id!r} in {store}")
    return json.loads(path.read_text(encoding="utf-8"))
