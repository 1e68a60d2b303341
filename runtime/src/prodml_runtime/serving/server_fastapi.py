"""The FastAPI app's server: uvicorn, with the time limits uvicorn lacks (``TimedHTTP``).

A request head must arrive within ``REQUEST_TIMEOUT_SECONDS`` of its first byte (uvicorn bounds
only idle keep-alive connections), and a connection that sends nothing is closed after
``KEEP_ALIVE_SECONDS``. ``serve`` runs the app once the champion is known to exist and pass its
checksum; ``http_server`` gives the tests the same server, not started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from ..io.registry import champion, verify
from ..project import Project
from ..settings import Settings, settings
from .app_fastapi import create_app
from .contract import raw_response, too_slow
from .observability import json_logger
from .service import KEEP_ALIVE_SECONDS

if TYPE_CHECKING:
    import uvicorn
    from uvicorn.server import ServerState


class TimedHTTP(asyncio.Protocol):
    """uvicorn's HTTP/1.1 protocol with the time limits it lacks before a request reaches the app.

    uvicorn closes a keep-alive connection that stays idle after a response, but waits forever
    for a new connection's first byte and for a request head sent slowly (slowloris) or never
    finished (garbage without a blank line). This wraps the protocol uvicorn would use (h11, or
    httptools when installed) and feeds it every byte unchanged; it only looks for where a
    request head ends (the first blank line) and when a response is written. A new connection
    silent for ``KEEP_ALIVE_SECONDS`` is closed; a head not complete within ``head_timeout``
    of its first byte gets a 408 and the connection closes. The body's time is the middleware's
    (``RequestContext``).
    """

    head_timeout = 30.0  # ``serve`` sets REQUEST_TIMEOUT_SECONDS

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        self.inner = AutoHTTPProtocol(  # type: ignore[call-arg]
            config=config, server_state=server_state, app_state=app_state, _loop=_loop
        )
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.in_head = False  # between a head's first byte and its blank line
        self.in_request = False  # from a head's blank line to the response
        self.tail = b""  # the head's last bytes, for a blank line split across reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._arm(KEEP_ALIVE_SECONDS, transport.close)
        # A duck-typed transport (writes watched, the rest delegated), not a Transport subclass:
        # BaseTransport's own methods would hide __getattr__'s delegation.
        self.inner.connection_made(_WriteWatch(transport, self._responding))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if not self.in_request:
            first = not self.in_head and bool(data.strip(b"\r\n"))
            if first:
                self.in_head, self.tail = True, b""
                self._arm(None)  # a new connection's idle timer
            if self.in_head:
                seen = self.tail + data
                if b"\r\n\r\n" in seen:  # the head is in (no timer for one sent at once)
                    self.in_head, self.in_request = False, True
                    self._arm(None)
                else:
                    self.tail = seen[-3:]
                    if first:
                        self._arm(self.head_timeout, self._head_too_slow)
        self.inner.data_received(data)

    def _responding(self) -> None:
        """A response is being written: what arrives next starts a new head."""
        self.in_head = self.in_request = False
        self._arm(None)

    def _arm(self, seconds: float | None, then: Callable[[], object] | None = None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if seconds is not None and then is not None:
            self.timer = self.loop.call_later(seconds, then)

    def _head_too_slow(self) -> None:
        assert self.transport is not None
        detail = too_slow("head", self.head_timeout)
        logging.getLogger("uvicorn.error").warning(
            "%s from %s; connection closed", detail, self.transport.get_extra_info("peername")
        )
        self.transport.write(raw_response(408, "Request Timeout", detail))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        self.inner.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _WriteWatch:
    """A transport that calls ``on_write`` before each write, and is the transport otherwise."""

    def __init__(self, transport: asyncio.Transport, on_write: Callable[[], None]) -> None:
        self._transport, self._on_write = transport, on_write

    def write(self, data: bytes) -> None:
        self._on_write()
        self._transport.write(data)

    def is_closing(self) -> bool:  # once per response: not through __getattr__
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    """``app`` on uvicorn (a ``uvicorn.Server``, not started), with ``TimedHTTP``'s limits.

    The limits are the app's settings (``settings()`` for an app without a service).
    """
    import uvicorn

    service = getattr(getattr(app, "state", None), "service", None)
    config: Settings = service.settings if service else settings()
    json_logger("uvicorn", config.log_level)  # uvicorn's own lines, in the same JSON format
    protocol = type("TimedHTTP", (TimedHTTP,), {"head_timeout": config.request_timeout_seconds})
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http=protocol,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            access_log=False,
            log_config=None,  # leave that logger as it is
            log_level=config.log_level.lower(),
        )
    )


def serve(project: Project, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API with uvicorn, once the champion is known to exist and pass its checksum.

    (An app started without a usable model runs not ready; ``serve`` fails fast instead.)
    """
    config = settings()
    verify(config.model_dir, champion(config.model_dir))
    server = http_server(create_app(project, config), host, port)
    server.run()
    if not server.started:  # as uvicorn.run: the port was taken, say (uvicorn logged why)
        raise SystemExit(3)
