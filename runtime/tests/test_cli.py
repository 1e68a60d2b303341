"""The command line end to end: data -> validate -> train -> predict, and its clear failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from prodml_runtime.cli import command_line
from prodml_runtime.cli.common import SAMPLE_DATA
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import run_store_local
from prodml_runtime.io.run_store import RunStore
from prodml_runtime.io.tables import read_table
from prodml_runtime.project import Project

from tests.demo import BadCell
from tests.shipped import MONITOR_CONFIG

pytestmark = pytest.mark.parametrize("problem", ["binary"], indirect=True)

#: The synthetic sample `data` writes: what these tests train on, whatever DATA the project has.
SAMPLE = str(SAMPLE_DATA)

Run = Callable[..., Result]


@pytest.fixture
def run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    schema_path: Path,
    runs_store: RunStore,
    project: Project,
) -> Run:
    """Invoke the project's CLI inside ``tmp_path`` with its schema and the session's runs
    store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.delenv("MODEL_DIR", raising=False)
    monkeypatch.delenv("PREDICTION_LOG", raising=False)
    monkeypatch.setenv(run_store_local.LOCATION_ENV, runs_store.location)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(command_line(project), list(args))

    return invoke


def _runs_of(store: RunStore, version: str) -> list[dict[str, Any]]:
    return [e for e in store.runs() if e["model_version"] == version]


def test_data_train_evaluate_predict_end_to_end(
    run: Run, tmp_path: Path, fast_config_path: Path, runs_store: RunStore
) -> None:
    result = run("data", "--rows", "500", "--output", "data/raw/sample.csv")
    assert result.exit_code == 0, result.output
    assert run("validate", "data/raw/sample.csv").exit_code == 0

    result = run("train", "--data", SAMPLE, "--config", str(fast_config_path))
    assert result.exit_code == 0, result.output
    assert "search_linear: " in result.output, "progress per stage"
    report = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert report["champion"] in report["test"]
    assert (tmp_path / "models" / "champion").read_text().strip() == report["model_version"]
    assert (tmp_path / "reports" / "evaluation.md").is_file()
    assert report["model_version"] in (tmp_path / "docs" / "model-card.md").read_text()
    metadata = json.loads(
        (tmp_path / "models" / report["model_version"] / "metadata.json").read_text()
    )
    lineage = metadata["lineage"]
    reference = tmp_path / "models" / report["model_version"] / "reference.json"
    assert reference.is_file() and metadata["reference_sha256"], "monitoring reference saved"
    (entry,) = _runs_of(runs_store, report["model_version"])
    assert entry["status"] == "promoted"
    assert lineage["run_id"] == entry["run_id"] and lineage["data_hash"] == entry["data_sha256"]

    result = run("evaluate", "--data", SAMPLE)
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert again["test"] == report["test"], "evaluate scores the same test split as train"
    result = run("runs")
    assert result.exit_code == 0 and entry["run_id"] in result.output
    record = json.loads(run("runs", entry["run_id"]).output)
    assert record["durations"]["promote"] >= 0  # recorded at promotion, before the evaluation
    assert record["data"]["sha256"] == lineage["data_hash"]
    result = run("runs", "no-such-run")
    assert result.exit_code == 1 and "no run 'no-such-run'" in result.output

    result = run("predict", "--input", "data/raw/sample.csv", "--output", "out/predictions.csv")
    assert result.exit_code == 0, result.output
    assert "scored 500 of 500 rows" in result.output and "logged 500 new" in result.output
    predictions = read_table(tmp_path / "out" / "predictions.csv")
    assert len(predictions) == 500
    assert (predictions["model_version"] == report["model_version"]).all()
    assert (tmp_path / "out" / "predictions.rejects.csv").is_file()
    result = run("monitor", "--config", str(MONITOR_CONFIG), "--output", "reports/monitoring")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "monitoring" / "report.md").is_file()

    result = run("promote")
    assert result.exit_code == 0 and f"* {report['model_version']}" in result.output


def test_train_refuses_invalid_data_with_a_clear_message(
    run: Run, tmp_path: Path, schema: Schema, fast_config_path: Path
) -> None:
    assert run("data", "--rows", "200").exit_code == 0
    frame = read_table(tmp_path / "data" / "raw" / "sample.csv")
    frame.drop(columns=schema.feature_names[0]).to_csv(tmp_path / "bad.csv", index=False)
    result = run("train", "--data", "bad.csv", "--config", str(fast_config_path))
    assert result.exit_code == 1
    assert "refusing to train on it" in result.output
    assert schema.feature_names[0] in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "models").exists()


def test_validate_lists_violations_and_exits_1(run: Run, tmp_path: Path, schema: Schema) -> None:
    assert run("data", "--rows", "200").exit_code == 0
    frame = read_table(tmp_path / "data" / "raw" / "sample.csv")
    frame[schema.feature_names[0]] = "oops"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    result = run("validate", "bad.csv")
    assert result.exit_code == 1
    assert "column" in result.output and "violation" in result.output


def test_predict_without_a_model_says_to_train(run: Run) -> None:
    assert run("data", "--rows", "100").exit_code == 0
    result = run("predict", "--input", "data/raw/sample.csv", "--output", "p.csv")
    assert result.exit_code == 1
    assert "no trained model" in result.output and "make train" in result.output


def test_missing_input_files_give_clear_errors(run: Run, fast_config_path: Path) -> None:
    result = run("train", "--data", "missing.csv", "--config", str(fast_config_path))
    assert result.exit_code == 1 and "data file not found" in result.output
    result = run("predict", "--input", "missing.csv", "--output", "p.csv")
    assert result.exit_code == 1 and "input file not found" in result.output
    result = run("monitor", "--input", "missing.csv")
    assert result.exit_code == 1 and "input file not found" in result.output
    result = run("monitor", "--days", "1", "--since", "2026-01-01")
    assert result.exit_code == 1 and "not both" in result.output


def test_predict_options_parquet_rejects_chunks_and_no_log(
    run: Run,
    tmp_path: Path,
    model_dir: Path,
    schema: Schema,
    sample: pd.DataFrame,
    invalid_cells: list[BadCell],
) -> None:
    frame = sample.head(80).drop(columns=schema.target)
    cell = invalid_cells[0]
    cell.put(frame, [5])
    # Parquet columns are typed: the broken column goes as text, as a CSV would hold it.
    frame[cell.column] = [None if pd.isna(value) else str(value) for value in frame[cell.column]]
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    args = ["--input", "in.parquet", "--output", "out.parquet", "--model-dir", str(model_dir)]
    result = run("predict", *args, "--rejects", "bad.csv", "--chunk-size", "30", "--no-log")
    assert result.exit_code == 0, result.output
    assert "scored 79 of 80 rows" in result.output and "1 rejected into bad.csv" in result.output
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 79
    assert read_table(tmp_path / "bad.csv")["row"].tolist() == [5]
    assert not (tmp_path / "logs").exists(), "--no-log writes no prediction log"
    result = run("predict", *args, "--rejects", "bad.parquet")
    assert result.exit_code == 1 and "must be a .csv file" in result.output
    result = run("predict", *args[:2], "--output", "out.txt", "--model-dir", str(model_dir))
    assert result.exit_code == 1 and "must end in .csv or .parquet" in result.output


def test_a_model_refused_by_the_gate_stays_a_challenger(
    run: Run, tmp_path: Path, fast_config: TrainConfig, runs_store: RunStore
) -> None:
    assert run("data", "--rows", "300").exit_code == 0
    strict = fast_config.model_copy(update={"min_improvement": 1e9})
    (tmp_path / "strict.yaml").write_text(yaml.safe_dump(strict.model_dump(mode="json")))
    result = run("train", "--data", SAMPLE, "--config", "strict.yaml")
    assert result.exit_code == 1
    assert "challenger" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "models" / "champion").exists()
    (version,) = [p.name for p in (tmp_path / "models").iterdir() if p.is_dir()]
    (entry,) = _runs_of(runs_store, version)
    assert entry["status"] == "refused"
    assert not (tmp_path / "reports").exists()


def test_evaluate_without_a_model_says_to_train(run: Run) -> None:
    assert run("data", "--rows", "100").exit_code == 0
    result = run("evaluate", "--data", SAMPLE)
    assert result.exit_code == 1 and "make train" in result.output


def test_a_failed_evaluation_keeps_the_previous_reports_whole(
    run: Run,
    tmp_path: Path,
    fast_config_path: Path,
    runs_store: RunStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A train killed or failing while it evaluates: the model is promoted and its run recorded,
    and reports/ holds the previous evaluation, not a mix."""
    from prodml_runtime.training import evaluate

    assert run("data", "--rows", "400").exit_code == 0
    assert run("train", "--data", SAMPLE, "--config", str(fast_config_path)).exit_code == 0
    before = {
        p.relative_to(tmp_path): p.read_bytes()
        for p in (tmp_path / "reports").rglob("*")
        if p.is_file()
    }

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evaluate, "evaluation_markdown", crash)
    result = run("train", "--data", SAMPLE, "--config", str(fast_config_path))
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert "Traceback" not in result.output
    after = {
        p.relative_to(tmp_path): p.read_bytes()
        for p in (tmp_path / "reports").rglob("*")
        if p.is_file()
    }
    assert after == before
    entries = RunStore.at("local", "demo").runs()  # the store RUNS_DIR names
    assert RunStore.at("local", "demo").location == runs_store.location
    assert entries[-1]["status"] == "promoted", "the promotion is recorded before evaluating"


def test_a_full_disk_is_a_one_line_error(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", "data/raw/sample.csv")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    result = run("data", "--rows", "100")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: No space left on device: data/raw/sample.csv"


def test_a_missing_optional_dependency_names_the_extra(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    assert run("data", "--rows", "100").exit_code == 0
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "prodml_runtime.data.eda", raising=False)
    result = run("eda", "--data", SAMPLE)
    assert result.exit_code == 1 and "'train' extra" in result.output, result.output


def test_a_0_1_train_yaml_is_refused_in_one_line(run: Run, tmp_path: Path) -> None:
    """A project upgraded from prodml 0.1 keeps its families in train.yaml: train says where
    they go now, before reading any data."""
    (tmp_path / "old.yaml").write_text("cv_folds: 3\nmodels:\n  linear: {search: grid}\n")
    result = run("train", "--data", "missing.csv", "--config", "old.yaml")
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: training config old.yaml: models: the model families")
    assert "models.py" in line and not (tmp_path / "models").exists()
