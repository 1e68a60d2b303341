"""Serving faults, on the real servers of baked projects over real sockets (both frameworks).

Slow, broken and departing clients are answered or cut off, never left hanging, and never turn
into a 5xx or a traceback; a full disk under the prediction log (a small tmpfs, when this runs
as root and may mount one) turns predictions into 503s until space is freed, without a restart;
a prediction-log path that is a directory or not SQLite leaves the server up and not ready.
Every line either server writes is a JSON object.
"""

import contextlib
import errno
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import install_project

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
PACKAGE = "faults"
#: REQUEST_TIMEOUT_SECONDS of the servers under test; the idle limit is the project's (5 s).
TIMEOUT = 2
#: How long a probe waits for the server to answer or close before it calls the server stuck.
PATIENCE = 30.0


def run(args: list, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env=environment(**env), capture_output=True, text=True, timeout=600
    )


def environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, "OMP_NUM_THREADS": "1", **overrides}


@pytest.fixture(scope="module", params=["fastapi", "flask"])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baked project serving with ``request.param``, installed and trained."""
    parent = tmp_path_factory.mktemp(f"faults-{request.param}")
    new = run(
        [BIN / "prodml", "new", PACKAGE, "--no-input", "--no-git", "-o", parent,
         "--set", f"serving={request.param}", "--set", "env_manager=pip", "--set", "ci=none",
         "--set", "docker=no"],
        cwd=parent,
    )  # fmt: skip
    assert new.returncode == 0, new.stderr
    project = parent / PACKAGE
    install_project(project)
    for command in (["data", "--output", "data/raw/sample.csv"], ["train", "--data",
                    "data/raw/sample.csv"]):  # fmt: skip
        done = run([project / ".venv/bin/python", "-m", PACKAGE, *command], cwd=project)
        assert done.returncode == 0, done.stderr
    return project


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The project's ``serve`` on a free port with ``env``, for a ``with`` block; on a clean
    exit it checks that every line the server wrote is a JSON object with no traceback."""

    def __init__(self, project: Path, **env: str) -> None:
        self.project, self.port = project, free_port()
        self.env = environment(REQUEST_TIMEOUT_SECONDS=str(TIMEOUT), **env)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)

    def __enter__(self) -> "Server":
        self.process = subprocess.Popen(
            [self.project / ".venv/bin/python", "-m", PACKAGE, "serve", "--port", str(self.port)],
            cwd=self.project, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                assert self.call("GET", "/health")[0] == 200
                return self
            except OSError:
                assert self.process.poll() is None, self.written()
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.2)

    def call(self, method: str, path: str, payload: object = None) -> tuple[int, dict, dict]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=PATIENCE) as response:
                body, status, headers = response.read(), response.status, response.headers
        except urllib.error.HTTPError as error:
            body, status, headers = error.read(), error.code, error.headers
        kind = headers.get("Content-Type", "")
        return status, json.loads(body) if "json" in kind else {"text": body.decode()}, headers

    def written(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        lines = self.written().splitlines()
        self.log.close()
        if exc[0] is None:
            for line in lines:
                entry = json.loads(line)  # fails on a line that is not JSON
                assert isinstance(entry, dict) and "exception" not in entry, line


def a_record(project: Path) -> dict:
    """A valid request made from the project's schema."""
    code = (
        "import json; from prodml_runtime.data.sample import example_record\n"
        "from prodml_runtime.config import load_schema\n"
        "print(json.dumps(example_record(load_schema())))"
    )
    done = run([project / ".venv/bin/python", "-c", code], cwd=project)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- Hostile clients --------------------------------------------------------------------------


def exchange(port: int, data: bytes, trickle: bytes = b"", then_close: bool = False) -> bytes:
    """Send ``data`` on a new connection, then the bytes of ``trickle`` over and over, one every
    0.2 s; return all the server sends until it closes the connection (or ``b""`` at once
    when ``then_close``: the client leaves)."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
        sock.sendall(data)
        if then_close:
            time.sleep(0.3)
            return b""
        answer, deadline, sent = b"", time.monotonic() + PATIENCE, 0
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if trickle:
                    sock.sendall(trickle[sent % len(trickle) :][:1])
                    sent += 1
                continue
            except ConnectionResetError:
                return answer
            if not chunk:
                return answer
            answer += chunk
    raise AssertionError(f"the server kept the connection open after {answer[:200]!r}")


def head(path: str, length: int, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    return ("\r\n".join([*lines, f"Content-Length: {length}", *extra]) + "\r\n\r\n").encode()


def status(answer: bytes) -> int:
    return int(answer.split()[1])


def detail(answer: bytes) -> str:
    return json.loads(answer.partition(b"\r\n\r\n")[2])["detail"]


def test_hostile_clients_are_answered_or_cut_off_never_left_hanging(project: Path) -> None:
    body = json.dumps(a_record(project)).encode()
    many_headers = "".join(f"X-Header-{n}: {n}\r\n" for n in range(150)).encode()
    with Server(project) as server:
        port = server.port
        probes = {
            "idle": lambda: exchange(port, b""),
            "huge length": lambda: exchange(port, head("/predict", 10**12) + b"{"),
            "garbage": lambda: exchange(port, bytes(range(256)) * 8),
            "garbage without a line end": lambda: exchange(port, b"\x16\x03\x01" + b"x" * 2000),
            "150 headers": lambda: exchange(
                port,
                b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                + many_headers
                + b"\r\n",
            ),
            "two lengths": lambda: exchange(
                port, head("/predict", len(body), "Content-Length: 5") + body
            ),
            "slow head": lambda: exchange(port, b"GET /health HTTP/1.1\r\n", b"X-Slow: 1\r\n"),
            "slow body": lambda: exchange(port, head("/predict", len(body)), body),
            "gone mid-upload": lambda: exchange(port, head("/predict", 999) + b"{", b"", True),
            "gone mid-batch": lambda: exchange(
                port, head("/predict/batch", 999) + b'{"records": [', b"", True
            ),
        }
        with ThreadPoolExecutor(max_workers=len(probes)) as pool:
            answers = dict(
                zip(probes, pool.map(lambda probe: probe(), probes.values()), strict=True)
            )
        assert answers["idle"] == b""
        assert status(answers["huge length"]) == 413  # and closed: not drained
        assert not answers["garbage"] or status(answers["garbage"]) == 400
        quiet = answers["garbage without a line end"]
        assert not quiet or status(quiet) in (400, 408), quiet[:200]
        assert status(answers["150 headers"]) in (200, 431)  # uvicorn takes them, gevent refuses
        assert status(answers["two lengths"]) == 400
        for name in ("slow head", "slow body"):
            assert status(answers[name]) == 408, answers[name][:300]
            assert f"within {TIMEOUT} s" in detail(answers[name])
        assert server.call("GET", "/predict")[2]["Allow"]  # 405 names the allowed methods
        metrics = server.call("GET", "/metrics")[1]["text"]
    for path in ("/predict", "/predict/batch"):
        assert f'endpoint="{path}",method="POST",status="499"' in metrics, metrics
    assert 'status="5' not in metrics


# --- The prediction log -----------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(where: Path):
    """A 1 MiB tmpfs mounted at ``where``, or a skip saying why it cannot be."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a small tmpfs")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as sink:
        try:
            while True:
                sink.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


def test_a_full_disk_turns_predictions_into_503_until_space_is_freed(
    project: Path, tmp_path: Path
) -> None:
    record = a_record(project)
    with (
        small_disk(tmp_path / "disk") as disk,
        Server(project, PREDICTION_LOG=str(disk / "predictions.db")) as server,
    ):
        answered = 0
        assert server.call("POST", "/predict", record)[0] == 200
        answered += 1
        filler = fill(disk)
        for _ in range(200):  # a few writes may still fit in pages SQLite already holds
            code, body, _ = server.call("POST", "/predict", record)
            assert code in (200, 503), body
            if code == 503:
                break
            answered += 1
        assert code == 503 and "prediction log" in body["detail"], body
        code, ready, _ = server.call("GET", "/ready")
        assert code == 503 and "prediction log" in ready["detail"], ready
        filler.unlink()
        code, ready, _ = server.call("GET", "/ready")  # its probe write commits now
        assert code == 200, ready
        assert server.call("POST", "/predict", record)[0] == 200
        answered += 1
        with sqlite3.connect(disk / "predictions.db") as log:
            (rows,) = log.execute("SELECT COUNT(*) FROM predictions").fetchone()
        assert rows == answered  # every answered prediction is logged, none other
        metrics = server.call("GET", "/metrics")[1]["text"]
        assert 'status="500"' not in metrics


@pytest.mark.parametrize("kind", ["directory", "not SQLite"])
def test_a_bad_prediction_log_path_leaves_the_server_up_and_not_ready(
    project: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "predictions.db"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_text("a text file where the prediction log should be\n" * 4)
    with Server(project, PREDICTION_LOG=str(path)) as server:
        code, ready, _ = server.call("GET", "/ready")
        assert code == 503 and str(path) in ready["detail"], ready
        code, body, _ = server.call("POST", "/predict", a_record(project))
        assert code == 503 and "prediction log" in body["detail"], body
        assert server.process.poll() is None
        if kind == "directory":
            path.rmdir()
        else:
            path.unlink()
        assert server.call("GET", "/ready")[0] == 200  # fixed: no restart needed
