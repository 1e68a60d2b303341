"""Runtime settings, read from environment variables (and ``.env``) into one frozen object.

Every command and both web servers read their locations and limits here, so each environment
variable is named once::

    MODEL_DIR=models  SCHEMA_PATH=configs/schema.yaml  PREDICTION_LOG=logs/predictions.db
    PREDICTION_LOG_DATASET=logs/predictions  EXAMPLE_DATA=<the project's data file>
    PREDICTION_LOG_RETENTION_DAYS=90  MAX_BATCH_SIZE=1000  MAX_BODY_BYTES=10485760  LOG_LEVEL=INFO
    REQUEST_TIMEOUT_SECONDS=30  RUNS_DIR=runs  MLFLOW_TRACKING_URI=sqlite:///mlflow.db

(``RUNS_DIR`` is the local runs store, ``MLFLOW_TRACKING_URI`` MLflow's: a project uses one.)
A malformed value is a ``SettingsError`` naming the variable, its value and what is valid.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from .core.errors import ProjectError


class Settings(BaseSettings):
    """Where the model, schema and prediction log live, and the serving limits."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    model_dir: Path = Field(Path("models"), description="model registry root")
    schema_path: Path = Field(Path("configs/schema.yaml"), description="feature schema YAML")
    example_data: Path | None = Field(
        None,
        description="whose first valid row is the API docs' request example (else a synthetic "
        "row) [default: the project's data file]",
    )
    prediction_log: Path = Field(Path("logs/predictions.db"), description="SQLite prediction log")
    prediction_log_dataset: Path = Field(
        Path("logs/predictions"),
        description="the cluster engines' (partitioned Parquet) prediction log",
    )
    prediction_log_retention_days: int = Field(90, ge=1, description="older entries are pruned")
    max_batch_size: int = Field(1000, ge=1, description="records allowed in one batch request")
    max_body_bytes: int = Field(10 * 2**20, ge=1, description="largest request body (else 413)")
    request_timeout_seconds: float = Field(
        30.0, gt=0, description="time for a request's head, then its body, to arrive (else 408)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    runs_dir: Path = Field(Path("runs"), description="the local runs store")
    mlflow_tracking_uri: str = Field("sqlite:///mlflow.db", description="MLflow's runs store")


class SettingsError(ProjectError, ValueError):
    """An environment variable (or ``.env`` entry) holds a value its setting refuses."""


def settings() -> Settings:
    """The current settings (read anew, so a changed environment takes effect).

    Raises ``SettingsError`` (one line) for a malformed value.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = [_problem(str(e["loc"][0]), e.get("input")) for e in error.errors()]
        raise SettingsError("; ".join(problems)) from None


_KINDS = {int: "an integer", float: "a number", Path: "a path", str: "text"}
_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _problem(name: str, value: Any) -> str:
    """``invalid setting NAME='value': what is valid (from the environment)``."""
    variable = name.upper()
    field = Settings.model_fields.get(name)
    valid = _valid(field) if field is not None else "a valid value"
    where = "the environment" if any(k.upper() == variable for k in os.environ) else ".env"
    return f"invalid setting {variable}={value!r}: {valid} (from {where})"


def _valid(field: FieldInfo) -> str:
    """What a field accepts, in words: ``an integer >= 1``, ``one of DEBUG, INFO``."""
    kinds = typing.get_args(field.annotation) or (field.annotation,)
    if typing.get_origin(field.annotation) is Literal:
        return "one of " + ", ".join(str(kind) for kind in kinds)
    present = [kind for kind in kinds if kind is not type(None)]
    words = " or ".join(_KINDS.get(kind, getattr(kind, "__name__", str(kind))) for kind in present)
    for constraint in field.metadata:
        for key, symbol in _BOUNDS.items():
            bound = getattr(constraint, key, None)
            if isinstance(bound, int | float):
                words += f" {symbol} {bound:g}"
    return words
