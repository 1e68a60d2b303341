"""The project's configuration files, read by one YAML loader into frozen, validated objects:
the feature schema (``configs/schema.yaml``), the training config (``configs/train.yaml``) and
the monitoring thresholds (``configs/monitor.yaml``). Environment settings are ``settings``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from yaml.nodes import Node

from .core.errors import ProjectError
from .core.schema import Schema, SchemaError, parse_schema, problems
from .settings import settings

DEFAULT_CONFIG_PATH = Path("configs/train.yaml")
DEFAULT_MONITOR_CONFIG_PATH = Path("configs/monitor.yaml")

FROZEN = ConfigDict(frozen=True, extra="forbid")


M = TypeVar("M", bound=BaseModel)

#: Why a ``models:`` section (a prodml 0.1 train.yaml) is refused.
MODELS_MOVED = (
    "the model families and their searches are the project's models.py since prodml 0.2; "
    "move any change you made here there, and delete this section"
)


class ConfigError(ProjectError, ValueError):
    """The training config is missing or invalid."""


class SelectionConfig(BaseModel):
    """Feature selection after encoding (off by default)."""

    model_config = FROZEN

    method: Literal["none", "k_best", "l1", "rfe"] = "none"
    k: int = Field(10, ge=1, description="encoded features kept by k_best and rfe")
    score: Literal["anova", "chi2"] = "anova"
    l1_strength: float = Field(
        0.01, gt=0.0, description="l1: Lasso alpha (regression), 1/C of a linear SVM"
    )


class FeatureConfig(BaseModel):
    """How the feature pipeline imputes, scales, discretizes and selects."""

    model_config = FROZEN

    numeric_imputation: Literal["mean", "median", "most_frequent"] = "median"
    categorical_imputation: Literal["constant", "most_frequent"] = "constant"
    boolean_imputation: Literal["most_frequent", "constant"] = "most_frequent"
    scaling: Literal["standard", "robust", "minmax", "none"] = "standard"
    discretize_bins: int = Field(
        0, ge=0, description="0: off; >= 2: numeric features become one-hot quantile bins"
    )
    selection: SelectionConfig = Field(default_factory=SelectionConfig)

    @model_validator(mode="after")
    def _check(self) -> FeatureConfig:
        if self.discretize_bins == 1:
            raise ValueError("discretize_bins must be 0 (off) or at least 2")
        nonnegative = self.scaling == "minmax" or self.discretize_bins >= 2
        if self.selection.score == "chi2" and self.selection.method == "k_best" and not nonnegative:
            raise ValueError("chi2 needs non-negative features: set scaling: minmax")
        return self


class TrainConfig(BaseModel):
    """How to split and search, how the features are built, and the promotion margin (the
    candidates and their search spaces are the project's ``models.py``)."""

    model_config = FROZEN

    random_state: int = 42
    test_size: float = Field(0.2, gt=0.0, lt=0.5)
    validation_size: float = Field(0.2, gt=0.0, lt=0.5)
    cv_folds: int = Field(5, ge=2, le=20)
    search_rows: int | None = Field(
        50_000, ge=100, description="searches tune on a sample of this many training rows"
    )
    tree_rows: int | None = Field(
        5_000, ge=100, description="a forest tree grows on a bootstrap of at most this many rows"
    )
    jobs: int | None = Field(
        None, ge=1, description="cross-validation fits run at once (processes); None: one per core"
    )
    threads: int | None = Field(
        1, ge=1, description="native (OpenMP/BLAS) threads while training; None: all cores"
    )
    min_improvement: float = Field(
        0.0, ge=0.0, description="promotion gate: margin over the baseline (primary metric)"
    )
    features: FeatureConfig = Field(default_factory=FeatureConfig)

    @model_validator(mode="before")
    @classmethod
    def _no_models(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "models" in raw:
            raise ValueError(f"models: {MODELS_MOVED}")
        return raw

    @property
    def rows_per_class(self) -> int:
        """Rows a class needs: ``cv_folds`` in the training split, one in validation and test."""
        return math.ceil(self.cv_folds / (1.0 - self.test_size - self.validation_size)) + 1


class _SafeLoader(yaml.SafeLoader):
    """YAML without aliases: ``*name`` can make a small file expand to gigabytes."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            # types-PyYAML leaves Parser.peek_event unannotated; it returns the AliasEvent.
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.YAMLError(f"aliases (*name) are not allowed in config files ({mark})")
        return super().compose_node(parent, index)


def read_yaml(path: Path | str, what: str) -> Any:
    """The YAML document at ``path``; ConfigError if missing, not UTF-8, invalid or empty.

    ``what`` names the file in messages, e.g. "training config".
    """
    file = Path(path)
    try:
        raw = yaml.load(file.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {file}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {file} is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {file} is not UTF-8 text") from None
    except yaml.YAMLError as error:
        reason = " ".join(str(error).split())
        raise ConfigError(f"{what} {file} is not valid YAML: {reason}") from None
    if raw is None:
        raise ConfigError(
            f"{what} {file} is empty: restore it (every setting has a documented value there)"
        )
    return raw


def read_model(path: Path | str, model: type[M], what: str) -> M:
    """``path``'s YAML validated by ``model``; ConfigError naming the file and each problem."""
    return validated(read_yaml(path, what), path, model, what)


def validated(raw: Any, path: Path | str, model: type[M], what: str) -> M:
    """``raw`` (read from ``path``) validated by ``model``; ConfigError naming each problem."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"invalid {what} {path}: {problems(error)}") from None


def load_config(path: Path | str = DEFAULT_CONFIG_PATH) -> TrainConfig:
    """Read and validate the training config YAML; a ``models:`` section is refused saying
    where the families are now."""
    what = "training config"
    raw = read_yaml(path, what)
    if isinstance(raw, dict) and "models" in raw:
        raise ConfigError(f"{what} {path}: models: {MODELS_MOVED}")
    return validated(raw, path, TrainConfig, what)


class LabelConfig(BaseModel):
    """Delayed labels: how many must match, and the largest tolerated quality drop."""

    model_config = FROZEN

    min_matched: int = Field(50, ge=1, description="labelled predictions needed to judge")
    max_relative_drop: float = Field(
        0.05, gt=0.0, lt=1.0, description="alert when live quality is this much worse (share)"
    )


class MonitorConfig(BaseModel):
    """Alert thresholds (``configs/monitor.yaml``)."""

    model_config = FROZEN

    min_rows: int = Field(200, ge=1, description="fewer current values: drift not judged")
    psi: float = Field(0.25, gt=0.0, description="feature PSI above this: alert")
    ks_pvalue: float = Field(0.01, gt=0.0, lt=1.0)
    ks_statistic: float = Field(0.1, gt=0.0, le=1.0, description="KS alerts need both")
    chi2_pvalue: float = Field(0.01, gt=0.0, lt=1.0)
    chi2_effect: float = Field(0.1, gt=0.0, le=1.0, description="Cramér's V; chi2 needs both")
    missing_rate_change: float = Field(0.1, gt=0.0, le=1.0, description="absolute change")
    violation_rate: float = Field(0.05, ge=0.0, le=1.0, description="rows breaking the schema")
    prediction_psi: float = Field(0.25, gt=0.0, description="prediction distribution PSI")
    max_model_age_days: float = Field(180.0, gt=0.0)
    labels: LabelConfig = Field(default_factory=LabelConfig)


def load_monitor_config(path: Path | str = DEFAULT_MONITOR_CONFIG_PATH) -> MonitorConfig:
    """Read and validate the monitoring thresholds."""
    return read_model(path, MonitorConfig, "monitoring config")


def schema_path(path: Path | str | None = None) -> Path:
    """The schema file to use: ``path``, else ``$SCHEMA_PATH``, else ``configs/schema.yaml``."""
    return Path(path or settings().schema_path)


def load_schema(path: Path | str | None = None) -> Schema:
    """Read and validate the schema YAML file (``schema_path``); SchemaError saying why not."""
    file = schema_path(path)
    try:
        raw = read_yaml(file, "schema file")
    except ConfigError as error:
        raise SchemaError(str(error)) from None
    return parse_schema(raw, f"schema {file}")
