"""prodml's build: the runtime's dependencies become prodml's, and the runtime's wheel ships in
prodml's, as ``prodml/wheels/prodml_runtime-<version>-py3-none-any.whl``.

``prodml new`` copies that wheel into every project's ``vendor/`` and runs the project's own
schema inference on it, so prodml needs what the runtime imports; both lists live in
``runtime/pyproject.toml`` alone. An editable install builds no wheel: a source checkout builds
it from ``runtime/`` when it generates (``prodml.vendor``).
"""

from __future__ import annotations

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


class RuntimeWheel(BuildHookInterface):
    """Build the runtime's wheel and put it in prodml's (not in an editable install)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        out = Path(self.directory) / "runtime-wheel"
        (wheel,) = WheelBuilder(str(_runtime(self.root))).build(
            directory=str(out), versions=["standard"]
        )
        build_data["force_include"][wheel] = f"prodml/wheels/{Path(wheel).name}"
