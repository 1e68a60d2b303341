"""Datasets: a deterministic synthetic sample built from the schema, and data validation.

The generator reads only the schema, so a column added to ``configs/schema.yaml`` appears in
the sample data (with its own signal) without code changes.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .features import category_text, numbers
from .schema import Column, Schema

VIOLATION_COLUMNS = ["column", "check", "expected", "count", "examples"]
MISSING_RATE = 0.05
OUTLIER_RATE = 0.01
#: Smallest weight of a numeric or boolean feature in the latent score, so none is noise.
MIN_WEIGHT = 0.5


def _column_rng(seed: int, name: str) -> np.random.Generator:
    """A generator per column, so adding a column leaves the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _feature_values(column: Column, rows: int, rng: np.random.Generator) -> np.ndarray:
    if column.type == "numeric":
        low = column.min if column.min is not None else 0.0
        high = column.max if column.max is not None else low + 100.0
        # Right-skewed bulk in the lower part of the range, plus rare outliers near the maximum.
        values = low + (high - low) * 0.6 * rng.beta(2.0, 5.0, rows)
        outliers = rng.random(rows) < OUTLIER_RATE
        values[outliers] = high - (high - low) * 0.05 * rng.random(outliers.sum())
        return np.round(values, 2)
    if column.type == "categorical":
        categories = list(column.categories or ())
        weights = rng.dirichlet(np.full(len(categories), 2.0))
        return rng.choice(np.array(categories, dtype=object), size=rows, p=weights)
    return (rng.random(rows) < rng.uniform(0.2, 0.5)).astype(float)


def _signal(column: Column, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A nonlinear contribution of one feature to the latent score (every feature carries some)."""
    if column.type == "categorical":
        categories = column.categories or ()
        effects = rng.normal(0.0, 1.0, len(categories))
        effects = (effects - effects.mean()) / (effects.std() or 1.0)
        return np.array([dict(zip(categories, effects, strict=True))[v] for v in values])
    numeric = values.astype(float)
    scaled = (numeric - numeric.mean()) / (numeric.std() or 1.0)
    shape = rng.integers(3)
    drawn = rng.normal(0.0, 1.0)
    weight = np.copysign(max(abs(drawn), MIN_WEIGHT), drawn)
    if shape == 0 or column.type == "boolean":  # a square of 0/1 values is still 0/1: linear
        return weight * scaled
    if shape == 1:
        return weight * (scaled**2 - 1.0)
    return 1.5 * weight * np.sin(2.0 * scaled)


def _target(schema: Schema, score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    target = schema.column(schema.target)
    latent = score + rng.normal(0.0, 0.5, len(score))
    if schema.problem_type == "regression":
        low = target.min if target.min is not None else 0.0
        high = target.max if target.max is not None else low + 100.0
        middle, spread = low + 0.35 * (high - low), 0.12 * (high - low)
        standard = (latent - latent.mean()) / (latent.std() or 1.0)
        return np.round(np.clip(middle + spread * standard, low, high), 2)
    classes = np.array(schema.classes, dtype=object)
    # Imbalanced classes: the first class is the majority, later classes get rarer.
    shares = np.array([0.8, 0.2]) if len(classes) == 2 else np.geomspace(1.0, 0.25, len(classes))
    cuts = np.quantile(latent, np.cumsum(shares / shares.sum())[:-1])
    return classes[np.searchsorted(cuts, latent)]


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
            frame[column.name] = values if column.type == "categorical" else values.astype(float)
    frame[schema.target] = _target(schema, score, _column_rng(seed, schema.target))
    for column in schema.columns:
        if column.role in ("id", "ignored"):
            frame[column.name] = [f"{column.name[:1].upper()}{i:06d}" for i in range(1, rows + 1)]
    df = pd.DataFrame({c.name: frame[c.name] for c in schema.columns})
    for name in schema.features_of_type("boolean"):
        df[name] = df[name].astype("Int64")  # written as 0/1, empty when missing
    return df


def _examples(values: pd.Series, limit: int = 3) -> str:
    plain = (v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)[:limit])
    return ", ".join(repr(v) for v in plain)


def _expectation(column: Column, check: str) -> str:
    """What ``check`` expects of ``column``, in words for the violation table."""
    categories = ", ".join(column.categories or ())
    return {
        "present": "column present",
        "not_null": "no missing values",
        "numeric_type": "a number",
        "finite": "a finite number",
        "min": f">= {column.min:g}" if column.min is not None else "",
        "max": f"<= {column.max:g}" if column.max is not None else "",
        "category": f"one of {categories}",
        "boolean": "0/1 or true/false",
        "unique": "unique values",
    }[check]


def _check_column(
    column: Column, values: pd.Series, whole_file: bool = True
) -> list[tuple[str, pd.Series]]:
    """(check name, offending values) for each failed check on one column.

    ``whole_file=False`` skips the checks that need all the rows (unique ids).
    """
    problems: list[tuple[str, pd.Series]] = []
    present = values[values.notna()]
    if not column.nullable and len(present) < len(values):
        problems.append(("not_null", values[values.isna()].astype(object)))
    if column.type == "numeric":
        parsed = numbers(present)
        problems.append(("numeric_type", present[parsed.isna()]))
        finite = parsed[parsed.notna()]
        problems.append(("finite", finite[~np.isfinite(finite)]))
        if column.min is not None:
            problems.append(("min", finite[finite < column.min]))
        if column.max is not None:
            problems.append(("max", finite[finite > column.max]))
    elif column.type == "categorical":
        text = present.map(category_text)
        problems.append(("category", present[~text.isin(column.categories or ())]))
    elif column.type == "boolean":
        allowed = {"0", "1", "0.0", "1.0", "true", "false"}
        problems.append(("boolean", present[~present.astype(str).str.lower().isin(allowed)]))
    if column.role == "id" and whole_file:
        problems.append(("unique", present[present.duplicated()]))
    return [(check, bad) for check, bad in problems if len(bad)]


def _violation(column: Column, check: str, count: int, examples: str) -> dict[str, object]:
    expected = _expectation(column, check)
    return {
        "column": column.name,
        "check": check,
        "expected": expected,
        "count": count,
        "examples": examples,
    }


def validate(df: pd.DataFrame, schema: Schema, require_target: bool = True) -> pd.DataFrame:
    """Check ``df`` against the schema; one row per failed check (empty when the data is valid).

    Columns of the result: column, check, expected, count, examples. Missing ``ignored`` columns
    are fine; columns the schema does not know are not violations (see ``unexpected_columns``).
    """
    rows: list[dict[str, object]] = []
    for column in schema.columns:
        if column.role == "target" and not require_target:
            continue
        if column.name not in df.columns:
            if column.role != "ignored":
                rows.append(_violation(column, "present", len(df), ""))
            continue
        for check, bad in _check_column(column, df[column.name]):
            rows.append(_violation(column, check, len(bad), _examples(bad)))
    return pd.DataFrame(rows, columns=VIOLATION_COLUMNS)


def unexpected_columns(df: pd.DataFrame, schema: Schema) -> list[str]:
    """Columns of ``df`` the schema does not declare: reported, never used by the model."""
    known = {c.name for c in schema.columns}
    return [str(name) for name in df.columns if name not in known]


def format_violations(violations: pd.DataFrame) -> str:
    """The violation table as aligned plain text, one violation per line."""
    header = dict(zip(VIOLATION_COLUMNS, VIOLATION_COLUMNS, strict=True))
    lines = [header, *violations.astype(str).to_dict(orient="records")]
    widths = {k: max(len(str(line[k])) for line in lines) for k in VIOLATION_COLUMNS}
    text = [
        "  ".join(
            str(line[k]).rjust(widths[k]) if k == "count" else str(line[k]).ljust(widths[k])
            for k in VIOLATION_COLUMNS
        ).rstrip()
        for line in lines
    ]
    return "\n".join(text)


class DataValidationError(ValueError):
    """Data that breaks the schema; ``violations`` holds the table from ``validate``."""

    def __init__(self, what: str, violations: pd.DataFrame) -> None:
        super().__init__(f"{what} failed validation: {len(violations)} violation(s)")
        self.violations = violations


def check(df: pd.DataFrame, schema: Schema, what: str, require_target: bool = True) -> None:
    """Raise DataValidationError if ``df`` breaks the schema."""
    violations = validate(df, schema, require_target=require_target)
    if len(violations):
        raise DataValidationError(what, violations)
