"""Training: baseline and candidate models, tuned on a validation split, gated on a test split."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from .config import TrainConfig
from .features import build_preprocessor
from .metrics import evaluate, improvement, primary_metric
from .schema import Schema

BASELINE = "baseline"
FAMILIES = (BASELINE, "linear", "hist_gradient_boosting")


class QualityGateError(RuntimeError):
    """The best candidate does not beat the baseline by the required margin."""


@dataclass(frozen=True)
class Split:
    """Features and target of one part of the data."""

    features: pd.DataFrame
    target: pd.Series


@dataclass(frozen=True)
class TrainingResult:
    """The champion pipeline and the evidence for choosing it."""

    pipeline: Pipeline
    champion: str
    params: dict[str, Any]
    primary_metric: str
    validation: dict[str, float]
    test: dict[str, dict[str, float]]
    improvement: float
    test_split: Split = field(repr=False)


def target_series(df: pd.DataFrame, schema: Schema) -> pd.Series:
    """The target as the model sees it: class labels as strings, or floats for regression."""
    values = df[schema.target]
    return values.astype(str).astype(object) if schema.is_classification else values.astype(float)


def split_data(df: pd.DataFrame, schema: Schema, config: TrainConfig) -> tuple[Split, Split, Split]:
    """Deterministic train / validation / test split (stratified for classification)."""
    y = target_series(df, schema)
    features = df[schema.feature_names]
    strata = y if schema.is_classification else None
    rest_x, test_x, rest_y, test_y = train_test_split(
        features, y, test_size=config.test_size, random_state=config.random_state, stratify=strata
    )
    val_share = config.validation_size / (1.0 - config.test_size)
    strata = rest_y if schema.is_classification else None
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x, rest_y, test_size=val_share, random_state=config.random_state, stratify=strata
    )
    return Split(train_x, train_y), Split(val_x, val_y), Split(test_x, test_y)


def make_estimator(family: str, schema: Schema, params: dict[str, Any], seed: int) -> BaseEstimator:
    """The sklearn estimator of a model family with ``params``."""
    classify = schema.is_classification
    if family == BASELINE:
        return DummyClassifier(strategy="prior") if classify else DummyRegressor(strategy="mean")
    if family == "linear":
        if classify:
            return LogisticRegression(max_iter=2000, random_state=seed, **params)
        return Ridge(**params)
    if family == "hist_gradient_boosting":
        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return cls(random_state=seed, early_stopping=False, **params)
    raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")


def build_pipeline(family: str, schema: Schema, params: dict[str, Any], seed: int) -> Pipeline:
    """Feature pipeline + estimator: the object that is saved, served and scored."""
    model = make_estimator(family, schema, params, seed)
    return Pipeline([("features", build_preprocessor(schema)), ("model", model)])


def parameter_grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the listed values (one empty combination for an empty grid)."""
    names = sorted(grid)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(grid[n] for n in names))
    ]


def _fit(family: str, schema: Schema, params: dict[str, Any], seed: int, data: Split) -> Pipeline:
    return build_pipeline(family, schema, params, seed).fit(data.features, data.target)


def train(df: pd.DataFrame, schema: Schema, config: TrainConfig) -> TrainingResult:
    """Tune each family on the validation split, refit on train+validation, gate on test.

    Raises QualityGateError when the champion does not beat the baseline by
    ``config.min_improvement`` on the primary metric.
    """
    train_split, val_split, test_split = split_data(df, schema, config)
    metric, higher_is_better = primary_metric(schema)
    sign = 1.0 if higher_is_better else -1.0
    grids = {
        BASELINE: {},
        "linear": config.linear,
        "hist_gradient_boosting": config.hist_gradient_boosting,
    }
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    for family, grid in grids.items():
        for params in parameter_grid(grid):
            pipeline = _fit(family, schema, params, config.random_state, train_split)
            score = evaluate(schema, pipeline, val_split.features, val_split.target)[metric]
            if family not in best or sign * score > sign * best[family][0]:
                best[family] = (score, params)
    full = Split(
        pd.concat([train_split.features, val_split.features]),
        pd.concat([train_split.target, val_split.target]),
    )
    fitted = {
        family: _fit(family, schema, params, config.random_state, full)
        for family, (_, params) in best.items()
    }
    test = {
        family: evaluate(schema, p, test_split.features, test_split.target)
        for family, p in fitted.items()
    }
    candidates = [f for f in best if f != BASELINE]
    champion = max(candidates, key=lambda f: (sign * best[f][0], -candidates.index(f)))
    gain = improvement(schema, test[champion], test[BASELINE])
    if gain < config.min_improvement:
        raise QualityGateError(
            f"{champion} beats the baseline by {gain:.4f} {metric} on the test split; "
            f"min_improvement is {config.min_improvement}: model not registered"
        )
    return TrainingResult(
        pipeline=fitted[champion],
        champion=champion,
        params=best[champion][1],
        primary_metric=metric,
        validation={family: score for family, (score, _) in best.items()},
        test=test,
        improvement=gain,
        test_split=test_split,
    )
