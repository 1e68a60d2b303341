"""The HTTP service: health, a valid prediction, and a 4xx for every kind of bad request."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.schema import Schema


@pytest.fixture
def record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    """A complete, valid request built from a real row."""
    row = sample.dropna().iloc[0]
    values: dict[str, Any] = {}
    for column in schema.features:
        value = row[column.name]
        values[column.name] = (
            bool(value)
            if column.type == "boolean"
            else float(value)
            if column.type == "numeric"
            else str(value)
        )
    return values


def test_health(call) -> None:
    status, text = call("GET", "/health")
    assert status == 200 and json.loads(text) == {"status": "ok"}


def test_predict_returns_prediction_and_version(call, record, schema: Schema, loaded) -> None:
    status, text = call("POST", "/predict", json=record)
    assert status == 200, text
    body = json.loads(text)
    assert body["model_version"] == loaded.version
    if schema.is_classification:
        assert body["prediction"] in schema.classes
        assert set(body["probabilities"]) == set(schema.classes)
        assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    else:
        assert isinstance(body["prediction"], float)
        assert "probabilities" not in body


def test_nullable_fields_may_be_omitted(call, record, schema: Schema) -> None:
    for column in schema.features:
        if column.nullable:
            record.pop(column.name)
    assert call("POST", "/predict", json=record)[0] == 200


def test_missing_field_is_rejected_and_named(call, record, schema: Schema) -> None:
    required = next(c.name for c in schema.features if not c.nullable)
    del record[required]
    status, text = call("POST", "/predict", json=record)
    assert status == 422 and required in text


def test_extra_field_is_rejected_and_named(call, record) -> None:
    status, text = call("POST", "/predict", json={**record, "unexpected": 1})
    assert status == 422
    assert any(error["loc"][-1] == "unexpected" for error in json.loads(text)["detail"])


def test_wrong_type_is_rejected(call, record, schema: Schema) -> None:
    record[schema.features_of_type("numeric")[0]] = "not a number"
    assert call("POST", "/predict", json=record)[0] == 422


def test_out_of_range_and_unknown_category_are_rejected(call, record, schema: Schema) -> None:
    numeric = schema.column(schema.features_of_type("numeric")[0])
    assert call("POST", "/predict", json={**record, numeric.name: numeric.max + 1})[0] == 422
    categorical = schema.features_of_type("categorical")[0]
    assert call("POST", "/predict", json={**record, categorical: "unknown"})[0] == 422


def test_malformed_json_is_a_client_error(call) -> None:
    assert call("POST", "/predict", raw="{not json")[0] in (400, 422)
