"""The feature pipeline's fitted steps as numpy operations, for the fast path (``fast_path``).

Each ``ColumnTransformer`` entry becomes a ``Block``: its input columns read from the records as
``coerce_types`` reads them, then its imputer, scaler or min-max scaler, or one-hot encoder,
evaluated from the fitted parameters with the same floating-point operations in the same order.
A step it does not know raises ``Unsupported``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)

from ..core.coerce import category_text, datetimes
from ..core.dates import date_parts
from .trees import Unsupported

Record = Mapping[str, Any]
#: Distinct dates whose derived inputs a datetime block keeps (then it starts afresh).
DATE_CACHE = 10_000
Op = Callable[[np.ndarray], np.ndarray]


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _imputer(step: SimpleImputer, categorical: bool) -> Op:
    if not _is_nan(step.missing_values) or step.add_indicator:
        raise Unsupported("imputer with an indicator or a non-NaN missing marker")
    statistics = step.statistics_
    if any(value is None or _is_nan(value) for value in statistics.tolist()):
        raise Unsupported("imputer dropping an all-missing column")
    if categorical:
        fill = statistics.tolist()

        def impute_objects(x: np.ndarray) -> np.ndarray:
            out: np.ndarray = x.copy()
            for (row, column), value in np.ndenumerate(x):
                if value is None or _is_nan(value):
                    out[row, column] = fill[column]
            return out

        return impute_objects
    values = statistics.astype(np.float64)
    return lambda x: np.where(np.isnan(x), values, x)


def _scaler(step: Any) -> Op:
    if isinstance(step, StandardScaler):
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None
    elif isinstance(step, RobustScaler):
        mean = step.center_ if step.with_centering else None
        scale = step.scale_ if step.with_scaling else None
    else:
        raise Unsupported(type(step).__name__)

    def transform(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        if mean is not None:
            x -= mean
        if scale is not None:
            x /= scale
        return x

    return transform


def _min_max(step: MinMaxScaler) -> Op:
    low, high = step.feature_range

    def transform(x: np.ndarray) -> np.ndarray:
        x = x * step.scale_
        x += step.min_
        if step.clip:
            np.clip(x, low, high, out=x)
        return x

    return transform


def _one_hot(step: OneHotEncoder) -> Op:
    if step.handle_unknown != "ignore" or step.drop_idx_ is not None:
        raise Unsupported("one-hot encoding that drops or errors")
    if getattr(step, "_infrequent_enabled", False):
        raise Unsupported("one-hot encoding with infrequent categories")
    positions: list[dict[str, int]] = []
    offset = 0
    for categories in step.categories_:
        if categories.dtype.kind != "O":
            raise Unsupported("one-hot encoding of non-text categories")
        positions.append({str(c): offset + i for i, c in enumerate(categories)})
        offset += len(categories)
    width, dtype = offset, step.dtype

    def encode(x: np.ndarray) -> np.ndarray:
        out = np.zeros((x.shape[0], width), dtype=dtype)
        for (row, column), value in np.ndenumerate(x):
            position = positions[column].get(value)
            if position is not None:
                out[row, position] = 1
        return out

    return encode


def _ops(steps: list[Any], categorical: bool) -> list[Op]:
    ops: list[Op] = []
    for step in steps:
        if step == "passthrough" or step is None:
            continue
        if isinstance(step, SimpleImputer):
            ops.append(_imputer(step, categorical))
        elif isinstance(step, (StandardScaler, RobustScaler)) and not categorical:
            ops.append(_scaler(step))
        elif isinstance(step, MinMaxScaler) and not categorical:
            ops.append(_min_max(step))
        elif isinstance(step, OneHotEncoder) and categorical:
            ops.append(_one_hot(step))
            categorical = False
        else:
            raise Unsupported(f"step {type(step).__name__}")
    if categorical:
        raise Unsupported("a text block that is never encoded")
    return ops


class Block:
    """One ColumnTransformer entry: its input columns and the ops applied in order. Dates are
    read and their inputs derived by the pipeline's own functions (``coerce.datetimes``,
    ``dates.date_parts``), on the records' values."""

    def __init__(
        self,
        columns: list[str],
        types: Mapping[str, str],
        coerce_args: Mapping[str, Any],
        lookups: Mapping[str, Mapping[str, str]],
        transformer: Any,
    ) -> None:
        kinds = {types[c] for c in columns}
        if len(kinds) != 1:
            raise Unsupported("a block mixing text and numbers")
        self.columns = columns
        self.categorical = kinds == {"categorical"}
        self.lookups = [lookups.get(c, {}) for c in columns]
        steps = (
            [s for _, s in transformer.steps]
            if isinstance(transformer, Pipeline)
            else [transformer]
        )
        self.as_of: Mapping[str, float | None] | None = None
        if kinds == {"datetime"}:
            parts = steps.pop(0)
            if not isinstance(parts, FunctionTransformer) or parts.func is not date_parts:
                raise Unsupported("dates not read by date_parts")
            self.as_of = parts.kw_args["as_of"]
            self.formats = coerce_args.get("formats") or {}
            self._seen: dict[tuple[str, Any], np.ndarray] = {}
        self.ops = _ops(steps, self.categorical)

    def _dates(self, records: Sequence[Record], as_of: Mapping[str, float | None]) -> np.ndarray:
        """Each record's derived inputs, read once per distinct value (a date parsed by pandas
        costs about 1 ms; real traffic repeats its dates): the cache holds what the pipeline's
        functions return for the value alone."""
        rows = []
        for record in records:
            row = []
            for name in self.columns:
                value = record.get(name)
                key = (name, value)
                if key not in self._seen:
                    if len(self._seen) >= DATE_CACHE:
                        self._seen.clear()
                    read = datetimes(pd.Series([value], dtype=object), self.formats.get(name))
                    parts = date_parts(pd.DataFrame({name: read}), as_of)
                    self._seen[key] = parts.to_numpy(dtype=np.float64)[0]
                row.append(self._seen[key])
            rows.append(np.concatenate(row))
        return np.vstack(rows)

    def __call__(self, records: Sequence[Record]) -> np.ndarray:
        if self.as_of is not None:
            x = self._dates(records, self.as_of)
        elif self.categorical:
            x = np.empty((len(records), len(self.columns)), dtype=object)
            for row, record in enumerate(records):
                for column, name in enumerate(self.columns):
                    value = record.get(name)
                    x[row, column] = (
                        np.nan if value is None else category_text(value, self.lookups[column])
                    )
        else:
            x = np.array(
                [[number(record.get(name)) for name in self.columns] for record in records],
                dtype=np.float64,
            ).reshape(len(records), len(self.columns))
        for op in self.ops:
            x = op(x)
        return x


def number(value: object) -> float:
    """A numeric or boolean feature as ``coerce_types`` makes it: float, NaN when missing."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return float(value)  # type: ignore[arg-type]
