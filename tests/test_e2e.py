"""End-to-end tier: bake representative projects, install them, and run them as a user would.

Each case (every problem type, serving choice, env manager and engine at least once) runs the
project's README quickstart (data, train, predict, monitor, its own test suite), then the rest of
the lifecycle (validate, eda, retrain for reproducibility), `monitor` on the sample (no alert) and
on a shifted batch (alert, exit 3) and, when it serves, starts the API on 127.0.0.1: every endpoint
with good and bad payloads, a concurrent load that must leave exactly one prediction-log row per
request, then `rollback` and a restart that must serve the previous champion. pip projects get a
venv that shares this interpreter's packages and install themselves with --no-deps; uv projects
run ``make install`` (``uv sync --locked`` on the lock prodml new wrote) verbatim (uv's cache
makes repeat installs cheap). A fresh machine has no uv: one uv project runs its quickstart with
no uv on PATH, so ``make install`` must bootstrap it.
"""

import csv
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path

import pytest
from conftest import install_project, make_venv

from bake import ROOT

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent

CASES = {
    "binary-fastapi-pip-github-docker": {
        "problem_type": "binary_classification", "serving": "fastapi", "env_manager": "pip",
        "ci": "github", "docker": "yes", "python_version": "3.11", "engine": "spark",
    },
    "multiclass-flask-pip-gitlab": {
        "problem_type": "multiclass_classification", "serving": "flask", "env_manager": "pip",
        "ci": "gitlab", "docker": "no", "python_version": "3.10", "tracking": "mlflow",
        "engine": "dask",
    },
    "regression-none-uv": {
        "problem_type": "regression", "serving": "none", "env_manager": "uv", "ci": "none",
        "python_version": "3.11",
    },
}  # fmt: skip


def quickstart(project: Path) -> list[str]:
    """The command lines of the README's Quickstart block."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README.md has a ## Quickstart section with a bash block"
    return [
        line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")
    ]


def user_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # uv and make's tools, as a user has them
    env["UV_PYTHON"] = sys.executable
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_SYSTEM_CERTS"] = "1"  # trust the machine's CA store, as pip does (proxies, mirrors)
    # pytest-xdist runs baked projects side by side: one OpenMP thread each, or their
    # spin-waiting thread pools oversubscribe the cores (measured: 6 s alone, 400 s side by side).
    env["OMP_NUM_THREADS"] = "1"
    return env


def shell(script: str, cwd: Path, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run ``script`` as the user would; ``timeout`` only stops a hung run (a loaded machine
    made a healthy quickstart take over 600 s)."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=user_env(),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def install_lines(project: Path, lines: list[str], env_manager: str) -> list[str]:
    """pip quickstarts: ``make install`` (a hash-checked install of the lock from the index)
    becomes ``install_project``'s (a venv sharing this interpreter's packages, the vendored
    wheels and the project). uv quickstarts run verbatim."""
    if env_manager == "uv":
        return lines
    assert "make install" in lines, lines
    install_project(project, user_env())
    return [line for line in lines if line != "make install"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(
    url: str, payload: object | None = None, raw: bytes | None = None, method: str | None = None
) -> tuple[int, dict, Message]:
    """(status, JSON body, headers) of one request; ``raw`` sends bytes as they are."""
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            kind = response.headers.get("Content-Type", "")
            parsed = json.loads(body) if "json" in kind else {"text": body.decode()}
            return response.status, parsed, response.headers
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            parsed = {"text": body.decode(errors="replace")}
        return err.code, parsed, err.headers


def a_record(project: Path, data: str = "data/raw/sample.csv") -> dict[str, object]:
    """The first row of a data file of the project (its sample), without its target, as
    JSON-ready values."""
    import yaml

    schema = yaml.safe_load((project / "configs" / "schema.yaml").read_text())
    target, missing = schema["target"], {"", *schema.get("na_values", [])}
    with (project / data).open() as handle:
        row = next(csv.DictReader(handle))
    columns = {c["name"]: c for c in schema["columns"]}
    record: dict[str, object] = {}
    for name, value in row.items():
        column = columns.get(name, {})
        if name == target or column.get("role", "feature") != "feature":
            continue
        if value in missing:
            record[name] = None
        elif column.get("type") == "numeric":
            record[name] = float(value)
        elif column.get("type") == "boolean":
            record[name] = value.lower() in ("true", "1")
        else:
            record[name] = value
    return record


def project_python(project: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the baked project's own interpreter (pip and uv quickstarts both leave .venv)."""
    command = [project / ".venv" / "bin" / "python", *args]
    return subprocess.run(command, cwd=project, env=user_env(), capture_output=True, text=True)


def champion(project: Path, package: str) -> str:
    code = "from prodml_runtime.io import registry; print(registry.champion(registry.model_dir()))"
    result = project_python(project, "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def metadata(project: Path, version: str) -> dict:
    return json.loads((project / "models" / version / "metadata.json").read_text())


def check_lifecycle(project: Path, package: str) -> str:
    """validate, eda, the evaluation report, reproducibility; return the first champion."""
    validated = project_python(project, "-m", package, "validate", "data/raw/sample.csv")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    eda = project_python(project, "-m", package, "eda")
    assert eda.returncode == 0, eda.stderr
    assert (project / "reports" / "eda" / "eda.md").is_file()
    assert list((project / "reports" / "eda").rglob("*.png")), "EDA figures"

    report = (project / "reports" / "evaluation.md").read_text()
    assert list((project / "reports" / "figures").glob("*.png")), "evaluation figures"
    first = champion(project, package)
    assert first in report and first in (project / "docs" / "model-card.md").read_text()
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics, "metrics.json"

    # Same data + same config: identical metrics and an identical artifact.
    retrained = project_python(project, "-m", package, "train")
    assert retrained.returncode == 0, retrained.stderr
    second = champion(project, package)
    assert second != first, "the retrained model is a new version, promoted (ties promote)"
    before, after = metadata(project, first), metadata(project, second)
    assert before["sha256"] == after["sha256"]
    assert before["metrics"]["test"] == after["metrics"]["test"]

    return first


def mlflow_champion(project: Path) -> str:
    """The registry version that the champion alias of MLflow's Model Registry names."""
    code = (
        "import mlflow; mlflow.set_tracking_uri('sqlite:///mlflow.db'); "
        "found = mlflow.MlflowClient().get_model_version_by_alias('e2e_project', 'champion'); "
        "print(found.tags['prodml.version'])"
    )
    result = project_python(project, "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def check_mlflow_runs(project: Path, package: str) -> None:
    """tracking=mlflow: the quickstart's and the retrain's runs are in the project's MLflow, and
    its Model Registry's champion alias is the registry's champion."""
    code = (
        "import json, mlflow; mlflow.set_tracking_uri('sqlite:///mlflow.db'); "
        f"runs = mlflow.search_runs(experiment_names=['{package}'], output_format='list'); "
        "print(json.dumps([dict(r.data.tags, **{'metrics': r.data.metrics}) for r in runs]))"
    )
    result = project_python(project, "-c", code)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(runs) >= 2 and all(run["status"] == "promoted" for run in runs), runs
    current = metadata(project, champion(project, package))
    assert current["lineage"]["run_id"] in {run["run_id"] for run in runs}
    assert mlflow_champion(project) == current["version"]
    for run in runs:
        assert run["data_hash"] == current["lineage"]["data_hash"]
        assert any(key.startswith("duration.") for key in run["metrics"])
        assert f"test.{run['champion']}.{run['primary_metric']}" in run["metrics"]
    assert (project / "mlflow.db").is_file() and (project / "mlartifacts").is_dir()
    listed = project_python(project, "-m", package, "runs")
    assert listed.returncode == 0 and all(run["run_id"] in listed.stdout for run in runs)


class Server:
    """The baked project's API (``serve``) on a free loopback port, for a ``with`` block."""

    def __init__(self, project: Path, package: str) -> None:
        self.project, self.package = project, package
        self.base = f"http://127.0.0.1:{free_port()}"
        # The server's JSON log lines go to a file (a pipe nobody reads would fill up).
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)

    def __enter__(self) -> "Server":
        port = self.base.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [self.project / ".venv" / "bin" / "python", "-m", self.package, "serve",
             "--host", "127.0.0.1", "--port", port],
            cwd=self.project, env=user_env(), stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body, _ = self.call("/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert self.process.poll() is None, self.output()
                assert time.monotonic() < deadline, "API did not start within 60 s"
                time.sleep(0.3)
        assert status == 200 and body.get("status") == "ok", body
        return self

    def call(self, path: str, payload: object = None, **kwargs) -> tuple[int, dict, Message]:
        return call(self.base + path, payload, **kwargs)

    def written(self) -> str:
        """Everything the server has written so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def output(self) -> str:
        return self.written()[-4000:]

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        lines = self.written().splitlines()
        self.log.close()
        if exc[0] is None:  # everything the server wrote, its own start and stop too, is JSON
            assert all(is_json_object(line) for line in lines), "\n".join(lines[-20:])


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def logged_request_ids(database: Path) -> list[str]:
    """The request ids of the API's rows in a prediction log (a project's logs/predictions.db)."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT request_id FROM predictions WHERE source = 'api'")
        return [row[0] for row in rows]


def check_endpoints(server: Server, record: dict, version: str) -> None:
    """Every endpoint with good and bad payloads: 2xx with the contract, 4xx never 5xx."""
    status, body, _ = server.call("/ready")
    assert status == 200 and body["model_version"] == version, body
    status, body, _ = server.call("/model")
    assert status == 200 and body["version"] == version, body
    assert {"trained_at", "metrics", "schema", "lineage", "sha256"} <= set(body)
    lineage = metadata(server.project, version)["lineage"]
    assert body["lineage"]["data_sha256"] == lineage["data_hash"] is not None, body["lineage"]
    assert body["lineage"]["run_id"] == lineage["run_id"] is not None, body["lineage"]

    status, body, headers = server.call("/predict", record)
    assert status == 200 and body["model_version"] == version, body
    assert headers["X-Request-ID"], headers
    if isinstance(body["prediction"], float):
        assert math.isfinite(body["prediction"])
    status, body, _ = server.call("/predict/batch", {"records": [record, record]})
    assert status == 200 and len(body["predictions"]) == 2, body
    # A field that is no feature is ignored and named, as batch scoring ignores such a column.
    plain = server.call("/predict", record)[1]
    status, body, _ = server.call("/predict", {**record, "not_a_feature": 1})
    assert status == 200 and body["ignored"] == ["not_a_feature"], body
    assert body["prediction"] == plain["prediction"], (body, plain)

    numeric = next(k for k, v in record.items() if isinstance(v, float))
    bad_payloads = {
        "empty object": {},
        "wrong type": {**record, numeric: "a string"},
        "out of range": {**record, numeric: 1e12},
        "not an object": [record],
    }
    for name, payload in bad_payloads.items():
        status, body, _ = server.call("/predict", payload)
        assert status == 422, (name, body)
    nan = json.dumps(record).replace(json.dumps(record[numeric]), "NaN", 1).encode()
    assert server.call("/predict", raw=nan)[0] == 422
    assert server.call("/predict", raw=b"{not json")[0] in (400, 422)
    assert server.call("/predict/batch", {"records": []})[0] == 422
    status, body, _ = server.call("/predict/batch", {"records": [record] * 1001})
    assert status == 413, body
    assert server.call("/no-such-endpoint")[0] == 404
    assert server.call("/predict")[0] == 405  # GET

    status, body, _ = server.call("/metrics")
    assert status == 200
    assert "requests" in body["text"] and version in body["text"], body["text"][:2000]


def check_concurrent_logging(server: Server, record: dict) -> None:
    """Concurrent requests: every one answered, logged exactly once under its request id."""
    log = server.project / "logs" / "predictions.db"
    before = logged_request_ids(log)

    def predict(_: int) -> str:
        status, _, headers = server.call("/predict", record)
        assert status == 200
        return headers["X-Request-ID"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(predict, range(200)))
    assert len(set(ids)) == 200
    assert sorted(logged_request_ids(log)) == sorted(before + ids)


def check_api(project: Path, package: str) -> None:
    """The API against its contract, then rollback: a restart serves the previous champion."""
    record, current = a_record(project), champion(project, package)
    with Server(project, package) as server:
        check_endpoints(server, record, current)
        check_concurrent_logging(server, record)
    previous = rollback(project, package)
    assert previous != current
    with Server(project, package) as server:
        status, body, _ = server.call("/model")
        assert status == 200 and body["version"] == previous, body


def shifted_batch(project: Path, path: Path) -> None:
    """The sample with every feature pushed to one end of its range: drift by construction."""
    import pandas as pd
    import yaml

    schema = yaml.safe_load((project / "configs" / "schema.yaml").read_text())
    frame = pd.read_csv(project / "data" / "raw" / "sample.csv")
    for column in schema["columns"]:
        if column.get("role", "feature") != "feature":
            continue
        if column["type"] == "numeric":
            low, high = column.get("min"), column.get("max")
            if low is not None and high is not None:
                frame[column["name"]] = low + 0.95 * (high - low)
            else:
                frame[column["name"]] = frame[column["name"]] * 10 + 100
        elif column["type"] == "categorical":
            frame[column["name"]] = column["categories"][-1]
    frame.to_csv(path, index=False)


def check_monitoring(project: Path, package: str) -> None:
    """monitor passes on the training distribution and alerts (exit 3) on a shifted batch."""
    calm = project_python(project, "-m", package, "monitor", "--input", "data/raw/sample.csv")
    assert calm.returncode == 0, calm.stdout + calm.stderr
    shifted_batch(project, project / "data" / "shifted.csv")
    alert = project_python(
        project, "-m", package, "monitor", "--input", "data/shifted.csv",
        "--output", "reports/monitoring-shifted",
    )  # fmt: skip
    assert alert.returncode == 3, alert.stdout + alert.stderr
    report = json.loads((project / "reports" / "monitoring-shifted" / "report.json").read_text())
    assert report, "the alert comes with its JSON report"
    assert (project / "reports" / "monitoring-shifted" / "report.md").is_file()


def rollback(project: Path, package: str) -> str:
    rolled = project_python(project, "-m", package, "rollback")
    assert rolled.returncode == 0, rolled.stderr
    return champion(project, package)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_baked_project_quickstart_and_api(case, tmp_path):
    given = [arg for key, value in CASES[case].items() for arg in ("--set", f"{key}={value}")]
    result = subprocess.run(
        [BIN / "prodml", "new", "E2E Project", "--no-input", *given, "-o", tmp_path],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    project = tmp_path / "e2e-project"

    lines = install_lines(project, quickstart(project), CASES[case]["env_manager"])
    assert any("make train" in line for line in lines) and any(
        "make test" in line for line in lines
    )
    run = shell("\n".join(lines), cwd=project)
    assert run.returncode == 0, f"quickstart failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    summary = re.findall(r"^=*\s*(\d+ passed.*?) in [\d.]+s", run.stdout, re.M)
    assert summary and "failed" not in summary[-1] and "error" not in summary[-1], summary

    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics, "training wrote its evaluation"
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    )
    # Data, models and reports are git-ignored, the lock was committed by prodml new; what
    # changes is meant to be committed: the model card and design doc that training regenerates.
    changed = set(status.stdout.splitlines()) - {" M docs/model-card.md", " M docs/design.md"}
    assert changed == set(), "quickstart outputs are git-ignored"

    first = check_lifecycle(project, "e2e_project")
    if CASES[case].get("tracking") == "mlflow":
        check_mlflow_runs(project, "e2e_project")
    check_monitoring(project, "e2e_project")
    if CASES[case]["serving"] != "none":
        check_api(project, "e2e_project")  # ends with a rollback to the first champion
    else:
        assert rollback(project, "e2e_project") == first
    assert champion(project, "e2e_project") == first
    if CASES[case].get("tracking") == "mlflow":
        assert mlflow_champion(project) == first, "the rollback reached MLflow's Model Registry"


def test_wheel_install_generates_a_project_offline(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [BIN / "uv", "build", "--wheel", "--no-build-isolation", "--python", sys.executable,
         "-o", dist, ROOT],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("prodml-*.whl")
    venv = make_venv(tmp_path / "venv")
    install = subprocess.run(
        [BIN / "uv", "pip", "install", "--offline", "--no-deps", "--python", venv / "bin/python",
         wheel],
        capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    offline = {
        **user_env(),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    new = subprocess.run(
        [venv / "bin" / "prodml", "new", "--no-input", "--set", "serving=flask",
         "-o", tmp_path / "out"],
        cwd=tmp_path, env=offline, capture_output=True, text=True,
    )  # fmt: skip
    assert new.returncode == 0, new.stderr
    project = tmp_path / "out" / "churn-model"
    assert 'serving="flask"' in (project / "src" / "churn_model" / "project.py").read_text()
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import prodml.generate as g; print(g.template_dir())"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert str(venv) in where.stdout, "the wheel's own packaged template was used"
    with zipfile.ZipFile(wheel) as packaged:
        for vendored in (project / "vendor").iterdir():
            inside = packaged.read(f"prodml/wheels/{vendored.name}")
            assert vendored.read_bytes() == inside, "the wheel's own runtime wheel was vendored"


def test_quickstart_runs_verbatim_without_uv_on_path(tmp_path):
    """A fresh machine with Python, make and git but no uv: `make install` installs uv into .venv
    with pip (python3), then the README's Quickstart runs as written."""
    env = {k: v for k, v in user_env().items() if k != "UV_PYTHON"}
    env["PATH"] = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "uv").exists()
    )
    assert shutil.which("uv", path=env["PATH"]) is None
    assert shutil.which("python3", path=env["PATH"]) and shutil.which("make", path=env["PATH"])
    result = subprocess.run(
        [BIN / "prodml", "new", "Fresh Machine", "--no-input", "--set", "serving=none",
         "-o", tmp_path],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    project = tmp_path / "fresh-machine"
    assert (project / "uv.lock").is_file()

    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(quickstart(project))], cwd=project, env=env,
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, f"quickstart failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert re.search(r"pip install .*\buv$", run.stdout, re.M), "make install bootstrapped uv"
    assert (project / ".venv" / "bin" / "uv").is_file(), "uv sync keeps it (a dev dependency)"
    summary = re.findall(r"^=*\s*(\d+ passed.*?) in [\d.]+s", run.stdout, re.M)
    assert summary and "failed" not in summary[-1] and "error" not in summary[-1], summary
