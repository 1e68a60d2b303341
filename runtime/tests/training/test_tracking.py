"""Stage timing, run ids and the git commit every runs store records."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prodml_runtime.training.tracking import Stopwatch, git_commit, new_run_id


def test_run_ids_are_unique_and_sort_by_time() -> None:
    first, second = new_run_id(), new_run_id()
    assert first != second and first[:16] <= second[:16]


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
