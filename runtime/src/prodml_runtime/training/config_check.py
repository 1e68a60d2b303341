"""The training config and the model families checked against scikit-learn and the data, before
any search starts.

``configs/train.yaml`` and ``models.py`` can name settings that pass their own validation and
then fail deep inside a search, minutes later and with a long traceback: an unknown parameter,
a value of the wrong type or range (``C=["abc"]``, ``C=[-1]``), a feature-selection ``k``
larger than the number of encoded features, or an estimator that does not suit the problem
type. ``check_config`` tries every listed value (and both ends of every range) on the estimator
it is meant for, and raises ConfigError naming the setting and the reason.

Values are checked with scikit-learn's own parameter constraints (``_validate_params``, a
private method); where an estimator declares none (``_parameter_constraints``), the setting is
fitted on a few rows instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from ..config import ConfigError, SelectionConfig, TrainConfig
from ..core.schema import Schema
from .families import Distribution
from .features import build_preprocessor
from .train import MODEL_STEP, Candidates, TrainingError, build_pipeline, target_series

#: Rows fitted when a setting can only be checked by fitting it.
TRIAL_ROWS = 100


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _values(values: list[Any] | Distribution) -> list[Any]:
    """The values a search may try: every listed one, or the ends of a range."""
    return values if isinstance(values, list) else values.ends


def _owner(pipeline: Pipeline, key: str) -> BaseEstimator:
    """The estimator that parameter ``key`` (``a__b__name``) belongs to."""
    path = key.rpartition("__")[0]
    return pipeline if not path else pipeline.get_params()[path]


def _check_value(pipeline: Pipeline, key: str, value: Any, rows: pd.DataFrame, y: Any) -> None:
    trial = clone(pipeline)
    trial.set_params(**{key: value})
    owner = _owner(trial, key)
    validate = getattr(owner, "_validate_params", None)
    # scikit-learn's own estimators declare their constraints; others (LightGBM's) inherit
    # _validate_params from BaseEstimator without declaring any.
    if callable(validate) and hasattr(owner, "_parameter_constraints"):
        validate()
    else:
        trial.fit(rows, y)


def encoded_width(
    schema: Schema, config: TrainConfig, candidates: Candidates, frame: pd.DataFrame
) -> int:
    """How many columns the feature pipeline gives the selector (before any selection)."""
    unselected = config.features.model_copy(update={"selection": SelectionConfig()})
    preprocessor = build_preprocessor(schema, unselected, config.random_state, candidates.derived)
    return int(preprocessor.fit_transform(frame[schema.feature_names].head(1000)).shape[1])


def check_config(
    schema: Schema, config: TrainConfig, candidates: Candidates, frame: pd.DataFrame
) -> None:
    """ConfigError for the first setting of ``config`` or of a family that scikit-learn or the
    data refuses."""
    selection = config.features.selection
    ks: list[tuple[str, Any]] = []
    if selection.method in ("k_best", "rfe"):
        ks.append(("features.selection.k", selection.k))
    spaces = {family: f.search.space for family, f in candidates.families.items()}
    for family, space in spaces.items():
        ks += [
            (f"models.py {family!r} search {name}", value)
            for name, values in space.items()
            if name == "features__select__k"
            for value in _values(values)
        ]
    if ks:
        width = encoded_width(schema, config, candidates, frame)
        for where, k in ks:
            if isinstance(k, int) and not isinstance(k, bool) and k > width:
                raise ConfigError(
                    f"{where}: k = {k} but the features encode to {width} columns; "
                    f"use at most {width}"
                )
    rows = frame.head(TRIAL_ROWS)
    x, y = rows[schema.feature_names], target_series(rows, schema)
    for family, space in spaces.items():
        try:
            pipeline = build_pipeline(family, candidates, schema, config)
        except TrainingError as error:
            raise ConfigError(str(error)) from None
        for name, values in space.items():
            key = name if "__" in name else MODEL_STEP + name
            for value in _values(values):
                try:
                    _check_value(pipeline, key, value, x, y)
                except Exception as error:  # anything scikit-learn raises for this value
                    raise ConfigError(
                        f"models.py {family!r} search {name}: {value!r} is refused: "
                        f"{_first_line(error)}"
                    ) from None
