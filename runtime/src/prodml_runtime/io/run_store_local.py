"""The runs store: every training run recorded as JSON files under ``runs/``.

Layout::

    runs/
      index.jsonl          # one summary line per run, oldest first
      <run_id>.json        # the full record: params, metrics, data hash, git commit, durations

The record is written first and the index then rewritten with its line, each atomically (staged,
then renamed), so the index never points at a missing or partial record, and a kill at any
point leaves both whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.errors import ProjectError
from ..settings import settings
from . import atomic

#: The environment variable naming the store (``settings.Settings.runs_dir``).
LOCATION_ENV = "RUNS_DIR"
INDEX_FILE = "index.jsonl"


class RunNotFoundError(ProjectError, LookupError):
    """The store holds no run with that id."""


def location(given: str | Path | None = None) -> str:
    """The runs store: ``given``, else ``$RUNS_DIR``, else ``runs``."""
    return str(given or settings().runs_dir)


def store_in(directory: Path) -> str:
    """A store kept in ``directory`` (tests, benchmarks): its ``runs`` folder."""
    return str(directory / "runs")


def record_run(store: str | Path, record: dict[str, Any]) -> None:
    """Store ``record`` (which must hold ``run_id``) and append its summary to the index."""
    root = Path(store)
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(root / f"{record['run_id']}.json", json.dumps(record, indent=2) + "\n")
    lines = [entry for entry in list_runs(root) if entry["run_id"] != record["run_id"]]
    lines.append(summary(record))
    atomic.write_text(root / INDEX_FILE, "".join(json.dumps(line) + "\n" for line in lines))


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
    entries = []
    for number, line in enumerate(index.read_text(encoding="utf-8").splitlines(), 1):
        try:
            entry = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            entry = {}
        if entry is None:
            continue
        if not isinstance(entry, dict) or "run_id" not in entry:
            raise RunNotFoundError(f"{index} line {number} is not a run summary: fix or remove it")
        entries.append(entry)
    return entries


def read_run(store: str | Path, run_id: str) -> dict[str, Any]:
    """The full record of one run; RunNotFoundError if there is none."""
    path = Path(store) / f"{run_id}.json"
    if "/" in run_id or not path.is_file():
        raise RunNotFoundError(f"no run {run_id!r} in {store}")
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record
