"""Fault tier: a baked project's commands under real faults, as a fault probe would try them.

kill -9 at several points of ``train`` and of batch ``predict``, and every command writing onto
a full disk (a small tmpfs, so root only; skipped otherwise). After each fault the project must
be consistent: a one-line error and exit status 1 (never a traceback), no half-written output,
no prediction-log rows from a run that did not finish, a registry whose champion loads, and a
rerun that works and cleans up what the killed process left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import install_project

from bake import bake

BIN = Path(sys.executable).parent
PACKAGE = "fault_probe"
FAST_TRAIN = {"random_state": 0, "cv_folds": 3, "min_improvement": 0.0}
#: Two small families (models.py), so a kill can land in a search, a refit or the evaluation.
FAST_MODELS = """
from prodml_runtime.training.families import Family, grid
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

MODELS = {
    "linear": Family(LogisticRegression(max_iter=2000), grid(C=[1.0])),
    "hist_gradient_boosting": Family(
        HistGradientBoostingClassifier(early_stopping=False), grid(max_iter=[30])
    ),
}
"""


class Project:
    """A baked, installed project and a way to run its CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / ".venv" / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(OMP_NUM_THREADS="1", MLFLOW_DISABLE_TELEMETRY="true", **extra)
        return env

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [self.python, "-m", PACKAGE, *args], cwd=self.root, env=self.env(**env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.python, "-m", PACKAGE, *args], cwd=self.root, env=self.env(**env),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    def champion_loads(self, models: str = "models") -> str:
        code = (
            f"from pathlib import Path; from prodml_runtime.io import registry; "
            f"print(registry.load(Path({models!r})).version)"
        )
        done = subprocess.run(
            [self.python, "-c", code], cwd=self.root, env=self.env(), capture_output=True,
            text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = bake(tmp_path_factory.mktemp("faults"), project_name="Fault Probe", serving="none")
    (root / "configs" / "train.yaml").write_text(yaml.safe_dump(FAST_TRAIN))
    (root / "src" / PACKAGE / "models.py").write_text(FAST_MODELS)
    install_project(root)
    probe = Project(root)
    assert probe.run("data", "--rows", "2000").returncode == 0
    for _ in range(2):  # two champions: a rollback has somewhere to go
        trained = probe.run("train")
        assert trained.returncode == 0, trained.stderr
    return probe


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The refusal's message, once it is checked to be one clean line with exit status 1."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def leftovers(folder: Path) -> list[str]:
    """Staging files and folders (``.<name>.<host>-<pid>-<hex>.tmp``) under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*.tmp"))


def kill_at(process: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL ``process`` after ``seconds``; False if it had already finished."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True
    return False


@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4, 3.2, 4.0])
def test_kill_9_during_train_leaves_a_registry_that_a_rerun_repairs(
    project: Project, delay: float
) -> None:
    """Killed while loading, searching, saving, promoting or evaluating: the champion loads,
    no staging counts as a version, and the next train cleans up and promotes."""
    models = project.root / "models"
    killed = kill_at(project.start("train"), delay)
    listed = project.run("promote")
    assert listed.returncode == 0, listed.stderr
    assert all(".tmp" not in line for line in listed.stdout.splitlines())
    project.champion_loads()
    history = [json.loads(line) for line in (models / "history.jsonl").read_text().splitlines()]
    assert history[-1]["version"] == (models / "champion").read_text().strip() or killed
    rerun = project.run("train")
    assert rerun.returncode == 0, rerun.stderr
    assert leftovers(models) == [] and leftovers(project.root / "reports") == []
    assert (
        project.champion_loads()
        == json.loads((models / "history.jsonl").read_text().splitlines()[-1])["version"]
    )


def visible_log_rows(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM logged").fetchone()[0])


def all_log_rows(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])


@pytest.fixture(scope="module")
def big_batch(project: Project) -> Path:
    path = project.root / "data" / "big.csv"
    made = project.run("data", "--rows", "200000", "--seed", "3", "--output", str(path))
    assert made.returncode == 0, made.stderr
    return path


@pytest.mark.parametrize("delay", [0.5, 1.5, 2.5])
def test_kill_9_during_batch_scoring_logs_nothing_until_a_rerun_completes(
    project: Project, big_batch: Path, tmp_path: Path, delay: float
) -> None:
    log = tmp_path / "predictions.db"
    output = tmp_path / "scored.csv"
    args = ("predict", "--input", str(big_batch), "--output", str(output), "--chunk-size", "20000")
    process = project.start(*args, PREDICTION_LOG=str(log))
    if not kill_at(process, delay):
        pytest.skip(f"scoring finished within {delay} s: nothing to kill")
    assert visible_log_rows(log) == 0, "a killed run's rows never count"
    assert not output.exists()
    rerun = project.run(*args, PREDICTION_LOG=str(log))
    assert rerun.returncode == 0, rerun.stderr
    scored = sum(1 for _ in output.open()) - 1
    assert visible_log_rows(log) == all_log_rows(log) == scored, "the rerun logged each row once"
    assert leftovers(tmp_path) == []


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A mounted tmpfs with no space left (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is made with a tmpfs mount, which needs root")
    mount = tmp_path / "full"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True,
        text=True,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> None:
    """Take every free byte of ``mount`` (and its free inodes do not matter: bytes run out)."""
    with (mount / "filler").open("wb", buffering=0) as file:
        for block in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    file.write(b"\0" * block)
            except OSError:
                pass
    assert shutil.disk_usage(mount).free == 0


def test_every_command_on_a_full_disk_is_a_one_line_error(
    project: Project, full_disk: Path
) -> None:
    """Each command writing to a full disk: one line naming the fault, exit 1, and nothing of
    its output left on that disk (nor any change to a registry that lives there)."""
    shutil.copytree(project.root / "models", full_disk / "models")
    before = project.run("promote", "--model-dir", str(full_disk / "models")).stdout
    fill(full_disk)
    on_full = {"RUNS_DIR": str(full_disk / "runs")}
    commands = {
        "data": ["data", "--output", f"{full_disk}/data/sample.csv"],
        "eda": ["eda", "--output", f"{full_disk}/eda"],
        "train": ["train", "--model-dir", f"{full_disk}/models", "--reports",
                  f"{full_disk}/reports", "--model-card", f"{full_disk}/card.md"],
        "evaluate": ["evaluate", "--reports", f"{full_disk}/reports",
                     "--model-card", f"{full_disk}/card.md"],
        "predict": ["predict", "--input", "data/raw/sample.csv", "--output",
                    f"{full_disk}/p.csv", "--no-log"],
        "monitor": ["monitor", "--input", "data/raw/sample.csv", "--output", f"{full_disk}/mon"],
        "rollback": ["rollback", "--model-dir", f"{full_disk}/models"],
    }  # fmt: skip
    for name, args in commands.items():
        message = one_line_error(project.run(*args, **on_full))
        assert "No space left on device" in message or "disk is full" in message, (name, message)
    logged = project.run(
        "predict", "--input", "data/raw/sample.csv", "--output", "reports/p-full.csv",
        PREDICTION_LOG=str(full_disk / "predictions.db"),
    )  # fmt: skip
    one_line_error(logged)
    assert not (project.root / "reports" / "p-full.csv").exists()
    written = [p for p in full_disk.rglob("*") if p.is_file() and p.name != "filler"]
    assert sorted(str(p.relative_to(full_disk)) for p in written if "models" not in p.parts) == []
    assert leftovers(full_disk) == []
    assert project.run("promote", "--model-dir", str(full_disk / "models")).stdout == before
    project.champion_loads(str(full_disk / "models"))
