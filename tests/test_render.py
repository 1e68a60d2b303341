"""Fast tier: render a covering array of option combinations and check what they wrote.

The covering array (bake.matrix) is every combination of the options that change files or code
(bake.STRUCTURAL: 180), each with the engine, license and python_version that exercise the most
pairs not yet covered, so that every pair of values of any two options appears: all 297 pairs
of the 8,640 valid combinations. (Rendering every combination, 2,880 before the engine option
tripled them, took 13 of CI's 45 minutes.) Each is checked for its exact file set, leftover
Jinja, parsing and the answers file, and linted: ruff, hadolint, actionlint, pre-commit's
hooks, the published schemas, a dry run of make. mypy (strict, as the project configures it)
runs on every package variant (serving x tracking), the engines taking turns: engine=local with
the oldest Python a project can target, dask and spark with the newest.
"""

import itertools
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bake import bake, combo_id, files, matrix, text_files
from prodml import __version__
from prodml import answers as answers_file
from prodml.options import OPTIONS

BIN = Path(sys.executable).parent
# "}}" alone is not a sign: Python closes nested dicts with it.
JINJA_LEFTOVER = re.compile(r"{{|{%|%}|{#|cookiecutter\.")


def expected_files(a: dict[str, str]) -> set[str]:
    """The exact file set a project must have, written out independently of prodml.layout."""
    pkg = f"src/{a['package_name']}"
    version = a.get("_template_version", __version__)
    expected = {
        ".cruft.json", ".gitignore", ".pre-commit-config.yaml", "LICENSE", "Makefile", "README.md",
        "pyproject.toml", "configs/monitor.yaml", "configs/schema.yaml", "configs/train.yaml",
        "docs/data-card.md", "docs/design.md", "docs/ml-test-score.md", "docs/model-card.md",
        "docs/runbook.md",
        f"vendor/prodml_runtime-{version}-py3-none-any.whl",
        f"vendor/prodml-{version}-py3-none-any.whl",
        *(f"{pkg}/{module}.py" for module in (
            "__init__", "__main__", "cli", "project", "models", "features", "checks",
        )),
        *(f"tests/{module}.py" for module in (
            "__init__", "conftest", "cases", "test_schema", "test_models", "test_training",
            "test_monitoring", "test_cli", "test_governance",
        )),
    }  # fmt: skip
    if a["serving"] != "none":
        expected |= {f"{pkg}/api.py", "tests/test_api.py"}
    if a["docker"] == "yes":
        expected |= {"Dockerfile", ".dockerignore", "docker-compose.yml", "deploy/prometheus.yml"}
    if a["ci"] == "github":
        expected |= {".github/workflows/ci.yml", ".github/workflows/monitor.yml"}
    if a["ci"] == "gitlab":
        expected.add(".gitlab-ci.yml")
    return expected


MAKE_TARGETS = (
    "help", "install", "lock", "lock-check", "data", "validate", "eda", "train", "evaluate",
    "runs", "bench", "predict", "monitor", "rollback", "test", "lint", "format",
)  # fmt: skip


def tool(name: str, *args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / name, *map(str, args)], cwd=cwd, capture_output=True, text=True)


def schema_check(schema: str, *paths: str, cwd: Path) -> None:
    """Validate files against one of check-jsonschema's vendored schemas (offline)."""
    result = tool("check-jsonschema", "--builtin-schema", f"vendor.{schema}", *paths, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr


def check_makefile(project: Path, combo: dict[str, str]) -> None:
    """Every target the README and CI call exists (make -n), and no other option's target does."""
    optional = {"serve": combo["serving"] != "none", "docker-build": combo["docker"] == "yes"}
    optional["up"] = optional["docker-build"]
    # ENGINE set: its detection (docker info, podman info) costs 0.6 s and is checked below.
    engine = {**os.environ, "ENGINE": "docker"}
    for target in (*MAKE_TARGETS, *optional):
        dry = subprocess.run(
            ["make", "-n", target], cwd=project, capture_output=True, text=True, env=engine
        )
        assert (dry.returncode == 0) == optional.get(target, True), (target, dry.stderr)
    bench = subprocess.run(["make", "-n", "bench"], cwd=project, capture_output=True, text=True)
    ran = set(re.findall(r" bench (\w+)", bench.stdout))
    assert ran == {"train", "batch"} | ({"api"} if combo["serving"] != "none" else set())
    monitor = subprocess.run(["make", "-n", "monitor"], cwd=project, capture_output=True, text=True)
    assert f"-m {combo_package(project)} monitor" in monitor.stdout
    if combo["docker"] == "yes":
        check_docker_build(project)


def check_docker_build(project: Path) -> None:
    """docker-build: podman gets --format docker; CA_BUNDLE and PIP_INDEX_URL become secrets."""

    def dry(*args: str, **env: str) -> str:
        result = subprocess.run(
            ["make", "-n", "docker-build", *args], cwd=project, capture_output=True, text=True,
            env={**os.environ, **env},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return " ".join(result.stdout.split())

    image = answers_file.read(project)[0]["project_slug"]
    assert dry("ENGINE=docker") == f"docker build -t {image} ."
    assert dry("ENGINE=podman") == f"podman build --format docker -t {image} ."
    secrets = dry("ENGINE=docker", "CA_BUNDLE=/ca.pem", PIP_INDEX_URL="https://x/simple")
    assert secrets == (
        f"docker build --secret id=ca,src=/ca.pem --secret id=index_url,env=PIP_INDEX_URL "
        f"-t {image} ."
    )


def combo_package(project: Path) -> str:
    return answers_file.read(project)[0]["package_name"]


def check_container(project: Path, combo: dict[str, str]) -> None:
    """Dockerfile, compose file and Prometheus config: the structure a Docker engine would need."""
    package = combo_package(project)
    dockerfile = (project / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", dockerfile)  # continuation lines joined, spaces squeezed
    commands = "\n".join(" ".join(line.split()) for line in joined.splitlines())
    lock = "uv.lock" if combo["env_manager"] == "uv" else "requirements.lock"
    # Exactly the locked, hash-checked set, then the project without dependencies, then a check.
    if combo["env_manager"] == "uv":
        extra = " --extra dask" if combo["engine"] == "dask" else ""  # the workers run the image
        installs = [
            f"uv export --frozen --no-dev{extra} --no-emit-project --quiet --output-file "
            "requirements.lock",
            "uv pip install --require-hashes --no-deps --requirement requirements.lock",
            "uv pip install --no-deps . && uv pip check",
        ]
    else:
        pip = "pip --python /opt/venv/bin/python"
        installs = [
            f"{pip} install --no-cache-dir --require-hashes --no-deps --requirement {lock}",
            f"{pip} install --no-cache-dir --no-deps . && {pip} check",
        ]
    for install in installs:
        assert install in commands, install
    # Each step that reaches the index gets the CA bundle and the index URL as secrets.
    runs = [line for line in commands.splitlines() if line.startswith("RUN")]
    networked = [line for line in runs if "install" in line]
    assert len(networked) == 2, networked
    for line in networked:
        assert line.startswith("RUN --mount=type=secret,id=ca --mount=type=secret,id=index_url")
    build_args = re.findall(r"^ARG (\w+)", dockerfile, re.M)
    assert build_args in ([], ["UV_VERSION"]), "secrets are never build arguments"
    assert f'CMD ["python", "-m", "{package}", "serve", "--host", "0.0.0.0", "--port", "8000"]' in (
        dockerfile
    )
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.M), "runs as a non-root user"
    copied = {
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M)
        for source in line.split()[:-1]
    }
    assert copied == {
        lock,
        "vendor",
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "src",
        "configs",
        "models",
    }
    assert "PREDICTION_LOG=/app/logs/predictions.db" in dockerfile
    ignored = (project / ".dockerignore").read_text().split()
    assert {"data", "logs", "reports", "runs", ".env", "tests"} <= set(ignored)
    assert lock not in ignored and "vendor" not in ignored

    schema_check("compose-spec", "docker-compose.yml", cwd=project)
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    api, prometheus = compose["services"]["api"], compose["services"]["prometheus"]
    assert api["build"] == "." and "8000:8000" in api["ports"]
    assert "profiles" not in api and prometheus["profiles"] == ["monitoring"]
    assert api["environment"]["PREDICTION_LOG"] == "/app/logs/predictions.db"
    assert "./models:/app/models:ro" in api["volumes"]
    log_volume = next(v.split(":")[0] for v in api["volumes"] if v.endswith(":/app/logs"))
    assert log_volume in compose["volumes"]
    assert any("/ready" in part for part in api["healthcheck"]["test"])
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert prometheus["depends_on"]["api"]["condition"] == "service_healthy"
    scrape = yaml.safe_load((project / "deploy" / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["api:8000"]


def check_github(project: Path, combo: dict[str, str]) -> None:
    workflows = sorted(str(p.relative_to(project)) for p in project.glob(".github/workflows/*"))
    actionlint = tool("actionlint", *workflows, cwd=project)
    assert actionlint.returncode == 0, actionlint.stdout
    schema_check("github-workflows", *workflows, cwd=project)
    ci = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    assert set(ci["jobs"]) == {"lint", "test"} | ({"image"} if combo["docker"] == "yes" else set())
    steps = "\n".join(str(step) for job in ci["jobs"].values() for step in job["steps"])
    for command in ("ruff check", "ruff format --check", "pre-commit run --all-files"):
        assert command in steps, command
    for target in ("install", "lock-check", "data", "train", "predict", "monitor"):
        assert f"make {target}" in steps, target
    assert "pip install" not in steps, "every job installs the lock (make install)"
    if combo["docker"] == "yes":
        assert "docker/build-push-action" in steps and "/ready" in steps
    monitor = yaml.safe_load((project / ".github/workflows/monitor.yml").read_text())
    triggers = monitor.get("on", monitor.get(True))  # YAML 1.1 reads a bare `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"} and triggers["schedule"][0]["cron"]
    (job,) = monitor["jobs"].values()
    run = "\n".join(str(step) for step in job["steps"])
    assert "make install" in run and "pip install" not in run
    assert "make predict" in run and " monitor " in run and 'exit "$status"' in run
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and "reports/monitoring/" in upload["with"]["path"]


def check_gitlab(project: Path, combo: dict[str, str]) -> None:
    schema_check("gitlab-ci", ".gitlab-ci.yml", cwd=project)
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    jobs = {k: v for k, v in pipeline.items() if isinstance(v, dict) and "script" in v}
    built = {"build-image"} if combo["docker"] == "yes" else set()
    assert set(jobs) == {"lint", "test", "monitor"} | built
    scheduled = [name for name, job in jobs.items() if "rules" in job]
    assert scheduled == ["monitor"]
    assert jobs["monitor"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    on_push = pipeline[".on-push"]["rules"][0]
    assert on_push == {"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "never"}
    assert all(jobs[name]["extends"] == ".on-push" for name in ("lint", "test", *built))
    script = "\n".join(str(line) for line in jobs["test"]["script"])
    for target in ("install", "data", "train", "predict", "monitor"):
        assert f"make {target}" in script, target
    for name in ("lint", "test", "monitor"):
        installs = str(jobs[name]["script"])
        assert "make install" in installs and "pip install -e" not in installs, name
    assert "make lock-check" in str(jobs["lint"]["script"])
    assert " monitor " in str(jobs["monitor"]["script"])
    if built:
        assert "docker build" in str(jobs["build-image"]["script"])
        assert jobs["build-image"]["needs"] == [{"job": "test", "artifacts": True}]


def check_readme_layout(project: Path, answers: dict[str, str]) -> None:
    """The README's Layout tree names every module of the package, under its folder."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Layout\n\n```text\n(.*?)```", readme, re.S)
    assert block, "README.md has a ## Layout tree"
    listed, folder = set(), ""
    for line in block.group(1).splitlines():
        name = line.strip().split(" ")[0]
        if line.startswith("  ") and not line.startswith("    ") and name.endswith("/"):
            folder = name
        elif line.startswith("    ") and name.endswith(".py"):
            listed.add(folder + name)
        elif line.startswith("  ") and name.endswith(".py"):
            listed.add(name)
    package = project / "src" / answers["package_name"]
    modules = {
        str(p.relative_to(package)) for p in package.rglob("*.py") if p.name != "__init__.py"
    } - {"__main__.py"}
    assert modules == listed, (sorted(modules - listed), sorted(listed - modules))


@pytest.mark.parametrize("combo", matrix(), ids=combo_id)
def test_each_covering_combination_renders_exactly_its_files_and_passes_the_linters(
    combo, tmp_path
):
    project = bake(tmp_path, **combo)
    check_rendered(project, combo)
    check_linters(project, combo)


def check_rendered(project: Path, combo: dict[str, str]) -> None:
    recorded, _ = answers_file.read(project)

    # The answers file round-trips every answer.
    assert {k: v for k, v in recorded.items() if k in combo} == combo
    assert set(recorded) == {o.name for o in OPTIONS}

    # Exactly the files these answers call for.
    written = {str(p.relative_to(project)) for p in files(project)}
    assert written == expected_files(recorded)

    check_readme_layout(project, recorded)

    for path in text_files(project):
        text = path.read_text(encoding="utf-8")
        # No Jinja survives rendering (GitHub's ${{ }} expressions excepted).
        unrendered = re.sub(r"\$\{\{.*?\}\}", "", text) if path.parent.name == "workflows" else text
        assert not JINJA_LEFTOVER.search(unrendered), (
            f"unrendered Jinja in {path.relative_to(project)}"
        )
        # Every Python file compiles; TOML, YAML and JSON parse.
        if path.suffix == ".py":
            compile(text, str(path), "exec")
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            yaml.safe_load(text)
        elif path.suffix == ".json":
            json.loads(text)


def check_linters(project: Path, combo: dict[str, str]) -> None:
    every_file = [p.relative_to(project) for p in text_files(project)]
    for hygiene in ("trailing-whitespace-fixer", "end-of-file-fixer"):
        result = tool(hygiene, *every_file, cwd=project)
        assert result.returncode == 0, f"{hygiene}: {result.stdout}"
    lint = tool("ruff", "check", "--no-cache", ".", cwd=project)
    assert lint.returncode == 0, lint.stdout
    fmt = tool("ruff", "format", "--no-cache", "--check", ".", cwd=project)
    assert fmt.returncode == 0, fmt.stdout
    config = tool("pre-commit", "validate-config", ".pre-commit-config.yaml", cwd=project)
    assert config.returncode == 0, config.stdout + config.stderr
    check_makefile(project, combo)
    if combo["docker"] == "yes":
        hadolint = tool("hadolint", "Dockerfile", cwd=project)
        assert hadolint.returncode == 0, hadolint.stdout
        check_container(project, combo)
    if combo["ci"] == "github":
        check_github(project, combo)
    if combo["ci"] == "gitlab":
        check_gitlab(project, combo)


PYTHONS = sorted(
    next(o.choices for o in OPTIONS if o.name == "python_version"),
    key=lambda version: tuple(map(int, version.split("."))),
)


#: Every package variant (serving x tracking), the engines taking turns: a cluster engine's
#: modules checked with the newest Python a project can target, the local engine's with the
#: oldest (each run costs 20-60 s, so not every variant with every Python).
VARIANTS = [
    (serving, tracking, engine, PYTHONS[0] if engine == "local" else PYTHONS[-1])
    for (serving, tracking), engine in zip(
        itertools.product(*(next(o.choices for o in OPTIONS if o.name == n) for n in
                            ("serving", "tracking"))),
        itertools.cycle(next(o.choices for o in OPTIONS if o.name == "engine")),
    )
]  # fmt: skip


@pytest.mark.parametrize(("serving", "tracking", "engine", "python"), VARIANTS)
def test_mypy_strict_passes_on_every_package_variant(serving, tracking, engine, python, tmp_path):
    project = bake(
        tmp_path, serving=serving, tracking=tracking, python_version=python, engine=engine
    )
    result = tool("mypy", "--cache-dir", tmp_path / "mypy-cache", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
