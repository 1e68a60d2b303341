"""Training settings (``configs/train.yaml``), validated into one frozen object."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_CONFIG_PATH = Path("configs/train.yaml")

#: Hyperparameter grid per model family: each name maps to the values to try.
Grid = dict[str, list[float | int | str | None]]


class ConfigError(ValueError):
    """The training config is missing or invalid."""


class TrainConfig(BaseModel):
    """How to split, which candidates to try, and how much better than the baseline to be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    random_state: int = 42
    test_size: float = Field(0.2, gt=0.0, lt=0.5)
    validation_size: float = Field(0.2, gt=0.0, lt=0.5)
    min_improvement: float = Field(
        0.0, ge=0.0, description="champion must beat the baseline by this much (primary metric)"
    )
    linear: Grid = Field(default_factory=dict)
    hist_gradient_boosting: Grid = Field(default_factory=dict)


def load_config(path: Path | str = DEFAULT_CONFIG_PATH) -> TrainConfig:
    """Read and validate the training config YAML."""
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        return TrainConfig.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"training config not found: {file}") from None
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"invalid training config {file}: {error}") from None
