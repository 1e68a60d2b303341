"""The local runs store: atomic records and an append-only index under runs/."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.io.run_store import (
    INDEX_FILE,
    RunNotFoundError,
    list_runs,
    location,
    read_run,
    record_run,
)
from {{ cookiecutter.package_name }}.training.tracking import new_run_id


def _record(run_id: str, score: float) -> dict:
    scores = dict(c=dict(m=score))
    return {
        "run_id": run_id,
        "status": "promoted",
        "model_version": f"v-{run_id}",
        "metrics": dict(primary_metric="m", champion="c", test=scores),
        "data": dict(sha256="ab" * 32),
        "git_commit": None,
    }


def test_record_run_writes_the_record_and_appends_to_the_index(tmp_path: Path) -> None:
    first, second = new_run_id(), new_run_id()
    record_run(tmp_path, _record(first, 0.7))
    record_run(tmp_path, _record(second, 0.8))
    assert read_run(tmp_path, second) == _record(second, 0.8)
    entries = list_runs(tmp_path)
    assert [e["run_id"] for e in entries] == [first, second]
    assert entries[1]["test_score"] == 0.8 and entries[1]["data_sha256"] == "ab" * 32
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{first}.json", f"{second}.json", INDEX_FILE]
    ), "no temporary files are left behind"
    with pytest.raises(RunNotFoundError):
        read_run(tmp_path, "missing")


def test_an_empty_store_has_no_runs(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "missing") == []


def test_the_store_is_given_else_runs_dir_else_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNS_DIR", raising=False)
    assert location() == "runs"
    monkeypatch.setenv("RUNS_DIR", "elsewhere")
    assert location() == "elsewhere" and location("given") == "given"
