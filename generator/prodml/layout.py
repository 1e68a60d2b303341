"""Which template files a set of answers keeps: the rules the post-generation hook applies.

An option that adds or removes a component keeps or removes whole files here, so the template's
Python carries no ``{% if %}`` blocks. Standard library only (hooks use it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

Answers = Mapping[str, str]

#: Paths (relative to the project, formatted with the answers) kept only when their predicate holds.
OPTIONAL: tuple[tuple[str, Callable[[Answers], bool]], ...] = (
    ("src/{package_name}/serving", lambda a: a["serving"] != "none"),
    ("tests/serving", lambda a: a["serving"] != "none"),
    ("benchmarks/bench_api.py", lambda a: a["serving"] != "none"),
    ("benchmarks/load.py", lambda a: a["serving"] != "none"),
    (".github", lambda a: a["ci"] == "github"),
    (".gitlab-ci.yml", lambda a: a["ci"] == "gitlab"),
    ("Dockerfile", lambda a: a["docker"] == "yes"),
    (".dockerignore", lambda a: a["docker"] == "yes"),
    ("docker-compose.yml", lambda a: a["docker"] == "yes"),
    ("deploy", lambda a: a["docker"] == "yes"),
    # Answers recorded before the engine option existed meant the local engine.
    ("src/{package_name}/cli_engine.py", lambda a: a.get("engine", "local") != "local"),
    ("src/{package_name}/scoring/dataset.py", lambda a: a.get("engine", "local") != "local"),
    ("src/{package_name}/scoring/predict_dask.py", lambda a: a.get("engine") == "dask"),
    ("src/{package_name}/scoring/predict_spark.py", lambda a: a.get("engine") == "spark"),
    ("tests/scoring/test_predict_engine.py", lambda a: a.get("engine", "local") != "local"),
    ("benchmarks/bench_engine.py", lambda a: a.get("engine", "local") != "local"),
)

#: Target path, the option choosing it, and the template file standing for each choice.
#: The chosen file takes the target's name; the others are removed.
VARIANTS: tuple[tuple[str, str, Mapping[str, str]], ...] = (
    (
        "src/{package_name}/serving/app.py",
        "serving",
        {
            "fastapi": "src/{package_name}/serving/app_fastapi.py",
            "flask": "src/{package_name}/serving/app_flask.py",
        },
    ),
    (
        "src/{package_name}/serving/server.py",
        "serving",
        {
            "fastapi": "src/{package_name}/serving/server_fastapi.py",
            "flask": "src/{package_name}/serving/server_flask.py",
        },
    ),
    (
        "tests/serving/conftest.py",
        "serving",
        {
            "fastapi": "tests/serving/conftest_fastapi.py",
            "flask": "tests/serving/conftest_flask.py",
        },
    ),
    (
        "src/{package_name}/io/run_store.py",
        "tracking",
        {
            "local": "src/{package_name}/io/run_store_local.py",
            "mlflow": "src/{package_name}/io/run_store_mlflow.py",
        },
    ),
    (
        "tests/io/test_run_store.py",
        "tracking",
        {
            "local": "tests/io/test_run_store_local.py",
            "mlflow": "tests/io/test_run_store_mlflow.py",
        },
    ),
)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _remove_bytecode(project_dir: Path) -> None:
    """Drop ``__pycache__`` folders: an installed template is byte-compiled by pip, and only
    rendered sources belong in a project."""
    for cache in sorted(project_dir.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for compiled in project_dir.rglob("*.py[co]"):
        compiled.unlink()


def arrange(project_dir: Path, answers: Answers) -> None:
    """Remove the files ``answers`` leaves out and give chosen variants their final names."""
    _remove_bytecode(project_dir)
    for relative, keep in OPTIONAL:
        if not keep(answers):
            _remove(project_dir / relative.format(**answers))
    for target, option, sources in VARIANTS:
        for value, source in sources.items():
            path = project_dir / source.format(**answers)
            if value == answers[option]:
                path.rename(project_dir / target.format(**answers))
            else:
                _remove(path)
