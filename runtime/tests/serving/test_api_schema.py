"""A client generated from the published OpenAPI document agrees with the server: a value of a
feature is accepted by ``/predict`` (on either framework) exactly when the request schema
``GET /openapi.json`` publishes says it is valid; numeric text (``"12"``) and booleans as 0/1
or text are accepted, and published, as batch scoring reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from prodml_runtime.core.schema import Schema
from prodml_runtime.serving.app_fastapi import create_app
from prodml_runtime.settings import Settings

from tests.demo import demo_project
from tests.serving.support import real_record
from tests.serving.values import schema_accepts, values_of

CHECKS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def published(schema: Schema, schema_path: Path, sample_path: Path) -> Draft202012Validator:
    """A validator of ``POST /predict``'s body, from the OpenAPI document the API publishes."""
    config = Settings(schema_path=schema_path, model_dir=Path("absent"))
    app = create_app(demo_project(schema, sample_path, serving="fastapi"), config)
    document = TestClient(app).get("/openapi.json").json()
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    return Draft202012Validator({**body["schema"], "components": document["components"]})


@pytest.fixture
def record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    return real_record(schema, sample)


@CHECKS
@given(data=st.data())
def test_the_server_accepts_a_value_exactly_when_the_published_schema_does(
    call, schema: Schema, published: Draft202012Validator, record, data: st.DataObject
) -> None:
    column = data.draw(st.sampled_from(schema.features), label="feature")
    sent = {**record, column.name: data.draw(values_of(column), label="value")}
    status, text, _ = call("POST", "/predict", raw=json.dumps(sent))
    assert status in (200, 422), text
    assert (status == 200) == schema_accepts(published, sent, column), text


def test_numeric_text_and_booleans_as_numbers_or_text_are_published_and_accepted(
    call, schema: Schema, published: Draft202012Validator, record, feature_of
) -> None:
    """The probe's finding: ``"12"`` for a number, ``0`` for a boolean, were accepted while the
    published schema refused them."""
    number, flag = feature_of("numeric").name, feature_of("boolean").name
    for value in ("12", " 12.0 ", "1.2e1"):
        assert published.is_valid({**record, number: value}), value
        assert call("POST", "/predict", json={**record, number: value})[0] == 200, value
    for value in (0, 1, 1.0, "true", "FALSE", "0", "1.0"):
        assert published.is_valid({**record, flag: value}), value
        assert call("POST", "/predict", json={**record, flag: value})[0] == 200, value
    for value in ("yes", 2, "-0"):
        assert not published.is_valid({**record, flag: value}), value
        assert call("POST", "/predict", json={**record, flag: value})[0] == 422, value
