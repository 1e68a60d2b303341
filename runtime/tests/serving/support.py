"""What the serving tests share: a real request, the check of a prediction, scoring through a
``Service`` from an event loop, hypothesis strategies of records a schema allows, and a
project's real server on a free port (``live_server``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pandas as pd
import pytest
from hypothesis import strategies as st
from prodml_runtime.core.schema import Column, Schema
from prodml_runtime.project import Project
from prodml_runtime.serving.service import Service

Requests = list[tuple[str, list[dict[str, Any]]]]


def real_record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    """A complete, valid request built from a real row."""
    row = sample.dropna().iloc[0]
    values: dict[str, Any] = {}
    for column in schema.features:
        value = row[column.name]
        values[column.name] = (
            bool(value)
            if column.type == "boolean"
            else float(value)
            if column.type == "numeric"
            else str(value)
        )
    return values


def check_prediction(output: dict[str, Any], schema: Schema) -> None:
    """``output`` is a valid prediction for ``schema``'s problem type."""
    if schema.is_classification:
        assert output["prediction"] in schema.classes
        probabilities = output["probabilities"]
        assert set(probabilities) == set(schema.classes)
        assert all(0.0 <= p <= 1.0 for p in probabilities.values())
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert max(probabilities, key=probabilities.get) == output["prediction"]
    else:
        assert isinstance(output["prediction"], float)
        assert output["probabilities"] is None


def asyncio_loop(service: Service, requests: Requests) -> list[list[dict[str, Any]]]:
    """Submit ``requests`` from handlers that run in the same asyncio loop iteration."""

    async def handle() -> list[list[dict[str, Any]]]:
        futures = [service.submit(records, rid, time.perf_counter()) for rid, records in requests]
        return list(await asyncio.gather(*futures))

    return asyncio.run(handle())


def gevent_loop(service: Service, requests: Requests) -> list[list[dict[str, Any]]]:
    """Submit ``requests`` from greenlets that run in the same gevent loop iteration."""
    import gevent
    from prodml_runtime.serving.app_flask import GeventLoop

    service.loop = GeventLoop()

    def handle(rid: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        outputs: list[dict[str, Any]] = service.submit(records, rid, time.perf_counter()).get()
        return outputs

    greenlets = [gevent.spawn(handle, rid, records) for rid, records in requests]
    gevent.joinall(greenlets, raise_error=True)
    return [greenlet.value for greenlet in greenlets]


def valid_value(column: Column) -> st.SearchStrategy[Any]:
    """Values of ``column`` that the API and batch scoring accept."""
    if column.type == "categorical":
        values: st.SearchStrategy[Any] = st.sampled_from(list(column.categories or ()))
    elif column.type == "boolean":
        values = st.booleans()
    elif column.type == "datetime":
        values = st.dates(dt.date(1900, 1, 1)).map(
            lambda day: day.strftime(column.format or "%Y-%m-%d")
        )
    else:
        low = column.min if column.min is not None else -1e9
        high = column.max if column.max is not None else 1e9
        values = st.floats(min_value=low, max_value=high)
    return (values | st.none()) if column.nullable else values


def valid_records(schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({c.name: valid_value(c) for c in schema.features})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_fastapi(project: Project) -> Iterator[str]:
    from prodml_runtime.serving.app_fastapi import create_app
    from prodml_runtime.serving.server_fastapi import http_server

    port = free_port()
    server = http_server(create_app(project), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def live_flask(project: Project) -> Iterator[str]:
    import gevent
    from prodml_runtime.serving.app_flask import create_app
    from prodml_runtime.serving.server_flask import http_server

    app = create_app(project)
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
    try:
        yield f"http://127.0.0.1:{running['server'].server_port}"
    finally:
        running["hub"].loop.run_callback_threadsafe(running["server"].stop)
        thread.join(timeout=10)
        app.extensions["service"].stop()


def live_server(project: Project) -> AbstractContextManager[str]:
    """The base URL of ``project``'s real server (its settings from the environment)."""
    return live_fastapi(project) if project.serving == "fastapi" else live_flask(project)
