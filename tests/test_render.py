"""Fast tier: render every structural option combination and check what it wrote.

Every combination of the options that change files or code (problem_type x serving x docker x ci
x env_manager: 90) is rendered; license and python_version, which only change text, are rotated so
that every value and every pair of them appears. All 1,440 valid combinations would cost 16x the
time for no new file set or code path.
"""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bake import bake, combo_id, files, matrix
from prodml import answers as answers_file
from prodml.options import OPTIONS

BIN = Path(sys.executable).parent
JINJA_LEFTOVER = re.compile(r"{{|}}|{%|%}|{#|#}|cookiecutter\.")


def expected_files(a: dict[str, str]) -> set[str]:
    """The exact file set a project must have, written out independently of prodml.layout."""
    pkg = f"src/{a['package_name']}"
    expected = {
        ".cruft.json", ".gitignore", ".pre-commit-config.yaml", "LICENSE", "Makefile", "README.md",
        "pyproject.toml", "configs/schema.yaml", "configs/train.yaml",
        "docs/ml-test-score.md",
        f"{pkg}/__init__.py", f"{pkg}/__main__.py", f"{pkg}/cli.py", f"{pkg}/config.py",
        f"{pkg}/data.py", f"{pkg}/features.py", f"{pkg}/metrics.py", f"{pkg}/predict.py",
        f"{pkg}/registry.py", f"{pkg}/schema.py", f"{pkg}/train.py",
        "tests/conftest.py", "tests/test_cli.py", "tests/test_data.py", "tests/test_features.py",
        "tests/test_predict.py", "tests/test_registry.py", "tests/test_schema.py",
        "tests/test_train.py",
    }  # fmt: skip
    if a["serving"] != "none":
        expected |= {
            f"{pkg}/api.py",
            f"{pkg}/contract.py",
            f"{pkg}/serving.py",
            "tests/test_api.py",
        }
    if a["docker"] == "yes":
        expected |= {"Dockerfile", ".dockerignore"}
    if a["ci"] == "github":
        expected.add(".github/workflows/ci.yml")
    if a["ci"] == "gitlab":
        expected.add(".gitlab-ci.yml")
    return expected


def tool(name: str, *args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / name, *map(str, args)], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("matrix")


@pytest.mark.parametrize("combo", matrix(), ids=combo_id)
def test_rendered_project_is_complete_and_clean(combo, workdir):
    project = bake(workdir / combo_id(combo), **combo)
    recorded, _ = answers_file.read(project)

    # The answers file round-trips every answer.
    assert {k: v for k, v in recorded.items() if k in combo} == combo
    assert set(recorded) == {o.name for o in OPTIONS}

    # Exactly the files these answers call for.
    written = {str(p.relative_to(project)) for p in files(project)}
    assert written == expected_files(recorded)

    # No Jinja survives rendering (GitHub's ${{ }} expressions excepted).
    for path in files(project):
        text = path.read_text(encoding="utf-8")
        if path.parent.name == "workflows":
            text = re.sub(r"\$\{\{.*?\}\}", "", text)
        assert not JINJA_LEFTOVER.search(text), f"unrendered Jinja in {path.relative_to(project)}"

    # Every Python file compiles; TOML, YAML and JSON parse.
    for path in files(project):
        source = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            compile(source, str(path), "exec")
        elif path.suffix == ".toml":
            tomllib.loads(source)
        elif path.suffix in (".yaml", ".yml"):
            yaml.safe_load(source)
        elif path.suffix == ".json":
            json.loads(source)

    # The project's own linters and the artifact linters pass.
    lint = tool("ruff", "check", "--no-cache", ".", cwd=project)
    assert lint.returncode == 0, lint.stdout
    fmt = tool("ruff", "format", "--no-cache", "--check", ".", cwd=project)
    assert fmt.returncode == 0, fmt.stdout
    every_file = [p.relative_to(project) for p in files(project)]
    for hygiene in ("trailing-whitespace-fixer", "end-of-file-fixer"):
        result = tool(hygiene, *every_file, cwd=project)
        assert result.returncode == 0, f"{hygiene}: {result.stdout}"
    config = tool("pre-commit", "validate-config", ".pre-commit-config.yaml", cwd=project)
    assert config.returncode == 0, config.stdout + config.stderr
    if recorded["docker"] == "yes":
        hadolint = tool("hadolint", "Dockerfile", cwd=project)
        assert hadolint.returncode == 0, hadolint.stdout
    if recorded["ci"] == "github":
        actionlint = tool("actionlint", ".github/workflows/ci.yml", cwd=project)
        assert actionlint.returncode == 0, actionlint.stdout
