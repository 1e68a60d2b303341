"""The FastAPI service: health, a valid prediction, and 422 for every kind of bad request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.schema import Schema


@pytest.fixture
def client(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, schema_path: Path
) -> Iterator[TestClient]:
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    from {{ cookiecutter.package_name }}.api import app

    with TestClient(app) as test_client:
        yield test_client


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


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_predict_returns_prediction_and_version(
    client: TestClient, record: dict[str, Any], schema: Schema, loaded
) -> None:
    response = client.post("/predict", json=record)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == loaded.version
    if schema.is_classification:
        assert body["prediction"] in schema.classes
        assert set(body["probabilities"]) == set(schema.classes)
        assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    else:
        assert isinstance(body["prediction"], float)
        assert "probabilities" not in body


def test_nullable_fields_may_be_omitted(
    client: TestClient, record: dict[str, Any], schema: Schema
) -> None:
    for column in schema.features:
        if column.nullable:
            record.pop(column.name)
    assert client.post("/predict", json=record).status_code == 200


def test_missing_field_is_rejected(
    client: TestClient, record: dict[str, Any], schema: Schema
) -> None:
    required = next(c.name for c in schema.features if not c.nullable)
    del record[required]
    response = client.post("/predict", json=record)
    assert response.status_code == 422 and required in response.text


def test_extra_field_is_rejected(client: TestClient, record: dict[str, Any]) -> None:
    assert client.post("/predict", json={**record, "unexpected": 1}).status_code == 422


def test_wrong_type_is_rejected(client: TestClient, record: dict[str, Any], schema: Schema) -> None:
    record[schema.features_of_type("numeric")[0]] = "not a number"
    assert client.post("/predict", json=record).status_code == 422


def test_out_of_range_and_unknown_category_are_rejected(
    client: TestClient, record: dict[str, Any], schema: Schema
) -> None:
    numeric = schema.column(schema.features_of_type("numeric")[0])
    assert (
        client.post("/predict", json={**record, numeric.name: numeric.max + 1}).status_code == 422
    )
    categorical = schema.features_of_type("categorical")[0]
    assert client.post("/predict", json={**record, categorical: "unknown"}).status_code == 422
