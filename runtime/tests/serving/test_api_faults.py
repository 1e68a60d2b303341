"""The service under faults: a prediction log that refuses writes or cannot be opened, a
model it refuses, and clients that are slow, broken or gone, on the real server over raw
sockets. None of it depends on the problem type: run on one, on both frameworks."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import artifact, registry
from prodml_runtime.io.prediction_log import PredictionLog
from prodml_runtime.project import Project
from prodml_runtime.serving import server_fastapi, server_flask, service
from prodml_runtime.serving.observability import JsonFormatter

from tests.serving.support import real_record

pytestmark = pytest.mark.parametrize("problem", ["binary"], indirect=True)

#: The request timeout of the live servers here (REQUEST_TIMEOUT_SECONDS), and their idle limit.
TIMEOUT = 1
#: How long a test client keeps going before it gives up on the server closing the connection.
PATIENCE = 20.0


@pytest.fixture
def record(schema: Schema, sample: pd.DataFrame) -> dict[str, Any]:
    return real_record(schema, sample)


# --- The prediction log ---------------------------------------------------------------------


class FullDisk:
    """While ``full``, prediction-log writes fail as SQLite fails on a full disk."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        append, commit = PredictionLog.append_rows, service.commit_nothing

        def append_rows(log: PredictionLog, rows: Any) -> int:
            self.check()
            return append(log, rows)

        def commit_nothing(path: Path) -> None:
            self.check()
            commit(path)

        monkeypatch.setattr(PredictionLog, "append_rows", append_rows)
        monkeypatch.setattr(service, "commit_nothing", commit_nothing)

    def check(self) -> None:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")


def test_a_full_disk_refuses_predictions_with_503_until_the_log_takes_writes_again(
    monkeypatch: pytest.MonkeyPatch, call, record, prediction_log_path: Path
) -> None:
    disk = FullDisk(monkeypatch)
    assert call("POST", "/predict", json=record)[0] == 200
    disk.full = True
    for path, body in (("/predict", record), ("/predict/batch", {"records": [record] * 2})):
        status, text, _ = call("POST", path, json=body)
        assert status == 503, text
        detail = json.loads(text)["detail"]
        assert "prediction log" in detail and "database or disk is full" in detail
    status, text, _ = call("GET", "/ready")
    assert status == 503 and "database or disk is full" in json.loads(text)["detail"]
    assert call("GET", "/health")[0] == 200
    assert call("GET", "/ready")[0] == 503  # still full: the probe's write fails again
    disk.full = False
    status, text, _ = call("GET", "/ready")  # its write commits: ready again, no restart
    assert status == 200, text
    assert call("POST", "/predict", json=record)[0] == 200
    assert PredictionLog(prediction_log_path).count() == 2  # every answered prediction, logged
    metrics = call("GET", "/metrics")[1]
    assert 'http_requests_total{endpoint="/predict",method="POST",status="503"} 1.0' in metrics
    assert 'status="500"' not in metrics


def test_a_prediction_that_fails_to_log_recovers_on_the_next_that_does(
    monkeypatch: pytest.MonkeyPatch, call, record
) -> None:
    """Without anyone asking ``/ready``, predictions come back once writes succeed."""
    disk = FullDisk(monkeypatch)
    disk.full = True
    assert call("POST", "/predict", json=record)[0] == 503
    disk.full = False
    assert call("POST", "/predict", json=record)[0] == 200
    assert call("GET", "/ready")[0] == 200


def test_commit_nothing_commits_and_changes_nothing(tmp_path: Path, record) -> None:
    path = tmp_path / "log.db"
    log = PredictionLog(path)
    row = ("r", 0, "2026-01-01T00:00:00.000000Z", "v", "api", json.dumps(record), "{}", 1.0)
    log.append_rows([row])
    before = log.read().to_dict()
    service.commit_nothing(path)
    assert log.read().to_dict() == before
    text = tmp_path / "text.db"
    text.write_text("not a database, some text that is long enough to be a header" * 2)
    with pytest.raises(sqlite3.DatabaseError):
        service.commit_nothing(text)


@pytest.mark.parametrize("kind", ["directory", "not SQLite"])
def test_a_bad_prediction_log_path_runs_not_ready_with_the_reason(
    serving_env: pytest.MonkeyPatch, start_api, model_dir: Path, tmp_path: Path, record, kind
) -> None:
    path = tmp_path / "predictions.db"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_text("these are not the rows you are looking for\n" * 4)
    serving_env.setenv("PREDICTION_LOG", str(path))
    with start_api(model_dir) as call:
        assert call("GET", "/health")[0] == 200
        status, text, _ = call("GET", "/ready")
        assert status == 503 and str(path) in json.loads(text)["detail"], text
        status, text, _ = call("POST", "/predict", json=record)
        assert status == 503 and "prediction log" in json.loads(text)["detail"], text
        if kind == "directory":
            path.rmdir()
        else:
            path.unlink()
        assert call("GET", "/ready")[0] == 200  # fixed: the log opens, no restart
        assert call("POST", "/predict", json=record)[0] == 200
    assert PredictionLog(path).count() == 1


@pytest.mark.parametrize("fault", ["another scikit-learn", "a foreign type"])
def test_a_refused_model_runs_not_ready_and_says_why(
    start_api, model_dir: Path, tmp_path: Path, record, fault: str
) -> None:
    import shutil

    from sklearn.dummy import DummyRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    metadata_file = copy / version / registry.METADATA_FILE
    metadata = json.loads(metadata_file.read_text())
    if fault == "another scikit-learn":
        metadata["libraries"]["scikit-learn"] = "0.24.2"
        expected = "trained with scikit-learn 0.24.2"
    else:
        evil = Pipeline([("step", FunctionTransformer(print)), ("model", DummyRegressor())])
        data = artifact.dumps(evil)
        (copy / version / registry.MODEL_FILE).write_bytes(data)
        metadata["sha256"] = hashlib.sha256(data).hexdigest()
        expected = "not on the reviewed list: builtins.print"
    metadata_file.write_text(json.dumps(metadata))
    with start_api(copy) as call:
        status, text, _ = call("GET", "/ready")
        assert status == 503 and expected in json.loads(text)["detail"], text
        assert call("POST", "/predict", json=record)[0] == 503


# --- Clients, on the real server --------------------------------------------------------------


@pytest.fixture
def server(
    serving_env: pytest.MonkeyPatch, project: Project, request: pytest.FixtureRequest
) -> Iterator[tuple[str, int]]:
    """(host, port) of the live server with a request timeout and idle limit of ``TIMEOUT``."""
    serving_env.setenv("REQUEST_TIMEOUT_SECONDS", str(TIMEOUT))
    for module in (server_fastapi, server_flask):
        serving_env.setattr(module, "KEEP_ALIVE_SECONDS", TIMEOUT)
    base = request.getfixturevalue("live_url")  # started with the settings above
    host, port = base.removeprefix("http://").split(":")
    yield host, int(port)


def connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=PATIENCE)


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    data, deadline = b"", time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"the server kept the connection open; it sent {data[:200]!r}")


def status_and_detail(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["detail"]


def head(path: str, length: int | None, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode()


def metrics(address: tuple[str, int]) -> str:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=10) as r:
        return r.read().decode()


def test_a_connection_that_sends_nothing_is_closed(server) -> None:
    with connect(server) as sock:
        assert until_closed(sock) == b""


def test_a_busy_keep_alive_connection_outlives_the_limits(server, record) -> None:
    """Requests one after another on one connection, for longer than the idle limit and the
    request timeout together: each is answered and the connection stays open."""
    body = json.dumps(record).encode()
    with connect(server) as sock:
        reader = sock.makefile("rb")
        deadline = time.monotonic() + 3 * TIMEOUT
        answered = 0
        while time.monotonic() < deadline:
            sock.sendall(head("/predict", len(body)) + body)
            status_line = reader.readline()
            assert status_line.split()[1:2] == [b"200"], status_line
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            reader.read(length)
            answered += 1
            time.sleep(0.05)
    assert answered > 3 * TIMEOUT / 0.05 / 4


def test_a_slow_request_head_gets_408_and_the_connection_closes(server) -> None:
    """Slowloris: one more header line at a time, never the blank line that ends the head."""
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        sock.settimeout(0.2)
        answer, sent = b"", 0
        while not answer and sent < PATIENCE / 0.2:
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                sent += 1
                sock.sendall(b"X-Slow-%d: still here\r\n" % sent)
        sock.settimeout(PATIENCE)
        answer += until_closed(sock)
    status, detail = status_and_detail(answer)
    assert status == 408 and "head" in detail


@pytest.mark.parametrize("garbage", [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"x" * 2000])
def test_garbage_without_a_line_end_is_timed_out(server, garbage: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(garbage)  # a TLS hello, or junk: no line end, so no request line either
        answer = until_closed(sock)
    assert not answer or answer.split()[1] in (b"400", b"408"), answer[:200]


def test_a_slow_body_gets_408_and_the_connection_closes(server, record) -> None:
    body = json.dumps(record).encode()
    with connect(server) as sock:
        sock.sendall(head("/predict", len(body)) + body[:5])
        answer = until_closed(sock)  # the rest never comes
    status, detail = status_and_detail(answer)
    assert status == 408 and "body" in detail
    assert 'status="408"' in metrics(server)


def test_a_huge_declared_body_is_refused_unread_and_the_connection_closes(server) -> None:
    with connect(server) as sock:
        sock.sendall(head("/predict", 10**12) + b'{"a": ')
        answer = until_closed(sock)  # not kept open to drain a terabyte
    assert status_and_detail(answer)[0] == 413
    assert b"connection: close" in answer.lower()


def test_two_content_lengths_are_refused(server, record) -> None:
    body = json.dumps(record).encode()
    with connect(server) as sock:
        sock.sendall(head("/predict", len(body), "Content-Length: 5") + body)
        answer = until_closed(sock)
    assert answer.split()[1] == b"400", answer[:200]


def test_over_a_hundred_headers_are_answered_never_with_a_5xx(server) -> None:
    many = "".join(f"X-Header-{n}: {n}\r\n" for n in range(150)).encode()
    with connect(server) as sock:
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" + many + b"\r\n"
        )
        answer = until_closed(sock)
    status = int(answer.split()[1])
    assert status in (200, 431), answer[:200]  # uvicorn takes them, gevent refuses (in JSON)
    if status == 431:
        assert "headers" in status_and_detail(answer)[1]


def test_a_client_gone_mid_upload_is_a_499_with_one_log_line(server, record, project) -> None:
    logger = logging.getLogger(f"{project.name}.api")
    handler = next(h for h in logger.handlers if isinstance(h.formatter, JsonFormatter))
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        for path in ("/predict", "/predict/batch"):
            with connect(server) as sock:
                sock.sendall(head(path, 1000, "X-Request-ID: gone-" + path[1:].replace("/", "-")))
                sock.sendall(b'{"records": [')
                time.sleep(0.2)  # the server is reading the body when the client leaves
        text = ""
        for _ in range(50):  # the server notices the close on its next read
            text = metrics(server)
            if text.count('status="499"') == 2:
                break
            time.sleep(0.1)
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    assert 'http_requests_total{endpoint="/predict",method="POST",status="499"} 1.0' in text
    assert 'http_requests_total{endpoint="/predict/batch",method="POST",status="499"} 1.0' in text
    assert 'status="500"' not in text and 'status="400"' not in text
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    gone = [line for line in lines if str(line.get("request_id", "")).startswith("gone-")]
    assert [line["status"] for line in gone] == [499, 499], gone
    assert not any("exception" in line for line in lines), lines
