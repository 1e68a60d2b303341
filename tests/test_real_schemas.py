"""Real-schema tier: projects baked for scikit-learn's bundled datasets, run on them as users do.

Each case bakes a project, replaces ``configs/schema.yaml`` with the dataset's schema
(``tests/fixtures/real/<name>.yaml``) and writes the dataset where the Makefile's ``DATA`` reads
it, then runs the Makefile's train, evaluate, predict and monitor commands on it, calls the API
with a real row (when it serves), and runs the project's own test suite: a generated project's
tests must hold for any valid schema, not only for the demo's (the datasets have no id, only
numeric features, names with spaces and slashes, integer-coded categories, missing values).
The projects share this interpreter's packages and install themselves with --no-deps.
"""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import install_project
from test_e2e import BIN, Server, a_record, project_python, user_env

from bake import ROOT, bake

sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "real"))  # not a package: its script
import datasets

pytestmark = pytest.mark.e2e

#: Each case's answers; with ``target`` the project is made with ``prodml new --data`` (its
#: schema inferred), else its schema is the committed ``<name>.yaml``.
CASES = {
    "iris": {
        "problem_type": "multiclass_classification", "serving": "fastapi", "target": "species",
    },
    "wine": {"problem_type": "multiclass_classification", "serving": "flask"},
    "breast_cancer": {
        "problem_type": "binary_classification", "serving": "fastapi", "env_manager": "pip",
        "target": "diagnosis",
    },
    "diabetes": {"problem_type": "regression", "serving": "none"},
    "clinic": {"problem_type": "regression", "serving": "flask", "target": "progression"},
}  # fmt: skip


def makefile_data(project: Path) -> str:
    """The data path the project's Makefile trains, evaluates and predicts on (``DATA``)."""
    match = re.search(r"^DATA\s*[:?]?=\s*(\S+)\s*$", (project / "Makefile").read_text(), re.M)
    assert match, "the Makefile sets DATA"
    return match.group(1)


def baked(name: str, parent: Path) -> tuple[Path, str, str]:
    """A project for dataset ``name``, its schema and CSV in place, installed:
    (path, package, data path)."""
    answers = dict(CASES[name])
    target = answers.pop("target", None)
    title = f"Real {name.replace('_', ' ').title()}"
    if target is None:
        project = bake(parent, project_name=title, **answers)
        (project / "configs" / "schema.yaml").write_bytes(datasets.schema_path(name).read_bytes())
        datasets.write_csv(name, project / makefile_data(project))
    else:  # as a user with a file does: the problem type is left to the inference
        source = datasets.write_csv(name, parent / "incoming" / f"{name}.csv")
        given = [arg for key, value in answers.items() if key != "problem_type"
                 for arg in ("--set", f"{key}={value}")]  # fmt: skip
        new = subprocess.run(
            [BIN / "prodml", "new", title, "--no-input", "--no-git", "--no-lock", "-o", parent,
             "--data", source, "--target", target, *given],
            capture_output=True, text=True,
        )  # fmt: skip
        assert new.returncode == 0, new.stderr
        project = parent / title.lower().replace(" ", "-")
        inferred = yaml.safe_load((project / "configs" / "schema.yaml").read_text())
        assert inferred["problem_type"] == answers["problem_type"], inferred
    package = project.name.replace("-", "_")
    install_project(project, user_env())
    return project, package, makefile_data(project)


def command(project: Path, package: str, *args: str) -> str:
    """Run ``python -m <package> ARGS`` (as the Makefile does); its output, after exit 0."""
    done = project_python(project, "-m", package, *args)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def rows_of(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


@pytest.mark.parametrize("name", CASES)
def test_project_trains_scores_monitors_and_passes_its_tests_on_a_real_dataset(name, tmp_path):
    project, package, data = baked(name, tmp_path)

    command(project, package, "validate", data)
    trained = command(project, package, "train", "--data", data)
    assert "champion" in trained
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["model_version"] == (project / "models" / "champion").read_text().strip()
    command(project, package, "evaluate", "--data", data)
    assert (project / "reports" / "evaluation.md").is_file()

    command(project, package, "predict", "--input", data, "--output", "reports/predictions.csv")
    rows = rows_of(project / data)
    assert rows_of(project / "reports" / "predictions.csv") == rows, "every real row is scored"
    monitored = command(project, package, "monitor", "--output", "reports/monitoring")
    assert f"on {rows} rows" in monitored
    report = json.loads((project / "reports" / "monitoring" / "report.json").read_text())
    for plot in report["plots"].values():
        assert (project / "reports" / "monitoring" / plot).is_file()

    if CASES[name]["serving"] != "none":
        with Server(project, package) as server:
            status, body, _ = server.call("/predict", a_record(project, data))
            assert status == 200 and body["model_version"] == metrics["model_version"], body

    # The project's own suite, one process (this tier runs its cases side by side).
    suite = project_python(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0")
    summary = suite.stdout.strip().splitlines()[-1:]
    assert suite.returncode == 0, f"{summary}\n{suite.stdout[-6000:]}\n{suite.stderr[-2000:]}"
