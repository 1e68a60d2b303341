"""HTTP API (FastAPI): health, readiness, predictions, the model card and Prometheus metrics.

``create_app()`` builds the request models from the feature schema (``$SCHEMA_PATH``); the
champion is loaded once at startup (lifespan) from ``$MODEL_DIR``. Interactive docs: ``/docs``.

- ``GET /health``: liveness. ``GET /ready``: 200 once the model is loaded and verified, else 503.
- ``POST /predict``: one record. ``POST /predict/batch``: ``{"records": [...]}``, up to
  ``$MAX_BATCH_SIZE`` (more: 413). Bodies over ``$MAX_BODY_BYTES`` get a 413 too.
- ``GET /model``: version, training time, metrics, schema, lineage, sha256. ``GET /metrics``.

Bad input is a 4xx, never a 5xx: 422 with field-level ``detail`` for invalid fields (NaN and
infinity included), 400 for a body that is not JSON. Every response has an ``X-Request-ID``.

Speed: the handlers are ``async`` and do their sub-millisecond work inline (no thread hop), the
model scores through its compiled fast path, responses are serialized once with ``to_json``
and request context, metrics and logs come from one plain ASGI middleware. ``/predict`` parses
and validates its body in one step (pydantic's JSON parser, ``model_validate_json``) instead of
FastAPI's parameter handling; its OpenAPI entry declares the same request model. ``make bench``
measures ``/predict`` against a bare echo endpoint (``benchmarks/bench_api.py``).
"""

# No ``from __future__ import annotations``: FastAPI reads the request models, which are built at
# run time from the schema, from the handlers' evaluated annotations.
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .contract import (
    BatchResponse,
    HealthResponse,
    MessageResponse,
    ModelResponse,
    PredictionResponse,
    ReadyResponse,
    ValidationErrorResponse,
    batch_model,
    body_too_large,
    client_error,
    errors,
    request_model,
)
from .observability import UNMATCHED, json_logger, request_id
from .prediction_log import to_json
from .registry import champion, verify
from .schema import load_schema
from .serving import NotReady, Service
from .settings import Settings, settings

_HEADER = b"x-request-id"
_JSON = "application/json"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = to_json(body)
    return Response(text, status_code=status, media_type=_JSON, headers=headers)


def _validated(model: type[BaseModel], body: bytes) -> BaseModel:
    """``body`` parsed and validated by ``model``; failures reported as FastAPI reports them."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        details = [{**detail, "loc": ["body", *detail["loc"]]} for detail in errors(error)]
        raise RequestValidationError(details) from None


class _BodyTooLarge(Exception):
    """The request body is over ``MAX_BODY_BYTES``."""


class RequestContext:
    """ASGI middleware: request id in, ``X-Request-ID`` out, then metrics and a JSON log line.

    Bodies over ``MAX_BODY_BYTES`` get a 413: by their ``Content-Length`` before they are read,
    or as soon as the bytes received (chunked uploads) pass the limit. (FastAPI's own
    ``max_body_size`` answers the first case in plain text, not JSON.)
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        header = next((v for k, v in scope["headers"] if k == _HEADER), None)
        rid = request_id(header.decode("latin-1") if header else None)
        scope.setdefault("state", {}).update(request_id=rid, started=started)
        status = 500
        limit, received = self.service.settings.max_body_bytes, 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((_HEADER, rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            length = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
            if length.isdigit() and int(length) > limit:  # refused unread
                raise _BodyTooLarge
            await self.app(scope, receive_limited, send_with_id)
        except _BodyTooLarge:
            if status != 500:
                raise
            response = _json({"detail": body_too_large(limit)}, 413)
            await response(scope, receive, send_with_id)
        except Exception:
            self.service.logger.exception("unhandled error", extra={"request_id": rid})
            if status != 500:  # the response has started: nothing more can be sent
                raise
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send(
                {"type": "http.response.body", "body": b'{"detail":"internal server error"}'}
            )
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", UNMATCHED)
            seconds = time.perf_counter() - started
            self.service.access_log(rid, scope["method"], scope["path"], status, seconds, endpoint)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI request body of ``model``, for a route that validates its body itself.

    The schema is the component FastAPI documents for ``/predict/batch``'s records.
    """
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"required": True, "content": {_JSON: {"schema": reference}}}


def create_app(config: Settings | None = None) -> FastAPI:
    """The application for the schema at ``config.schema_path``; the model loads at startup."""
    config = config or settings()
    schema = load_schema(config.schema_path)
    service = Service(schema, config, logger_name=f"{__package__}.api")
    record_model = request_model(schema)
    batch_request = batch_model(record_model, config.max_batch_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield
        service.stop()

    app = FastAPI(
        title=f"{__package__} prediction API",
        description="Predictions from the registry's champion model, validated by the schema.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(RequestContext, service=service)
    invalid = {422: {"model": ValidationErrorResponse, "description": "Invalid fields"}}
    not_ready = {503: {"model": MessageResponse, "description": "No model loaded"}}
    too_large = {413: {"model": MessageResponse, "description": "Body over MAX_BODY_BYTES"}}

    async def scored(records: list[dict[str, Any]], state: Any) -> list[dict[str, Any]]:
        """The records' outputs, scored with the other requests of this loop iteration."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        rid, started = state.request_id, state.started
        return await service.submit(records, rid, started, future, loop.call_soon)

    @app.exception_handler(RequestValidationError)
    async def validation_failed(request: Request, error: RequestValidationError) -> Response:
        status, detail = client_error(errors(list(error.errors())))
        return _json({"detail": detail}, status)

    @app.exception_handler(NotReady)
    async def model_not_loaded(request: Request, error: NotReady) -> Response:
        return _json({"detail": f"model not loaded: {error}"}, 503)

    @app.get("/health", response_model=HealthResponse)
    async def health() -> Response:
        """Liveness: the process answers."""
        return _json({"status": "ok"})

    @app.get("/ready", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
    async def ready() -> Response:
        """Readiness: the champion is loaded and its checksum verified."""
        status, body = service.readiness()
        return _json(body, status)

    @app.post(
        "/predict",
        response_model=PredictionResponse,
        responses={**invalid, **not_ready, **too_large, 400: {"model": MessageResponse}},
        openapi_extra={"requestBody": _body_schema(record_model)},
    )
    async def predict(request: Request) -> Response:
        """Score one record."""
        state = request.state
        rid = state.request_id
        record = _validated(record_model, await request.body()).model_dump()
        output = (await scored([record], state))[0]
        return _json({**output, "model_version": service.version, "request_id": rid})

    @app.post(
        "/predict/batch",
        response_model=BatchResponse,
        responses={
            **invalid,
            **not_ready,
            400: {"model": MessageResponse},
            413: {
                "model": MessageResponse,
                "description": "More records than MAX_BATCH_SIZE, or a body over MAX_BODY_BYTES",
            },
        },
    )
    async def predict_batch(payload: batch_request, request: Request) -> Response:  # type: ignore[valid-type]
        """Score up to ``MAX_BATCH_SIZE`` records, in order."""
        state = request.state
        rid = state.request_id
        records = [r.model_dump() for r in payload.records]  # type: ignore[attr-defined]
        outputs = await scored(records, state)
        return _json({"predictions": outputs, "model_version": service.version, "request_id": rid})

    @app.get("/model", response_model=ModelResponse, responses=not_ready)
    async def model() -> Response:
        """The served model: version, training time, metrics, schema, lineage, checksum."""
        return _json(service.model_card())

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def metrics() -> Response:
        """Prometheus metrics: requests, latency, predictions, model version."""
        body, content_type = service.metrics.exposition()
        return Response(body, media_type=content_type)

    return app


def __getattr__(name: str) -> Any:
    """``app``, created on first use: ``uvicorn <package>.api:app`` works as well as ``serve``."""
    if name == "app":
        application = globals()["app"] = create_app()
        return application
    raise AttributeError(name)


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API with uvicorn, once the champion is known to exist and pass its checksum.

    (An app started without a usable model runs not ready; ``serve`` fails fast instead.)
    """
    import uvicorn

    config = settings()
    verify(config.model_dir, champion(config.model_dir))
    json_logger("uvicorn", config.log_level)  # uvicorn's own lines, in the same JSON format
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        access_log=False,
        log_config=None,  # leave that logger as it is
        log_level=config.log_level.lower(),
    )
