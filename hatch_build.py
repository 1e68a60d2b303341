"""prodml's build: the runtime's dependencies become prodml's, and prodml's wheel carries the
two wheels every project vendors (``prodml/wheels/``): the runtime's, and prodml's own built
without them (what a project's ``prodml check`` hook installs).

``prodml new`` copies them into a project's ``vendor/`` and runs the project's own schema
inference on the runtime's, so prodml needs what the runtime imports: the list lives in
``runtime/pyproject.toml`` alone. An editable install builds no wheel: a source checkout builds
them when it generates (``prodml.vendor``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.builders.wheel import WheelBuilder
from hatchling.metadata.plugin.interface import MetadataHookInterface

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10: hatchling brings tomli)
    import tomli as tomllib


def _runtime(root: str) -> Path:
    return Path(root) / "runtime"


def _name(requirement: str) -> str:
    """A requirement's distribution name (``pyyaml>=6`` -> ``pyyaml``)."""
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


class RuntimeDependencies(MetadataHookInterface):
    """prodml's dependencies: its own (``[tool.hatch.metadata.hooks.custom]``'s) and the
    runtime's."""

    def update(self, metadata: dict[str, Any]) -> None:
        runtime = tomllib.loads((_runtime(self.root) / "pyproject.toml").read_text("utf-8"))
        own: list[str] = self.config.get("dependencies", [])
        names = {_name(requirement) for requirement in own}
        added = [r for r in runtime["project"]["dependencies"] if _name(r) not in names]
        metadata["dependencies"] = [*own, *added]


#: Set while prodml's own inner wheel is built, which carries no wheels.
INNER = "PRODML_BUILDING_INNER_WHEEL"


def build_wheel(root: Path, into: Path) -> Path:
    """The wheel of the project at ``root``, built into ``into``; prodml's carries no wheels."""
    previous = os.environ.get(INNER)
    os.environ[INNER] = "1"
    try:
        (wheel,) = WheelBuilder(str(root)).build(directory=str(into), versions=["standard"])
    finally:
        if previous is None:
            del os.environ[INNER]
    return Path(wheel)


class VendoredWheels(BuildHookInterface):
    """Put the runtime's wheel and prodml's inner wheel in prodml's (not in an editable
    install, nor in the inner wheel itself)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable" or os.environ.get(INNER):
            return
        out = Path(self.directory) / "vendored"
        for root in (_runtime(self.root), Path(self.root)):
            wheel = build_wheel(root, out)
            build_data["force_include"][str(wheel)] = f"prodml/wheels/{wheel.name}"
