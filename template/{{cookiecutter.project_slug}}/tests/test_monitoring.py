"""The monitoring contract: on the data the model was trained on nothing alerts, the project's
own checks (checks.py) included; a batch pushed to the edge of the schema does alert."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prodml_runtime.config import MonitorConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.jobs import monitor_job
from prodml_runtime.monitoring.checks import ALERT, OK

from {{ cookiecutter.package_name }}.project import PROJECT

from .cases import shifted


def monitor(models: Path, batch: Path, output: Path, config: MonitorConfig) -> dict[str, object]:
    return monitor_job(
        models, output, config, PROJECT, log_path=output / "none.db", input_path=batch
    )


def test_the_training_data_raises_no_alert(
    models: Path, sample_file: Path, tmp_path: Path, monitor_config: MonitorConfig
) -> None:
    report = monitor(models, sample_file, tmp_path / "report", monitor_config)
    assert report["status"] == "ok", report["breaches"]
    own = {check.__name__ for check in PROJECT.parts.checks}
    rows = [row for row in report["checks"] if row["check"] in own]  # type: ignore[attr-defined]
    assert {row["check"] for row in rows} == own
    assert all(row["status"] == OK for row in rows), rows
    assert (tmp_path / "report" / "report.md").is_file()


def test_a_batch_at_the_edge_of_the_schema_alerts(
    models: Path,
    schema: Schema,
    sample: pd.DataFrame,
    tmp_path: Path,
    monitor_config: MonitorConfig,
) -> None:
    batch = tmp_path / "shifted.csv"
    shifted(schema, sample).to_csv(batch, index=False, **schema.writing)
    report = monitor(models, batch, tmp_path / "report", monitor_config)
    assert report["status"] == ALERT and report["breaches"]
