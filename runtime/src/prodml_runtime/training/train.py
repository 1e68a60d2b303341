"""Training: tune each model family by cross-validation, choose on validation, test once.

The protocol, in order:

1. A deterministic train / validation / test split (stratified for classification).
2. A dummy baseline and each family of the project's ``models.py`` is tuned by grid or random
   search with K-fold cross-validation (stratified for classification) on the train split
   only; the search keeps the setting with the best mean CV primary metric.
3. The champion is the family whose tuned model scores best on the validation split. The best
   CV score of a search is optimistic (a maximum over the settings tried, more so for larger
   spaces), so families are compared on data that no search has seen.
4. The baseline, the linear model and the champion are refitted on train + validation and
   scored once on the test split. Promotion (``promotion.promote``) gates on those scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    ParameterGrid,
    RandomizedSearchCV,
    StratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ..config import TrainConfig
from ..core.coerce import target_values
from ..core.errors import ProjectError
from ..core.metrics import Metrics, model_metrics, primary_metric
from ..core.schema import Schema
from .derived import DerivedFeatures
from .families import Distribution, Family, Search, grid
from .features import build_preprocessor
from .tracking import Progress, Stopwatch

BASELINE = "baseline"
MODEL_STEP = "model__"


@dataclass(frozen=True)
class Candidates:
    """What training chooses among: the project's model families (``models.py``) and the
    derived features every model gets (``features.py``)."""

    families: Mapping[str, Family]
    derived: DerivedFeatures = field(default_factory=DerivedFeatures)

    def search(self, family: str) -> Search:
        """How ``family`` is tuned (the baseline: over nothing)."""
        return grid() if family == BASELINE else self.families[family].search

    def summary(self) -> dict[str, Any]:
        """The candidates as JSON (recorded with every model)."""
        return {
            "families": {name: f.summary() for name, f in self.families.items()},
            "derived_features": self.derived.names,
        }


class TrainingError(ProjectError, RuntimeError):
    """A search failed: scikit-learn refused the data or a setting (the message says which)."""


#: Metric name -> {"mean": ..., "std": ...} over the CV folds.
CvScores = dict[str, dict[str, float]]


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
    primary_metric: str
    higher_is_better: bool
    best_params: dict[str, dict[str, Any]]
    cv: dict[str, CvScores]
    validation: dict[str, dict[str, float]]
    test: dict[str, dict[str, float]]
    config: TrainConfig
    candidates: Candidates = field(repr=False)
    test_split: Split = field(repr=False)
    durations: dict[str, float] = field(default_factory=dict, compare=False)
    #: Rows of the training split, of the sample the searches tuned on, and the bound on a
    #: forest tree's bootstrap (None: no tree was bounded).
    sampling: dict[str, int | None] = field(default_factory=dict)

    def registry_metrics(self) -> dict[str, Any]:
        """The ``metrics`` stored with the model: what ``promotion.promote`` gates on."""
        return {
            "primary_metric": self.primary_metric,
            "higher_is_better": self.higher_is_better,
            "champion": self.champion,
            "test": self.test,
            "cv": self.cv,
            "validation": self.validation,
            "sampling": self.sampling,
        }

    def registry_params(self) -> dict[str, Any]:
        """The ``params`` stored with the model: family, tuned settings and the full config."""
        return {
            "family": self.champion,
            "best_params": self.best_params,
            "config": self.config.model_dump(mode="json"),
            "candidates": self.candidates.summary(),
        }


def target_series(df: pd.DataFrame, schema: Schema) -> pd.Series:
    """The target as the model sees it: class labels as strings, or floats for regression."""
    return target_values(df[schema.target], schema)


def split_data(df: pd.DataFrame, schema: Schema, config: TrainConfig) -> tuple[Split, Split, Split]:
    """Deterministic train / validation / test split (stratified for classification).

    TrainingError if a class has fewer rows than the protocol needs (``rows_per_class``)."""
    y = target_series(df, schema)
    counts = y.value_counts() if schema.is_classification else pd.Series(dtype=int)
    rare = counts[counts < config.rows_per_class]
    if len(rare):
        listed = ", ".join(f"{name!r} ({count} rows)" for name, count in rare.items())
        raise TrainingError(
            f"class(es) {listed} of {schema.target!r} have fewer than {config.rows_per_class} "
            f"rows, which cross-validation with cv_folds={config.cv_folds} and the split sizes "
            "need: add rows of them, merge them into another class, or lower cv_folds in "
            "configs/train.yaml"
        )
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


def tuning_rows(split: Split, schema: Schema, config: TrainConfig) -> Split:
    """The training rows the searches tune on: all of them, or ``search_rows`` drawn at random
    (per class for classification, a class keeping at least ``2 * cv_folds`` rows or all it
    has, so every fold sees it)."""
    limit, rows = config.search_rows, len(split.target)
    if limit is None or rows <= limit:
        return split
    rng = np.random.default_rng(config.random_state)
    if not schema.is_classification:
        chosen = rng.choice(rows, limit, replace=False)
    else:
        groups = pd.Series(np.arange(rows)).groupby(split.target.to_numpy()).indices
        chosen = np.concatenate([
            rng.choice(positions, min(len(positions), max(2 * config.cv_folds,
                       round(len(positions) * limit / rows))), replace=False)
            for positions in groups.values()
        ])  # fmt: skip
    chosen.sort()
    return Split(split.features.iloc[chosen], split.target.iloc[chosen])


def make_estimator(family: str, candidates: Candidates, schema: Schema, seed: int) -> Any:
    """The untuned estimator of a family: the baseline is a dummy model (the class prior, or
    the mean); TrainingError if the family's estimator does not suit the problem type."""
    if family == BASELINE:
        if schema.is_classification:
            return DummyClassifier(strategy="prior")
        return DummyRegressor(strategy="mean")
    entry = candidates.families[family]
    if entry.classifies != schema.is_classification:
        needed = "a classifier with predict_proba" if schema.is_classification else "a regressor"
        raise TrainingError(
            f"model family {family!r} ({entry.type_name}) does not suit the schema's "
            f"{schema.problem_type}: {needed} is needed (models.py)"
        )
    return entry.build(seed)


def _pipeline_key(name: str) -> str:
    """Search-space names are estimator parameters unless they are a pipeline path (a__b)."""
    return name if "__" in name else MODEL_STEP + name


def tree_share(config: TrainConfig, rows: int) -> float | None:
    """The share of ``rows`` a forest's tree grows on (``config.tree_rows`` of them), or None
    when there are not more rows than that."""
    limit = config.tree_rows
    return limit / rows if limit is not None and rows > limit else None


def build_pipeline(
    family: str,
    candidates: Candidates,
    schema: Schema,
    config: TrainConfig,
    params: dict[str, Any] | None = None,
    rows: int = 0,
) -> Pipeline:
    """Feature pipeline + estimator: the object that is saved, served and scored.

    ``rows`` is how many rows it will be fitted on: past ``config.tree_rows``, each tree of a
    forest grows on a bootstrap of that many (unless ``params`` set ``max_samples``).
    """
    features = build_preprocessor(schema, config.features, config.random_state, candidates.derived)
    estimator = make_estimator(family, candidates, schema, config.random_state)
    pipeline = Pipeline([("features", features), ("model", estimator)])
    share = tree_share(config, rows)
    if isinstance(estimator, (RandomForestClassifier, RandomForestRegressor)) and share is not None:
        pipeline.set_params(model__max_samples=share)
    return pipeline.set_params(**{_pipeline_key(k): v for k, v in (params or {}).items()})


def _cv_scores(schema: Schema, estimator: BaseEstimator, x: pd.DataFrame, y: pd.Series) -> Metrics:
    return model_metrics(schema, estimator, x, y)


def _best_index(metric: str, higher: bool, cv_results: dict[str, Any]) -> int:
    scores = np.asarray(cv_results[f"mean_test_{metric}"])
    return int(np.argmax(scores) if higher else np.argmin(scores))


def _plain(value: Any) -> Any:
    """numpy scalars (sampled by random search) as JSON-ready Python values."""
    return value.item() if isinstance(value, np.generic) else value


def make_search(
    family: str, candidates: Candidates, schema: Schema, config: TrainConfig, rows: int = 0
) -> GridSearchCV | RandomizedSearchCV:
    """The family's grid or random search, with K-fold cross-validation, on ``rows`` rows;
    ``config.jobs`` fits at a time."""
    spec = candidates.search(family)
    space = {
        _pipeline_key(name): values.frozen() if isinstance(values, Distribution) else values
        for name, values in spec.space.items()
    }
    folds = StratifiedKFold if schema.is_classification else KFold
    metric, higher = primary_metric(schema)
    common: dict[str, Any] = {
        "scoring": partial(_cv_scores, schema),
        "refit": partial(_best_index, metric, higher),
        "cv": folds(n_splits=config.cv_folds, shuffle=True, random_state=config.random_state),
        "n_jobs": config.jobs or -1,
        "error_score": "raise",
    }
    fold_rows = rows - rows // config.cv_folds
    pipeline = build_pipeline(family, candidates, schema, config, rows=fold_rows)
    if spec.kind == "grid":
        return GridSearchCV(pipeline, space, **common)
    listed = all(isinstance(values, list) for values in space.values())
    n_iter = min(spec.n_iter, len(ParameterGrid(space))) if listed else spec.n_iter
    return RandomizedSearchCV(
        pipeline, space, n_iter=n_iter, random_state=config.random_state, **common
    )


def _cv_summary(search: GridSearchCV | RandomizedSearchCV, metrics: list[str]) -> CvScores:
    row, results = search.best_index_, search.cv_results_
    return {
        name: {
            "mean": float(results[f"mean_test_{name}"][row]),
            "std": float(results[f"std_test_{name}"][row]),
        }
        for name in metrics
    }


def train(
    df: pd.DataFrame,
    schema: Schema,
    config: TrainConfig,
    candidates: Candidates,
    progress: Progress | None = None,
) -> TrainingResult:
    """Tune every candidate family by CV on train, pick the champion on validation, test once.

    ``progress`` receives one line per finished stage (family searches, refit, test). Native
    thread pools are limited to ``config.threads``: on small tabular data, more threads per
    fit mostly add contention (and oversubscribe cores shared with other processes).
    """
    with threadpool_limits(limits=config.threads):
        return _train(df, schema, config, candidates, progress)


def _train(
    df: pd.DataFrame,
    schema: Schema,
    config: TrainConfig,
    candidates: Candidates,
    progress: Progress | None,
) -> TrainingResult:
    train_split, val_split, test_split = split_data(df, schema, config)
    metric, higher = primary_metric(schema)
    sign = 1.0 if higher else -1.0
    clock = Stopwatch(progress)
    tuning = tuning_rows(train_split, schema, config)
    families = [BASELINE, *candidates.families]
    best_params: dict[str, dict[str, Any]] = {}
    cv: dict[str, CvScores] = {}
    validation: dict[str, dict[str, float]] = {}
    for family in families:
        with clock.stage(f"search_{family}"):
            search = make_search(family, candidates, schema, config, len(tuning.target))
            try:
                search.fit(tuning.features, tuning.target)
            except (ValueError, TypeError) as error:
                reason = " ".join(str(error).split()) or type(error).__name__
                raise TrainingError(f"the {family} search failed: {reason}") from None
            validation[family] = model_metrics(
                schema, search.best_estimator_, val_split.features, val_split.target
            )
        best_params[family] = {
            key.removeprefix(MODEL_STEP): _plain(value)
            for key, value in sorted(search.best_params_.items())
        }
        cv[family] = _cv_summary(search, list(validation[family]))
        if progress:
            progress(
                f"  {family}: cv {metric} {cv[family][metric]['mean']:.4f} "
                f"± {cv[family][metric]['std']:.4f}, validation {validation[family][metric]:.4f}"
            )
    contenders = families[1:]
    champion = max(contenders, key=lambda f: (sign * validation[f][metric], -contenders.index(f)))
    full = Split(
        pd.concat([train_split.features, val_split.features]),
        pd.concat([train_split.target, val_split.target]),
    )
    forest = any(
        isinstance(f.estimator, (RandomForestClassifier, RandomForestRegressor))
        for f in candidates.families.values()
    )
    bounded = forest and tree_share(config, len(full.target)) is not None
    sampling = {
        "training_rows": len(train_split.target),
        "tuning_rows": len(tuning.target),
        "tree_rows": config.tree_rows if bounded else None,
    }
    with clock.stage("refit"):
        fitted = {
            family: build_pipeline(
                family, candidates, schema, config, best_params[family], len(full.target)
            ).fit(full.features, full.target)
            for family in dict.fromkeys([BASELINE, "linear", champion])
        }
    with clock.stage("test"):
        test = {
            family: model_metrics(schema, pipeline, test_split.features, test_split.target)
            for family, pipeline in fitted.items()
        }
    return TrainingResult(
        pipeline=fitted[champion],
        champion=champion,
        primary_metric=metric,
        higher_is_better=higher,
        best_params=best_params,
        cv=cv,
        validation=validation,
        test=test,
        config=config,
        candidates=candidates,
        test_split=test_split,
        durations=clock.durations,
        sampling=sampling,
    )
