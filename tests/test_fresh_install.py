"""Fresh-install tier: prodml as a new user gets it, nothing from this test environment.

The README's set-up command runs verbatim in a copy of this repository (`python3 -m venv .venv`,
`pip install .`: prodml's declared dependencies resolved from the package index, no extras),
then, in that environment only: `prodml new` on the synthetic demo and on real data files
(scikit-learn's bundled datasets written as a user's exports), `prodml check` and
`prodml update`. A dependency prodml imports but does not declare fails here. One generated
project then runs its README's Quickstart verbatim with prodml's environment still active, as
the user's shell has it after the set-up command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn import datasets

from bake import ROOT

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def readme_setup_command() -> str:
    """The README's first set-up command (install prodml and generate a project)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Set up.*?```bash\n(.*?)\n```", readme, re.S)
    assert block, "README.md has a ## Set up section with a bash block"
    return block.group(1).strip()


def checkout_copy(into: Path) -> Path:
    """The files git tracks (and untracked, not ignored ones), as a fresh clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def user_shell(venv: Path) -> dict[str, str]:
    """A shell whose active environment is ``venv`` (``. venv/bin/activate``), nothing of this
    test environment on its paths."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    path = [d for d in env["PATH"].split(os.pathsep) if Path(d) != BIN]
    env.update(VIRTUAL_ENV=str(venv), PATH=os.pathsep.join([str(venv / "bin"), *path]))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["OMP_NUM_THREADS"] = "1"  # baked projects' tests run beside other tiers
    return env


def run(command: str, cwd: Path, env: dict[str, str], timeout: int = 1500):
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def export(name: str, path: Path, separator: str = ",") -> Path:
    """A bundled dataset as a user's CSV export (class names as text labels)."""
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame
    if name != "diabetes":
        frame["target"] = [str(bunch.target_names[i]) for i in bunch.target]
    frame.to_csv(path, index=False, sep=separator)
    return path


def quickstart(project: Path) -> str:
    readme = (project / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, re.S)
    assert block, "the project's README has a Quickstart"
    return block.group(1)


def test_a_fresh_install_generates_checks_and_updates_on_real_data(tmp_path: Path) -> None:
    repo = checkout_copy(tmp_path / "prodml")
    setup = readme_setup_command()
    assert "pip install ." in setup and "prodml new" in setup
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(
        d for d in env["PATH"].split(os.pathsep) if Path(d) != BIN
    )  # the README's python3 is the machine's, not this test environment's
    made = run(setup, repo, env)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    venv = repo / ".venv"
    demo = repo / "churn-model"
    assert (demo / "src" / "churn_model" / "project.py").is_file()
    shell = user_shell(venv)
    extras = run("pip list --format=freeze", repo, shell).stdout
    assert "pytest" not in extras and "hypothesis" not in extras, "no test extra installed"

    work = tmp_path / "work"
    work.mkdir()
    for name, target in (("wine", "target"), ("diabetes", "target"), ("breast_cancer", "target")):
        data = export(name, work / f"{name}.csv")
        new = run(f"prodml new {name} --no-input --data {data} --target {target}", work, shell)
        assert new.returncode == 0, (name, new.stderr[-3000:])
        project = work / name.replace("_", "-")
        assert (project / "data" / "raw" / data.name).read_bytes() == data.read_bytes()
        checked = run(f"prodml check {project}", work, shell)
        assert checked.returncode == 0, (name, checked.stdout[-3000:])
        updated = run(f"prodml update {project}", work, shell)
        assert updated.returncode == 0 and "nothing to do" in updated.stdout, updated.stderr

    # The demo's Quickstart, verbatim, with prodml's environment active.
    steps = run(quickstart(demo), demo, shell)
    output = steps.stdout + steps.stderr
    assert steps.returncode == 0, output[-6000:]
    assert "does not match the project environment" not in output, "uv warned about the venv"
    summary = re.findall(r"^(\d+ passed.*?) in [\d.]+s", steps.stdout, re.M)
    assert summary and "failed" not in summary[-1] and "error" not in summary[-1], summary
