"""Property-based API tests: whatever the body, the answer is never a 5xx, and every 2xx is a
valid prediction. Bodies are arbitrary JSON (NaN and infinities included) and schema-shaped
records with one field mutated, removed or added; the API accepts such a record exactly when
batch scoring accepts the same row (``core.validation``: one coercion path)."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prodml_runtime.core.schema import Schema
from prodml_runtime.core.validation import row_problems

from tests.serving.support import check_prediction, valid_records

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
def test_any_json_body_is_never_a_server_error(call, schema: Schema, body: Any) -> None:
    for path in ("/predict", "/predict/batch"):
        status, text, _ = call("POST", path, raw=encode(body))
        assert_answer(status, text, path.endswith("batch"), schema)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_mutated_record_is_a_prediction_or_a_client_error(
    call, schema: Schema, data: st.DataObject
) -> None:
    record = data.draw(mutated_records(schema), label="record")
    status, text, _ = call("POST", "/predict", raw=encode(record))
    assert_answer(status, text, False, schema)
    assert (status == 200) == batch_accepts(record, schema), text
    if status == 200:
        assert json.loads(text)["ignored"] == sorted(set(record) - set(schema.feature_names))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_mutated_batch_is_predictions_or_a_client_error(
    call, schema: Schema, data: st.DataObject
) -> None:
    records = data.draw(st.lists(mutated_records(schema), max_size=4), label="records")
    status, text, _ = call("POST", "/predict/batch", raw=encode({"records": records}))
    assert_answer(status, text, True, schema)
    if status == 200:
        assert len(json.loads(text)["predictions"]) == len(records)


def batch_accepts(record: dict[str, Any], schema: Schema) -> bool:
    """Whether batch scoring takes this record as a row: the required features present, JSON
    scalars (NaN and infinities are not JSON), and no row problem. Other fields are ignored, as
    batch scoring ignores columns that are not features."""
    required = {c.name for c in schema.features if not c.nullable}
    if not required <= set(record):
        return False
    record = {name: value for name, value in record.items() if name in schema.feature_names}
    values = record.values()
    if any(
        isinstance(v, list | dict) or (isinstance(v, float) and not math.isfinite(v))
        for v in values
    ):
        return False
    row = pd.DataFrame.from_records([record], columns=schema.feature_names)
    return row_problems(row, schema).empty
