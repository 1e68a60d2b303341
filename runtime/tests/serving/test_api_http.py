"""The HTTP mechanics of the service, the same for every problem type (so run on one): health
and readiness, request ids, JSON logs, batch and body limits, malformed bodies, methods and
paths, and the prediction log under concurrent load."""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prodml_runtime.core.schema import Schema
from prodml_runtime.io.prediction_log import PredictionLog
from prodml_runtime.serving.observability import JsonFormatter

from tests.serving.support import real_record

pytestmark = pytest.mark.parametrize("problem", ["binary"], indirect=True)


@pytest.fixture
def record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    return real_record(schema, sample)


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


def test_request_id_is_honoured_or_generated_on_every_response(call, record) -> None:
    given = {"X-Request-ID": "order-42.retry:1"}
    _, text, headers = call("POST", "/predict", json=record, headers=given)
    assert headers["x-request-id"] == "order-42.retry:1" == json.loads(text)["request_id"]
    for method, path in (("GET", "/health"), ("GET", "/nowhere"), ("POST", "/predict")):
        first, second = call(method, path)[2], call(method, path)[2]
        assert len(first["x-request-id"]) == 32 and first["x-request-id"] != second["x-request-id"]
    unsafe = call("GET", "/health", headers={"X-Request-ID": "x" * 500})[2]
    assert unsafe["x-request-id"] != "x" * 500


def test_batch_limits(start_api, model_dir: Path, serving_env, record, schema: Schema) -> None:
    serving_env.setenv("MAX_BATCH_SIZE", "2")
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
    start_api, model_dir: Path, serving_env, record
) -> None:
    size = len(json.dumps(record))
    serving_env.setenv("MAX_BODY_BYTES", str(size))
    with start_api(model_dir) as call:
        assert call("POST", "/predict", raw=json.dumps(record))[0] == 200
        status, text, headers = call("POST", "/predict", raw=json.dumps(record) + " ")
        assert status == 413 and f"MAX_BODY_BYTES={size}" in json.loads(text)["detail"]
        assert headers["x-request-id"]
        status, _, _ = call("POST", "/predict/batch", json={"records": [record] * 2})
        assert status == 413


def test_chunked_body_over_the_size_limit_is_refused(
    serving_env, record, framework: str, request: pytest.FixtureRequest
) -> None:
    body = json.dumps(record).encode()
    serving_env.setenv("MAX_BODY_BYTES", str(len(body)))
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


def test_request_logs_are_json_lines(call, record, loaded, project) -> None:
    logger = logging.getLogger(f"{project.name}.api")
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
