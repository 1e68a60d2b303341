"""Data validation against the schema: a violation table for whole files, reasons per row for
batch scoring and monitoring. A value is valid exactly when ``coerce`` reads it as a value of
its column (a number, a boolean, a declared category, a date in the column's format), so what
validation accepts is what the model is given.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

from .coerce import booleans, categories, datetimes, numbers
from .errors import ProjectError
from .schema import Column, Schema

VIOLATION_COLUMNS = ["column", "check", "expected", "count", "examples"]


class DataValidationError(ProjectError, ValueError):
    """Data that breaks the schema; ``violations`` holds the table from ``validate``."""

    def __init__(self, what: str, violations: pd.DataFrame, consequence: str = "") -> None:
        then = f"; {consequence}" if consequence else ""
        super().__init__(f"{what} failed validation: {len(violations)} violation(s){then}")
        self.violations = violations
        self.details = format_violations(violations)


def expectation(column: Column, check: str) -> str:
    """What ``check`` expects of ``column``, in words."""
    categories_text = ", ".join(column.categories or ())
    return {
        "present": "column present",
        "not_null": "no missing values",
        "numeric_type": "a number",
        "finite": "a finite number",
        "min": f">= {column.min:g}" if column.min is not None else "",
        "max": f"<= {column.max:g}" if column.max is not None else "",
        "category": f"one of {categories_text}",
        "boolean": "0/1 or true/false",
        "datetime": f"a date as {column.format}" if column.format else "an ISO 8601 date",
        "unique": "unique values",
    }[check]


def check_column(
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
        read = categories(present, column.categories or (), column.aliases)
        known = read.isna() | read.isin(column.categories or ())  # NaN: an alias of missing
        problems.append(("category", present[~known]))
    elif column.type == "boolean":
        problems.append(("boolean", present[booleans(present).isna()]))
    elif column.type == "datetime":
        problems.append(("datetime", present[datetimes(present, column.format).isna()]))
    if column.role == "id" and whole_file:
        problems.append(("unique", present[present.duplicated()]))
    return [(check, bad) for check, bad in problems if len(bad)]


def _examples(values: pd.Series, limit: int = 3) -> str:
    plain = (v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)[:limit])
    return ", ".join(repr(v) for v in plain)


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
        for check, bad in check_column(column, df[column.name]):
            rows.append(_violation(column, check, len(bad), _examples(bad)))
    violations: pd.DataFrame = pd.DataFrame(rows, columns=VIOLATION_COLUMNS)
    return violations


def _violation(column: Column, check: str, count: int, examples: str) -> dict[str, object]:
    return {
        "column": column.name,
        "check": check,
        "expected": expectation(column, check),
        "count": count,
        "examples": examples,
    }


def check(
    df: pd.DataFrame, schema: Schema, what: str, require_target: bool = True, consequence: str = ""
) -> None:
    """Raise DataValidationError if ``df`` (named ``what``) breaks the schema."""
    violations = validate(df, schema, require_target=require_target)
    if len(violations):
        raise DataValidationError(what, violations, consequence)


def row_problems(df: pd.DataFrame, schema: Schema) -> pd.Series:
    """Why each row breaks the schema (index: row, value: reasons joined by "; ").

    Rows absent from the result are valid. The target is not checked (scoring data has none),
    nor id uniqueness (a property of the whole file). Columns must be present.
    """
    reasons: list[pd.Series] = []
    for column in schema.columns:
        if column.role not in ("feature", "id") or column.name not in df.columns:
            continue
        for check_name, bad in check_column(column, df[column.name], whole_file=False):
            text = f"{column.name}: {check_name} (expected {expectation(column, check_name)})"
            reasons.append(pd.Series(text, index=bad.index, dtype=object))
    if not reasons:
        return pd.Series(dtype=object)
    joined: pd.Series = pd.concat(reasons).groupby(level=0, sort=True).agg("; ".join)
    return joined.astype(object)


def unexpected_columns(df: pd.DataFrame, schema: Schema) -> list[str]:
    """Columns of ``df`` the schema does not declare: reported, never used by the model."""
    known = {c.name for c in schema.columns}
    return [str(name) for name in df.columns if name not in known]


def format_violations(violations: pd.DataFrame) -> str:
    """The violation table as aligned plain text, one violation per line."""
    header: dict[Hashable, object] = {k: k for k in VIOLATION_COLUMNS}
    lines: list[dict[Hashable, object]] = [header, *violations.astype(str).to_dict("records")]
    widths = {k: max(len(str(line[k])) for line in lines) for k in VIOLATION_COLUMNS}
    text = [
        "  ".join(
            str(line[k]).rjust(widths[k]) if k == "count" else str(line[k]).ljust(widths[k])
            for k in VIOLATION_COLUMNS
        ).rstrip()
        for line in lines
    ]
    return "\n".join(text)
