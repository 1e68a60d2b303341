"""The HTTP service's predictions on each problem type: every prediction endpoint, the model
card, metrics, a 422 for every kind of refused value, micro-batching, and rollback.

(The HTTP mechanics every problem type shares, request ids, limits, malformed bodies and
concurrency, are ``test_api_http.py``.)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prodml_runtime.core.model import LoadedModel
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import promotion, registry
from prodml_runtime.io.prediction_log import PredictionLog
from prodml_runtime.serving.fast_path import FastModel
from prodml_runtime.serving.service import Service
from prodml_runtime.settings import Settings
from prodml_runtime.training.train import TrainingResult

from tests.demo import demo_project
from tests.serving.support import asyncio_loop, check_prediction, gevent_loop, real_record


@pytest.fixture
def record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    return real_record(schema, sample)


def test_predict_returns_prediction_version_and_request_id(
    call, record, schema: Schema, loaded: LoadedModel, prediction_log_path: Path
) -> None:
    status, text, headers = call("POST", "/predict", json=record)
    assert status == 200, text
    body = json.loads(text)
    assert body["model_version"] == loaded.version
    assert body["request_id"] == headers["x-request-id"]
    check_prediction(body, schema)
    logged = PredictionLog(prediction_log_path).read()
    assert logged["request_id"].tolist() == [body["request_id"]]
    assert logged["item"].tolist() == [0] and logged["source"].tolist() == ["api"]
    assert logged["model_version"].tolist() == [loaded.version]
    assert logged["inputs"][0] == record
    assert logged["outputs"][0] == {
        k: body[k] for k in ("prediction", "probabilities") if k in body
    }
    assert logged["latency_ms"][0] > 0


def test_the_api_scores_like_the_pipeline(call, record, schema: Schema, loaded) -> None:
    body = json.loads(call("POST", "/predict", json=record)[1])
    frame = pd.DataFrame([record])
    if schema.is_classification:
        classes = [str(c) for c in loaded.pipeline.classes_]
        expected = dict(zip(classes, loaded.pipeline.predict_proba(frame)[0], strict=True))
        assert body["probabilities"] == pytest.approx(expected, rel=0, abs=0)
    else:
        assert body["prediction"] == float(loaded.pipeline.predict(frame)[0])


def test_batch_predicts_each_record_in_order_and_logs_each(
    call, record, schema: Schema, prediction_log_path: Path
) -> None:
    nullable = {c.name for c in schema.features if c.nullable}
    records = [record, {k: v for k, v in record.items() if k not in nullable}, record]
    status, text, headers = call("POST", "/predict/batch", json={"records": records})
    assert status == 200, text
    body = json.loads(text)
    assert len(body["predictions"]) == 3 and body["request_id"] == headers["x-request-id"]
    single = json.loads(call("POST", "/predict", json=record)[1])
    for output in body["predictions"]:
        check_prediction(output, schema)
    assert body["predictions"][0]["prediction"] == single["prediction"]
    assert body["predictions"][0] == body["predictions"][2]
    logged = PredictionLog(prediction_log_path).read()
    batch = logged[logged["request_id"] == body["request_id"]]
    assert batch["item"].tolist() == [0, 1, 2]


def test_model_card(call, loaded) -> None:
    status, text, _ = call("GET", "/model")
    assert status == 200
    body = json.loads(text)
    assert body["version"] == loaded.version
    assert body["sha256"] == loaded.metadata["sha256"]
    assert body["trained_at"] == loaded.metadata["created_at"]
    assert body["metrics"]["primary_metric"] == loaded.metadata["metrics"]["primary_metric"]
    assert body["schema"] == loaded.metadata["schema"]
    lineage = loaded.metadata.get("lineage", {})
    assert body["lineage"] == {
        "data_sha256": lineage.get("data_hash"),
        "git_commit": lineage.get("git_commit"),
        "run_id": lineage.get("run_id"),
    }
    fast = FastModel(loaded.pipeline, loaded.schema)
    assert body["fast_path"] == fast.mode and body["fast_path_refused"] == fast.reasons


def test_metrics(call, record, schema: Schema, loaded) -> None:
    prediction = json.loads(call("POST", "/predict", json=record)[1])["prediction"]
    call("POST", "/predict", json={})
    status, text, headers = call("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{endpoint="/predict",method="POST",status="200"} 1.0' in text
    assert 'http_requests_total{endpoint="/predict",method="POST",status="422"} 1.0' in text
    assert 'http_request_duration_seconds_count{endpoint="/predict"} 2.0' in text
    labels = '{sha256="' + loaded.metadata["sha256"] + '",version="' + loaded.version + '"}'
    assert "model_info" + labels + " 1.0" in text
    if schema.is_classification:
        assert 'predictions_total{label="' + prediction + '"} 1.0' in text
    else:
        assert "prediction_value_count 1.0" in text


@pytest.mark.parametrize("framework", ["fastapi"], indirect=True)  # Flask publishes no OpenAPI
def test_openapi_documents_each_request_body(call, schema: Schema) -> None:
    document = json.loads(call("GET", "/openapi.json")[1])
    components = document["components"]["schemas"]
    for path in ("/predict", "/predict/batch"):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        name = body["schema"]["$ref"].removeprefix("#/components/schemas/")
        assert name in components, path
    record = components["PredictionRequest"]
    assert set(record["properties"]) == set(schema.feature_names)
    assert record["additionalProperties"] is True, "other fields are accepted, and ignored"
    (example,) = record["examples"]  # "Try it out" in /docs: a valid request, as it is
    assert set(example) == set(schema.feature_names)
    assert call("POST", "/predict", json=example)[0] == 200


def test_nullable_fields_may_be_omitted(call, record, schema: Schema) -> None:
    for column in schema.features:
        if column.nullable:
            record.pop(column.name)
    assert call("POST", "/predict", json=record)[0] == 200


def test_missing_field_is_rejected_and_named(call, record, schema: Schema) -> None:
    required = next(c.name for c in schema.features if not c.nullable)
    del record[required]
    status, text, _ = call("POST", "/predict", json=record)
    assert status == 422
    assert any(e["loc"][-1] == required for e in json.loads(text)["detail"])


def test_fields_that_are_not_features_are_ignored_and_named(call, record, schema: Schema) -> None:
    """As batch scoring ignores columns that are not features: the id, ignored columns, others."""
    others = {c.name: "x" for c in schema.columns if c.role in ("id", "ignored")}
    _, plain, _ = call("POST", "/predict", json=record)
    status, text, _ = call("POST", "/predict", json={**record, **others, "unexpected": 1})
    assert status == 200, text
    body = json.loads(text)
    assert body["ignored"] == sorted([*others, "unexpected"])
    assert body["prediction"] == json.loads(plain)["prediction"]
    status, text, _ = call("POST", "/predict/batch", json={"records": [record, {**record, "u": 2}]})
    assert status == 200 and json.loads(text)["ignored"] == ["u"], text


@pytest.mark.parametrize("value", ["not a number", True, [1.0], {"v": 1}])
def test_wrong_type_is_rejected(call, record, feature_of, value: Any) -> None:
    name = feature_of("numeric").name
    status, text, _ = call("POST", "/predict", json={**record, name: value})
    assert status == 422 and json.loads(text)["detail"][0]["loc"][-1] == name


def test_numeric_text_is_read_as_the_number_it_spells(call, record, feature_of) -> None:
    """A CSV cell holds text: the API accepts a number sent as text, as batch scoring does."""
    name = feature_of("numeric").name
    _, as_number, _ = call("POST", "/predict", json={**record, name: 3})
    status, as_text, _ = call("POST", "/predict", json={**record, name: "3"})
    assert status == 200
    assert json.loads(as_text)["prediction"] == json.loads(as_number)["prediction"]


def test_out_of_range_value_is_rejected_and_named(call, record, bound) -> None:
    status, text, _ = call("POST", "/predict", json={**record, bound.column.name: bound.beyond})
    assert status == 422 and json.loads(text)["detail"][0]["loc"][-1] == bound.column.name


def test_each_kind_of_refused_value_is_rejected_and_named(call, record, invalid_cells) -> None:
    """An unknown category, a non-boolean, text that is no number: whichever the schema has."""
    for cell in invalid_cells:
        status, text, _ = call("POST", "/predict", json={**record, cell.column: cell.value})
        assert status == 422, cell
        assert json.loads(text)["detail"][0]["loc"][-1] == cell.column


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_rejected_not_a_server_error(
    call, record, feature_of, literal
) -> None:
    name = feature_of("numeric").name
    raw = json.dumps({**record, name: 0.123456789}).replace("0.123456789", literal, 1)
    assert literal in raw
    status, text, _ = call("POST", "/predict", raw=raw)
    assert status == 422, text
    assert json.loads(text)["detail"][0]["loc"][-1] == name
    batch = '{"records": [' + raw + "]}"
    assert call("POST", "/predict/batch", raw=batch)[0] == 422


@pytest.mark.parametrize("run", [asyncio_loop, gevent_loop])
def test_requests_of_one_loop_iteration_are_scored_and_logged_together(
    run,
    model_dir: Path,
    schema: Schema,
    schema_path: Path,
    sample_path: Path,
    tmp_path: Path,
    record,
) -> None:
    log_path = tmp_path / "predictions.db"
    config = Settings(model_dir=model_dir, schema_path=schema_path, prediction_log=log_path)
    service = Service(schema, config, demo_project(schema, sample_path)).start()
    assert service.fast is not None
    sizes: list[int] = []
    score = service.fast.score
    service.fast.score = lambda records: (sizes.append(len(records)), score(records))[1]  # type: ignore[method-assign]
    requests = [(f"request-{n}", [record] * n) for n in (1, 2, 3)]
    try:
        outputs = run(service, requests)
    finally:
        service.stop()
    assert sizes == [6]  # one scoring call for the three requests
    assert [len(output) for output in outputs] == [1, 2, 3]
    for output in outputs:
        check_prediction(output[0], schema)
    logged = PredictionLog(log_path).read()
    assert logged.groupby("request_id").size().to_dict() == {r: len(x) for r, x in requests}
    assert logged["timestamp"].nunique() == 1  # one batch, one transaction


def test_after_rollback_a_restarted_api_serves_the_previous_champion(
    start_api, trained: TrainingResult, schema: Schema, tmp_path: Path
) -> None:
    root = tmp_path / "models"
    save = {
        "schema": schema,
        "metrics": trained.registry_metrics(),
        "params": trained.registry_params(),
    }
    first = registry.save(trained.pipeline, root, **save)
    # A second artifact (different bytes, same predictions) promoted over the first.
    second = registry.save(copy.deepcopy(trained.pipeline).set_params(verbose=True), root, **save)
    assert first != second
    promotion.promote(root, first)
    promotion.promote(root, second)
    with start_api(root) as call:
        assert json.loads(call("GET", "/model")[1])["version"] == second
    assert promotion.rollback(root) == first
    with start_api(root) as call:
        assert json.loads(call("GET", "/model")[1])["version"] == first
        assert json.loads(call("GET", "/ready")[1])["model_version"] == first
