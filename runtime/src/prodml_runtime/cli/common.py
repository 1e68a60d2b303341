"""What the commands share: the options several take, the project they run on, and the
turning of expected failures into one-line errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..core.errors import ProjectError
from ..project import Project

if TYPE_CHECKING:
    from ..core.schema import Schema
    from ..jobs import Outputs

#: Where ``make data`` writes the synthetic sample (from the schema).
SAMPLE_DATA = Path("data/raw/sample.csv")
#: Exit status of ``monitor`` when a threshold is breached (1 is an error, 0 all clear).
ALERT_EXIT = 3
#: The project extra each optional module comes from, as generated projects declare them.
EXTRAS = {
    "matplotlib": "train", "mlflow": "train", "dask": "dask", "distributed": "dask",
    "pyspark": "spark", "py4j": "spark",
}  # fmt: skip

#: What Click's decorators take and give back: a command's function, or the command itself.
Decorated = TypeVar("Decorated", bound="Callable[..., Any] | click.Command")


def project() -> Project:
    """The project the running command belongs to (the group's ``obj``)."""
    found = click.get_current_context().find_object(Project)
    assert found is not None, "commands run inside command_line(project)"
    return found


def _project_data() -> Path:
    return project().data


def path_option(*names: str, **kwargs: Any) -> Callable[[Decorated], Decorated]:
    """A path option (a decorator)."""
    return click.option(*names, type=click.Path(path_type=Path), **kwargs)


schema_option = path_option(
    "--schema", "schema_file", default=None,
    help="Feature schema YAML [default: $SCHEMA_PATH or configs/schema.yaml].",
)  # fmt: skip
model_dir_option = path_option(
    "--model-dir", default=None, help="Model registry directory [default: $MODEL_DIR or models]."
)
data_option = path_option(
    "--data", "data_path", default=_project_data, show_default="the project's data file"
)
data_argument = click.argument(
    "path", type=click.Path(path_type=Path), default=_project_data, required=False
)
version_option = click.option("--version", default=None, help="Model version [default: champion].")
reports_option = path_option("--reports", default=Path("reports"), show_default=True)
model_card_option = path_option(
    "--model-card", default=Path("docs/model-card.md"), show_default=True,
    help="Model card to regenerate from the evaluation.",
)  # fmt: skip
runs_store_option = click.option(
    "--runs-store", default=None, help="Runs store [default: $RUNS_DIR (or MLflow's URI)]."
)


def fault(error: BaseException) -> str | None:
    """A one-line message for an expected failure or a fault of the environment, or None for
    anything else (a bug, which keeps its traceback)."""
    if isinstance(error, ProjectError):
        return str(error)
    package = (error.name or "").split(".")[0] if isinstance(error, ModuleNotFoundError) else ""
    if package in EXTRAS:
        extra = EXTRAS[package]
        return (
            f"this command needs {package}, from the project's {extra!r} extra: "
            f"pip install -e '.[{extra}]' (or `uv sync --extra {extra}`)"
        )
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    if isinstance(error, sqlite3.Error):
        return f"database error: {error}"
    if type(error).__module__.startswith("mlflow."):  # the tracking store refused or is down
        lines = str(error).strip().splitlines()
        return "MLflow: " + (lines[0] if lines else type(error).__name__)
    return None


class Commands(click.Group):
    """Click's group, turning expected failures and environment faults into one-line errors."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as error:
            message = fault(error)
            if message is None:
                raise
            details = getattr(error, "details", None)
            if details:
                click.echo(details, err=True)
            raise click.ClickException(message) from None


def load_schema(path: Path | None) -> Schema:
    from ..config import load_schema as load

    return load(path)


def progress(line: str) -> None:
    click.echo(line, err=True)


def outputs(
    model_dir: Path | None, reports: Path, model_card: Path, runs_store: str | None
) -> Outputs:
    from ..io.registry import model_dir as registry_dir
    from ..io.run_store import RunStore
    from ..jobs import Outputs

    current = project()
    runs = RunStore.at(current.tracking, current.name, runs_store)
    return Outputs(registry_dir(model_dir), reports, model_card, runs)
