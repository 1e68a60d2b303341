"""The runtime is typed: mypy, strict as runtime/pyproject.toml configures it, passes for the
oldest and the newest Python a generated project can target."""

import subprocess
import sys
from pathlib import Path

import pytest

from bake import ROOT
from prodml.options import BY_NAME

PYTHONS = sorted(BY_NAME["python_version"].choices, key=lambda v: tuple(map(int, v.split("."))))


@pytest.mark.parametrize("python", [PYTHONS[0], PYTHONS[-1]])
def test_the_runtime_passes_mypy_strict(python: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [Path(sys.executable).parent / "mypy", "--python-version", python,
         "--cache-dir", tmp_path / "cache"],
        cwd=ROOT / "runtime", capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
