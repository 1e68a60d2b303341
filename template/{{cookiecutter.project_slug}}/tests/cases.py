"""Test cases derived from the schema alone: values each feature refuses, and rows pushed to
the edge of what the schema declares. Nothing here names a column or assumes a property of
any particular data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prodml_runtime.core.schema import Column, Schema

#: The project's root: configs/ and the data file are read from here.
ROOT = Path(__file__).resolve().parents[1]

#: A value each feature type refuses, and the check that refuses it.
REFUSED = {
    "numeric": ("not a number", "numeric_type"),
    "categorical": ("not one of the categories", "category"),
    "boolean": ("maybe", "boolean"),
    "datetime": ("not a date", "datetime"),
}


def refused_values(schema: Schema) -> list[tuple[Column, Any, str]]:
    """(feature, a value it refuses, the check) for each feature, and each declared bound."""
    cases: list[tuple[Column, Any, str]] = []
    for column in schema.features:
        value, check = REFUSED[column.type]
        cases.append((column, value, check))
        if column.max is not None:
            cases.append((column, column.max + 1, "max"))
        if column.min is not None:
            cases.append((column, column.min - 1, "min"))
    return cases


def shifted(schema: Schema, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every feature moved to one end of what it takes: a drifted batch."""
    out = frame.copy()
    for column in schema.features:
        if column.type == "numeric":
            low, high = column.min, column.max
            if low is not None and high is not None:
                out[column.name] = low + 0.97 * (high - low)
            else:
                values = pd.to_numeric(out[column.name], errors="coerce")
                out[column.name] = values.max() + 10 * (values.std() or 1.0)
        elif column.type == "categorical":
            out[column.name] = (column.categories or ())[-1]
        elif column.type == "boolean":
            out[column.name] = True
        elif column.type == "datetime":
            out[column.name] = pd.Timestamp("2099-12-31").strftime(column.format or "%Y-%m-%d")
    return out
