"""The project's ``Answer`` (its ``api.py``): a field it adds, computed from the prediction or
filled from the record by ``of``, is in every answer of ``/predict`` and ``/predict/batch``,
in the prediction log and in the OpenAPI schema of both responses; an ``of`` that raises is a
500 in JSON with a logged error, and the server goes on answering."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prodml_runtime.core.schema import Schema
from prodml_runtime.io.prediction_log import PredictionLog
from prodml_runtime.serving.contract import Answer
from prodml_runtime.serving.observability import JsonFormatter, json_logger
from pydantic import Field, computed_field

from tests.demo import demo_project
from tests.serving.support import check_prediction, live_server, real_record


class Confident(Answer):
    """A field computed from the prediction."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def confident(self) -> bool:
        return self.probabilities is None or max(self.probabilities.values()) >= 0.5


class Sent(Answer):
    """A field ``of`` fills from the record."""

    sent: int = Field(description="features the record sent (not null)")

    @classmethod
    def of(cls, record: Mapping[str, Any], scored: Mapping[str, Any]) -> Sent:
        return cls.model_validate({**scored, "sent": sum(v is not None for v in record.values())})


class Broken(Answer):
    @classmethod
    def of(cls, record: Mapping[str, Any], scored: Mapping[str, Any]) -> Broken:
        raise RuntimeError("the project's answer failed")


Expected = Callable[[dict[str, Any], dict[str, Any]], Any]
#: Each answer's added field, and its value for (an output, the record sent).
ADDED: dict[str, tuple[type[Answer], str, Expected]] = {
    "computed": (
        Confident,
        "confident",
        lambda out, _: out["probabilities"] is None or max(out["probabilities"].values()) >= 0.5,
    ),
    "from-the-record": (
        Sent,
        "sent",
        lambda _, record: sum(v is not None for v in record.values()),
    ),
}


@pytest.fixture
def record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    return real_record(schema, sample)


def response_properties(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The properties of ``path``'s 200 response in an OpenAPI document, and of the items of
    its ``predictions`` (if it has them) under ``"predictions[]"``."""

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    content = document["paths"][path]["post"]["responses"]["200"]["content"]
    properties = dict(resolve(content["application/json"]["schema"])["properties"])
    if "predictions" in properties:
        items = resolve(properties["predictions"]["items"])
        properties["predictions[]"] = items["properties"]
    return properties


@pytest.mark.parametrize("added", ADDED)
def test_an_added_field_is_in_every_answer_the_log_and_the_schema(
    start_api,
    model_dir: Path,
    schema: Schema,
    sample_path: Path,
    framework: str,
    record,
    prediction_log_path: Path,
    added: str,
) -> None:
    answer, field, expected = ADDED[added]
    project = demo_project(schema, sample_path, serving=framework, answer=answer)
    nullable = {c.name for c in schema.features if c.nullable}
    fewer = {k: v for k, v in record.items() if k not in nullable}
    sent = (
        {k: record.get(k) for k in schema.feature_names},
        {k: fewer.get(k) for k in schema.feature_names},
    )
    with start_api(model_dir, project) as call:
        status, text, _ = call("POST", "/predict", json=record)
        assert status == 200, text
        single = json.loads(text)
        status, text, _ = call("POST", "/predict/batch", json={"records": [record, fewer]})
        assert status == 200, text
        batch = json.loads(text)["predictions"]
        document = json.loads(call("GET", "/openapi.json")[1]) if framework == "fastapi" else None
    for output, features in [(single, sent[0]), (batch[0], sent[0]), (batch[1], sent[1])]:
        check_prediction(output, schema)
        assert output[field] == expected(output, features), output
    logged = PredictionLog(prediction_log_path).read()
    assert len(logged) == 3
    assert [output[field] for output in logged["outputs"]] == [
        single[field],
        batch[0][field],
        batch[1][field],
    ]
    if document is not None:  # Flask publishes no OpenAPI document
        assert field in response_properties(document, "/predict")
        assert field in response_properties(document, "/predict/batch")["predictions[]"]


@pytest.fixture
def log_lines(project) -> Iterator[io.StringIO]:
    """What the API's JSON logger writes while the test runs."""
    logger = json_logger(f"{project.name}.api")  # the apps' logger, made if none was yet
    handler = next(h for h in logger.handlers if isinstance(h.formatter, JsonFormatter))
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    handler.setStream(previous)  # type: ignore[attr-defined]


def post(url: str, body: Any, rid: str) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "X-Request-ID": rid}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # a hang fails here
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("problem", ["binary"], indirect=True)
def test_an_answer_that_raises_is_a_500_in_json_and_a_logged_error(
    serving_env,
    model_dir: Path,
    schema: Schema,
    sample_path: Path,
    framework: str,
    record,
    log_lines: io.StringIO,
) -> None:
    serving_env.setenv("MODEL_DIR", str(model_dir))
    project = demo_project(schema, sample_path, serving=framework, answer=Broken)
    with live_server(project) as url:
        single = post(url + "/predict", record, "broken-1")
        batch = post(url + "/predict/batch", {"records": [record, record]}, "broken-2")
        with urllib.request.urlopen(url + "/health", timeout=20) as response:
            assert response.status == 200  # still answering
    assert single == batch == (500, {"detail": "internal server error"})
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    for rid in ("broken-1", "broken-2"):
        errors = [
            line for line in lines if line.get("request_id") == rid and line["level"] == "ERROR"
        ]
        assert len(errors) == 1, lines
        assert "the project's answer failed" in errors[0]["exception"]
        access = [
            line for line in lines if line.get("request_id") == rid and line["message"] == "request"
        ]
        assert [line["status"] for line in access] == [500]
