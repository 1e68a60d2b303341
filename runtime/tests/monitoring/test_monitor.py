"""The monitor command: quiet on data like the training data, exit 3 on drift or a quality drop."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from prodml_runtime.cli import command_line
from prodml_runtime.cli.common import ALERT_EXIT
from prodml_runtime.config import ConfigError, load_monitor_config
from prodml_runtime.core.dates import input_names
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry
from prodml_runtime.io.parquet_log import SCHEMA, ParquetLog
from prodml_runtime.io.prediction_log import PredictionLog, to_json
from prodml_runtime.io.tables import write_part
from prodml_runtime.project import Project

from tests.demo import BadCell
from tests.shipped import MONITOR_CONFIG

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, monitored: Path, project: Project) -> Run:
    """Invoke the project's CLI in ``tmp_path`` against ``monitored``, with a fresh prediction
    log."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_DIR", str(monitored))
    monkeypatch.setenv("PREDICTION_LOG", str(tmp_path / "log.db"))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(command_line(project), [*args])

    return invoke


@pytest.fixture
def monitor(run: Run) -> Run:
    """``monitor`` with a project's shipped thresholds, writing its report to ``mon``."""
    return lambda *args: run("monitor", "--config", str(MONITOR_CONFIG), "--output", "mon", *args)


def _shifted(sample: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, list[str]]:
    """Valid rows far from the reference: the first numeric feature pushed to the top of its
    range (or beyond all it took, without a max), the first categorical fixed to one value.
    Returns the frame and the alerts expected (``psi name``...)."""
    frame = sample.drop(columns=schema.target).copy()
    expected = []
    numerics = schema.features_of_type("numeric")
    if numerics:
        numeric = schema.column(numerics[0])
        values = frame[numeric.name]
        spread = float(values.max() - values.min()) or 1.0
        if numeric.max is not None:
            frame[numeric.name] = numeric.max - (values - values.min()) * 0.1
        else:
            frame[numeric.name] = values + 5 * spread
        expected += [f"psi {numeric.name}", f"ks {numeric.name}"]
    categoricals = schema.features_of_type("categorical")
    if categoricals:
        categorical = schema.column(categoricals[0])
        frame[categorical.name] = (categorical.categories or ())[-1]
        expected.append(f"chi2 {categorical.name}")
    if not expected:
        pytest.skip("the schema has no numeric or categorical feature to shift")
    return frame, expected


def test_the_reference_is_stored_with_the_version_and_checksummed(
    monitored: Path, schema: Schema
) -> None:
    version = registry.champion(monitored)
    reference = registry.load_reference(monitored, version)
    assert set(reference["features"]) == set(input_names(schema)), "what the model reads"
    assert reference["prediction"]["kind"] == (
        "categorical" if schema.is_classification else "numeric"
    )
    assert registry.read_metadata(monitored, version)["reference_sha256"]


def test_a_model_without_reference_or_with_a_modified_one_is_refused(
    model_dir: Path, monitored: Path, tmp_path: Path
) -> None:
    with pytest.raises(registry.RegistryError, match="no reference profile"):
        registry.load_reference(model_dir, registry.champion(model_dir))
    copy = tmp_path / "models"
    version = registry.champion(monitored)
    (copy / version).mkdir(parents=True)
    for name in ("metadata.json", "reference.json"):
        (copy / version / name).write_bytes((monitored / version / name).read_bytes())
    (copy / version / "reference.json").write_text("{}")
    with pytest.raises(registry.RegistryError, match="checksum mismatch"):
        registry.load_reference(copy, version)


def test_unshifted_batch_exits_0_and_writes_the_report(
    monitor: Run, tmp_path: Path, sample: pd.DataFrame, schema: Schema
) -> None:
    sample.drop(columns=schema.target).to_csv("batch.csv", index=False)
    result = monitor("--input", "batch.csv")
    assert result.exit_code == 0, result.output
    assert "monitoring ok" in result.output and "ALERT" not in result.output
    report = json.loads((tmp_path / "mon" / "report.json").read_text())
    assert report["status"] == "ok" and report["rows"] == len(sample)
    assert {c["status"] for c in report["checks"]} == {"ok"}
    checks = {(c["check"], c["subject"]) for c in report["checks"]}
    for name in schema.features_of_type("numeric"):
        assert {("psi", name), ("ks", name), ("missing_rate_change", name)} <= checks
    for name in schema.features_of_type("categorical"):
        assert ("chi2", name) in checks
    assert {("prediction_psi", "prediction"), ("violation_rate", "rows")} <= checks
    markdown = (tmp_path / "mon" / "report.md").read_text()
    assert "| check |" in markdown
    assert set(report["plots"]) == {*input_names(schema), "prediction"}
    assert len(set(report["plots"].values())) == len(report["plots"]), "one file per plot"
    for name, plot in report["plots"].items():
        assert (tmp_path / "mon" / plot).stat().st_size > 1000
        assert f"### {name}\n\n![{name}]({plot})" in markdown


def test_shifted_batch_raises_the_alert_exit_status(
    monitor: Run, tmp_path: Path, sample: pd.DataFrame, schema: Schema
) -> None:
    shifted, expected = _shifted(sample, schema)
    shifted.to_parquet("shifted.parquet", index=False)
    result = monitor("--input", "shifted.parquet")
    assert result.exit_code == ALERT_EXIT == 3, result.output
    breaches = [line for line in result.output.splitlines() if line.startswith("ALERT")]
    for alert in expected:
        assert any(line.startswith(f"ALERT {alert}:") for line in breaches), alert
    report = json.loads((tmp_path / "mon" / "report.json").read_text())
    assert report["status"] == "alert" and len(report["breaches"]) == len(breaches)


def test_prediction_log_route_and_schema_violation_rate(
    run: Run, monitor: Run, sample: pd.DataFrame, schema: Schema, invalid_cells: list[BadCell]
) -> None:
    result = monitor()
    assert result.exit_code == 1 and "make predict" in result.output
    sample.drop(columns=schema.target).to_csv("batch.csv", index=False)
    assert run("predict", "--input", "batch.csv", "--output", "p.csv").exit_code == 0
    result = monitor()
    assert result.exit_code == 0, result.output
    assert f"on {len(sample)} rows" in result.output
    result = monitor("--since", "2999-01-01")
    assert result.exit_code == 1 and "no logged predictions" in result.output
    bad = sample.drop(columns=schema.target).copy()
    invalid_cells[0].put(bad, bad.index[: len(bad) // 5 + 1])
    bad.to_csv("bad.csv", index=False)
    result = monitor("--input", "bad.csv")
    assert result.exit_code == ALERT_EXIT and "ALERT violation_rate rows: 0.2" in result.output


def _assert_close(found: object, expected: object) -> None:
    """Equal report parts: counts and labels exactly, statistics to float rounding."""
    if isinstance(expected, dict):
        assert isinstance(found, dict) and found.keys() == expected.keys()
        for key, value in expected.items():
            _assert_close(found[key], value)
    elif isinstance(expected, list):
        assert isinstance(found, list) and len(found) == len(expected)
        for item, value in zip(found, expected, strict=True):
            _assert_close(item, value)
    elif isinstance(expected, float):
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-12)
    else:
        assert found == expected


def test_a_parquet_log_folder_reports_what_the_same_rows_in_sqlite_give(
    run: Run, monitor: Run, tmp_path: Path, sample: pd.DataFrame, schema: Schema
) -> None:
    sample.drop(columns=schema.target).to_csv("batch.csv", index=False)
    assert run("predict", "--input", "batch.csv", "--output", "p.csv").exit_code == 0
    rows = PredictionLog(tmp_path / "log.db").read()
    log = ParquetLog(tmp_path / "parquet-log")
    with log.batch(rows["request_id"].iloc[0]) as staged:  # the rows in parts of 700
        assert staged is not None
        for start in range(0, len(rows), 700):
            part = rows.iloc[start : start + 700]
            encoded = {name: part[name].map(to_json) for name in ("inputs", "outputs")}
            table = pa.Table.from_pandas(
                part.assign(**encoded), schema=SCHEMA, preserve_index=False
            )
            write_part(table, staged, int(part["item"].iloc[0]))
    assert log.count() == len(rows) and len(log.parts()) == -(-len(rows) // 700)
    old = tmp_path / "parquet-log" / "date=2000-01-01"
    shutil.copytree(log.parts()[0].parent.parent, old)  # the same run, logged long ago
    assert log.count() == 2 * len(rows)
    assert log.prune(retention_days=90) == len(rows) and not old.exists()
    reports = []
    for source in ("log.db", "parquet-log"):
        assert monitor("--log", source).exit_code == 0
        reports.append(json.loads((tmp_path / "mon" / "report.json").read_text()))
    sqlite, parquet = reports
    assert parquet["rows"] == sqlite["rows"] == len(sample)
    _assert_close(parquet["features"], sqlite["features"])
    _assert_close(parquet["prediction"], sqlite["prediction"])
    assert monitor("--log", "parquet-log", "--input", "batch.csv").exit_code == 1


def test_unusable_batch_files_fail_with_one_line_reasons(
    monitor: Run, sample: pd.DataFrame, schema: Schema
) -> None:
    last = schema.feature_names[-1]
    sample.drop(columns=last).to_csv("narrow.csv", index=False)
    result = monitor("--input", "narrow.csv")
    assert result.exit_code == 1 and f"missing column(s): {last}" in result.output
    Path("batch.txt").write_text("a,b\n1,2\n")
    result = monitor("--input", "batch.txt")
    assert result.exit_code == 1 and "must end in .csv or .parquet" in result.output
    sample.head(0).to_csv("empty.csv", index=False)
    result = monitor("--input", "empty.csv")
    assert result.exit_code == 1 and "has no rows" in result.output


def test_too_few_rows_are_not_judged(monitor: Run, sample: pd.DataFrame, schema: Schema) -> None:
    _shifted(sample, schema)[0].head(50).to_csv("few.csv", index=False)
    result = monitor("--input", "few.csv")
    assert result.exit_code == 0, result.output
    assert "not enough data to judge" in result.output and "min_rows 200" in result.output


def _labels(sample: pd.DataFrame, schema: Schema, request_id: str, shuffle: bool) -> pd.DataFrame:
    truth = sample[schema.target].to_numpy()
    if shuffle:  # labels unrelated to the inputs: the live metric collapses
        truth = np.random.default_rng(0).permutation(truth)
    return pd.DataFrame(
        {"request_id": request_id, "item": range(len(sample)), schema.target: truth}
    )


def test_delayed_labels_join_and_alert_on_a_quality_drop(
    run: Run, monitor: Run, sample: pd.DataFrame, schema: Schema
) -> None:
    sample.drop(columns=schema.target).to_csv("batch.csv", index=False)
    result = run("predict", "--input", "batch.csv", "--output", "p.csv")
    request_id = result.output.split("request_id ")[1].split(")")[0]
    _labels(sample, schema, request_id, shuffle=False).to_csv("labels.csv", index=False)
    result = monitor("--labels", "labels.csv")
    assert result.exit_code == 0, result.output
    assert f"labels: {len(sample)} of {len(sample)} matched" in result.output
    _labels(sample, schema, request_id, shuffle=True).to_csv("wrong.csv", index=False)
    result = monitor("--labels", "wrong.csv")
    assert result.exit_code == ALERT_EXIT, result.output
    assert "ALERT live_quality" in result.output
    report = json.loads(Path("mon/report.json").read_text())
    assert report["quality"]["live"] is not None and report["quality"]["status"] == "alert"
    pd.DataFrame({"request_id": ["nope"], schema.target: [sample[schema.target].iloc[0]]}).to_csv(
        "unmatched.csv", index=False
    )
    result = monitor("--labels", "unmatched.csv")
    assert result.exit_code == 0 and "labels: 0 of 1 matched" in result.output
    pd.DataFrame({"request_id": ["x"]}).to_csv("no_target.csv", index=False)
    result = monitor("--labels", "no_target.csv")
    assert result.exit_code == 1 and f"missing column(s): {schema.target}" in result.output


def test_invalid_config_is_refused_with_a_clear_message(run: Run, tmp_path: Path) -> None:
    assert load_monitor_config(MONITOR_CONFIG).min_rows >= 1
    cases = {
        "psi: -1\n": "psi",
        "surprise: 1\n": "surprise",
        "labels: {min_matched: 0}\n": "min_matched",
    }
    for text, field in cases.items():
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(ConfigError, match=f"invalid monitoring config .*{field}"):
            load_monitor_config(tmp_path / "bad.yaml")
        result = run("monitor", "--config", "bad.yaml")
        assert result.exit_code == 1 and "invalid monitoring config" in result.output
    with pytest.raises(ConfigError, match="not found"):
        load_monitor_config(tmp_path / "missing.yaml")
