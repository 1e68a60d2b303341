"""The API contract, on the app ``serve`` runs: health and readiness, one answer per record in
the shape ``api.py`` declares, every answer logged, and a 4xx (never a 5xx) for every value
the schema refuses, each case derived from the schema."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from prodml_runtime.core.schema import Schema
from prodml_runtime.data.sample import example_record
from prodml_runtime.serving.contract import response_models
from prodml_runtime.serving.testing import Client, api_client
from prodml_runtime.settings import Settings

from {{ cookiecutter.package_name }}.project import PROJECT

from .cases import refused_values


@pytest.fixture
def api(settings: Settings) -> Iterator[Client]:
    with api_client(PROJECT, settings) as client:
        yield client


@pytest.fixture
def record(schema: Schema) -> dict[str, Any]:
    """A valid request made from the schema alone (a value for every feature)."""
    return example_record(schema)


def check_answer(schema: Schema, answer: dict[str, Any]) -> None:
    if schema.is_classification:
        assert answer["prediction"] in schema.classes
        assert math.isclose(sum(answer["probabilities"].values()), 1.0, abs_tol=1e-9)
    else:
        assert math.isfinite(answer["prediction"])


def test_health_readiness_and_the_served_model(api: Client) -> None:
    assert api.get("/health").status == 200
    ready = api.get("/ready")
    assert ready.status == 200 and ready.body["model_version"], ready.body
    card = api.get("/model").body
    assert card["version"] == ready.body["model_version"] and card["fast_path"]


def test_one_record_gets_an_answer_in_the_declared_shape(
    api: Client, schema: Schema, record: dict[str, Any]
) -> None:
    response = api.post("/predict", record)
    assert response.status == 200, response.body
    check_answer(schema, response.body)
    assert PROJECT.parts.answer is not None, "api.py's Answer"
    single, _ = response_models(PROJECT.parts.answer)
    single.model_validate(response.body)
    assert response.headers["x-request-id"] == response.body["request_id"]


def test_a_batch_gets_one_answer_per_record_in_order(
    api: Client, schema: Schema, record: dict[str, Any]
) -> None:
    nullable = [column.name for column in schema.features if column.nullable]
    records = [record, *({**record, name: None} for name in nullable[:4])]
    response = api.post("/predict/batch", {"records": records})
    assert response.status == 200, response.body
    answers = response.body["predictions"]
    assert len(answers) == len(records)
    for record, answer in zip(records, answers, strict=True):
        check_answer(schema, answer)
        alone = api.post("/predict", record).body["prediction"]
        if schema.problem_type == "regression":  # a batch's matrix product may round the last bit
            assert math.isclose(alone, answer["prediction"], rel_tol=1e-9), (alone, answer)
        else:
            assert alone == answer["prediction"]


def test_every_answer_is_logged_under_its_request_id(
    api: Client, settings: Settings, record: dict[str, Any]
) -> None:
    ids = [api.post("/predict", record).body["request_id"] for _ in range(3)]
    ids.append(api.post("/predict/batch", {"records": [record, record]}).body["request_id"])
    with sqlite3.connect(settings.prediction_log) as log:
        logged = [row[0] for row in log.execute("SELECT request_id FROM predictions")]
    assert sorted(logged) == sorted([*ids[:3], ids[3], ids[3]])


def test_each_value_the_schema_refuses_is_a_422_naming_the_feature(
    api: Client, schema: Schema, record: dict[str, Any]
) -> None:
    for column, value, _ in refused_values(schema):
        response = api.post("/predict", {**record, column.name: value})
        assert response.status == 422, (column.name, value, response.body)
        assert any(column.name in map(str, d["loc"]) for d in response.body["detail"])


def test_missing_values_follow_each_feature_nullability(
    api: Client, schema: Schema, record: dict[str, Any]
) -> None:
    for column in schema.features:
        response = api.post("/predict", {**record, column.name: None})
        assert response.status == (200 if column.nullable else 422), (column.name, response.body)


def test_fields_that_are_not_features_are_ignored_and_named(
    api: Client, record: dict[str, Any]
) -> None:
    response = api.post("/predict", {**record, "not_a_feature": 1})
    assert response.status == 200 and response.body["ignored"] == ["not_a_feature"]


def test_malformed_requests_are_4xx(api: Client, record: dict[str, Any]) -> None:
    assert api.post_bytes("/predict", b"{not json").status == 400
    assert api.post("/predict", [record]).status == 422
    assert api.post("/predict/batch", {"records": []}).status == 422
    assert api.post("/predict/batch", {"records": [record] * 1001}).status == 413
    assert api.get("/no-such-path").status == 404
