"""The demo projects the runtime's tests run on, and helpers deriving test cases from a schema.

The schemas (``schemas/*.yaml``) are the demo projects prodml generates, one per problem type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prodml_runtime.core.schema import Column, ColumnType, Schema
from prodml_runtime.project import Project
from prodml_runtime.training.families import Family, grid, loguniform, randomized
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge

SCHEMAS = Path(__file__).resolve().parent / "schemas"
PROBLEMS = ("binary", "multiclass", "regression")


def first_feature(schema: Schema, column_type: ColumnType) -> Column:
    """The first feature of ``column_type``; the test is skipped when the schema has none."""
    names = schema.features_of_type(column_type)
    if not names:
        pytest.skip(f"the schema has no {column_type} feature")
    return schema.column(names[0])


@dataclass(frozen=True)
class Bound:
    """A declared bound of a numeric feature and a value just beyond it."""

    column: Column
    check: str  # the validation check it breaks: "max" or "min"
    limit: float
    beyond: float


def a_bound(schema: Schema) -> Bound:
    """The first declared max (else min) of a numeric feature; skipped when none is declared."""
    numeric = [schema.column(name) for name in schema.features_of_type("numeric")]
    for column in numeric:
        if column.max is not None:
            return Bound(column, "max", column.max, column.max + 1)
    for column in numeric:
        if column.min is not None:
            return Bound(column, "min", column.min, column.min - 1)
    pytest.skip("the schema declares no min or max on a numeric feature")


@dataclass(frozen=True)
class BadCell:
    """A value a feature column refuses, and the validation check that refuses it."""

    column: str
    value: object
    check: str

    def put(self, frame: pd.DataFrame, rows: object) -> None:
        """Write the value into ``frame`` at ``rows`` (index labels) of its column."""
        frame[self.column] = frame[self.column].astype(object)
        frame.loc[rows, self.column] = self.value


def bad_cells(schema: Schema) -> list[BadCell]:
    """One refused value per kind the schema allows: every schema has at least one (each type
    has values it refuses), and a declared bound adds one."""
    cells = []
    kinds: dict[ColumnType, tuple[str, str]] = {
        "numeric": ("oops", "numeric_type"),
        "categorical": ("not-a-category", "category"),
        "boolean": ("maybe", "boolean"),
        "datetime": ("not-a-date", "datetime"),
    }
    for column_type, (value, check) in kinds.items():
        names = schema.features_of_type(column_type)
        if names:
            cells.append(BadCell(names[0], value, check))
    numeric = [schema.column(name) for name in schema.features_of_type("numeric")]
    bounded = next((c for c in numeric if c.max is not None or c.min is not None), None)
    if bounded is not None:
        bound = a_bound(schema)
        cells.insert(1, BadCell(bound.column.name, bound.beyond, bound.check))
    return cells


def demo_families(schema: Schema) -> dict[str, Family]:
    """Small searches of the demo's families (a project's models.py has the real ones)."""
    rate = loguniform(0.05, 0.2)
    if schema.is_classification:
        boosting: Any = HistGradientBoostingClassifier(early_stopping=False)
        linear: Any = LogisticRegression(max_iter=2000)
    else:
        boosting, linear = HistGradientBoostingRegressor(early_stopping=False), Ridge()
    return {
        "linear": Family(linear, grid()),
        "hist_gradient_boosting": Family(
            boosting, randomized(2, max_iter=[40, 80], learning_rate=rate)
        ),
    }


def demo_project(schema: Schema, data: Path, serving: str = "none", **options: Any) -> Project:
    """The demo project with the test families, serving ``serving``."""
    return Project(name="demo", data=data, models=demo_families(schema), serving=serving, **options)
