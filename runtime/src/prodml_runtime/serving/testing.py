"""A project's API in its own process, for its tests: the same app ``serve`` runs, whichever its
framework, behind one small client (``api_client``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..project import Project
from ..settings import Settings


@dataclass(frozen=True)
class Answer:
    """One response: its status, its JSON body (None when it is not JSON) and its headers."""

    status: int
    body: Any
    headers: dict[str, str]


Send = Callable[[str, str, "bytes | None"], Answer]


class Client:
    """Requests to the app; each returns an ``Answer``."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def get(self, path: str) -> Answer:
        return self._send("GET", path, None)

    def post(self, path: str, payload: Any) -> Answer:
        return self._send("POST", path, json.dumps(payload).encode())

    def post_bytes(self, path: str, body: bytes) -> Answer:
        return self._send("POST", path, body)


def _parsed(text: bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@contextlib.contextmanager
def api_client(project: Project, config: Settings) -> Iterator[Client]:
    """A client of ``project``'s app with ``config``'s settings, its model loaded as at startup."""
    headers = {"Content-Type": "application/json"}
    if project.serving == "fastapi":
        from fastapi.testclient import TestClient

        from .app_fastapi import create_app as fastapi_app

        with TestClient(fastapi_app(project, config), raise_server_exceptions=False) as client:

            def send_fastapi(method: str, path: str, body: bytes | None) -> Answer:
                response = client.request(method, path, content=body, headers=headers)
                return Answer(response.status_code, _parsed(response.content), {
                    k.lower(): v for k, v in response.headers.items()
                })  # fmt: skip

            yield Client(send_fastapi)
    elif project.serving == "flask":
        from .app_flask import create_app as flask_app

        app = flask_app(project, config)
        try:
            tester = app.test_client()

            def send_flask(method: str, path: str, body: bytes | None) -> Answer:
                response = tester.open(path, method=method, data=body, headers=headers)
                return Answer(response.status_code, _parsed(response.get_data()), {
                    k.lower(): v for k, v in response.headers.items()
                })  # fmt: skip

            yield Client(send_flask)
        finally:
            app.extensions["service"].stop()
    else:
        raise ValueError(f"{project.name} has no API (serving: none)")
