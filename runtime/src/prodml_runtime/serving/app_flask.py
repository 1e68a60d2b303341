"""HTTP API (Flask, on gevent's WSGI server): health, readiness, predictions, model card, metrics.

``create_app(project)`` builds the request models from the feature schema (``$SCHEMA_PATH``), makes
each answer with the project's ``Answer``, and loads the champion once from ``$MODEL_DIR``
(``registry.load`` verifies its checksum).

- ``GET /health``: liveness. ``GET /ready``: 200 once the model is loaded and verified, else 503.
- ``POST /predict``: one record. ``POST /predict/batch``: ``{"records": [...]}``, up to
  ``$MAX_BATCH_SIZE`` (more: 413). Bodies over ``$MAX_BODY_BYTES`` get a 413 too.
- ``GET /model``: version, training time, metrics, schema, lineage, sha256. ``GET /metrics``.

Bad input is a 4xx, never a 5xx: 422 with field-level ``detail`` for invalid fields (NaN and
infinity included), 400 for a body that is not JSON, JSON errors for 404 and 405. Every response
has an ``X-Request-ID``. Bodies are parsed and validated in one step (pydantic's JSON parser,
``model_validate_json``). The model scores through its compiled fast path (``fast_path.py``);
``bench api`` measures ``/predict`` against a bare echo endpoint (``bench.bench_api``).
The server and its time limits are ``server_flask.py``; the body it read (or why it could not) comes
in the request's environ (``BODY_PROBLEM``, ``HEAD_RECEIVED``). A prediction log that refuses
writes makes predictions and ``/ready`` answer 503 (``service.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
from flask import Flask, Response, g, request
from gevent.event import AsyncResult
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..config import load_schema
from ..data.sample import file_example
from ..io.prediction_log import to_json
from ..project import Project
from ..settings import Settings, settings
from .contract import (
    batch_model,
    body_too_large,
    client_error,
    errors,
    request_model,
    split,
    too_slow,
)
from .observability import REQUEST_ID_HEADER, UNMATCHED, request_id
from .service import (
    CLIENT_CLOSED,
    ClientGone,
    NotReady,
    Service,
    SlowRequest,
)

_JSON = "application/json"
#: Environ keys of the server's: what went wrong reading the body, and when the head was in
#: (``time.perf_counter()``; the request's latency counts its body's upload, as uvicorn's does).
BODY_PROBLEM = "prodml.body_problem"
HEAD_RECEIVED = "prodml.head_received"


def _json(body: Any, status: int = 200, close: bool = False) -> Response:
    text = to_json(body)
    response = Response(text, status=status, mimetype=_JSON)
    if close:
        response.headers["Connection"] = "close"
    return response


class GeventLoop:
    """gevent's loop, as ``Service`` batches on it: a greenlet runs after the ready ones."""

    def future(self) -> AsyncResult[list[dict[str, Any]]]:
        return AsyncResult()

    def call_soon(self, function: Callable[[], None]) -> object:
        return gevent.spawn(function)


def create_app(project: Project, config: Settings | None = None) -> Flask:
    """The application of ``project`` with the champion loaded (or not ready, with the reason,
    if it cannot be)."""
    config = config or settings()
    schema = load_schema(config.schema_path)
    service = Service(schema, config, project, loop=GeventLoop()).start()
    example = file_example(schema, config.example_data or project.data)
    record_model = request_model(schema, example)
    batch_request = batch_model(record_model, config.max_batch_size)
    app = Flask(__name__)
    # Longer bodies get a 413 unread; one byte over the limit is read to tell a chunked
    # upload (no Content-Length) that is too large from one that fits.
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes + 1
    app.extensions["service"] = service

    def body() -> bytes:
        problem = request.environ.get(BODY_PROBLEM)
        if problem is not None:
            raise problem
        data = request.get_data(cache=False)
        if len(data) > config.max_body_bytes:
            raise RequestEntityTooLarge
        return data

    def scored(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records' outputs, scored with the other requests of this loop iteration."""
        outputs: list[dict[str, Any]] = service.submit(records, g.request_id, g.started).get()
        return outputs

    @app.before_request
    def begin() -> None:
        g.started = request.environ.get(HEAD_RECEIVED) or time.perf_counter()
        g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER))

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.request_id
        endpoint = request.url_rule.rule if request.url_rule else UNMATCHED
        seconds = time.perf_counter() - g.started
        service.access_log(
            g.request_id, request.method, request.path, response.status_code, seconds, endpoint
        )
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = _json({"detail": error.description}, error.code or 500)
        for name, value in error.get_headers():  # Allow, on a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        return _json({"detail": body_too_large(config.max_body_bytes)}, 413, close=True)

    @app.errorhandler(SlowRequest)
    def too_slow_body(error: SlowRequest) -> Response:
        return _json({"detail": too_slow("body", config.request_timeout_seconds)}, 408, True)

    @app.errorhandler(ClientGone)
    def client_gone(error: ClientGone) -> Response:
        return _json({"detail": "client closed the connection"}, CLIENT_CLOSED, close=True)

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> Response:
        service.logger.exception("unhandled error", extra={"request_id": g.get("request_id")})
        return _json({"detail": "internal server error"}, 500)

    @app.errorhandler(ValidationError)
    def invalid(error: ValidationError) -> Response:
        status, detail = client_error([{**d, "loc": ["body", *d["loc"]]} for d in errors(error)])
        return _json({"detail": detail}, status)

    @app.errorhandler(NotReady)
    def not_ready(error: NotReady) -> Response:
        return _json({"detail": str(error)}, 503)

    @app.get("/health")
    def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/ready")
    def ready() -> Response:
        status, body = service.readiness()
        return _json(body, status)

    @app.post("/predict")
    def predict() -> Response:
        records, ignored = split([record_model.model_validate_json(body())])
        output = scored(records)[0]
        return _json(
            {**output, "model_version": service.version, "request_id": g.request_id,
             "ignored": ignored}
        )  # fmt: skip

    @app.post("/predict/batch")
    def predict_batch() -> Response:
        payload = batch_request.model_validate_json(body())
        records, ignored = split(payload.records)  # type: ignore[attr-defined]
        outputs = scored(records)
        return _json(
            {"predictions": outputs, "model_version": service.version, "request_id": g.request_id,
             "ignored": ignored}
        )  # fmt: skip

    @app.get("/model")
    def model() -> Response:
        return _json(service.model_card())

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = service.metrics.exposition()
        return Response(body, content_type=content_type)

    return app
