"""A project's own monitoring checks (its checks.py): their rows join the report and its alerts,
and a check returning anything but report rows stops ``monitor`` with one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from prodml_runtime.cli import command_line
from prodml_runtime.cli.common import ALERT_EXIT
from prodml_runtime.config import MonitorConfig
from prodml_runtime.core.model import LoadedModel
from prodml_runtime.core.schema import Schema
from prodml_runtime.monitoring.checks import Check, result
from prodml_runtime.monitoring.tally import Current

from tests.demo import demo_project
from tests.shipped import MONITOR_CONFIG

pytestmark = pytest.mark.parametrize("problem", ["binary"], indirect=True)

Rows = list[dict[str, Any]]
Monitor = Callable[..., Result]


def batch_rows(current: Current, reference: dict[str, Any], *_: object) -> Rows:
    """An ok row: how many rows the batch had (never above a billion)."""
    return [result("batch_rows", "rows", current.rows, 1e9, enough=True)]


def always_alert(current: Current, reference: dict[str, Any], *_: object) -> Rows:
    """An alert row, whatever the data (a numpy value, as computed values often are)."""
    share: Any = np.float32(1.0)
    return [result("always", "prediction", share, 0.5, enough=True, rule="> 0.5 (always)")]


def _returning(value: object) -> Check:
    def wrong(current: Current, reference: dict[str, Any], *_: object) -> Any:
        return value

    return wrong


ROW = result("fine", "rows", 1.0, 2.0, enough=True)
WRONG = {
    "a row": ROW,
    "nothing": None,
    "a number": 3,
    "a row missing its status": [{k: v for k, v in ROW.items() if k != "status"}],
    "an unknown status": [{**ROW, "status": "bad"}],
    "a text value": [ROW, {**ROW, "value": "high"}],
    "text": ["fine"],
}


@pytest.fixture
def monitor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    monitored: Path,
    schema: Schema,
    sample: pd.DataFrame,
    sample_path: Path,
) -> Monitor:
    """``monitor(*checks)``: the demo project with ``checks`` judges the sample (features only)
    against ``monitored``'s champion, writing its report to ``mon``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_DIR", str(monitored))
    sample.drop(columns=schema.target).to_csv("batch.csv", index=False)

    def invoke(*checks: Check) -> Result:
        group = command_line(demo_project(schema, sample_path, checks=checks))
        args = ["monitor", "--config", str(MONITOR_CONFIG), "--output", "mon"]
        return CliRunner().invoke(group, [*args, "--input", "batch.csv"])

    return invoke


def _report(tmp_path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((tmp_path / "mon" / "report.json").read_text())
    return report


def test_a_checks_rows_join_the_report(
    monitor: Monitor, tmp_path: Path, sample: pd.DataFrame
) -> None:
    result_ = monitor(batch_rows)
    assert result_.exit_code == 0, result_.output
    report = _report(tmp_path)
    expected = result("batch_rows", "rows", float(len(sample)), 1e9, enough=True)
    assert report["checks"][-1] == expected, "after the runtime's checks, with the batch's rows"
    assert report["status"] == "ok" and not report["breaches"]
    markdown = (tmp_path / "mon" / "report.md").read_text()
    assert f"| batch_rows | rows | {len(sample):.4f} | > 1e+09 | ok |" in markdown
    summary = result_.output.strip().splitlines()[-1]
    assert f"monitoring ok: 0 alert(s) in {len(report['checks'])} checks" in summary


def test_an_alert_row_raises_the_alert_exit_status(monitor: Monitor, tmp_path: Path) -> None:
    result_ = monitor(batch_rows, always_alert)
    assert result_.exit_code == ALERT_EXIT == 3, result_.output
    line = "ALERT always prediction: 1.0000 > 0.5 (always)"
    assert line in result_.output.splitlines()
    report = _report(tmp_path)
    assert report["status"] == "alert" and report["breaches"] == [line]
    assert [c["check"] for c in report["checks"][-2:]] == ["batch_rows", "always"]
    assert "monitoring alert: 1 alert(s)" in result_.output


@pytest.mark.parametrize("returned", list(WRONG.values()), ids=list(WRONG))
def test_a_check_returning_anything_but_rows_fails_in_one_line(
    monitor: Monitor, tmp_path: Path, returned: object
) -> None:
    result_ = monitor(batch_rows, _returning(returned))
    assert result_.exit_code == 1, result_.output
    assert "Traceback" not in result_.output
    (line,) = result_.output.strip().splitlines()
    assert line.startswith(
        "Error: monitoring check wrong (checks.py) must return a list of rows made by result()"
    )
    assert not (tmp_path / "mon").exists(), "no report"


def test_a_checks_arguments_are_the_data_the_reference_the_model_and_the_thresholds(
    monitor: Monitor, tmp_path: Path, sample: pd.DataFrame
) -> None:
    seen: list[tuple[object, ...]] = []

    def spy(*arguments: object) -> Rows:
        seen.append(arguments)
        return []

    assert monitor(spy).exit_code == 0
    ((current, reference, model, config),) = seen
    assert isinstance(current, Current) and current.rows == len(sample)
    assert isinstance(model, LoadedModel) and isinstance(config, MonitorConfig)
    assert isinstance(reference, dict) and reference["rows"] == _report(tmp_path)["reference_rows"]
