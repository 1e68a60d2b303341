"""The model lifecycle through the CLI: data -> validate -> train -> evaluate -> promote (gated)
-> predict -> rollback, on a small sample; and invalid data refused with the reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from prodml_runtime import jobs
from prodml_runtime.cli import command_line
from prodml_runtime.cli.common import SAMPLE_DATA
from prodml_runtime.core.gate import evidence
from prodml_runtime.core.model import LoadedModel, PredictionError
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry, run_store_local
from prodml_runtime.io.run_store import RunStore
from prodml_runtime.io.tables import read_table
from prodml_runtime.project import Project
from prodml_runtime.training.families import Family, grid
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from tests.demo import BadCell

ROWS = 400

#: The synthetic sample `data` writes: what these tests train on, whatever DATA the project has.
SAMPLE = str(SAMPLE_DATA)


#: A tiny training config (the families are the project's: ``_project``).
CONFIG = {"random_state": 0, "cv_folds": 2, "min_improvement": 0.0}

Run = Callable[..., Result]


def _project(schema: Schema, sample_path: Path, strong: bool) -> Project:
    """The project with a heavily regularised linear model only (weak), or with boosting."""
    if schema.is_classification:
        linear = Family(LogisticRegression(max_iter=2000), grid(C=[0.001]))
        boosting: Any = HistGradientBoostingClassifier(early_stopping=False)
    else:
        linear = Family(Ridge(), grid(alpha=[3000.0]))
        boosting = HistGradientBoostingRegressor(early_stopping=False)
    families = {"linear": linear}
    if strong:
        families["hist_gradient_boosting"] = Family(boosting, grid(max_iter=[30]))
    return Project(name="demo", data=sample_path, models=families)


@pytest.fixture
def run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    schema_path: Path,
    schema: Schema,
    sample_path: Path,
    runs_store: RunStore,
) -> Run:
    """Invoke the CLI inside ``tmp_path`` (fresh registry, the session's runs store) with
    train.yaml, of the weak project (``run(...)``) or the strong one (``run(..., strong=True)``)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.delenv("MODEL_DIR", raising=False)
    monkeypatch.setenv(run_store_local.LOCATION_ENV, runs_store.location)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(CONFIG))
    groups = {
        strong: command_line(_project(schema, sample_path, strong)) for strong in (False, True)
    }

    def invoke(*args: str, strong: bool = False) -> Result:
        return CliRunner().invoke(groups[int(strong)], list(args))

    return invoke


def _champion(tmp_path: Path) -> str:
    return (tmp_path / "models" / "champion").read_text().strip()


def _score(tmp_path: Path, version: str) -> float:
    """The version's primary test metric as the gate reads it, higher is better."""
    metadata = json.loads((tmp_path / "models" / version / "metadata.json").read_text())
    judged = evidence(metadata)
    return judged.score if judged.higher_is_better else -judged.score


def _scored_by(run: Run, tmp_path: Path) -> set[str]:
    result = run("predict", "--input", "data/raw/sample.csv", "--output", "predictions.csv")
    assert result.exit_code == 0, result.output
    return set(read_table(tmp_path / "predictions.csv")["model_version"])


def test_train_promote_and_roll_back(
    run: Run, tmp_path: Path, schema: Schema, runs_home: Path
) -> None:
    assert run("data", "--rows", str(ROWS)).exit_code == 0
    assert run("validate", "data/raw/sample.csv").exit_code == 0

    result = run("train", "--data", SAMPLE, "--config", "train.yaml")
    assert result.exit_code == 0, result.output
    first = _champion(tmp_path)
    result = run("evaluate", "--data", SAMPLE)
    assert result.exit_code == 0, result.output

    result = run("train", "--data", SAMPLE, "--config", "train.yaml", strong=True)
    (second,) = set(registry.versions(tmp_path / "models")) - {first}
    # Which of the two is better is a property of the data: the gate's decisions follow it.
    if _score(tmp_path, second) >= _score(tmp_path, first):
        assert result.exit_code == 0, result.output
        better, worse = second, first
    else:  # train refuses a worse challenger; force it in to have a champion to roll back to
        assert result.exit_code == 1 and "worse than champion" in result.output
        assert _champion(tmp_path) == first
        assert run("promote", "--force", second).exit_code == 0
        assert run("promote", first).exit_code == 0, "the better model passes the gate"
        better, worse = first, second
    assert _champion(tmp_path) == better

    if _score(tmp_path, worse) < _score(tmp_path, better):  # ties are promoted
        result = run("promote", worse)
        assert result.exit_code == 1 and "worse than champion" in result.output
    listing = run("promote").output
    assert f"* {better}" in listing and f"  {worse}" in listing
    assert _scored_by(run, tmp_path) == {better}

    result = run("rollback")
    assert result.exit_code == 0, result.output
    assert f"champion is now {worse}" in result.output
    assert _champion(tmp_path) == worse
    assert _scored_by(run, tmp_path) == {worse}

    # Data 5: no value of an id or ignored column in models, runs, reports or docs.
    hidden = [c.name for c in schema.columns if c.role in ("id", "ignored")]
    values = set(read_table(tmp_path / "data" / "raw" / "sample.csv")[hidden].stack().astype(str))
    folders = [tmp_path / name for name in ("models", "reports", "docs")] + [runs_home]
    written = [path for folder in folders if folder.is_dir() for path in folder.rglob("*")]
    written = [path for path in written if path.is_file()]
    assert written
    for path in written:
        content = path.read_bytes()
        leaked = [v for v in values if v.encode() in content]
        assert not leaked, f"{path} holds {leaked[:3]}"


def test_a_model_failing_the_canary_is_never_promoted(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infrastructure 6: the stored candidate must score held-out rows before promotion."""

    def broken(model: LoadedModel, features: object) -> None:
        raise PredictionError(f"model {model.version} returned non-finite predictions")

    monkeypatch.setattr(jobs, "predict_frame", broken)
    assert run("data", "--rows", "300").exit_code == 0
    result = run("train", "--data", SAMPLE, "--config", "train.yaml")
    assert result.exit_code == 1 and "canary check failed" in result.output
    assert "Traceback" not in result.output
    assert len(list((tmp_path / "models").glob("*/metadata.json"))) == 1
    assert not (tmp_path / "models" / "champion").exists()


def test_invalid_data_is_refused_with_the_reason(
    run: Run, tmp_path: Path, schema: Schema, invalid_cells: list[BadCell]
) -> None:
    assert run("data", "--rows", "200").exit_code == 0
    frame = read_table(tmp_path / "data" / "raw" / "sample.csv")
    cell = invalid_cells[0]
    cell.put(frame, frame.index[:2])
    others = [name for name in schema.feature_names if name != cell.column]
    if others:
        frame = frame.drop(columns=others[-1])
    frame.to_csv(tmp_path / "bad.csv", index=False)

    for args in (("validate", "bad.csv"), ("train", "--data", "bad.csv", "--config", "train.yaml")):
        result = run(*args)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        assert "expected" in result.output
        assert any(
            line.startswith(cell.column) and cell.check in line
            for line in result.output.splitlines()
        ), result.output
        assert ("column present" in result.output) == bool(others)
    assert "refusing to train on it" in result.output
    assert not (tmp_path / "models").exists()
