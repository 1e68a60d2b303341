"""The API client for the Flask service: ``call(method, path, json=..., raw=...)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

Call = Callable[..., tuple[int, str]]


@pytest.fixture
def call(model_dir: Path, monkeypatch: pytest.MonkeyPatch, schema_path: Path) -> Iterator[Call]:
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    from {{ cookiecutter.package_name }}.api import create_app

    with create_app().test_client() as client:

        def request(method: str, path: str, json: Any = None, raw: str | None = None):
            if raw is not None:
                response = client.open(
                    path, method=method, data=raw, content_type="application/json"
                )
            else:
                response = client.open(path, method=method, json=json)
            return response.status_code, response.get_data(as_text=True)

        yield request
