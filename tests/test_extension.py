"""Each everyday change is one file of a generated project, as its README's "Changing it" says:
a model family from another library (LightGBM: one entry in models.py, its dependency in
pyproject.toml), a derived feature (one function in features.py) and a field of the API's
answer (api.py). After the three edits the project's own tests pass, training tunes the new
family on the new input, and the API answers with the new field."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import install_project
from test_e2e import Server, a_record, project_python, user_env

from bake import bake

pytestmark = pytest.mark.e2e

LIGHTGBM = """
from lightgbm import LGBMClassifier

MODELS["lightgbm"] = Family(
    LGBMClassifier(n_jobs=1, verbose=-1),
    randomized(2, learning_rate=loguniform(0.03, 0.2), num_leaves=[15, 31]),
    trusted=("lightgbm.basic.Booster", "collections.OrderedDict"),
)
"""
DERIVED = """

@FEATURES
def charges_per_month_of_tenure(features):
    return features["monthly_charges"] / (features["tenure_months"] + 1)
"""
ANSWER = '''class Answer(answers.Answer):
    """One record's answer, and whether the model is confident of it."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def confident(self) -> bool:
        return self.probabilities is None or max(self.probabilities.values()) >= 0.8
'''


def edit(path: Path, change) -> None:
    path.write_text(change(path.read_text()))


def test_a_family_a_feature_and_an_answer_field_are_one_file_each(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Changed")
    package = project / "src" / "changed"
    edit(package / "models.py", lambda text: text + LIGHTGBM)
    edit(package / "features.py", lambda text: text + DERIVED)
    pydantic = "from pydantic import computed_field\nfrom prodml_runtime"
    edit(package / "api.py", lambda text: text.replace("from prodml_runtime", pydantic))
    edit(package / "api.py", lambda text: text[: text.index("\nclass Answer(") + 1] + ANSWER)
    dependency = 'dependencies = [\n    "lightgbm>=4",\n'
    edit(project / "pyproject.toml", lambda text: text.replace("dependencies = [\n", dependency, 1))
    python = install_project(project, user_env())

    def pytest(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=project, env=user_env(), capture_output=True, text=True, timeout=900,
        )  # fmt: skip

    collected = pytest("--collect-only").stdout
    assert "test_a_family_fits_and_predicts_and_its_model_file_loads[lightgbm]" in collected
    tests = pytest()
    assert tests.returncode == 0, tests.stdout[-4000:]

    for command in (["data"], ["train"]):
        done = project_python(project, "-m", "changed", *command)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert "lightgbm" in metrics["cv"], "the new family was tuned"
    (version,) = [p.name for p in (project / "models").iterdir() if p.is_dir()]
    recorded = json.loads((project / "models" / version / "metadata.json").read_text())
    assert recorded["params"]["candidates"]["derived_features"] == ["charges_per_month_of_tenure"]

    with Server(project, "changed") as server:
        status, body, _ = server.call("/predict", a_record(project))
        assert status == 200 and isinstance(body["confident"], bool), body
        status, body, _ = server.call("/openapi.json")
        fields = body["components"]["schemas"]["PredictionResponse"]["properties"]
        assert "confident" in fields
