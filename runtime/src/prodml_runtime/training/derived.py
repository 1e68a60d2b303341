"""Derived features: plain functions of a row's features, registered by name in the project.

A project's ``features.py`` holds a ``DerivedFeatures`` registry and decorates each function
with it. A function takes the features as the pipeline reads them (a table with a column per
schema feature: numbers and booleans as floats, categories as text, dates as timestamps) and
returns one number per row; its name is the model input's name. ``Derive``, a pipeline step
after type coercion, appends them, so training, batch scoring, the API and the model file take
them from the registry alone. The API's fast path calls the same functions on columns of numpy
arrays (``Derive.on_columns``): one written with arithmetic and numpy works on both, one using
pandas' own methods makes the fast path fall back to the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ..core.errors import ProjectError

Function = Callable[[Any], Any]


class DerivedFeatures:
    """The project's derived features, by function name (``@FEATURES`` registers one)."""

    def __init__(self) -> None:
        self._functions: dict[str, Function] = {}

    def __call__(self, function: Function) -> Function:
        name = getattr(function, "__name__", "")
        if not name.isidentifier():
            raise ValueError(f"a derived feature is a named function, not {function!r}")
        if name in self._functions:
            raise ValueError(f"derived feature {name!r} is registered twice")
        self._functions[name] = function
        return function

    def __iter__(self) -> Iterator[Function]:
        return iter(self._functions.values())

    def __len__(self) -> int:
        return len(self._functions)

    @property
    def names(self) -> list[str]:
        return list(self._functions)

    @property
    def trusted(self) -> tuple[str, ...]:
        """The functions' names as the model file records them (``module.qualname``)."""
        return tuple(f"{f.__module__}.{f.__qualname__}" for f in self)


class DerivedFeatureError(ProjectError, ValueError):
    """A derived feature's function failed or gave something other than a number per row."""


def _reason(error: BaseException) -> str:
    """``error`` on one line: its type and message."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def _numbers(name: str, result: Any, rows: int) -> np.ndarray:
    try:
        values = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DerivedFeatureError(
            f"derived feature {name!r} (features.py) must give numbers: {_reason(error)}"
        ) from None
    if values.ndim == 0:
        values = np.full(rows, float(values))
    if values.shape != (rows,):
        raise DerivedFeatureError(
            f"derived feature {name!r} (features.py) gave shape {values.shape}; one number "
            f"per row ({rows}) is needed"
        )
    return values


class Derive(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The pipeline step appending each of ``functions``' values as a numeric column."""

    def __init__(self, functions: Sequence[Function] = ()) -> None:
        self.functions = functions

    def fit(self, x: pd.DataFrame, y: object = None) -> Derive:
        self.n_features_in_ = x.shape[1]
        self.feature_names_in_ = np.asarray(list(x.columns), dtype=object)
        return self

    def on_columns(
        self, columns: pd.DataFrame | Mapping[str, Any], rows: int
    ) -> dict[str, np.ndarray]:
        """Each function's values, given the features as columns (a frame, or arrays)."""
        derived = {}
        for function in self.functions:
            name = function.__name__
            try:
                result = function(columns)
            except DerivedFeatureError:
                raise
            except Exception as error:
                raise DerivedFeatureError(
                    f"derived feature {name!r} (features.py) failed: {_reason(error)}"
                ) from error
            derived[name] = _numbers(name, result, rows)
        return derived

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        derived = self.on_columns(x, len(x))
        added = pd.DataFrame(derived, index=x.index)
        out: pd.DataFrame = pd.concat([x, added], axis=1)
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = [*self.feature_names_in_, *(f.__name__ for f in self.functions)]
        return np.asarray(names, dtype=object)
