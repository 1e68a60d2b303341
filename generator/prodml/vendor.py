"""The runtime wheel a project carries in ``vendor/``: its dependency on prodml's runtime.

No package index carries ``prodml-runtime`` here, so every project holds the wheel of the
runtime version it pins, and its ``pyproject.toml`` names the file as the package's source
(uv) or its lock lists it by path and hash (pip): it installs on a fresh machine from the
project alone. Where a team publishes the runtime to its index, the source line goes and the
pin stays (the generated README's "Upgrading").

An installed prodml carries the wheel in its own package (built with it, ``hatch_build.py``);
a source checkout builds it from ``runtime/`` on demand, which takes milliseconds and gives the
same bytes for the same sources.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from prodml import __version__

VENDOR = Path("vendor")
WHEEL = f"prodml_runtime-{__version__}-py3-none-any.whl"


class WheelMissing(RuntimeError):
    """Neither a packaged runtime wheel nor a source checkout to build one from."""


def runtime_source() -> Path | None:
    """The source checkout's ``runtime/`` (None in an installed prodml)."""
    source = Path(__file__).resolve().parents[2] / "runtime"
    return source if (source / "pyproject.toml").is_file() else None


def build(source: Path, into: Path) -> Path:
    """Build the wheel of the project at ``source`` into ``into`` (hatchling, reproducible)."""
    from hatchling.builders.wheel import WheelBuilder

    (artifact,) = WheelBuilder(str(source)).build(directory=str(into), versions=["standard"])
    return Path(artifact)


def vendor_runtime(project: Path) -> Path:
    """Put the runtime wheel in ``project/vendor/`` (replacing other versions'); return it."""
    folder = project / VENDOR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("prodml_runtime-*.whl"):
        if old.name != WHEEL:
            old.unlink()
    packaged = resources.files("prodml") / "wheels" / WHEEL
    if packaged.is_file():
        with resources.as_file(packaged) as wheel:
            shutil.copyfile(wheel, folder / WHEEL)
        return folder / WHEEL
    source = runtime_source()
    if source is None:
        raise WheelMissing(
            f"this prodml has no {WHEEL} to put in the project: reinstall prodml"
        )
    return build(source, folder)
