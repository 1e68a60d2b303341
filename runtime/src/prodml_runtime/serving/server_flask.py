"""The Flask app's server: gevent's WSGI server, with the limits gevent lacks (``_Handler``).

One thread, one greenlet per connection, keep-alive, so concurrent predictions batch as in the
FastAPI variant. (waitress, a thread pool, was measured at half the throughput: it spends more
CPU handing each request between threads than the application spends on it.) Idle connections
close after ``KEEP_ALIVE_SECONDS``; a request's head, then its body, must each arrive within
``REQUEST_TIMEOUT_SECONDS`` (408); malformed heads, repeated ``Content-Length`` headers and more
than 100 headers are refused (400, 431) in JSON with one log line; a body is never drained past
``MAX_BODY_BYTES``. A client that leaves before its body is read is logged as 499.
"""

from __future__ import annotations

import http.client
import io
import logging
import signal
import socket
import time
from typing import Any, cast

import gevent
from gevent.pywsgi import Input, WSGIHandler, WSGIServer
from werkzeug.exceptions import BadRequest

from ..io.registry import champion, verify
from ..project import Project
from ..settings import Settings, settings
from .app_flask import BODY_PROBLEM, HEAD_RECEIVED, create_app
from .contract import raw_response, too_slow
from .service import KEEP_ALIVE_SECONDS, ClientGone, SlowRequest


class _Handler(WSGIHandler):
    """gevent's request handler with the limits a server facing clients needs.

    gevent waits as long as a client likes for a request line, its headers and its body, drains
    a body the app did not read before the next request (a declared ``Content-Length`` of 1 TB
    held the connection open), prints a traceback for more than 100 headers and takes the first
    of two conflicting ``Content-Length`` headers. Here a connection idle for
    ``KEEP_ALIVE_SECONDS`` is closed; the head must arrive within the request timeout of its
    first byte, then the body within as long again, or a 408 ends the connection; the body is
    read here, before the app runs, and at most ``MAX_BODY_BYTES`` + 1 of it (a larger one is
    left unread and the connection closes). What went wrong reading it reaches the app under
    ``BODY_PROBLEM`` (it answers 408, or logs a 499 when the client left).
    """

    server: _Server
    #: The ``time.monotonic()`` by which the current wait must end (None: no limit), and what
    #: is raised in it then: ``_Idle`` between requests, ``SlowRequest`` in a head or a body.
    limit_at: float | None = None
    on_limit: type[Exception] = SlowRequest

    def handle(self) -> None:
        self.greenlet = gevent.getcurrent()
        self.server.watch(self)
        try:
            super().handle()
        finally:
            self.server.unwatch(self)

    def _limit(self, seconds: float | None, on_limit: type[Exception] = SlowRequest) -> None:
        self.limit_at = None if seconds is None else time.monotonic() + seconds
        self.on_limit = on_limit

    def expire(self, now: float) -> None:
        """Raise the limit's exception in this connection's wait if its time is up (called by
        the server's watchdog, in the event loop, as gevent's timeouts are)."""
        if self.limit_at is not None and now >= self.limit_at:
            self.limit_at = None
            self.greenlet.throw(self.on_limit())

    def read_requestline(self) -> str:
        self._limit(KEEP_ALIVE_SECONDS, _Idle)
        try:
            first = self.rfile.peek(1)
        except _Idle:
            first = b""
        if not first:
            return ""  # idle too long, or closed by the client: the connection closes
        self._limit(self.server.request_timeout)  # the head's, from its first byte
        try:
            return str(super().read_requestline())
        except SlowRequest:
            self.log_error("%s", too_slow("request line", self.server.request_timeout))
            return ""

    # types-gevent says the parsed headers; gevent documents and returns a bool (True).
    def read_request(self, raw_requestline: str) -> bool:  # type: ignore[override]
        """The head parsed, or a ValueError for a malformed one (answered by gevent with 400)."""
        try:
            parsed = bool(super().read_request(raw_requestline))
        except http.client.HTTPException as error:  # more than 100 headers, or a huge one
            raise _HeadersTooLarge(str(error)) from None
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1 or not all(value.strip().isdigit() for value in lengths):
            raise ValueError("Content-Length must be one header holding a number of bytes")
        return parsed

    def _handle_client_error(self, ex: Exception) -> tuple[str, bytes]:
        """The response to a head that failed (``read_request``), with one log line."""
        if isinstance(ex, SlowRequest):
            status, reason = 408, "Request Timeout"
            detail = too_slow("head", self.server.request_timeout)
        elif isinstance(ex, _HeadersTooLarge):
            status, reason = 431, "Request Header Fields Too Large"
            detail = f"request headers refused: {ex}"
        else:
            status, reason = 400, "Bad Request"
            detail = f"malformed request: {str(ex)[:200]}"  # gevent's message quotes the input
        self.log_error("%s", detail)
        return str(status), raw_response(status, reason, detail)

    def log_error(self, msg: str, *args: Any) -> None:
        """gevent's complaints about a client: one warning line (not ERROR, no socket repr)."""
        self.server.logger.warning(
            "%s (client %s)", msg % args if args else msg, self.client_address
        )

    def handle_one_request(self) -> Any:
        try:
            return super().handle_one_request()
        finally:
            self.limit_at = None

    def handle_one_response(self) -> None:
        self._read_body()
        super().handle_one_response()

    def _read_body(self) -> None:
        """Give the app the body in memory, read within the request timeout of the head."""
        self.limit_at = None
        environ, source = self.environ, self.wsgi_input
        assert environ is not None and source is not None  # handle_one_request set them
        environ[HEAD_RECEIVED] = time.perf_counter()
        # None without a Content-Length header (types-gevent says int).
        declared = cast("int | None", self.content_length)
        limit = self.server.max_body_bytes
        if not declared and not source.chunked_input:
            return
        if declared is not None and declared > limit:  # the app refuses it unread (413)
            self._stop_reading(b"")
            return
        self._limit(self.server.request_timeout)  # the body's own time
        parts: list[bytes] = []
        size = 0
        problem: Exception | None = None
        try:
            if declared is not None:  # all of it in one read (it fails if the client leaves)
                parts.append(source.read(declared))
                size = declared
            while source.chunked_input and size <= limit:
                part = source.read(limit + 1 - size)
                if not part:
                    break
                parts.append(part)
                size += len(part)
        except SlowRequest as error:
            problem = error
        except OSError as error:  # the client left mid-body, or sent broken chunks
            text = str(error).lower()
            gone = isinstance(error, ConnectionError) or "end of file" in text or "eof" in text
            problem = ClientGone() if gone else BadRequest(f"malformed request body: {error}")
        finally:
            self.limit_at = None
        body = b"".join(parts)
        if problem is not None or size > limit:
            self._stop_reading(body)
            if problem is not None:
                environ[BODY_PROBLEM] = problem
        else:
            environ["wsgi.input"] = io.BytesIO(body)

    def _stop_reading(self, body: bytes) -> None:
        """Hand the app ``body`` and close the connection after the response: the rest of the
        request is not read (gevent would drain it first)."""
        assert self.environ is not None  # handle_one_request set it
        self.close_connection = True
        self.environ["wsgi.input"] = io.BytesIO(body)
        # Any binary file will do: gevent only reads it (types-gevent asks for a BufferedReader).
        self.wsgi_input = Input(io.BytesIO(), 0)  # type: ignore[arg-type]


class _Idle(Exception):
    """A connection waited ``KEEP_ALIVE_SECONDS`` for its next request."""


class _HeadersTooLarge(ValueError):
    """More than 100 header lines, or a header line over 64 KiB (``http.client``'s limits)."""


class _Server(WSGIServer):
    """gevent's WSGI server with ``_Handler``'s limits, enforced by one watchdog.

    Every quarter second the watchdog, a timer in the event loop, raises the due limit in each
    connection that is waiting past it. (A gevent timeout per wait cost three timers a request,
    14 us of CPU; a connection's limit is now an attribute set before each wait.)
    """

    handler_class = _Handler
    WATCH_SECONDS = 0.25

    def __init__(
        self, address: tuple[str, int], app: Any, config: Settings, logger: logging.Logger
    ) -> None:
        # The access log is the app's own; the server's complaints go to the app's JSON logger.
        super().__init__(address, app, log=None, error_log=logger)
        self.logger = logger
        self.request_timeout = config.request_timeout_seconds
        self.max_body_bytes = config.max_body_bytes
        self.watched: set[_Handler] = set()
        self.watchdog: Any = None

    def watch(self, handler: _Handler) -> None:
        if self.watchdog is None:  # in the loop that serves (a thread's own, in tests)
            self.watchdog = self.loop.timer(self.WATCH_SECONDS, self.WATCH_SECONDS, ref=False)
            self.watchdog.start(self._expire)
        self.watched.add(handler)

    def unwatch(self, handler: _Handler) -> None:
        self.watched.discard(handler)

    def _expire(self) -> None:
        now = time.monotonic()
        for handler in list(self.watched):
            handler.expire(now)

    def stop(self, timeout: float | None = None) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        super().stop(timeout)

    def handle(self, sock: Any, address: Any) -> None:
        # Send each response as soon as it is written: without this, a response written in two
        # parts waits for the client's delayed ACK (40 ms on Linux).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def http_server(app: Any, host: str, port: int) -> WSGIServer:
    """``app`` on gevent's WSGI server with ``_Handler``'s limits (not started); port 0 picks a
    free port. The limits are the app's settings (``settings()`` for an app without a service)."""
    service = getattr(app, "extensions", {}).get("service")
    if service is None:  # an app without a service: the settings' limits, a plain logger
        return _Server((host, port), app, settings(), logging.getLogger("prodml.api"))
    return _Server((host, port), app, service.settings, service.logger)


def serve(project: Project, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API, once the champion is known to exist and pass its checksum.

    (An app started without a usable model runs not ready; ``serve`` fails fast instead.)
    SIGTERM (``docker stop``) stops the server and closes the prediction log.
    """
    config = settings()
    verify(config.model_dir, champion(config.model_dir))
    app = create_app(project, config)
    service = app.extensions["service"]
    server = http_server(app, host, port)
    server.start()
    service.logger.info("serving on http://%s:%d", host, server.server_port)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    try:
        server.serve_forever()
    finally:
        service.stop()
