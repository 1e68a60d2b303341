"""The command line (``python -m {{ cookiecutter.package_name }}``): the commands the Makefile calls exist, and they
read, score and refuse files as the schema says, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from prodml_runtime.core.schema import Schema

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.project import PROJECT


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return result.exit_code, result.output


def test_the_makefile_commands_exist() -> None:
    code, output = run("--help")
    wanted = ["data", "validate", "eda", "train", "evaluate", "predict", "monitor", "rollback"]
    if PROJECT.serving != "none":
        wanted.append("serve")
    assert code == 0 and all(f"  {name}" in output for name in wanted), output


def test_data_writes_rows_that_validate(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    assert run("data", "--output", path, "--rows", 120)[0] == 0
    code, output = run("validate", path)
    assert code == 0 and "valid" in output, output


def test_predict_scores_every_row_and_logs_it(
    tmp_path: Path, models: Path, sample_file: Path, sample: pd.DataFrame
) -> None:
    output = tmp_path / "scored.csv"
    env = {"PREDICTION_LOG": str(tmp_path / "log.db")}
    code, text = run(
        "predict", "--model-dir", models, "--input", sample_file, "--output", output, env=env
    )
    assert code == 0, text
    assert len(pd.read_csv(output)) == len(sample)
    assert f"logged {len(sample)} new predictions" in text


def test_a_file_missing_a_feature_is_one_line_and_exit_1(
    tmp_path: Path, schema: Schema, sample: pd.DataFrame
) -> None:
    name = schema.feature_names[0]
    broken = tmp_path / "broken.csv"
    sample.drop(columns=[name]).to_csv(broken, index=False, **schema.writing)
    code, output = run("validate", broken)
    assert code == 1 and name in output and "Traceback" not in output, output


@pytest.mark.parametrize("command", ["promote", "rollback"])
def test_registry_commands_on_an_empty_registry_say_what_to_do(
    tmp_path: Path, command: str
) -> None:
    code, output = run(command, "--model-dir", tmp_path / "none")
    assert "Traceback" not in output and code in (0, 1), output
