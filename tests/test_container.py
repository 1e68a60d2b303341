"""Container tier: a baked project's own Dockerfile, built and run on a real engine (podman).

For each case (both frameworks, both env managers) the project is baked, locked (``make lock``),
trained on a small config, and built with its own ``make docker-build`` (the CA bundle and a
package index passed as build secrets). The container then runs as docker-compose.yml runs the
``api`` service, and must: answer /ready, /predict and a 422, run as uid 10001, pass its
HEALTHCHECK and the compose health check, write only JSON log lines, put the prediction log in
the named volume, and stop on SIGTERM with exit code 0. Nothing from data/, logs/, reports/,
runs/ or tests/ may be in the image, and the index credentials in no layer. A rebuild after a
retrain (only models/ changed) must serve the new champion. The ``engine=dask`` case also runs
docker-compose.yml's ``dask`` profile: a scheduler and workers from the image, and ``score``
scoring a Parquet dataset on them into the shared data/ folder and the Parquet prediction log.

Where podman cannot run, the tier skips with the reason; with PRODML_REQUIRE_CONTAINERS=1 (CI)
that is a failure. Build, rebuild, size and cold-start figures go to the test report (``-rA``
prints them) and to the terminal summary.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
import urllib.error
import uuid
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import install_project
from engine import REQUIRE, Container, Engine, ca_bundle, unavailable
from test_e2e import a_record, call, free_port, is_json_object, logged_request_ids, user_env

from bake import bake, fast_training

pytestmark = pytest.mark.container

CASES = {
    "fastapi-uv": {"serving": "fastapi", "env_manager": "uv", "ci": "github", "engine": "dask"},
    "flask-pip": {
        "serving": "flask", "env_manager": "pip", "ci": "gitlab",
        "problem_type": "multiclass_classification",
    },
}  # fmt: skip
#: An index URL with credentials: pip names the index it uses; the secret must stay out of layers.
INDEX_SECRET = "not-a-real-token"
INDEX_URL = f"https://prodml-test:{INDEX_SECRET}@pypi.org/simple"
EXCLUDED = ("data", "logs", "reports", "runs", "tests")


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    reason = unavailable()
    if reason is not None:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1 but no container engine can run: {reason}")
        pytest.skip(f"no container engine can run: {reason}")
    podman = Engine(tmp_path_factory.mktemp("podman"))
    yield podman
    podman.close()


def pinned_to_this_interpreter(scratch: Path) -> dict[str, str]:
    """Environment under which ``make lock`` picks this interpreter's versions, so the model
    trained here (shared venv) is served by the same libraries in the image, as a user's
    locked environment would have it."""
    installed = {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}
    pins = sorted(f"{name}=={version}" for name, version in installed.items() if name)
    constraints = scratch / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    config = scratch / "uv.toml"
    config.write_text(f"constraint-dependencies = {json.dumps(pins)}\n")
    # uv lock reads constraint-dependencies from the config file, uv pip compile UV_CONSTRAINT.
    return {**user_env(), "UV_CONFIG_FILE": str(config), "UV_CONSTRAINT": str(constraints)}


def project_run(project: Path, *args: str, env: dict[str, str] | None = None):
    result = subprocess.run(
        args, cwd=project, env=env or user_env(), capture_output=True, text=True, timeout=600
    )
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, f"{' '.join(args)}:\n{output}"
    return result


def trained(tmp_path: Path, case: str) -> tuple[Path, str]:
    """A baked, locked, trained project (shared-packages venv, as in the e2e tier)."""
    project = bake(tmp_path, project_name=f"Image {case}", docker="yes", python_version="3.11",
                   **CASES[case])  # fmt: skip
    package = f"image_{case.replace('-', '_')}"
    install_project(project)
    project_run(project, "make", "lock", env=pinned_to_this_interpreter(tmp_path))
    fast_training(project)
    python = str(project / ".venv" / "bin" / "python")
    project_run(project, python, "-m", package, "data", "--output", "data/raw/sample.csv")
    project_run(project, python, "-m", package, "train", "--data", "data/raw/sample.csv")
    return project, package


def sentinels(project: Path) -> str:
    """A uniquely named file in every directory that must stay out of the image."""
    mark = f"prodml-sentinel-{uuid.uuid4().hex}"
    for name in EXCLUDED:
        (project / name).mkdir(exist_ok=True)
        (project / name / mark).write_text("must not be in the image\n")
    return mark


def build(engine: Engine, project: Path) -> tuple[float, str]:
    """``make docker-build`` with the CA bundle and the index as secrets; (seconds, output)."""
    env = {**user_env(), "PIP_INDEX_URL": INDEX_URL}
    ca = ca_bundle()
    start = time.perf_counter()
    result = engine.make(project, "docker-build", *([f"CA_BUNDLE={ca}"] if ca else []), env=env)
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return seconds, output


def wait_ready(container, deadline_s: float = 90) -> float:
    """Seconds from ``podman run`` to the first 200 from /ready."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if call(container.base + "/ready")[0] == 200:
                return time.perf_counter() - container.started
        except (urllib.error.URLError, ConnectionError):
            pass
        assert container.running(), f"the container exited:\n{container.logs()[-4000:]}"
        assert time.monotonic() < deadline, f"not ready in {deadline_s} s:\n{container.logs()}"
        time.sleep(0.1)


def champion(project: Path) -> str:
    return (project / "models" / "champion").read_text().strip()


def check_image(engine: Engine, image: str, mark: str, output: str) -> None:
    """Secrets, health check, user, and what the image holds (an exported filesystem)."""
    # The index secret reached the build (pip names the index it uses), redacted, in no layer.
    assert "Looking in indexes: https://prodml-test:****@pypi.org/simple" in output, output[-3000:]
    inspect = engine.podman("image", "inspect", image).stdout
    history = engine.podman("history", "--no-trunc", image).stdout
    assert INDEX_SECRET not in inspect + history
    (details,) = json.loads(inspect)
    assert details["Config"]["User"] == "10001"
    assert details["Healthcheck"]["Test"], "the HEALTHCHECK survives (--format docker)"

    files = engine.image_files(image)
    assert not [path for path in files if mark in path], "excluded directories reached the image"
    app = {path.split("/")[1] for path in files if path.startswith("app/")}
    assert app == {"configs", "models", "logs"}, app
    extras = [path for path in files if path.startswith("opt/venv/") and "/matplotlib/" in path]
    assert not extras, "the serving image carries no training extras"
    suites = {
        path.split("/tests/")[0]
        for path in files
        if path.startswith("opt/venv/") and "/tests/" in path
    }
    assert not suites, f"the serving image carries no package's test suite: {sorted(suites)[:5]}"


def process_uids(api: Container) -> list[str]:
    """Real, effective, saved and filesystem uid of the container's main process."""
    status = api.podman("exec", api.name, "cat", "/proc/1/status").stdout
    return next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]


def check_log_copy(api: Container, project: Path, logged: list[str]) -> None:
    """The README's recipe, on podman: copy the live prediction log out (SQLite backup in the
    container, then cp), and run monitor on the copy from the project environment."""
    readme = (project / "README.md").read_text()
    block = re.search(r"```bash\n(docker compose exec api .*?)```", readme, re.S)
    assert block, "the README's Docker section shows how to copy the prediction log out"
    backup, copy, monitor = (shlex.split(line) for line in block.group(1).strip().splitlines())
    assert backup[:4] == ["docker", "compose", "exec", "api"], backup
    api.podman("exec", api.name, *backup[4:])
    assert copy[:3] == ["docker", "compose", "cp"] and copy[3].startswith("api:"), copy
    api.podman("cp", f"{api.name}:{copy[3].removeprefix('api:')}", str(project / copy[4]))
    assert sorted(logged_request_ids(project / copy[4])) == sorted(logged)

    assignment, command = monitor[0].split("=", 1), monitor[1:]
    assert command == ["make", "monitor"], monitor
    env = {**user_env(), assignment[0]: assignment[1]}
    env["PATH"] = f"{project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"  # an activated venv
    ran = subprocess.run(
        [*command, "RUN="], cwd=project, env=env, capture_output=True, text=True
    )  # RUN= : this venv as it is (uv run would sync it to the lock)
    assert ran.returncode == 0 and f"on {len(logged)} rows" in ran.stdout, ran.stdout + ran.stderr


def check_serving(api: Container, project: Path, into: Path) -> dict[str, float]:
    """The running container against its contract; returns its cold start and stop times."""
    cold_start_s = wait_ready(api)
    record = a_record(project)
    status, body, headers = call(api.base + "/predict", record)
    assert status == 200 and body["model_version"] == champion(project), body
    logged = [headers["X-Request-ID"]]
    numeric = next(name for name, value in record.items() if isinstance(value, float))
    status, body, _ = call(api.base + "/predict", {**record, numeric: "not a number"})
    assert status == 422, body
    status, body, headers = call(api.base + "/predict/batch", {"records": [record] * 3})
    assert status == 200 and len(body["predictions"]) == 3, body
    logged += [headers["X-Request-ID"]] * 3

    check_log_copy(api, project, logged)

    assert process_uids(api) == ["10001"] * 4
    healthcheck = api.podman("healthcheck", "run", api.name, check=False)
    assert healthcheck.returncode == 0, healthcheck.stdout + healthcheck.stderr
    compose_check = api.compose["services"]["api"]["healthcheck"]["test"]
    assert compose_check[0] == "CMD"
    assert api.podman("exec", api.name, *compose_check[1:], check=False).returncode == 0

    stopping = time.perf_counter()
    exit_code = api.stop(timeout=10)
    stop_s = time.perf_counter() - stopping
    assert exit_code == 0, f"SIGTERM, then SIGKILL after 10 s:\n{api.logs()[-4000:]}"
    lines = [line for line in api.logs().splitlines() if line.strip()]
    assert lines and all(is_json_object(line) for line in lines), "\n".join(lines[-20:])
    volume = api.volume_files(into)
    assert sorted(logged_request_ids(volume / "predictions.db")) == sorted(logged)
    return {"cold_start_to_ready_s": round(cold_start_s, 2), "sigterm_stop_s": round(stop_s, 2)}


def wait_for(engine: Engine, container: str, text: str, deadline_s: float = 60) -> None:
    """Until ``text`` is in the container's output."""
    deadline = time.monotonic() + deadline_s
    while text not in (logs := engine.podman("logs", container).stderr):
        assert time.monotonic() < deadline, f"no {text!r} from {container}:\n{logs[-3000:]}"
        time.sleep(0.2)


def check_dask_profile(engine: Engine, project: Path, name: str) -> dict[str, float]:
    """The compose ``dask`` profile as its comment runs it: a scheduler and the workers, then
    ``score`` predicting on them; every row scored once, into data/ and the Parquet log."""
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    services = compose["services"]
    image = services["score"]["image"]
    sample = pd.read_csv(project / "data" / "raw" / "sample.csv")
    scoring = project / "data" / "scoring"
    scoring.mkdir()
    for index, start in enumerate(range(0, len(sample), 1000)):
        sample.iloc[start : start + 1000].to_parquet(scoring / f"part-{index}.parquet", index=False)
    subprocess.run(["chmod", "-R", "a+rwX", str(project / "data")], check=True)  # as it says
    network, volume = f"{name}-dask", f"{name}-{next(iter(compose['volumes']))}"
    # A network of their own, where each service's name resolves, as compose makes one.
    engine.podman("network", "create", network)
    engine.podman("volume", "create", volume)
    containers = []
    try:
        started = time.perf_counter()
        scheduler = f"{name}-dask-scheduler"
        containers.append(scheduler)
        engine.podman("run", "--detach", f"--network={network}", f"--name={scheduler}",
                      "--network-alias=dask-scheduler", image,
                      *services["dask-scheduler"]["command"])  # fmt: skip
        wait_for(engine, scheduler, "Scheduler at:")
        worker_args = engine.service_args(project, compose, "dask-worker", volume)
        for index in range(services["dask-worker"]["deploy"]["replicas"]):
            containers.append(f"{name}-worker-{index}")
            engine.podman("run", "--detach", f"--network={network}", f"--name={containers[-1]}",
                          *worker_args, image, *services["dask-worker"]["command"])  # fmt: skip
        score = services["score"]
        command = ["predict", "--engine", "dask", "--scheduler", "tcp://dask-scheduler:8786",
                   "--input", "data/scoring/", "--output", "data/scored"]  # fmt: skip
        ran = engine.podman(
            "run", "--rm", f"--network={network}",
            f"--entrypoint={json.dumps(score['entrypoint'])}",
            *engine.service_args(project, compose, "score", volume), image, *command,
            check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        assert ran.returncode == 0, ran.stdout + ran.stderr[-4000:]
        assert f"logged {len(sample)} new predictions" in ran.stdout, ran.stdout
        scored = pd.read_parquet(project / "data" / "scored")
        assert sorted(scored["row"]) == list(range(len(sample))), "every row once"
        count = ("import glob; print(len(glob.glob("
                 "'/app/logs/predictions/date=*/run=*/part-*.parquet')))")  # fmt: skip
        parts = engine.podman("run", "--rm", f"--volume={volume}:/app/logs", image,
                              "python", "-c", count).stdout  # fmt: skip
        assert int(parts) >= 1, "the workers wrote the Parquet prediction log"
    finally:
        for container in containers:
            engine.podman("rm", "--force", "--time", "0", container, check=False)
        engine.podman("network", "rm", "--force", network, check=False)
        engine.podman("volume", "rm", "--force", volume, check=False)
    return {"dask_profile_s": round(seconds, 1)}


@pytest.mark.parametrize("case", CASES)
def test_image_builds_serves_and_stops_as_compose_runs_it(case, engine, tmp_path, record_property):
    project, package = trained(tmp_path, case)
    mark = sentinels(project)
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    image = compose["services"]["api"]["image"]

    build_s, output = build(engine, project)
    check_image(engine, image, mark, output)
    name = f"prodml-{case}-{uuid.uuid4().hex[:8]}"
    with engine.compose_run(project, name, free_port()) as api:
        timings = check_serving(api, project, tmp_path / "volume")
    if CASES[case].get("engine") == "dask":
        timings.update(check_dask_profile(engine, project, name))

    # Only models/ changes (a retrain): the rebuild reuses every other layer and serves it.
    before = champion(project)
    python = str(project / ".venv" / "bin" / "python")
    project_run(project, python, "-m", package, "train", "--data", "data/raw/sample.csv")
    assert champion(project) != before
    rebuild_s, _ = build(engine, project)
    served = engine.podman("run", "--rm", image, "cat", "/app/models/champion").stdout
    assert served.strip() == champion(project)

    figures = {
        "build_s": round(build_s, 1), "rebuild_models_only_s": round(rebuild_s, 1),
        "image_mb": round(engine.image_size(image) / 1e6),
        "venv_layer_mb": round(engine.venv_layer_size(image) / 1e6),
        **timings,
    }  # fmt: skip
    for figure, value in figures.items():
        record_property(f"container {case} {figure}", value)
    print(f"container {case}: {figures}")
