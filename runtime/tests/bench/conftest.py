"""A project folder to run the benchmarks in: ``configs/`` (the demo's schema and the fast
training config), ``$MODEL_DIR`` holding a champion, and the demo project importable as the
package ``demo``, since a benchmark's child processes run ``python -m demo bench ...`` or
``python -m demo serve``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from prodml_runtime.cli import command_line
from prodml_runtime.core.schema import Schema
from prodml_runtime.project import Project

from tests.demo import demo_project

#: The runtime's folder, where the package ``tests`` is.
TESTS_ROOT = Path(__file__).resolve().parents[2]
MAIN = """\
from pathlib import Path

from prodml_runtime.cli import command_line
from prodml_runtime.config import load_schema
from tests.demo import demo_project

command_line(demo_project(load_schema(), Path("data.csv"), **{options!r}))()
"""

Bench = Callable[..., Result]


@pytest.fixture
def bench_root(
    tmp_path: Path,
    schema_path: Path,
    fast_config_path: Path,
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The working directory: a project root with ``configs/`` and a champion in $MODEL_DIR."""
    root = tmp_path / "project"
    (root / "configs").mkdir(parents=True)
    shutil.copy(schema_path, root / "configs" / "schema.yaml")
    shutil.copy(fast_config_path, root / "configs" / "train.yaml")
    for name in ("SCHEMA_PATH", "PREDICTION_LOG", "PREDICTION_LOG_DATASET", "EXAMPLE_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def bench(
    bench_root: Path,
    schema: Schema,
    sample_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Bench:
    """``bench(*args, **options)``: ``bench ARGS`` of the demo project made with ``options``
    (``serving``, ``engine``), through CliRunner; its child processes run the same project."""

    def run(*args: str, **options: str) -> Result:
        package = tmp_path / "packages" / "demo"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("", encoding="utf-8")
        (package / "__main__.py").write_text(MAIN.format(options=options), encoding="utf-8")
        path = [str(package.parent), str(TESTS_ROOT), os.environ.get("PYTHONPATH", "")]
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, path)))
        project: Project = demo_project(schema, sample_path, **options)
        return CliRunner().invoke(command_line(project), ["bench", *args])

    return run
