"""Fast tier: render option combinations and check what they wrote.

Every valid combination (2,880) is rendered and checked for its exact file set, leftover Jinja,
parsing and the answers file. The linters (ruff, hadolint, actionlint, pre-commit's hooks) run
on every combination of the options that change files or code (bake.STRUCTURAL: 180), with
license and python_version, which only change text, rotated so that every value and every pair
of them appears.
"""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bake import all_combinations, bake, combo_id, files, matrix
from prodml import answers as answers_file
from prodml.options import OPTIONS

BIN = Path(sys.executable).parent
# "}}" alone is not a sign: Python closes nested dicts with it.
JINJA_LEFTOVER = re.compile(r"{{|{%|%}|{#|cookiecutter\.")


def expected_files(a: dict[str, str]) -> set[str]:
    """The exact file set a project must have, written out independently of prodml.layout."""
    pkg = f"src/{a['package_name']}"
    expected = {
        ".cruft.json", ".gitignore", ".pre-commit-config.yaml", "LICENSE", "Makefile", "README.md",
        "pyproject.toml", "benchmarks/bench_train.py", "configs/schema.yaml", "configs/train.yaml",
        "docs/data-card.md", "docs/ml-test-score.md", "docs/model-card.md",
        *(f"{pkg}/{module}.py" for module in (
            "__init__", "__main__", "cli", "config", "data", "eda", "evaluate", "features",
            "figures", "jobs", "metrics", "predict", "prediction_log", "registry", "reporting",
            "schema", "settings", "run_store", "tracking", "train",
        )),
        *(f"tests/{module}.py" for module in (
            "conftest", "test_cli", "test_data", "test_eda", "test_evaluate",
            "test_feature_governance", "test_features", "test_lifecycle", "test_metrics",
            "test_predict", "test_prediction_log", "test_registry", "test_run_store", "test_schema", "test_staleness",
            "test_tracking", "test_train",
        )),
    }  # fmt: skip
    if a["serving"] != "none":
        expected |= {
            f"{pkg}/api.py",
            f"{pkg}/contract.py",
            f"{pkg}/serving.py",
            "tests/api/conftest.py",
            "tests/api/test_api.py",
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
    return tmp_path_factory.mktemp("renders")


@pytest.mark.parametrize("combo", all_combinations(), ids=combo_id)
def test_every_combination_renders_exactly_its_files(combo, workdir):
    project = bake(workdir / combo_id(combo), **combo)
    recorded, _ = answers_file.read(project)

    # The answers file round-trips every answer.
    assert {k: v for k, v in recorded.items() if k in combo} == combo
    assert set(recorded) == {o.name for o in OPTIONS}

    # Exactly the files these answers call for.
    written = {str(p.relative_to(project)) for p in files(project)}
    assert written == expected_files(recorded)

    for path in files(project):
        text = path.read_text(encoding="utf-8")
        # No Jinja survives rendering (GitHub's ${{ }} expressions excepted).
        unrendered = re.sub(r"\$\{\{.*?\}\}", "", text) if path.parent.name == "workflows" else text
        assert not JINJA_LEFTOVER.search(unrendered), (
            f"unrendered Jinja in {path.relative_to(project)}"
        )
        # Every Python file compiles; TOML, YAML and JSON parse.
        if path.suffix == ".py":
            compile(text, str(path), "exec")
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            yaml.safe_load(text)
        elif path.suffix == ".json":
            json.loads(text)


@pytest.mark.parametrize("combo", matrix(), ids=combo_id)
def test_linters_pass_on_every_structural_combination(combo, tmp_path):
    project = bake(tmp_path, **combo)
    every_file = [p.relative_to(project) for p in files(project)]
    for hygiene in ("trailing-whitespace-fixer", "end-of-file-fixer"):
        result = tool(hygiene, *every_file, cwd=project)
        assert result.returncode == 0, f"{hygiene}: {result.stdout}"
    lint = tool("ruff", "check", "--no-cache", ".", cwd=project)
    assert lint.returncode == 0, lint.stdout
    fmt = tool("ruff", "format", "--no-cache", "--check", ".", cwd=project)
    assert fmt.returncode == 0, fmt.stdout
    config = tool("pre-commit", "validate-config", ".pre-commit-config.yaml", cwd=project)
    assert config.returncode == 0, config.stdout + config.stderr
    if combo["docker"] == "yes":
        hadolint = tool("hadolint", "Dockerfile", cwd=project)
        assert hadolint.returncode == 0, hadolint.stdout
    if combo["ci"] == "github":
        actionlint = tool("actionlint", ".github/workflows/ci.yml", cwd=project)
        assert actionlint.returncode == 0, actionlint.stdout
