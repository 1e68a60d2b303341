"""The HTTP service: every endpoint, a 4xx for every kind of bad request, request ids, logs,
metrics, the prediction log under concurrent load, and rollback."""

from __future__ import annotations

import asyncio
import copy
import http.client
import io
import json
import logging
import socket
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.schema import Schema
from {{ cookiecutter.package_name }}.io import promotion, registry
from {{ cookiecutter.package_name }}.io.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.serving.fast_path import FastModel
from {{ cookiecutter.package_name }}.serving.service import Service
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.training.train import TrainingResult


@pytest.fixture
def record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    return real_record(schema, sample)


def real_record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
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


def check_prediction(output: dict[str, Any], schema: Schema) -> None:
    """``output`` is a valid prediction for ``schema``'s problem type."""
    if schema.is_classification:
        assert output["prediction"] in schema.classes
        probabilities = output["probabilities"]
        assert set(probabilities) == set(schema.classes)
        assert all(0.0 <= p <= 1.0 for p in probabilities.values())
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert max(probabilities, key=probabilities.get) == output["prediction"]
    else:
        assert isinstance(output["prediction"], float)
        assert "probabilities" not in output


def test_health_and_ready(call, loaded) -> None:
    status, text, _ = call("GET", "/health")
    assert status == 200 and json.loads(text) == {"status": "ok"}
    status, text, _ = call("GET", "/ready")
    assert status == 200 and json.loads(text) == {
        "status": "ready",
        "model_version": loaded.version,
    }


def test_without_a_model_it_runs_but_is_not_ready(start_api, tmp_path: Path, record) -> None:
    with start_api(tmp_path / "empty-registry") as call:
        assert call("GET", "/health")[0] == 200
        status, text, _ = call("GET", "/ready")
        assert status == 503 and "make train" in json.loads(text)["detail"]
        status, text, _ = call("POST", "/predict", json=record)
        assert status == 503, text
        assert call("GET", "/model")[0] == 503


def test_predict_returns_prediction_version_and_request_id(
    call, record, schema: Schema, loaded, prediction_log_path: Path
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


def test_request_id_is_honoured_or_generated_on_every_response(call, record) -> None:
    given = {"X-Request-ID": "order-42.retry:1"}
    status, text, headers = call("POST", "/predict", json=record, headers=given)
    assert headers["x-request-id"] == "order-42.retry:1" == json.loads(text)["request_id"]
    for method, path in (("GET", "/health"), ("GET", "/nowhere"), ("POST", "/predict")):
        first, second = call(method, path)[2], call(method, path)[2]
        assert len(first["x-request-id"]) == 32 and first["x-request-id"] != second["x-request-id"]
    unsafe = call("GET", "/health", headers={"X-Request-ID": "x" * 500})[2]
    assert unsafe["x-request-id"] != "x" * 500


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


def test_batch_limits(
    start_api, model_dir: Path, monkeypatch: pytest.MonkeyPatch, record, schema: Schema
) -> None:
    monkeypatch.setenv("MAX_BATCH_SIZE", "2")
    with start_api(model_dir) as call:
        assert call("POST", "/predict/batch", json={"records": [record] * 2})[0] == 200
        status, text, _ = call("POST", "/predict/batch", json={"records": [record] * 3})
        assert status == 413 and "at most 2" in json.loads(text)["detail"]
        status, text, _ = call("POST", "/predict/batch", json={"records": [{"bad": 1}] * 3})
        assert status == 413
        assert call("POST", "/predict/batch", json={"records": []})[0] == 422
        assert call("POST", "/predict/batch", json=[record])[0] == 422
        required = [c.name for c in schema.features if not c.nullable]
        if required:  # a record without a required feature is refused, and located
            lacking = {k: v for k, v in record.items() if k != required[0]}
            status, text, _ = call("POST", "/predict/batch", json={"records": [record, lacking]})
            assert status == 422
            assert any(e["loc"][-2:] == [1, required[0]] for e in json.loads(text)["detail"])


def test_body_over_the_size_limit_is_refused_unread(
    start_api, model_dir: Path, monkeypatch: pytest.MonkeyPatch, record
) -> None:
    size = len(json.dumps(record))
    monkeypatch.setenv("MAX_BODY_BYTES", str(size))
    with start_api(model_dir) as call:
        assert call("POST", "/predict", raw=json.dumps(record))[0] == 200
        status, text, headers = call("POST", "/predict", raw=json.dumps(record) + " ")
        assert status == 413 and f"MAX_BODY_BYTES={size}" in json.loads(text)["detail"]
        assert headers["x-request-id"]
        status, _, _ = call("POST", "/predict/batch", json={"records": [record] * 2})
        assert status == 413


def test_chunked_body_over_the_size_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch, record, request: pytest.FixtureRequest
) -> None:
    body = json.dumps(record).encode()
    monkeypatch.setenv("MAX_BODY_BYTES", str(len(body)))
    base = request.getfixturevalue("live_url")  # started after the limit is set
    host, port = base.removeprefix("http://").split(":")

    def post_chunked(data: bytes, path: str = "/predict") -> tuple[int, dict[str, Any]]:
        """POST without a Content-Length: the server learns the size only by reading.

        The request goes in one write: a server may answer 413 and close as soon as it has read
        past the limit, and a client still writing chunks would then get a broken pipe.
        """
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(data[i : i + 16]), data[i : i + 16])
            for i in range(0, len(data), 16)
        )
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(head.encode() + chunks + b"0\r\n\r\n")
            response = http.client.HTTPResponse(connection)
            response.begin()
            return response.status, json.loads(response.read())

    assert post_chunked(body)[0] == 200
    status, answer = post_chunked(body + b" ")
    assert status == 413 and f"MAX_BODY_BYTES={len(body)}" in answer["detail"]
    status, answer = post_chunked(b'{"records": [' + body + b"]}", "/predict/batch")
    assert status == 413 and f"MAX_BODY_BYTES={len(body)}" in answer["detail"]


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


def test_request_logs_are_json_lines(call, record, loaded) -> None:
    from {{ cookiecutter.package_name }}.serving.observability import JsonFormatter

    logger = logging.getLogger("{{ cookiecutter.package_name }}.serving.api")
    handler = next(h for h in logger.handlers if isinstance(h.formatter, JsonFormatter))
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        headers = call("POST", "/predict", json=record, headers={"X-Request-ID": "log-1"})[2]
        call("POST", "/predict", json={}, headers={"X-Request-ID": "log-2"})
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    entry = next(line for line in lines if line.get("request_id") == "log-1")
    assert headers["x-request-id"] == "log-1"
    assert entry["method"] == "POST" and entry["path"] == "/predict" and entry["status"] == 200
    assert entry["level"] == "INFO" and entry["timestamp"].endswith("Z")
    assert entry["latency_ms"] > 0 and entry["model_version"] == loaded.version
    assert entry["logger"] == logger.name and entry["message"] == "request"
    rejected = next(line for line in lines if line.get("request_id") == "log-2")
    assert rejected["status"] == 422
{%- if cookiecutter.serving == "fastapi" %}


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
{%- endif %}


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


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2", '{"a": }', "[" * 5000])
def test_malformed_json_is_a_client_error(call, raw: str) -> None:
    assert call("POST", "/predict", raw=raw)[0] in (400, 422)
    assert call("POST", "/predict/batch", raw=raw)[0] in (400, 422)


def test_body_that_is_not_an_object_is_rejected(call, record) -> None:
    for body in ([record], "text", 3, None):
        assert call("POST", "/predict", raw=json.dumps(body))[0] == 422


def test_wrong_method_and_unknown_path(call) -> None:
    for method, path, allowed in (("GET", "/predict", "POST"), ("DELETE", "/model", "GET")):
        status, text, headers = call(method, path)
        assert status == 405 and json.loads(text)["detail"]
        assert allowed in headers["allow"].split(", "), headers
    assert call("GET", "/nowhere")[0] == 404


def test_concurrent_requests_lose_no_log_row(
    live_url: str, record, prediction_log_path: Path
) -> None:
    count = 48

    def post(index: int) -> str:
        headers = {"Content-Type": "application/json"}
        if index % 2:
            headers["X-Request-ID"] = f"load-{index}"
        request = urllib.request.Request(
            live_url + "/predict", data=json.dumps(record).encode(), headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            return response.headers["X-Request-ID"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(post, range(count)))
    assert len(set(ids)) == count
    logged = PredictionLog(prediction_log_path).read()
    assert len(logged) == count
    assert set(logged["request_id"]) == set(ids)


Requests = list[tuple[str, list[dict[str, Any]]]]


def asyncio_loop(service: Service, requests: Requests) -> list[list[dict[str, Any]]]:
    """Submit ``requests`` from handlers that run in the same asyncio loop iteration."""

    async def handle() -> list[list[dict[str, Any]]]:
        futures = [service.submit(records, rid, time.perf_counter()) for rid, records in requests]
        return list(await asyncio.gather(*futures))

    return asyncio.run(handle())
{%- if cookiecutter.serving == "flask" %}


def gevent_loop(service: Service, requests: Requests) -> list[list[dict[str, Any]]]:
    """Submit ``requests`` from greenlets that run in the same gevent loop iteration."""
    import gevent

    from {{ cookiecutter.package_name }}.serving.app import GeventLoop

    service.loop = GeventLoop()

    def handle(rid: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return service.submit(records, rid, time.perf_counter()).get()

    greenlets = [gevent.spawn(handle, rid, records) for rid, records in requests]
    gevent.joinall(greenlets, raise_error=True)
    return [greenlet.value for greenlet in greenlets]
{%- endif %}


@pytest.mark.parametrize("run", [asyncio_loop{% if cookiecutter.serving == "flask" %}, gevent_loop{% endif %}])
def test_requests_of_one_loop_iteration_are_scored_and_logged_together(
    run, model_dir: Path, schema: Schema, schema_path: Path, tmp_path: Path, record
) -> None:
    log_path = tmp_path / "predictions.db"
    config = Settings(model_dir=model_dir, schema_path=schema_path, prediction_log=log_path)
    service = Service(schema, config).start()
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
