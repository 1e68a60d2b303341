"""The API under test, on each framework: in-process clients, and a live server on a free port.

``framework`` runs a test on FastAPI and on Flask; ``project`` is the demo project serving it.
``call(method, path, json=..., raw=..., headers=...)`` returns ``(status, text, headers)``
(header names in lower case). ``start_api(model_dir, project=None)`` opens such a client on
another registry (or another project); ``live_url`` is the base URL of the real server
(``server_fastapi.http_server``: uvicorn, or ``server_flask.http_server``: gevent, as ``serve``
runs them, in a thread: ``support.live_server``) for tests that need concurrent connections or
raw sockets. The apps read their settings from the environment when they are created, as
``serve`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from prodml_runtime.core.schema import Schema
from prodml_runtime.project import Project

from tests.demo import demo_project
from tests.serving.support import live_server

FRAMEWORKS = ("fastapi", "flask")
Call = Callable[..., tuple[int, str, dict[str, str]]]
StartApi = Callable[..., AbstractContextManager[Call]]


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    """The web framework serving the API: fastapi or flask."""
    return str(request.param)


@pytest.fixture
def project(schema: Schema, sample_path: Path, framework: str) -> Project:
    """The demo project, serving with ``framework``."""
    return demo_project(schema, sample_path, serving=framework)


@pytest.fixture
def prediction_log_path(tmp_path: Path) -> Path:
    return tmp_path / "predictions.db"


@pytest.fixture
def serving_env(
    monkeypatch: pytest.MonkeyPatch, schema_path: Path, prediction_log_path: Path
) -> pytest.MonkeyPatch:
    """The environment the apps read their settings from (``monkeypatch``, to set more)."""
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.setenv("PREDICTION_LOG", str(prediction_log_path))
    return monkeypatch


def _fastapi_client(project: Project) -> AbstractContextManager[Call]:
    from fastapi.testclient import TestClient
    from prodml_runtime.serving.app_fastapi import create_app

    @contextmanager
    def client() -> Iterator[Call]:
        with TestClient(create_app(project), raise_server_exceptions=False) as test_client:

            def request(
                method: str,
                path: str,
                json: Any = None,
                raw: str | None = None,
                headers: dict[str, str] | None = None,
            ) -> tuple[int, str, dict[str, str]]:
                if raw is not None:
                    headers = {"content-type": "application/json", **(headers or {})}
                    response = test_client.request(method, path, content=raw, headers=headers)
                else:
                    response = test_client.request(method, path, json=json, headers=headers)
                return response.status_code, response.text, dict(response.headers)

            yield request

    return client()


def _flask_client(project: Project) -> AbstractContextManager[Call]:
    from prodml_runtime.serving.app_flask import create_app

    @contextmanager
    def client() -> Iterator[Call]:
        app = create_app(project)
        try:
            with app.test_client() as test_client:

                def request(
                    method: str,
                    path: str,
                    json: Any = None,
                    raw: str | None = None,
                    headers: dict[str, str] | None = None,
                ) -> tuple[int, str, dict[str, str]]:
                    if raw is not None:
                        response = test_client.open(
                            path,
                            method=method,
                            data=raw,
                            content_type="application/json",
                            headers=headers,
                        )
                    else:
                        response = test_client.open(path, method=method, json=json, headers=headers)
                    return (
                        response.status_code,
                        response.get_data(as_text=True),
                        {k.lower(): v for k, v in response.headers.items()},
                    )

                yield request
        finally:
            app.extensions["service"].stop()

    return client()


@pytest.fixture
def start_api(serving_env: pytest.MonkeyPatch, project: Project) -> StartApi:
    """``start_api(model_dir, project=None)``: a client of the app serving ``model_dir``'s
    champion, for ``project`` (the fixture's, unless another is given)."""

    def start(model_dir: Path, served: Project | None = None) -> AbstractContextManager[Call]:
        serving_env.setenv("MODEL_DIR", str(model_dir))
        served = served or project
        if served.serving == "fastapi":
            return _fastapi_client(served)
        return _flask_client(served)

    return start


@pytest.fixture
def call(start_api: StartApi, model_dir: Path) -> Iterator[Call]:
    with start_api(model_dir) as request:
        yield request


@pytest.fixture
def live_url(serving_env: pytest.MonkeyPatch, model_dir: Path, project: Project) -> Iterator[str]:
    """The base URL of ``project``'s real server, serving ``model_dir``'s champion."""
    serving_env.setenv("MODEL_DIR", str(model_dir))
    with live_server(project) as url:
        yield url
