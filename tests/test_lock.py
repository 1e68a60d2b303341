"""prodml new locks a project's dependencies (its own ``make lock``) before the first commit.

uv projects get uv.lock; pip projects requirements-dev.lock (everything) and requirements.lock
(what serving imports). The serving set carries no training or test packages, the two pip locks
agree, ``make lock-check`` (CI's stale-lock check) passes on a fresh project and fails once
pyproject.toml changes. Offline, generation still succeeds, with a warning and no half-made lock.
These tests resolve against the package index.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from prodml.cli import main
from prodml.lock import uv_binary

TRAIN_ONLY = {"matplotlib", "mlflow", "pytest", "ruff"}
#: What only prodml (the generator, a dev dependency for prodml check) brings: never served.
GENERATOR_ONLY = {"prodml", "cookiecutter", "repo-review"}


def new(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(
        main, ["new", "Lock Check", "--no-input", "-o", str(tmp_path), *args], env=env
    )
    return result, tmp_path / "lock-check"


def make(project: Path, target: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", target, f"UV={uv_binary()}"],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip


def committed(project: Path) -> set[str]:
    listing = subprocess.run(
        ["git", "ls-files"], cwd=project, capture_output=True, text=True, check=True
    )
    return set(listing.stdout.split())


def pins(requirements: str) -> dict[str, str]:
    """name -> version of a requirements file's pins (hash lines and comments skipped)."""
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", requirements, re.M)
    return {name.lower().replace("_", "-"): version for name, version in found}


def add_dependency(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    added = text.replace("dependencies = [\n", 'dependencies = [\n    "rich>=13",\n', 1)
    pyproject.write_text(added)


@pytest.mark.parametrize("tracking", ["local", "mlflow"])
def test_uv_project_commits_its_lock_and_ci_notices_a_stale_one(tmp_path, tracking):
    result, project = new(tmp_path, "--set", f"tracking={tracking}")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert "uv.lock" in committed(project)

    serving = subprocess.run(
        [uv_binary(), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    everything = subprocess.run(
        [uv_binary(), "export", "--frozen", "--extra", "dev", "--no-hashes"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert {"scikit-learn", "fastapi", "skops"} <= set(pins(serving))
    assert not (TRAIN_ONLY | GENERATOR_ONLY) & set(pins(serving)), (
        "what the image installs has no training extras and nothing of the generator"
    )
    assert "./vendor/prodml_runtime-" in serving and "./vendor/prodml-" not in serving
    expected = TRAIN_ONLY - ({"mlflow"} if tracking == "local" else set())
    assert expected | (GENERATOR_ONLY - {"prodml"}) <= set(pins(everything))
    assert "./vendor/prodml-" in everything

    check = make(project, "lock-check")
    assert check.returncode == 0, check.stdout + check.stderr
    add_dependency(project)
    stale = make(project, "lock-check")
    assert stale.returncode != 0, "a lock that misses a new dependency fails the check"


def test_pip_project_commits_two_locks_that_agree(tmp_path):
    result, project = new(tmp_path, "--set", "env_manager=pip", "--set", "serving=flask")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert {"requirements.lock", "requirements-dev.lock"} <= committed(project)
    serving = pins((project / "requirements.lock").read_text())
    everything = pins((project / "requirements-dev.lock").read_text())
    assert {"prodml-runtime", "scikit-learn", "flask", "gevent", "skops"} <= set(serving)
    assert not (TRAIN_ONLY | GENERATOR_ONLY) & set(serving)
    assert (TRAIN_ONLY | GENERATOR_ONLY) - {"mlflow"} <= set(everything)
    assert "--find-links vendor" in (project / "requirements.lock").read_text()
    assert all(everything[name] == version for name, version in serving.items()), (
        "the serving lock is resolved within the development lock"
    )
    assert "--hash=sha256:" in (project / "requirements.lock").read_text()

    check = make(project, "lock-check")
    assert check.returncode == 0, check.stdout + check.stderr
    add_dependency(project)
    stale = make(project, "lock-check")
    assert stale.returncode != 0 and "rich" in stale.stdout, stale.stdout + stale.stderr


@pytest.mark.parametrize("env_manager", ["uv", "pip"])
def test_offline_generation_warns_and_leaves_no_half_made_lock(tmp_path, env_manager):
    offline = {"UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "empty-cache")}
    result, project = new(tmp_path, "--set", f"env_manager={env_manager}", env=offline)
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert "could not lock dependencies" in warning and "make lock" in warning, warning
    assert not list(project.glob("*.lock")) and not (project / ".venv").exists()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True)
    assert status.stdout == b"", "what was generated is committed, nothing else is left"


def test_no_lock_skips_locking(tmp_path):
    result, project = new(tmp_path, "--no-lock", "--no-git", env={"UV_OFFLINE": "1"})
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert not list(project.glob("*.lock"))
