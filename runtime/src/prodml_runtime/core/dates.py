"""The model inputs a datetime feature stands for, derived from its coerced value (a timestamp,
``coerce.datetimes``): year, month, day of week (0 is Monday) and, where the schema gives the
column an ``as_of`` date, age in days (days from the date to ``as_of``).

Training (the feature pipeline's datetime step) and monitoring (drift per derived input) both
call ``date_parts``, so what is monitored is what the model reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .schema import Schema

PARTS = ("year", "month", "day_of_week")
EPOCH = pd.Timestamp("1970-01-01")
ONE_DAY = pd.Timedelta(days=1)
AGE = "age_days"


def _parts(has_age: bool) -> tuple[str, ...]:
    return (*PARTS, AGE) if has_age else PARTS


def as_of_days(schema: Schema) -> dict[str, float | None]:
    """Each datetime feature's ``as_of`` as days since 1970-01-01 (None: no age derived)."""
    return {
        c.name: None if c.as_of is None else float((pd.Timestamp(c.as_of) - EPOCH) / ONE_DAY)
        for c in schema.features
        if c.type == "datetime"
    }


def date_parts(dates: pd.DataFrame, as_of: Mapping[str, float | None]) -> pd.DataFrame:
    """Per timestamp column of ``dates`` (its name a key of ``as_of``: that date in days since
    1970-01-01, or None), its derived inputs as floats named ``<column>_<part>``; a missing
    date gives NaN in each."""
    out: dict[str, np.ndarray] = {}
    for name in dates.columns:
        stamps = pd.DatetimeIndex(dates[name])
        derived = {"year": stamps.year, "month": stamps.month, "day_of_week": stamps.day_of_week}
        for part, found in derived.items():
            out[f"{name}_{part}"] = found.to_numpy(dtype=float, na_value=np.nan)
        reference = as_of[str(name)]
        if reference is not None:
            days = ((stamps - EPOCH) / ONE_DAY).to_numpy(dtype=float, na_value=np.nan)
            out[f"{name}_{AGE}"] = reference - days
    parts: pd.DataFrame = pd.DataFrame(out, index=dates.index)
    return parts


def part_names(transformer: Any, input_features: object) -> np.ndarray:
    """``date_parts``' output column names (``FunctionTransformer(feature_names_out=...)``)."""
    as_of = transformer.kw_args["as_of"]
    names = [
        f"{name}_{part}"
        for name in np.asarray(input_features, dtype=object)
        for part in _parts(as_of[str(name)] is not None)
    ]
    return np.asarray(names, dtype=object)


def part_columns(schema: Schema) -> list[str]:
    """The names of every datetime feature's derived inputs, as ``with_parts`` makes them."""
    return [
        f"{c.name}_{part}"
        for c in schema.features
        if c.type == "datetime"
        for part in _parts(c.as_of is not None)
    ]


def input_names(schema: Schema) -> list[str]:
    """The features with each datetime feature replaced by its derived inputs: the columns of
    ``with_parts``, in order."""
    dated = set(schema.features_of_type("datetime"))
    return [n for n in schema.feature_names if n not in dated] + part_columns(schema)


def with_parts(features: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Coerced features with each datetime feature (of those present) replaced by its derived
    inputs (what the model reads of it): the columns monitoring and the EDA report profile."""
    dated = [c.name for c in schema.features if c.type == "datetime" and c.name in features]
    if not dated:
        return features
    parts = date_parts(features[dated], as_of_days(schema))
    frame: pd.DataFrame = pd.concat([features.drop(columns=dated), parts], axis=1)
    return frame
