"""The API client for the FastAPI service: ``call(method, path, json=..., raw=...)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

Call = Callable[..., tuple[int, str]]


@pytest.fixture
def call(model_dir: Path, monkeypatch: pytest.MonkeyPatch, schema_path: Path) -> Iterator[Call]:
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    from {{ cookiecutter.package_name }}.api import app

    with TestClient(app) as client:

        def request(method: str, path: str, json: Any = None, raw: str | None = None):
            if raw is not None:
                headers = {"content-type": "application/json"}
                response = client.request(method, path, content=raw, headers=headers)
            else:
                response = client.request(method, path, json=json)
            return response.status_code, response.text

        yield request
