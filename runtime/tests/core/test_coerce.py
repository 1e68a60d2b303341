"""One coercion path: a row reads the same wherever it comes from.

For any row, validation (what ``validate`` and ``train`` refuse), batch scoring (what
``predict`` sets aside) and monitoring accept or refuse it alike, and read the same features,
whether it arrives as CSV text or typed (Parquet, JSON). The rows are drawn from the project's
own schema: valid values, values that break it, and the many spellings real files use.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prodml_runtime.config import load_schema
from prodml_runtime.core.coerce import (
    category_lookup,
    category_text,
    coerce_features,
    coerce_types,
    numbers,
)
from prodml_runtime.core.schema import Column
from prodml_runtime.core.validation import row_problems, validate
from prodml_runtime.io.tables import read_chunks

from tests.demo import SCHEMAS

SCHEMA = load_schema(SCHEMAS / "binary.yaml")
PROPERTY = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def spellings(column: Column) -> st.SearchStrategy[Any]:
    """Values a file or a client may send for ``column``, valid or not, typed as JSON would."""
    missing = st.none()
    if column.type == "categorical":
        declared = list(column.categories or ())
        numeric = [float(c) for c in declared if _is_number(c)]
        values: st.SearchStrategy[Any] = (
            st.sampled_from(declared)
            | st.text(min_size=1, max_size=6).filter(lambda t: t.strip() == t)
            | (st.sampled_from(numeric).flatmap(lambda x: st.sampled_from([x, int(x)]))
               if numeric and all(x.is_integer() for x in numeric) else st.nothing())
        )  # fmt: skip
    elif column.type == "boolean":
        values = st.sampled_from([True, False, 0, 1, 0.0, 1.0, "true", "False", "1", "0", 2, "yes"])
    elif column.type == "datetime":
        values = (
            dates(column)
            | st.dates().map(lambda day: day.isoformat())
            | st.sampled_from(["2024-13-01", "soon", 7, True])
        )
    else:
        low = column.min if column.min is not None else -1e6
        high = column.max if column.max is not None else 1e6
        values = (
            st.floats(min_value=low - 10, max_value=high + 10)
            | st.integers(min_value=int(low) - 10, max_value=int(high) + 10)
            | st.sampled_from(["abc", True])
        )
    return values | missing


def dates(column: Column) -> st.SearchStrategy[Any]:
    """Dates as a file writes them in ``column``'s format (as the number it spells, too)."""
    written = st.dates(dt.date(1900, 1, 1)).map(lambda d: d.strftime(column.format or "%Y-%m-%d"))
    return written | written.filter(str.isdigit).map(int)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


rows = st.lists(
    st.fixed_dictionaries({c.name: spellings(c) for c in SCHEMA.features}), min_size=1, max_size=6
).map(lambda records: [{**with_id(r, i)} for i, r in enumerate(records)])
#: The columns a scoring file holds: the id (if the schema has one) and the features.
COLUMNS = ([SCHEMA.id] if SCHEMA.id else []) + SCHEMA.feature_names


def with_id(record: dict[str, Any], row: int) -> dict[str, Any]:
    return {SCHEMA.id: f"row-{row}", **record} if SCHEMA.id else record


def as_csv(records: list[dict[str, Any]], path: Path) -> pd.DataFrame:
    """``records`` written as a CSV holds them (text; empty for missing), read as batch reads."""
    names = COLUMNS
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(names)
        for record in records:
            writer.writerow(["" if record[n] in (None, "") else str(record[n]) for n in names])
    (chunk,) = read_chunks(path, 1000, names)
    return chunk


def valid_rows(problems: pd.Series, count: int) -> list[int]:
    return [row for row in range(count) if row not in set(problems.index)]


@PROPERTY
@given(records=rows)
def test_any_row_is_accepted_or_refused_alike_and_read_the_same_from_csv_or_typed(
    records: list[dict[str, Any]], tmp_path: Path
) -> None:
    typed = pd.DataFrame.from_records(records, columns=COLUMNS)
    text = as_csv(records, tmp_path / "rows.csv")
    from_typed, from_text = row_problems(typed, SCHEMA), row_problems(text, SCHEMA)
    assert list(from_typed.index) == list(from_text.index), (from_typed, from_text)
    accepted = valid_rows(from_typed, len(records))
    assert validate(typed.iloc[accepted], SCHEMA, require_target=False).empty
    assert validate(text.iloc[accepted], SCHEMA, require_target=False).empty
    pd.testing.assert_frame_equal(
        coerce_features(typed.iloc[accepted], SCHEMA).reset_index(drop=True),
        coerce_features(text.iloc[accepted], SCHEMA).reset_index(drop=True),
    )
    for column in SCHEMA.features:
        if column.type == "categorical" and accepted:
            read = coerce_features(typed.iloc[accepted], SCHEMA)[column.name].dropna()
            assert set(read) <= set(column.categories or ())


def test_a_number_like_category_is_matched_by_text_or_by_value() -> None:
    """Declared "1" or "1.0": 1, 1.0, "1" and "1.0" all stand for it; "01" is text."""
    for declared in (["1", "2"], ["1.0", "2.0"]):
        lookup = category_lookup(declared)
        read = [category_text(value, lookup) for value in (1, 1.0, "1", "1.0", "1.00")]
        assert read == [declared[0]] * 5, (declared, read)
        assert category_text("abc", lookup) == "abc"  # unknown: its own text
        assert category_text(3, lookup) == "3"


def test_coerce_types_normalises_json_and_csv_values() -> None:
    raw = pd.DataFrame({"n": ["1.5", None], "c": [3, None], "b": ["true", False]})
    out = coerce_types(raw, {"n": "numeric", "c": "categorical", "b": "boolean"})
    assert out["n"].tolist()[0] == 1.5 and np.isnan(out["n"].tolist()[1])
    assert out["c"].tolist()[0] == "3" and pd.isna(out["c"].tolist()[1])
    assert out["b"].tolist() == [1.0, 0.0]


def test_coerce_types_typed_columns_give_what_the_per_value_rules_give() -> None:
    """Float booleans and text categoricals take vectorized paths: same values as object columns."""
    raw = pd.DataFrame({"b": [1.0, 0.0, -0.0, 2.0, np.nan], "c": ["a", None, "b", "c", "d"]})
    raw["c"] = raw["c"].astype("str")
    types = {"b": "boolean", "c": "categorical"}
    out = coerce_types(raw, types)
    pd.testing.assert_frame_equal(out, coerce_types(raw.astype(object), types))
    assert out["b"].tolist()[:2] == [1.0, 0.0] and out["b"].iloc[2:].isna().all()
    assert out["c"].dtype == object and out["c"].tolist()[2:] == ["b", "c", "d"]


@pytest.mark.parametrize("dtype", [object, "str"])
def test_numbers_parse_text_as_pandas_does_whichever_parser_runs(dtype: Any) -> None:
    clean = pd.Series(["12.19", "-0.5", "1e3", None, "+7", ".25"], dtype=dtype)
    dirty = pd.Series(["12.19", "oops", " 3", None, "1_0"], dtype=dtype)
    for text in (clean, dirty):  # clean text goes through Arrow, dirty through pandas
        expected = pd.to_numeric(text, errors="coerce").astype(float)
        pd.testing.assert_series_equal(numbers(text), expected)
    mixed = pd.Series([1.5, "2.5", None, True], dtype=object)
    assert numbers(mixed).tolist()[:2] == [1.5, 2.5] and numbers(mixed).iloc[2:].isna().all()
