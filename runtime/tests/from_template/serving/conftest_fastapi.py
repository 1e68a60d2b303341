"""The FastAPI service under test: in-process clients, and a live server on a free port.

``call(method, path, json=..., raw=..., headers=...)`` returns ``(status, text, headers)``.
``start_api(model_dir)`` opens such a client on another registry; ``live_url`` is the base URL
of the real server (``server.http_server``: uvicorn as ``serve`` runs it, in a thread) for tests
that need concurrent connections or raw sockets.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

Call = Callable[..., tuple[int, str, dict[str, str]]]


@pytest.fixture
def prediction_log_path(tmp_path: Path) -> Path:
    return tmp_path / "predictions.db"


@pytest.fixture
def start_api(
    monkeypatch: pytest.MonkeyPatch, schema_path: Path, prediction_log_path: Path
) -> Callable[[Path], AbstractContextManager[Call]]:
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.setenv("PREDICTION_LOG", str(prediction_log_path))
    from {{ cookiecutter.package_name }}.serving.app import create_app

    @contextmanager
    def start(model_dir: Path) -> Iterator[Call]:
        monkeypatch.setenv("MODEL_DIR", str(model_dir))
        with TestClient(create_app(), raise_server_exceptions=False) as client:

            def request(
                method: str,
                path: str,
                json: Any = None,
                raw: str | None = None,
                headers: dict[str, str] | None = None,
            ) -> tuple[int, str, dict[str, str]]:
                if raw is not None:
                    headers = {"content-type": "application/json", **(headers or {})}
                    response = client.request(method, path, content=raw, headers=headers)
                else:
                    response = client.request(method, path, json=json, headers=headers)
                return response.status_code, response.text, dict(response.headers)

            yield request

    return start


@pytest.fixture
def call(
    start_api: Callable[[Path], AbstractContextManager[Call]], model_dir: Path
) -> Iterator[Call]:
    with start_api(model_dir) as request:
        yield request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_url(
    monkeypatch: pytest.MonkeyPatch, model_dir: Path, schema_path: Path, prediction_log_path: Path
) -> Iterator[str]:
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.setenv("PREDICTION_LOG", str(prediction_log_path))
    from {{ cookiecutter.package_name }}.serving.app import create_app
    from {{ cookiecutter.package_name }}.serving.server import http_server

    port = free_port()
    server = http_server(create_app(), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
