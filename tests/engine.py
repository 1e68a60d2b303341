"""podman for the container tier and bench_image: builds from scratch, runs as compose does.

An ``Engine`` keeps its images, containers and volumes in storage of its own (a temporary graph
root), so every build starts from scratch, nothing is left among the machine's images, and other
users' podman state is never touched. The base image the Dockerfiles name cannot be pulled here:
``.ci/containers.sh`` makes it in the machine's storage, and each engine copies it in once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BASE = "docker.io/library/python:3.11-slim"
#: Set by .ci/run: a machine that cannot run containers fails the tier instead of skipping it.
REQUIRE = "PRODML_REQUIRE_CONTAINERS"


def unavailable() -> str | None:
    """Why no container engine can run here (None when podman and the base image are ready)."""
    if shutil.which("podman") is None:
        return "podman is not installed (.ci/containers.sh installs it)"
    info = subprocess.run(["podman", "info"], capture_output=True, text=True)
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        return f"`podman info` fails: {lines[-1] if lines else info.returncode}"
    if subprocess.run(["podman", "image", "exists", BASE]).returncode != 0:
        return f"the base image {BASE} is missing (.ci/containers.sh makes it)"
    return None


def ca_bundle() -> str | None:
    """The machine's CA bundle: builds reach the package index through it (proxies, mirrors)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _interpolate(value: object) -> str:
    """Compose's ``${NAME:-default}`` with NAME unset, as a fresh shell would have it."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


@dataclass
class Container:
    """A running container of a project's image, started the way docker-compose.yml starts it."""

    engine: Engine
    name: str
    volume: str
    port: int
    compose: dict
    started: float = field(default_factory=time.perf_counter)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def podman(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.engine.podman(*args, **kwargs)

    def running(self) -> bool:
        state = self.podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def logs(self) -> str:
        result = self.podman("logs", self.name)
        return result.stdout + result.stderr

    def stop(self, timeout: int = 10) -> int:
        """SIGTERM (``podman stop``; SIGKILL after ``timeout`` s); returns the exit code."""
        self.podman("stop", "--time", str(timeout), self.name)
        state = self.podman("inspect", "--format", "{{.State.ExitCode}}", self.name)
        return int(state.stdout.strip())

    def volume_files(self, into: Path) -> Path:
        """Extract the named volume's files (``podman volume export``) into ``into``."""
        into.mkdir(parents=True, exist_ok=True)
        archive = into.with_suffix(".tar")
        self.podman("volume", "export", "--output", str(archive), self.volume)
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
        archive.unlink()
        return into


class Engine:
    """podman with its own storage under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        conf = root / "storage.conf"
        conf.write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{root / "graph"}"\n'
            f'runroot = "{root / "run"}"\n'
        )
        machine = dict(os.environ)
        self.env = {**machine, "CONTAINERS_STORAGE_CONF": str(conf)}
        base = root / "base.tar"
        subprocess.run(
            ["podman", "save", "--quiet", "--output", str(base), BASE], env=machine, check=True
        )
        self.podman("load", "--quiet", "--input", str(base))
        base.unlink()

    def podman(self, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, **kwargs
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed:\n{result.stderr[-4000:]}")
        return result

    def make(self, project: Path, target: str, *args: str, env: dict[str, str] | None = None):
        """Run one of the project's make targets with this engine (its storage) as the engine."""
        storage = {"CONTAINERS_STORAGE_CONF": self.env["CONTAINERS_STORAGE_CONF"]}
        return subprocess.run(
            ["make", "--no-print-directory", target, *args], cwd=project,
            env={**(env or os.environ), **storage}, capture_output=True, text=True,
        )  # fmt: skip

    def image_files(self, image: str) -> list[str]:
        """Every path in the image's filesystem (an exported container), without a leading /."""
        created = self.podman("create", image).stdout.strip()
        try:
            export = subprocess.Popen(
                ["podman", "export", created], env=self.env, stdout=subprocess.PIPE
            )
            with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
                names = [member.name.removeprefix("./").lstrip("/") for member in tar]
            assert export.wait() == 0, "podman export failed"
        finally:
            self.podman("rm", "--force", created)
        return names

    def layer_sizes(self, image: str) -> list[tuple[int, str]]:
        """(bytes, instruction) per layer, newest first."""
        history = json.loads(self.podman("history", "--no-trunc", "--format", "json", image).stdout)
        return [(layer["size"], layer["CreatedBy"]) for layer in history]

    def venv_layer_size(self, image: str) -> int:
        """Bytes of the layer ``COPY --from=builder /opt/venv /opt/venv`` adds."""
        return next(
            size
            for size, step in self.layer_sizes(image)
            if "COPY" in step and step.split()[-1] == "/opt/venv"
        )

    def image_size(self, image: str) -> int:
        return int(self.podman("image", "inspect", "--format", "{{.Size}}", image).stdout)

    @staticmethod
    def service_args(project: Path, compose: dict, service: str, volume: str) -> list[str]:
        """``podman run`` arguments for a docker-compose.yml service: its environment (defaults
        of ``${VAR:-default}``), its bind mounts and its named volume (``volume``)."""
        spec = compose["services"][service]
        args = [f"--env={k}={_interpolate(v)}" for k, v in spec.get("environment", {}).items()]
        for mount in spec.get("volumes", []):
            source, target, *mode = mount.split(":")
            if source.startswith("./"):
                source = str(project / source[2:])
            else:
                assert source in compose["volumes"], mount
                source = volume
            args.append("--volume=" + ":".join([source, target, *mode]))
        return args

    @contextlib.contextmanager
    def compose_run(self, project: Path, name: str, port: int) -> Iterator[Container]:
        """Run the project's image as docker-compose.yml's ``api`` service does: its environment,
        its bind mounts (read-only models/) and named volume (a fresh one), its port published
        on 127.0.0.1 only."""
        compose = yaml.safe_load((project / "docker-compose.yml").read_text())
        api = compose["services"]["api"]
        volume = f"{name}-{next(iter(compose['volumes']))}"
        args = self.service_args(project, compose, "api", volume)
        for published in api["ports"]:
            args.append(f"--publish=127.0.0.1:{port}:{str(published).rsplit(':', 1)[-1]}")
        self.podman("volume", "create", volume)
        container = Container(self, name, volume, port, compose)
        self.podman("run", "--detach", f"--name={name}", *args, api["image"])
        try:
            yield container
        finally:
            self.podman("rm", "--force", "--time", "0", name, check=False)
            self.podman("volume", "rm", "--force", volume, check=False)

    def close(self) -> None:
        """Remove everything this engine made, then its storage."""
        for command in (("rm", "--all", "--force"), ("volume", "rm", "--all", "--force")):
            self.podman(*command, check=False)
        self.podman("rmi", "--all", "--force", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
