"""HTTP API (FastAPI): health, readiness, predictions, the model card and Prometheus metrics.

``create_app(project)`` builds the request models from the feature schema (``$SCHEMA_PATH``) and
the response models around the project's ``Answer``; the champion is loaded once at startup
(lifespan) from ``$MODEL_DIR``. Interactive docs: ``/docs``.

- ``GET /health``: liveness. ``GET /ready``: 200 once the model is loaded and verified, else 503.
- ``POST /predict``: one record. ``POST /predict/batch``: ``{"records": [...]}``, up to
  ``$MAX_BATCH_SIZE`` (more: 413). Bodies over ``$MAX_BODY_BYTES`` get a 413 too.
- ``GET /model``: version, training time, metrics, schema, lineage, sha256. ``GET /metrics``.

Bad input is a 4xx, never a 5xx: 422 with field-level ``detail`` for invalid fields (NaN and
infinity included), 400 for a body that is not JSON. Every response has an ``X-Request-ID``.
A prediction log that refuses writes (disk full) makes predictions and ``/ready`` answer 503
with the reason until it takes writes again (``service.py``).

Slow and broken clients: the server (``server_fastapi.py``) times out request heads and idle
connections; the middleware here gives the body the same time once the head is in (408, then
the connection closes). A client that leaves before its body is read is logged and counted as
499, in one line, with no traceback.

Speed: the handlers are ``async`` and do their sub-millisecond work inline (no thread hop), the
model scores through its compiled fast path, responses are serialized once with ``to_json``
and request context, metrics and logs come from one plain ASGI middleware. ``/predict`` parses
and validates its body in one step (pydantic's JSON parser, ``model_validate_json``) instead of
FastAPI's parameter handling; its OpenAPI entry declares the same request model. ``bench api``
measures ``/predict`` against a bare echo endpoint (``bench.bench_api``).
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
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import load_schema
from ..data.sample import file_example
from ..io.prediction_log import to_json
from ..project import Project
from ..settings import Settings, settings
from .contract import (
    HealthResponse,
    MessageResponse,
    ModelResponse,
    ReadyResponse,
    ValidationErrorResponse,
    batch_model,
    body_too_large,
    client_error,
    errors,
    request_model,
    response_models,
    split,
    too_slow,
)
from .observability import UNMATCHED, request_id
from .service import (
    CLIENT_CLOSED,
    ClientGone,
    NotReady,
    Service,
    SlowRequest,
)

_HEADER = b"x-request-id"
_JSON = "application/json"
#: A route's documented responses, as FastAPI's ``responses=`` takes them.
Responses = dict[int | str, dict[str, Any]]


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


class RequestContext:
    """ASGI middleware: request id in, ``X-Request-ID`` out, then metrics and a JSON log line.

    It also guards the body: over ``MAX_BODY_BYTES`` it is a 413, by its ``Content-Length``
    before it is read or as soon as the bytes received (chunked uploads) pass the limit (FastAPI's
    own ``max_body_size`` answers the first case in plain text, not JSON); not all received within
    ``REQUEST_TIMEOUT_SECONDS`` of the head, a 408; the client leaving first, a 499 (no answer).
    What went wrong while receiving decides the answer, whatever the route made of it (FastAPI
    turns any error reading a body into a 400). A response sent before the body was read closes
    the connection, so that no server drains a body it refused.
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
        config = self.service.settings
        status = 0  # of the response, once it has started
        limit, received, body_read = config.max_body_bytes, 0, False
        failure: Exception | None = None  # what went wrong receiving the body
        deadline = _Deadline(started + config.request_timeout_seconds)

        async def receive_guarded() -> Message:
            nonlocal received, body_read, failure
            if body_read:
                return await receive()
            try:
                message = await deadline.wait(receive)
            except SlowRequest as error:
                failure = error
                raise
            if message["type"] == "http.disconnect":
                failure = ClientGone()
                return message  # Starlette raises ClientDisconnect
            received += len(message.get("body", b""))
            if received > limit:
                failure = _BodyTooLarge()
                raise failure
            body_read = not message.get("more_body", False)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                if failure is not None:  # the route's answer to a failed receive: not sent
                    raise failure
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((_HEADER, rid.encode("latin-1")))
                if not body_read and _has_body(scope):
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            length = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
            if length.isdigit() and int(length) > limit:  # refused unread
                raise _BodyTooLarge
            await self.app(scope, receive_guarded, send_with_id)
        except Exception as error:
            if status:  # the response has started: nothing more can be sent
                self.service.logger.error(
                    "unhandled error", exc_info=error, extra={"request_id": rid}
                )
                raise
            cause, failure = failure or error, None
            response = self._failure_response(cause, rid)
            if response is None:
                status = CLIENT_CLOSED  # nobody left to answer
            else:
                await response(scope, receive, send_with_id)
        finally:
            deadline.cancel()
            route = scope.get("route")
            endpoint = getattr(route, "path", UNMATCHED)
            seconds = time.perf_counter() - started
            self.service.access_log(
                rid, scope["method"], scope["path"], status or 500, seconds, endpoint
            )

    def _failure_response(self, failure: Exception, rid: str) -> Response | None:
        """The answer to what failed before the response started; None if the client left."""
        config = self.service.settings
        if isinstance(failure, (ClientGone, ClientDisconnect)):
            return None
        if isinstance(failure, _BodyTooLarge):
            return _json({"detail": body_too_large(config.max_body_bytes)}, 413)
        if isinstance(failure, SlowRequest):
            return _json({"detail": too_slow("body", config.request_timeout_seconds)}, 408)
        self.service.logger.error("unhandled error", exc_info=failure, extra={"request_id": rid})
        return _json({"detail": "internal server error"}, 500)


class _BodyTooLarge(Exception):
    """The request body is over ``MAX_BODY_BYTES``."""


def _has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a non-zero Content-Length, or chunks)."""
    for name, value in scope["headers"]:
        if (name == b"content-length" and value.strip(b"0")) or name == b"transfer-encoding":
            return True
    return False


class _Deadline:
    """A time by which awaited receives must end, else ``SlowRequest`` (no timer until needed).

    The timer is armed at the first receive; when it fires during one, that receive is cancelled
    and raises ``SlowRequest`` instead; after it fired, every receive does.
    """

    def __init__(self, at: float) -> None:
        self.at = at
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[Any] | None = None
        self.waiting = self.fired = False

    async def wait(self, receive: Receive) -> Message:
        if self.timer is None:
            loop = asyncio.get_running_loop()
            self.task = asyncio.current_task()
            self.timer = loop.call_later(max(0.0, self.at - time.perf_counter()), self._expire)
        if self.expired():
            raise SlowRequest
        self.waiting = True
        try:
            return await receive()
        except asyncio.CancelledError:
            if not self.expired():
                raise
            uncancel = getattr(self.task, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                uncancel()
            raise SlowRequest from None
        finally:
            self.waiting = False

    def expired(self) -> bool:
        """Whether the timer fired: a call, read afresh after an await (the timer fires during
        one), where a type checker would keep a narrowed attribute."""
        return self.fired

    def _expire(self) -> None:
        self.fired = True
        if self.waiting and self.task is not None:
            self.task.cancel()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI request body of ``model``, for a route that validates its body itself.

    The schema is the component FastAPI documents for ``/predict/batch``'s records.
    """
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"required": True, "content": {_JSON: {"schema": reference}}}


def create_app(project: Project, config: Settings | None = None) -> FastAPI:
    """The application of ``project`` for the schema at ``config.schema_path``; the model loads
    at startup."""
    config = config or settings()
    schema = load_schema(config.schema_path)
    service = Service(schema, config, project)
    example = file_example(schema, config.example_data or project.data)
    record_model = request_model(schema, example)
    batch_request = batch_model(record_model, config.max_batch_size)
    single_response, batch_response = response_models(service.answer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield
        service.stop()

    app = FastAPI(
        title=f"{project.name} prediction API",
        description="Predictions from the registry's champion model, validated by the schema.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(RequestContext, service=service)
    invalid: Responses = {422: {"model": ValidationErrorResponse, "description": "Invalid fields"}}
    not_ready: Responses = {
        503: {"model": MessageResponse, "description": "No model loaded, or no prediction log"}
    }
    too_large: Responses = {
        413: {"model": MessageResponse, "description": "Body over MAX_BODY_BYTES"}
    }

    async def scored(records: list[dict[str, Any]], state: Any) -> list[dict[str, Any]]:
        """The records' outputs, scored with the other requests of this loop iteration."""
        outputs: list[dict[str, Any]] = await service.submit(
            records, state.request_id, state.started
        )
        return outputs

    @app.exception_handler(RequestValidationError)
    async def validation_failed(request: Request, error: RequestValidationError) -> Response:
        status, detail = client_error(errors(list(error.errors())))
        return _json({"detail": detail}, status)

    @app.exception_handler(NotReady)
    async def cannot_predict(request: Request, error: NotReady) -> Response:
        return _json({"detail": str(error)}, 503)

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
        response_model=single_response,
        responses={**invalid, **not_ready, **too_large, 400: {"model": MessageResponse}},
        openapi_extra={"requestBody": _body_schema(record_model)},
    )
    async def predict(request: Request) -> Response:
        """Score one record."""
        state = request.state
        rid = state.request_id
        records, ignored = split([_validated(record_model, await request.body())])
        output = (await scored(records, state))[0]
        return _json(
            {**output, "model_version": service.version, "request_id": rid, "ignored": ignored}
        )

    @app.post(
        "/predict/batch",
        response_model=batch_response,
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
        records, ignored = split(payload.records)  # type: ignore[attr-defined]
        outputs = await scored(records, state)
        return _json(
            {"predictions": outputs, "model_version": service.version, "request_id": rid,
             "ignored": ignored}
        )  # fmt: skip

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
