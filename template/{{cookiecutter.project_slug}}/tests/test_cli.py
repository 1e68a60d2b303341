"""The command line end to end: data -> validate -> train -> predict, and its clear failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.data import read_csv


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema_path: Path):
    """Invoke the CLI inside ``tmp_path`` with the project's schema."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.delenv("MODEL_DIR", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args))

    return invoke


def test_data_train_predict_end_to_end(run, tmp_path: Path, config_path: Path) -> None:
    result = run("data", "--rows", "1500", "--output", "data/raw/sample.csv")
    assert result.exit_code == 0, result.output
    assert run("validate", "data/raw/sample.csv").exit_code == 0

    result = run("train", "--config", str(config_path))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert report["champion"] in report["test"]
    assert (tmp_path / "models" / "champion").read_text().strip() == report["model_version"]

    result = run("predict", "--input", "data/raw/sample.csv", "--output", "out/predictions.csv")
    assert result.exit_code == 0, result.output
    predictions = read_csv(tmp_path / "out" / "predictions.csv")
    assert len(predictions) == 1500
    assert (predictions["model_version"] == report["model_version"]).all()

    result = run("promote")
    assert result.exit_code == 0 and f"* {report['model_version']}" in result.output


def test_train_refuses_invalid_data_with_a_clear_message(
    run, tmp_path: Path, schema, config_path: Path
) -> None:
    assert run("data", "--rows", "200").exit_code == 0
    frame = read_csv(tmp_path / "data" / "raw" / "sample.csv")
    frame.drop(columns=schema.feature_names[0]).to_csv(tmp_path / "bad.csv", index=False)
    result = run("train", "--data", "bad.csv", "--config", str(config_path))
    assert result.exit_code == 1
    assert "refusing to train on invalid data" in result.output
    assert schema.feature_names[0] in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "models").exists()


def test_validate_lists_violations_and_exits_1(run, tmp_path: Path, schema) -> None:
    assert run("data", "--rows", "200").exit_code == 0
    frame = read_csv(tmp_path / "data" / "raw" / "sample.csv")
    frame[schema.feature_names[0]] = "oops"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    result = run("validate", "bad.csv")
    assert result.exit_code == 1
    assert "column" in result.output and "violation" in result.output


def test_predict_without_a_model_says_to_train(run, tmp_path: Path) -> None:
    assert run("data", "--rows", "100").exit_code == 0
    result = run("predict", "--input", "data/raw/sample.csv", "--output", "p.csv")
    assert result.exit_code == 1
    assert "no trained model" in result.output and "make train" in result.output


def test_missing_input_files_give_clear_errors(run, config_path: Path) -> None:
    result = run("train", "--data", "missing.csv", "--config", str(config_path))
    assert result.exit_code == 1 and "data file not found" in result.output
    result = run("predict", "--input", "missing.csv", "--output", "p.csv")
    assert result.exit_code == 1 and "input file not found" in result.output
