"""The runs store: atomic records, an append-only index, git commit and stage timing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.tracking import (
    INDEX_FILE,
    Stopwatch,
    git_commit,
    list_runs,
    new_run_id,
    read_run,
    record_run,
)


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
    assert first != second
    record_run(tmp_path, _record(first, 0.7))
    record_run(tmp_path, _record(second, 0.8))
    assert read_run(tmp_path, second) == _record(second, 0.8)
    entries = list_runs(tmp_path)
    assert [e["run_id"] for e in entries] == [first, second]
    assert entries[1]["test_score"] == 0.8 and entries[1]["data_sha256"] == "ab" * 32
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{first}.json", f"{second}.json", INDEX_FILE]
    ), "no temporary files are left behind"


def test_an_empty_store_has_no_runs(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "missing") == []


def test_stopwatch_reports_each_stage(tmp_path: Path) -> None:
    lines: list[str] = []
    clock = Stopwatch(lines.append)
    for _ in range(2):
        with clock.stage("load"):
            pass
    assert list(clock.durations) == ["load"] and clock.durations["load"] >= 0
    assert len(lines) == 2 and lines[0].startswith("load: ")


def test_git_commit_is_recorded_inside_a_repository_only(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(
        ["git", *identity, "commit", "-q", "--allow-empty", "-m", "x"], cwd=tmp_path, check=True
    )
    commit = git_commit(tmp_path)
    assert commit is not None and len(commit) == 40
