"""Atomic writes: a writer killed between staging and renaming leaves only its staging, which
the next write into that folder removes (whatever it writes), and a live writer's is kept."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prodml_runtime.io import atomic

_KILLED = """
import os, sys, time
from pathlib import Path
from {module} import atomic
target, how = Path(sys.argv[1]), sys.argv[2]
def stop(*args):
    print("staged", flush=True)
    time.sleep(600)
os.replace = os.rename = stop
if how == "write_bytes":
    atomic.write_bytes(target, b"never renamed")
else:
    with getattr(atomic, how)(target) as staged:
        if how == "file":
            staged.write_bytes(b"never renamed")
"""


def _killed_writer(target: Path, how: str) -> None:
    code = _KILLED.format(module=atomic.__package__)
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(target), how], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "staged"
    writer.send_signal(signal.SIGKILL)
    assert writer.wait() == -signal.SIGKILL


def _staging(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if atomic.is_staging(p.name))


@pytest.mark.parametrize("how", ["write_bytes", "file", "folder"])
@pytest.mark.parametrize("then", ["write_bytes", "file"])
def test_the_next_write_into_the_folder_removes_a_killed_writers_staging(
    tmp_path: Path, how: str, then: str
) -> None:
    _killed_writer(tmp_path / "killed.json", how)
    [left] = _staging(tmp_path)
    assert atomic.staging_target(left) == "killed.json"
    live = atomic.staging_path(tmp_path / "live.json")  # this process's: it is alive
    live.write_text("being written")
    other = tmp_path / "other.json"
    if then == "write_bytes":
        atomic.write_bytes(other, b"{}")
    else:
        with atomic.file(other) as staged:
            staged.write_bytes(b"{}")
    assert _staging(tmp_path) == [live.name]
    assert other.read_bytes() == b"{}" and not (tmp_path / "killed.json").exists()
