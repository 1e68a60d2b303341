"""Lock a new project's dependencies before its first commit, with the project's own ``make lock``.

The generated Makefile is the one place that says how a project locks (uv.lock for uv projects,
requirements-dev.lock and requirements.lock for pip projects); prodml runs that target with its
own uv, so a fresh machine needs no uv installed. Locking resolves against the package index:
when it cannot (offline, no make), generation still succeeds and the warning says what to run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

#: Seconds a lock may take before generation gives up on it (a cold resolution takes a few).
TIMEOUT = 300
LATER = "run `make lock` in the project, then commit the lock file"


def uv_binary() -> str | None:
    """The uv that came with prodml (the ``uv`` package), else one on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _reason(output: str) -> str:
    """uv's error line and its innermost cause, e.g. 'Request failed ...; Connection refused'."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    error = next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "")
    causes = [line for line in lines if line.startswith("cause:")]
    parts = [error.removeprefix("error:").strip()]
    if causes:
        parts.append(causes[-1].removeprefix("cause:").strip())
    return "; ".join(part for part in parts if part)


def _stop(process: subprocess.Popen) -> None:
    """Kill make and whatever it started (its own process group)."""
    with_group = getattr(os, "killpg", None)
    try:
        if with_group is not None:
            with_group(process.pid, signal.SIGKILL)
        else:  # pragma: no cover (no process groups on Windows)
            process.kill()
    except ProcessLookupError:
        pass
    process.wait()


def lock(project: Path) -> str | None:
    """Run ``make lock`` in ``project``; return a warning instead of failing generation.

    A failed lock leaves nothing behind: files it added are removed.
    """
    make, uv = shutil.which("make"), uv_binary()
    if make is None:
        return f"make not found, dependencies were not locked: {LATER}"
    if uv is None:
        return f"uv not found, dependencies were not locked: {LATER}"
    before = set(project.iterdir())
    process = subprocess.Popen(
        [make, "--no-print-directory", "lock", f"UV={uv}"], cwd=project, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
        problem = None if process.returncode == 0 else _reason(output)
    except subprocess.TimeoutExpired:
        _stop(process)
        problem = f"no answer within {TIMEOUT} s"
    except BaseException:  # Ctrl-C or SIGTERM: stop uv too, and let generation clean up
        _stop(process)
        raise
    if problem is None:
        return None
    for added in set(project.iterdir()) - before:
        if added.is_dir():
            shutil.rmtree(added, ignore_errors=True)
        else:
            added.unlink(missing_ok=True)
    return f"could not lock dependencies ({problem}): {LATER}"
