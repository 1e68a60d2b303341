"""Property-based API tests: whatever the body, the answer is never a 5xx, and every 2xx is a
valid prediction. Bodies are arbitrary JSON (NaN and infinities included) and schema-shaped
records with one field mutated, removed or added; the API accepts such a record exactly when
batch scoring accepts the same row (``core.validation``: one coercion path)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_api import check_prediction  # tests/api is on sys.path (pytest's default rootdir mode)

from {{ cookiecutter.package_name }}.config import load_schema
from {{ cookiecutter.package_name }}.core.schema import Column, Schema
from {{ cookiecutter.package_name }}.core.validation import row_problems

SCHEMA = load_schema(Path(__file__).resolve().parents[2] / "configs" / "schema.yaml")
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def valid_value(column: Column) -> st.SearchStrategy[Any]:
    if column.type == "categorical":
        values: st.SearchStrategy[Any] = st.sampled_from(list(column.categories or ()))
    elif column.type == "boolean":
        values = st.booleans()
    elif column.type == "datetime":
        values = st.dates(dt.date(1900, 1, 1)).map(
            lambda day: day.strftime(column.format or "%Y-%m-%d")
        )
    else:
        low = column.min if column.min is not None else -1e9
        high = column.max if column.max is not None else 1e9
        values = st.floats(min_value=low, max_value=high)
    return (values | st.none()) if column.nullable else values


def valid_records(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({c.name: valid_value(c) for c in schema.features})


@st.composite
def mutated_records(draw: st.DrawFn, schema: Schema) -> dict[str, Any]:
    """A valid record, then at most one field replaced by any JSON value, removed, or added."""
    record = draw(valid_records(schema))
    name = draw(st.sampled_from(schema.feature_names))
    action = draw(st.sampled_from(["keep", "replace", "remove", "add"]))
    if action == "replace":
        record[name] = draw(json_values)
    elif action == "remove":
        del record[name]
    elif action == "add":
        record[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return record


def encode(body: Any) -> str:
    return json.dumps(body)  # NaN and infinities become the NaN/Infinity literals


def assert_answer(status: int, text: str, batch: bool, schema: Schema) -> None:
    assert status < 500, text
    if 200 <= status < 300:
        body = json.loads(text)
        outputs = body["predictions"] if batch else [body]
        assert outputs
        for output in outputs:
            check_prediction(output, schema)


@PROPERTY_SETTINGS
@given(body=json_values)
def test_any_json_body_is_never_a_server_error(call, body: Any) -> None:
    for path in ("/predict", "/predict/batch"):
        status, text, _ = call("POST", path, raw=encode(body))
        assert_answer(status, text, path.endswith("batch"), SCHEMA)


@PROPERTY_SETTINGS
@given(record=mutated_records(SCHEMA))
def test_mutated_record_is_a_prediction_or_a_client_error(call, record: dict[str, Any]) -> None:
    status, text, _ = call("POST", "/predict", raw=encode(record))
    assert_answer(status, text, False, SCHEMA)
    assert (status == 200) == batch_accepts(record), text
    if status == 200:
        assert json.loads(text)["ignored"] == sorted(set(record) - set(SCHEMA.feature_names))


@PROPERTY_SETTINGS
@given(records=st.lists(mutated_records(SCHEMA), max_size=4))
def test_mutated_batch_is_predictions_or_a_client_error(
    call, records: list[dict[str, Any]]
) -> None:
    status, text, _ = call("POST", "/predict/batch", raw=encode({"records": records}))
    assert_answer(status, text, True, SCHEMA)
    if status == 200:
        assert len(json.loads(text)["predictions"]) == len(records)


def batch_accepts(record: dict[str, Any]) -> bool:
    """Whether batch scoring takes this record as a row: the required features present, JSON
    scalars (NaN and infinities are not JSON), and no row problem. Other fields are ignored, as
    batch scoring ignores columns that are not features."""
    required = {c.name for c in SCHEMA.features if not c.nullable}
    if not required <= set(record):
        return False
    record = {name: value for name, value in record.items() if name in SCHEMA.feature_names}
    values = record.values()
    if any(
        isinstance(v, list | dict) or (isinstance(v, float) and not math.isfinite(v))
        for v in values
    ):
        return False
    row = pd.DataFrame.from_records([record], columns=SCHEMA.feature_names)
    return row_problems(row, SCHEMA).empty
