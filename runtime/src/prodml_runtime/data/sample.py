"""The synthetic sample: a deterministic dataset built from the schema.

The generator reads only the schema, so a column added to ``configs/schema.yaml`` appears in
the sample data (with its own signal) without code changes.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.coerce import category_lookup, category_text, datetimes
from ..core.schema import Column, Schema

MISSING_RATE = 0.05
OUTLIER_RATE = 0.01
#: Smallest weight of a numeric or boolean feature in the latent score, so none is noise.
MIN_WEIGHT = 0.5


def _column_rng(seed: int, name: str) -> np.random.Generator:
    """A generator per column, so adding a column leaves the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


#: Width of the values drawn for a numeric column that declares at most one bound.
DEFAULT_SPAN = 100.0
#: Dates are drawn from the DATE_SPAN days up to the column's as_of (else LAST_DATE).
DATE_SPAN = 730
LAST_DATE = pd.Timestamp("2025-12-31")


def _range(column: Column) -> tuple[float, float]:
    """The interval values are drawn from: the declared bounds, else DEFAULT_SPAN wide from the
    one declared (below a max, above a min), else [0, DEFAULT_SPAN]."""
    if column.min is not None and column.max is not None:
        return column.min, column.max
    if column.max is not None:
        return column.max - DEFAULT_SPAN, column.max
    low = column.min if column.min is not None else 0.0
    return low, low + DEFAULT_SPAN


def _feature_values(column: Column, rows: int, rng: np.random.Generator) -> np.ndarray:
    if column.type == "numeric":
        low, high = _range(column)
        # Right-skewed bulk in the lower part of the range, plus rare outliers near the maximum.
        values = low + (high - low) * 0.6 * rng.beta(2.0, 5.0, rows)
        outliers = rng.random(rows) < OUTLIER_RATE
        values[outliers] = high - (high - low) * 0.05 * rng.random(outliers.sum())
        return np.round(values, 2)
    if column.type == "categorical":
        categories = list(column.categories or ())
        weights = rng.dirichlet(np.full(len(categories), 2.0))
        return rng.choice(np.array(categories, dtype=object), size=rows, p=weights)
    if column.type == "datetime":
        last = pd.Timestamp(column.as_of) if column.as_of is not None else LAST_DATE
        days = pd.to_timedelta(rng.integers(0, DATE_SPAN, rows), unit="D")
        return np.asarray((last - days).strftime(column.format or "%Y-%m-%d"), dtype=object)
    return (rng.random(rows) < rng.uniform(0.2, 0.5)).astype(float)


def _signal(column: Column, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A nonlinear contribution of one feature to the latent score (every feature carries some)."""
    if column.type == "categorical":
        categories = column.categories or ()
        effects = rng.normal(0.0, 1.0, len(categories))
        effects = (effects - effects.mean()) / (effects.std() or 1.0)
        return np.array([dict(zip(categories, effects, strict=True))[v] for v in values])
    if column.type == "datetime":  # its days since the first date drawn
        stamps = datetimes(pd.Series(values), column.format)
        numeric = ((stamps - stamps.min()) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    else:
        numeric = values.astype(float)
    scaled: np.ndarray = (numeric - numeric.mean()) / (numeric.std() or 1.0)
    shape = rng.integers(3)
    drawn = rng.normal(0.0, 1.0)
    weight = float(np.copysign(max(abs(drawn), MIN_WEIGHT), drawn))
    if shape == 0 or column.type == "boolean":  # a square of 0/1 values is still 0/1: linear
        return weight * scaled
    if shape == 1:
        return weight * (scaled**2 - 1.0)
    return 1.5 * weight * np.sin(2.0 * scaled)


def _target(schema: Schema, score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    target = schema.column(schema.target)
    latent = score + rng.normal(0.0, 0.5, len(score))
    if schema.problem_type == "regression":
        low, high = _range(target)
        middle, spread = low + 0.35 * (high - low), 0.12 * (high - low)
        standard: np.ndarray = (latent - latent.mean()) / (latent.std() or 1.0)
        values: np.ndarray = np.round(np.clip(middle + spread * standard, low, high), 2)
        return values
    classes = np.array(schema.classes, dtype=object)
    # Imbalanced classes: the first class is the majority, later classes get rarer.
    shares = np.array([0.8, 0.2]) if len(classes) == 2 else np.geomspace(1.0, 0.25, len(classes))
    cuts = np.quantile(latent, np.cumsum(shares / shares.sum())[:-1])
    return classes[np.searchsorted(cuts, latent)]


def _untrained_values(column: Column, rows: int, seed: int) -> object:
    """Values of an id or ignored column, of its declared type: ids unique and increasing
    (row order stands for time), text as codes such as ``C000001``."""
    if column.type == "string":
        prefix = column.name[:1].upper() if column.name[:1].isalpha() else "R"
        return [f"{prefix}{i:06d}" for i in range(1, rows + 1)]
    if column.type == "numeric" and column.role == "id":
        if column.min is not None and column.max is not None:
            return np.linspace(column.min, column.max, rows)
        if column.max is not None:
            return np.arange(rows, dtype=float) + (column.max - rows + 1)
        return np.arange(rows, dtype=float) + (column.min if column.min is not None else 1.0)
    return _feature_values(column, rows, _column_rng(seed, column.name))


def generate_sample(schema: Schema, rows: int = 3000, seed: int = 42) -> pd.DataFrame:
    """A deterministic synthetic dataset for ``schema``: missing values, outliers, imbalance."""
    frame: dict[str, object] = {}
    score = np.zeros(rows)
    for column in schema.features:
        rng = _column_rng(seed, column.name)
        values = _feature_values(column, rows, rng)
        score += _signal(column, values, rng)
        frame[column.name] = values
    numeric = schema.features_of_type("numeric")
    if len(numeric) >= 2:  # one interaction, which a linear model cannot represent
        first, second = (np.asarray(frame[n], dtype=float) for n in numeric[:2])
        score += 1.5 * ((first > np.median(first)) ^ (second > np.median(second)))
    for column in schema.features:
        if column.nullable:
            rng = _column_rng(seed + 1, column.name)
            values = np.asarray(frame[column.name], dtype=object)
            values[rng.random(rows) < MISSING_RATE] = np.nan
            typed = column.type in ("numeric", "boolean")
            frame[column.name] = values.astype(float) if typed else values
    frame[schema.target] = _target(schema, score, _column_rng(seed, schema.target))
    for column in schema.columns:
        if column.role in ("id", "ignored"):
            frame[column.name] = _untrained_values(column, rows, seed)
    df: pd.DataFrame = pd.DataFrame({c.name: frame[c.name] for c in schema.columns})
    for column in schema.columns:
        if column.type == "boolean":  # written as 0/1, empty when missing
            df[column.name] = df[column.name].astype("Int64")
    return df


def _json_value(column: Column, value: object) -> str | float | bool:
    if column.type == "numeric":
        return float(value)  # type: ignore[arg-type]
    if column.type == "boolean":
        return bool(float(value))  # type: ignore[arg-type]
    if column.type == "categorical":  # the declared category it stands for: 2.0 is "2"
        return category_text(value, category_lookup(column.categories or ()))
    return str(value)


def example_record(schema: Schema, frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """A request body for ``POST /predict``: the features of the first row of ``frame`` (else
    of the synthetic sample) with every feature present and valid, typed as JSON."""
    from ..core.validation import row_problems

    rows = generate_sample(schema, rows=50) if frame is None else frame
    features = rows[schema.feature_names]
    complete = features[features.notna().all(axis=1)]
    valid = complete.drop(index=row_problems(complete, schema).index)
    if valid.empty:
        raise ValueError("no row has every feature present and valid")
    row = valid.iloc[0]
    return {c.name: _json_value(c, row[c.name]) for c in schema.features}


def file_example(schema: Schema, path: Path) -> dict[str, Any]:
    """``example_record`` of the first rows of ``path``; of the synthetic sample when the file
    is missing (a container, CI) or unreadable, or none of those rows is complete and valid."""
    from ..io.tables import TableError, read_chunks

    try:
        rows = next(read_chunks(path, 1000, schema.feature_names, **schema.reading), None)
        if rows is not None:
            return example_record(schema, rows)
    except (TableError, ValueError):
        pass
    return example_record(schema)
