"""The Flask service under test: in-process clients, and a live server on a free port.

``call(method, path, json=..., raw=..., headers=...)`` returns ``(status, text, headers)``.
``start_api(model_dir)`` opens such a client on another registry; ``live_url`` is the base URL
of the real server (``server.http_server``, in a thread) for tests that need concurrent connections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

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
        app = create_app()
        with app.test_client() as client:

            def request(
                method: str,
                path: str,
                json: Any = None,
                raw: str | None = None,
                headers: dict[str, str] | None = None,
            ) -> tuple[int, str, dict[str, str]]:
                if raw is not None:
                    response = client.open(
                        path,
                        method=method,
                        data=raw,
                        content_type="application/json",
                        headers=headers,
                    )
                else:
                    response = client.open(path, method=method, json=json, headers=headers)
                return (
                    response.status_code,
                    response.get_data(as_text=True),
                    {k.lower(): v for k, v in response.headers.items()},
                )

            yield request
        app.extensions["service"].stop()

    return start


@pytest.fixture
def call(
    start_api: Callable[[Path], AbstractContextManager[Call]], model_dir: Path
) -> Iterator[Call]:
    with start_api(model_dir) as request:
        yield request


@pytest.fixture
def live_url(
    monkeypatch: pytest.MonkeyPatch, model_dir: Path, schema_path: Path, prediction_log_path: Path
) -> Iterator[str]:
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.setenv("PREDICTION_LOG", str(prediction_log_path))
    import gevent

    from {{ cookiecutter.package_name }}.serving.app import create_app
    from {{ cookiecutter.package_name }}.serving.server import http_server

    app = create_app()
    running: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:  # gevent's loop belongs to the thread that runs it
        server = http_server(app, "127.0.0.1", 0)
        server.start()
        running.update(server=server, hub=gevent.get_hub())
        started.set()
        server.serve_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(timeout=30):
        raise RuntimeError("the API server did not start")
    yield f"http://127.0.0.1:{running['server'].server_port}"
    running["hub"].loop.run_callback_threadsafe(running["server"].stop)
    thread.join(timeout=10)
    app.extensions["service"].stop()
