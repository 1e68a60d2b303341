"""Fixtures: venvs that share this interpreter's installed packages instead of reinstalling them."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest


def make_venv(path: Path) -> Path:
    """A venv whose imports fall back to the test interpreter's site-packages.

    The shared directory is added as a plain path, so its ``.pth`` files (such as an editable
    prodml) are not processed: what a test installs into the venv is what it gets.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    (site,) = path.glob("lib/python3*/site-packages")
    (site / "_shared_test_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path


def install_project(project: Path, env: dict[str, str] | None = None) -> Path:
    """A baked project installed as ``make install`` installs it, fast: its own ``.venv``
    sharing this interpreter's packages (``make_venv``), the wheels it vendors (prodml's runtime,
    prodml) and the project itself (editable), without dependencies; returns its python."""
    venv = make_venv(project / ".venv")
    python = venv / "bin" / "python"
    uv = [Path(sys.executable).parent / "uv", "pip", "install", "-q", "--python", python]
    wheels = sorted((project / "vendor").glob("*.whl"))
    for args in ([*wheels, "--no-deps"], ["--no-deps", "--no-build-isolation", "-e", "."]):
        done = subprocess.run([*uv, *args], cwd=project, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    return python


@pytest.fixture
def bare_venv(tmp_path: Path) -> Path:
    """A venv with cookiecutter and the generated projects' dependencies, but not prodml."""
    return make_venv(tmp_path / "venv")


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the figures the container tier measured (record_property, so xdist carries them)."""
    figures = [
        f"  {name}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for name, value in report.user_properties
        if name.startswith("container ")
    ]
    if figures:
        terminalreporter.section("container images (measured)")
        terminalreporter.write_line("\n".join(figures))
