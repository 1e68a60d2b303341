"""HTTP API (Flask, on gevent's WSGI server): health, readiness, predictions, model card, metrics.

``create_app()`` builds the request models from the feature schema (``$SCHEMA_PATH``) and loads
the champion once from ``$MODEL_DIR`` (``registry.load`` verifies its checksum).

- ``GET /health``: liveness. ``GET /ready``: 200 once the model is loaded and verified, else 503.
- ``POST /predict``: one record. ``POST /predict/batch``: ``{"records": [...]}``, up to
  ``$MAX_BATCH_SIZE`` (more: 413). Bodies over ``$MAX_BODY_BYTES`` get a 413 too.
- ``GET /model``: version, training time, metrics, schema, lineage, sha256. ``GET /metrics``.

Bad input is a 4xx, never a 5xx: 422 with field-level ``detail`` for invalid fields (NaN and
infinity included), 400 for a body that is not JSON, JSON errors for 404 and 405. Every response
has an ``X-Request-ID``. Bodies are parsed and validated in one step (pydantic's JSON parser,
``model_validate_json``). The model scores through its compiled fast path (``fast_path.py``);
``make bench`` measures ``/predict`` against a bare echo endpoint (``benchmarks/bench_api.py``).

The server (``http_server``) is gevent's: one thread, one greenlet per connection, keep-alive,
so concurrent predictions batch as in the FastAPI variant. (waitress, a thread pool, was measured
at half the throughput: it spends more CPU handing each request between threads than the
application spends on it.)
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from typing import Any

import gevent
from flask import Flask, Response, g, request
from gevent.event import AsyncResult
from gevent.pywsgi import WSGIServer
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .contract import batch_model, body_too_large, client_error, errors, request_model
from .observability import REQUEST_ID_HEADER, UNMATCHED, request_id
from .prediction_log import to_json
from .registry import champion, verify
from .schema import load_schema
from .serving import NotReady, Service
from .settings import Settings, settings

_JSON = "application/json"


def _json(body: Any, status: int = 200) -> Response:
    text = to_json(body)
    return Response(text, status=status, mimetype=_JSON)


def create_app(config: Settings | None = None) -> Flask:
    """The application with the champion loaded (or not ready, with the reason, if it cannot be)."""
    config = config or settings()
    schema = load_schema(config.schema_path)
    service = Service(schema, config, logger_name=f"{__package__}.api").start()
    record_model = request_model(schema)
    batch_request = batch_model(record_model, config.max_batch_size)
    app = Flask(__name__)
    # Longer bodies get a 413 unread; one byte over the limit is read to tell a chunked
    # upload (no Content-Length) that is too large from one that fits.
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes + 1
    app.extensions["service"] = service

    def body() -> bytes:
        data = request.get_data(cache=False)
        if len(data) > config.max_body_bytes:
            raise RequestEntityTooLarge
        return data

    def scored(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records' outputs, scored with the other requests of this loop iteration."""
        future: AsyncResult = AsyncResult()
        return service.submit(records, g.request_id, g.started, future, gevent.spawn).get()

    @app.before_request
    def begin() -> None:
        g.started = time.perf_counter()
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
        return _json({"detail": error.description}, error.code or 500)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Response:
        return _json({"detail": body_too_large(config.max_body_bytes)}, 413)

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
        return _json({"detail": f"model not loaded: {error}"}, 503)

    @app.get("/health")
    def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/ready")
    def ready() -> Response:
        status, body = service.readiness()
        return _json(body, status)

    @app.post("/predict")
    def predict() -> Response:
        record = record_model.model_validate_json(body()).model_dump()
        output = scored([record])[0]
        return _json({**output, "model_version": service.version, "request_id": g.request_id})

    @app.post("/predict/batch")
    def predict_batch() -> Response:
        payload = batch_request.model_validate_json(body())
        records = [r.model_dump() for r in payload.records]  # type: ignore[attr-defined]
        outputs = scored(records)
        return _json(
            {"predictions": outputs, "model_version": service.version, "request_id": g.request_id}
        )

    @app.get("/model")
    def model() -> Response:
        return _json(service.model_card())

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = service.metrics.exposition()
        return Response(body, content_type=content_type)

    return app


class _Server(WSGIServer):
    def handle(self, sock: Any, address: Any) -> None:
        # Send each response as soon as it is written: without this, a response written in two
        # parts waits for the client's delayed ACK (40 ms on Linux).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def http_server(app: Any, host: str, port: int) -> WSGIServer:
    """``app`` on gevent's WSGI server (not started); port 0 picks a free port."""
    # The access log is the app's own; the server's errors go to the app's JSON logger.
    return _Server((host, port), app, log=None, error_log=logging.getLogger(f"{__package__}.api"))


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API, once the champion is known to exist and pass its checksum.

    (An app started without a usable model runs not ready; ``serve`` fails fast instead.)
    SIGTERM (``docker stop``) stops the server and closes the prediction log.
    """
    config = settings()
    verify(config.model_dir, champion(config.model_dir))
    app = create_app(config)
    service = app.extensions["service"]
    server = http_server(app, host, port)
    server.start()
    service.logger.info("serving on http://%s:%d", host, server.server_port)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    try:
        server.serve_forever()
    finally:
        service.stop()
