"""The wheels a project carries in ``vendor/``: what it needs from prodml, for a machine whose
package index carries neither.

- ``prodml_runtime-<version>``: the runtime the project depends on (every command, the image);
- ``prodml-<version>``: prodml itself, a development dependency, for the ``prodml-check``
  pre-commit hook and CI's conventions check.

The project's ``pyproject.toml`` names them as the packages' source (uv) or its locks find them
there (pip); their hashes are locked like any other. Where a team's index serves both, the
source lines go and the pins stay (the generated README's "Upgrading").

An installed prodml carries both wheels in its own package (``hatch_build.py`` builds them with
it); a source checkout builds them on demand, with the same build, which takes milliseconds and
gives the same bytes for the same sources.
"""

from __future__ import annotations

import importlib.util
import shutil
from importlib import resources
from pathlib import Path

from prodml import __version__

VENDOR = Path("vendor")
RUNTIME_WHEEL = f"prodml_runtime-{__version__}-py3-none-any.whl"
PRODML_WHEEL = f"prodml-{__version__}-py3-none-any.whl"


class WheelMissing(RuntimeError):
    """Neither a packaged wheel nor a source checkout to build it from."""


def _checkout() -> Path | None:
    """The source checkout prodml runs from (None in an installed prodml)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "hatch_build.py").is_file() and (root / "runtime").is_dir() else None


def _build(checkout: Path, name: str, into: Path) -> Path:
    """Build ``name`` (one of the two wheels) from the checkout, as prodml's own build does."""
    spec = importlib.util.spec_from_file_location("_prodml_build", checkout / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    source = checkout / "runtime" if name == RUNTIME_WHEEL else checkout
    wheel: Path = build.build_wheel(source, into)
    return wheel


def vendor_wheels(project: Path) -> Path:
    """Put this version's two wheels in ``project/vendor/`` (other versions' go); return the
    runtime's. A project already at this version keeps the ones it has."""
    folder = project / VENDOR
    folder.mkdir(parents=True, exist_ok=True)
    wanted = (RUNTIME_WHEEL, PRODML_WHEEL)
    for old in [*folder.glob("prodml-*.whl"), *folder.glob("prodml_runtime-*.whl")]:
        if old.name not in wanted:
            old.unlink()
    for name in wanted:
        if (folder / name).is_file():
            continue
        packaged = resources.files("prodml") / "wheels" / name
        if packaged.is_file():
            with resources.as_file(packaged) as wheel:
                shutil.copyfile(wheel, folder / name)
        elif (checkout := _checkout()) is not None:
            _build(checkout, name, folder)
        else:
            raise WheelMissing(
                f"this prodml has no {name} to put in the project: it was installed from a "
                "project's vendor/ folder, which carries no wheels; install prodml itself "
                "(e.g. `pip install prodml=={__version__}` from your index) to generate or update"
            )
    return folder / RUNTIME_WHEEL
