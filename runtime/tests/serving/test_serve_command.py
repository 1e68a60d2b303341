"""The command line around serving: a malformed setting (environment or ``.env``) ends every
command, ``serve`` included, with one line naming it; a port out of range is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from prodml_runtime.cli import command_line
from prodml_runtime.project import Project
from prodml_runtime.settings import settings

#: The tests running a project run it on one problem type: none depends on it.
ONE_PROBLEM = pytest.mark.parametrize("problem", ["binary"], indirect=True)

MALFORMED = {
    "MAX_BATCH_SIZE": ("abc", "an integer >= 1"),
    "LOG_LEVEL": ("LOUD", "one of DEBUG, INFO, WARNING, ERROR"),
    "REQUEST_TIMEOUT_SECONDS": ("0", "a number > 0"),
}


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting in the environment, and a folder without ``.env`` as the working directory."""
    for name in ("MAX_BATCH_SIZE", "LOG_LEVEL", "REQUEST_TIMEOUT_SECONDS", "MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def run(project: Project, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(command_line(project), list(args), env=env)


def one_line_error(result: Result, line: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [f"Error: {line}"], result.output
    assert "Traceback" not in result.output


@ONE_PROBLEM
@pytest.mark.parametrize("variable", MALFORMED)
@pytest.mark.parametrize("command", [["rollback"], ["serve", "--port", "0"]])
def test_a_malformed_environment_setting_is_one_line(
    project: Project, variable: str, command: list[str]
) -> None:
    value, valid = MALFORMED[variable]
    result = run(project, *command, env={variable: value})
    one_line_error(result, f"invalid setting {variable}={value!r}: {valid} (from the environment)")


@ONE_PROBLEM
@pytest.mark.parametrize("command", [["rollback"], ["serve", "--port", "0"]])
def test_a_malformed_dotenv_entry_is_one_line(
    project: Project, tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / ".env").write_text("MODEL_DIR=models\nLOG_LEVEL=LOUD\n", encoding="utf-8")
    result = run(project, *command)
    valid = MALFORMED["LOG_LEVEL"][1]
    one_line_error(result, f"invalid setting LOG_LEVEL='LOUD': {valid} (from .env)")


def test_every_malformed_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, (value, _) in MALFORMED.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as raised:
        settings()
    message = str(raised.value)
    assert "\n" not in message
    for variable, (value, valid) in MALFORMED.items():
        assert f"invalid setting {variable}={value!r}: {valid}" in message


@ONE_PROBLEM
@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_a_port_out_of_range_is_a_usage_error(project: Project, port: str) -> None:
    result = run(project, "serve", "--port", port)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--port': {port} is not in the range 0<=x<=65535." in result.output
    assert "Traceback" not in result.output and "OverflowError" not in result.output
