"""The runtime a project pins, and the wheels it names in ``vendor/``.

A project depends on ``prodml-runtime`` (and, for development, ``prodml``). Where no package
index serves them, their wheels sit in ``vendor/``: a uv project names each in
``[tool.uv.sources]`` (a path source), a pip project's locks pin them by version and find them
through ``--find-links vendor``. PML103 wants those wheels present; PML202 validates the schema
with the model of the pinned runtime (its vendored wheel, else the installed one).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
import types
import zipimport
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prodml.check.base import Project
from prodml.check.lockfile import PIP_LOCKS, normal, requirement, within

RUNTIME = "prodml-runtime"
#: The distributions prodml vendors (prodml.vendor).
VENDORED = (RUNTIME, "prodml")
VENDOR = "vendor"
PYPROJECT = "pyproject.toml"
_FIND_LINKS = re.compile(r"^\s*(--find-links|-f)[\s=]+(\./)?vendor/?\s*$", re.M)


@dataclass(frozen=True)
class Wheel:
    """A wheel the project names: its distribution, version, where it must be, and who names it."""

    distribution: str
    version: str
    path: str  # relative to the project; for a pip lock, the name prodml gives it
    named_by: str

    def found(self, project: Project) -> str | None:
        """The relative path of the wheel in the project, or None when it is missing (a lock
        names a version, not a file: any wheel of it will do)."""
        if self.named_by == PYPROJECT:
            return self.path if _is_file(project, self.path) else None
        folder = project.root.joinpath(VENDOR)
        stem = f"{self.distribution.replace('-', '_')}-{self.version}-"
        names = sorted(f.name for f in folder.iterdir()) if folder.is_dir() else []
        match = next((n for n in names if n.startswith(stem) and n.endswith(".whl")), None)
        return f"{VENDOR}/{match}" if match else None


def _is_file(project: Project, relative: str) -> bool:
    return project.root.joinpath(*relative.split("/")).is_file()


def _version_of(wheel_name: str) -> str:
    """The version part of a wheel file name (``name-version-tags.whl``)."""
    parts = wheel_name.rsplit("/", 1)[-1].split("-")
    return parts[1] if len(parts) > 2 else ""


def _uv_source(entry: Any) -> str | None:
    """The wheel path of a ``[tool.uv.sources]`` entry (a table, or a list of them)."""
    for table in entry if isinstance(entry, list) else [entry]:
        path = table.get("path") if isinstance(table, dict) else None
        if isinstance(path, str) and path.endswith(".whl"):
            return path.removeprefix("./")
    return None


def lock_pins(text: str) -> dict[str, str]:
    """name -> pinned version of every ``name==version`` line of a pip lock."""
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", text, re.M)
    return {normal(name): version for name, version in found}


def named_wheels(project: Project) -> list[Wheel]:
    """The vendored wheels of prodml and its runtime the project installs from."""
    sources = project.pyproject.get("tool", {}).get("uv", {}).get("sources", {})
    wheels = []
    for name, entry in sources.items() if isinstance(sources, dict) else ():
        if normal(name) in VENDORED and (path := _uv_source(entry)):
            wheels.append(Wheel(normal(name), _version_of(path), path, PYPROJECT))
    for lock in PIP_LOCKS:
        text = project.text(lock) or ""
        if not _FIND_LINKS.search(text):
            continue
        for name, version in lock_pins(text).items():
            if name in VENDORED and not any(w.distribution == name for w in wheels):
                file = f"{VENDOR}/{name.replace('-', '_')}-{version}-py3-none-any.whl"
                wheels.append(Wheel(name, version, file, f"{lock} (--find-links vendor)"))
    return wheels


def declared_runtime(project: Project) -> frozenset[str] | None:
    """The specifiers of the project's ``prodml-runtime`` dependency; None: it has none."""
    found = None
    for item in project.pyproject.get("project", {}).get("dependencies", []):
        _, name, _, specifiers = requirement(str(item))
        if name == RUNTIME:
            found = (found or frozenset()) | specifiers
    return found


@dataclass(frozen=True)
class Source:
    """Where the runtime's ``prodml_runtime`` package is read from, and how to name it."""

    location: str  # a directory, or <wheel>/prodml_runtime (zipimport reads it)
    label: str


def runtime_source(project: Project) -> tuple[Source | None, str]:
    """(the pinned runtime's package, "") or (None, why it cannot be read)."""
    assert project.local is not None
    pinned = declared_runtime(project)
    if pinned is None:
        return None, (
            f"the project does not depend on {RUNTIME} (a project made by prodml 0.1 carries "
            "its own schema model: `prodml update` moves it onto the runtime)"
        )
    wheel = next((w for w in named_wheels(project) if w.distribution == RUNTIME), None)
    if wheel is not None:
        vendored = wheel.found(project)
        if vendored is None:
            return None, f"the vendored runtime `{wheel.path}` is missing (PML103)"
        return Source(str(project.local / vendored / "prodml_runtime"), f"`{vendored}`"), ""
    found = installed_runtime()
    if found is None:
        return None, (
            f"no vendored {RUNTIME} wheel, and none installed here: install the project's "
            "environment (`make install`) and run prodml check from it"
        )
    location, version = found
    if version and not all(within(version, s) for s in pinned):
        wanted = ",".join(sorted(pinned))
        return None, (
            f"the installed {RUNTIME} {version} is not the one the project pins ({wanted}): "
            "run prodml check from the project's environment (`make install`)"
        )
    return Source(location, f"the installed {RUNTIME} {version}".rstrip()), ""


def installed_runtime() -> tuple[str, str] | None:
    """(the installed ``prodml_runtime`` package's folder, its version), without importing it;
    None when it is not installed."""
    spec = importlib.util.find_spec("prodml_runtime")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        version = importlib.metadata.version(RUNTIME)
    except importlib.metadata.PackageNotFoundError:
        version = ""
    return next(iter(spec.submodule_search_locations)), version


@contextmanager
def imported(source: Source) -> Iterator[str]:
    """The runtime at ``source`` as a private package name (its ``__init__`` not run); every
    module imported under it, and the import caches of its location, are dropped after."""
    alias = "_prodml_check_runtime"
    root = types.ModuleType(alias)
    root.__path__ = [source.location]
    sys.modules[alias] = root
    try:
        yield alias
    finally:
        for name in [n for n in sys.modules if n == alias or n.startswith(alias + ".")]:
            del sys.modules[name]
        for key in [k for k in sys.path_importer_cache if k.startswith(source.location)]:
            del sys.path_importer_cache[key]
        # zipimport keeps each archive's listing (a private cache: dropped if it is there).
        getattr(zipimport, "_zip_directory_cache", {}).pop(os.path.dirname(source.location), None)


def schema_problem(source: Source, schema: object, name: str) -> tuple[str, str]:
    """(skip reason, failure) from the runtime's ``parse_schema``; both "" when it passes."""
    with imported(source) as alias:
        try:
            parse = importlib.import_module(f"{alias}.core.schema").parse_schema
        except (Exception, SystemExit) as err:  # another version's code: any failure is a skip
            return f"the schema model of {source.label} does not import here ({err!r})", ""
        try:
            parse(schema, name)
        except ValueError as err:
            return "", str(err)
    return "", ""
