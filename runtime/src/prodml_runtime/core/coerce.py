"""One coercion path: raw values (CSV text, Parquet types, JSON) into the features' values.

Validation, training (the pipeline's first step), batch scoring, the API and monitoring all call
these functions, so a row is read the same way wherever it comes from:

- numeric: a float; missing or not a number is NaN (``numbers``);
- boolean: 1.0 or 0.0 from ``BOOLEAN_TEXT`` (stray whitespace stripped) or the numbers 1 and
  0; anything else is NaN;
- categorical: the declared category the value stands for, matched by its text without stray
  whitespace (``" yes "`` is ``"yes"``) or, for a number, by its value (``1``, ``1.0`` and
  ``"1.0"`` all stand for a declared ``"1"``, and for a declared ``"1.0"``); a value matching
  none keeps its own text, stripped (an unknown category). A target's ``aliases`` read another
  text as a declared class, or as missing (``target_values``);
- datetime: a naive UTC timestamp from text in the column's format or in ISO 8601, a number
  spelling one (``20170204`` for ``%Y%m%d``) or a date value; anything else is NaT
  (``datetimes``). ``core.dates`` derives the model's inputs from it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schema import ColumnType, Schema

#: The one boolean vocabulary (text, compared in lower case).
BOOLEAN_TEXT = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}
Lookup = Mapping[str, str]


def number_text(value: object) -> str | None:
    """A number's canonical text (``3``, ``3.0``, ``"3.00"`` give ``"3"``; ``2.5`` ``"2.5"``),
    or None if ``value`` is not a finite number."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return str(int(number)) if number.is_integer() and abs(number) < 2**63 else repr(number)


def category_lookup(declared: Sequence[str]) -> dict[str, str]:
    """Each declared category by its own text, and by its number's canonical text if it is one."""
    lookup = {category: category for category in declared}
    for category in declared:
        number = number_text(category)
        if number is not None:
            lookup.setdefault(number, category)
    return lookup


def category_text(value: object, lookup: Lookup | None = None) -> str:
    """The category ``value`` (present, not missing) stands for: see the module docstring."""
    lookup = lookup or {}
    if isinstance(value, str):
        value = value.strip()
        found = lookup.get(value)
        if found is not None:
            return found
        number = number_text(value)
        return lookup.get(number, value) if number is not None else value
    number = number_text(value)
    if number is None:
        return str(value)
    return lookup.get(number, number)


def _per_distinct(values: pd.Series, read: Any, missing: Any, dtype: Any) -> np.ndarray:
    """``read`` given the distinct present values (each once), its results spread back over
    the rows, ``missing`` where a value is missing: a long column costs one hash lookup per row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.append(np.asarray(read(uniques), dtype=dtype), np.array([missing], dtype=dtype))
    spread: np.ndarray = table[codes]  # the sentinel -1 picks the trailing ``missing``
    return spread


def categories(
    values: pd.Series,
    declared: Sequence[str] = (),
    aliases: Mapping[str, str | None] | None = None,
) -> pd.Series:
    """``values`` as category text (object dtype, NaN where missing); ``aliases`` (a target's)
    read another text as a declared category, or as missing where it maps to None."""
    lookup = category_lookup(declared)
    dropped: set[str] = set()
    for alias, category in (aliases or {}).items():
        if category is None:
            dropped.update(category_lookup([alias]))
        else:
            for text in category_lookup([alias]):
                lookup.setdefault(text, category)
    dropped -= set(lookup)

    def read_all(uniques: pd.Index) -> list[object]:
        texts = (category_text(v, lookup) for v in uniques)
        return [np.nan if text in dropped else text for text in texts]

    texts = _per_distinct(values, read_all, np.nan, object)
    read: pd.Series = pd.Series(texts, index=values.index, dtype=object)
    return read


def target_values(values: pd.Series, schema: Schema) -> pd.Series:
    """The target as the model learns it: a class as its declared category text (its aliases
    applied; NaN where missing or read as missing), or a float for regression."""
    target = schema.column(schema.target)
    read = (
        categories(values, target.categories or (), target.aliases)
        if schema.is_classification
        else numbers(values)
    )
    read.name = values.name
    return read


def numbers(values: pd.Series) -> pd.Series:
    """``values`` as floats, NaN where missing or not a number (``pd.to_numeric``, coerced;
    booleans are not numbers). Text that is all numbers is parsed by Arrow: several times faster
    than pandas, same values."""
    if pd.api.types.is_bool_dtype(values):  # a boolean is not a number
        missing: pd.Series = pd.Series(np.nan, index=values.index, dtype=float)
        return missing
    if not pd.api.types.is_numeric_dtype(values):
        if values.dtype == object:
            values = values.where(~values.map(lambda v: isinstance(v, bool)))
        try:
            parsed = pc.cast(pa.array(values, type=pa.string(), from_pandas=True), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a value that is not a number, or not text: pandas makes it NaN
        else:
            floats: pd.Series = pd.Series(
                parsed.to_numpy(zero_copy_only=False), values.index, float
            )
            return floats
    return pd.to_numeric(values, errors="coerce").astype(float)


#: How a date is held once read: naive UTC timestamps.
DATETIME: Final = "datetime64[us]"


def _date_input(value: object) -> object:
    """What ``pd.to_datetime`` is given for one value: a number as its text (``20170204``)."""
    return value if isinstance(value, (str, dt.date)) else number_text(value)


def _stamps(given: pd.Series, date_format: str) -> pd.Series:
    parsed = pd.to_datetime(given, format=date_format, errors="coerce", utc=True)
    stamps: pd.Series = parsed.dt.tz_convert(None).astype(DATETIME)
    return stamps


def datetimes(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """``values`` as naive UTC timestamps, NaT where missing or not a date: text written in
    ``date_format`` (a strptime format) or in ISO 8601 (always accepted: it is what the
    prediction log writes), a number spelling one, a date value. Each distinct value is read
    once; timestamps pass through (zoned ones converted to UTC)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        zoned = values.dt.tz_convert(None) if values.dt.tz is not None else values
        same: pd.Series = zoned.astype(DATETIME)
        return same

    def read_all(uniques: pd.Index) -> np.ndarray:
        given = pd.Series([_date_input(value) for value in uniques], dtype=object)
        stamps = _stamps(given, date_format or "ISO8601")
        if date_format and stamps.isna().any():
            stamps = stamps.fillna(_stamps(given.where(stamps.isna()), "ISO8601"))
        return stamps.to_numpy()

    spread = _per_distinct(values, read_all, np.datetime64("NaT"), DATETIME)
    read: pd.Series = pd.Series(spread, index=values.index, dtype=DATETIME)
    return read


def booleans(values: pd.Series) -> pd.Series:
    """``values`` as 1.0 / 0.0, NaN where missing or not a boolean (exactly 1 and 0 as numbers,
    ``BOOLEAN_TEXT`` as text; ``-0.0`` is not one, as its text is not)."""
    if (
        pd.api.types.is_bool_dtype(values)
        or pd.api.types.is_integer_dtype(values)
        or pd.api.types.is_float_dtype(values)
    ):
        number = values.astype(float)
        known = (number == 1.0) | ((number == 0.0) & ~np.signbit(number))
        read: pd.Series = number.where(known)
        return read
    flags = _per_distinct(
        values, lambda uniques: [boolean_value(v) for v in uniques], np.nan, float
    )
    if values.dtype == object:  # -0.0 is distinct from 0.0 by its text, not by its hash
        negative_zero = values.map(lambda v: isinstance(v, float) and str(v) == "-0.0")
        flags[negative_zero.to_numpy(dtype=bool)] = np.nan
    read = pd.Series(flags, index=values.index, dtype=float)
    return read


def boolean_value(value: object) -> float | None:
    """One present value as ``booleans`` reads it: 1.0, 0.0, or None if it is not a boolean."""
    return BOOLEAN_TEXT.get(str(value).strip().lower())


def coerce_types(
    df: pd.DataFrame,
    types: Mapping[str, str],
    categories_of: Mapping[str, Sequence[str]] | None = None,
    formats: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The features as the pipeline reads them: ``types`` (name -> numeric | categorical |
    boolean | datetime) in that order, categorical values matched to ``categories_of[name]``,
    dates read in ``formats[name]`` (default ISO 8601). Columns not in ``types`` are dropped.
    This is the fitted pipeline's first step."""
    read: dict[str, pd.Series] = {}
    for name, kind in types.items():
        values = df[name]
        if kind == "categorical":
            read[name] = categories(values, (categories_of or {}).get(name, ()))
        elif kind == "boolean":
            read[name] = booleans(values)
        elif kind == "datetime":
            read[name] = datetimes(values, (formats or {}).get(name))
        else:
            read[name] = numbers(values)
    out: pd.DataFrame = pd.DataFrame(read, index=df.index)  # built at once: wide data stays fast
    return out


def feature_types(
    schema: Schema,
) -> tuple[dict[str, ColumnType], dict[str, list[str]], dict[str, str]]:
    """The arguments of ``coerce_types`` for the schema's features."""
    types = {c.name: c.type for c in schema.features}
    declared = {c.name: list(c.categories or ()) for c in schema.features if c.categories}
    formats = {c.name: c.format for c in schema.features if c.format}
    return types, declared, formats


def coerce_features(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """``coerce_types`` for the schema's features: what is scored, logged and monitored."""
    return coerce_types(df, *feature_types(schema))


def coerced_names(transformer: Any, input_features: object) -> np.ndarray:
    """The pipeline step's output column names (``FunctionTransformer(feature_names_out=...)``)."""
    return np.asarray(list(transformer.kw_args["types"]), dtype=object)
