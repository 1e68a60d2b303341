"""Stage timing and run lineage shared by every runs store: a stopwatch that reports progress,
sortable run ids and the checked-out git commit. Where runs are recorded is ``run_store``.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core import clock

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


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a random suffix."""
    return clock.compact() + "-" + secrets.token_hex(3)


def git_commit(cwd: Path | None = None) -> str | None:
    """The checked-out commit, or None outside a git repository (or without git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
