"""PML2xx: the feature schema ``configs/schema.yaml``, the project's single source of truth.

PML201 parses it (YAML, the top-level keys every project reads); PML202 validates it with the
project's own model (``<package>.core.schema.parse_schema``), so the rules live in one place:
the project. The model is loaded in-process under a private package name, from the project's
source only (not its ``__init__``), so no installed copy is used and nothing is left imported.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prodml.check.base import Check, Project, needs_answers, yaml_of

FAMILY = "prodml-schema"
SCHEMA = "configs/schema.yaml"
REQUIRED_KEYS = ("problem_type", "target", "columns")


def _parsed(project: Project) -> tuple[object, str]:
    import yaml

    text = project.text(SCHEMA)
    if text is None:
        return None, f"`{SCHEMA}` is missing: restore it (every command reads it)"
    try:
        return yaml_of(text), ""
    except yaml.YAMLError as err:
        return None, f"`{SCHEMA}` is not valid YAML ({err})"


class PML201(Check):
    """Feature schema configs/schema.yaml parses, with problem_type, target and columns"""

    family = FAMILY

    def verify(self, project: Project) -> str | None:
        schema, problem = _parsed(project)
        if problem:
            return problem + "."
        if not isinstance(schema, dict):
            return f"`{SCHEMA}` must be a mapping with {', '.join(REQUIRED_KEYS)}."
        missing = [key for key in REQUIRED_KEYS if key not in schema]
        if missing:
            return f"`{SCHEMA}` lacks {', '.join(missing)}: add them (see the comment on top)."
        if not isinstance(schema["columns"], list) or not schema["columns"]:
            return f"`{SCHEMA}`: `columns` must be a non-empty list of columns."
        return None


@contextmanager
def _source_package(src: Path, package: str) -> Iterator[str]:
    """Import ``src/<package>`` as a private name; every module it imported is dropped after."""
    alias = f"_prodml_check_{package}"
    root = types.ModuleType(alias)
    root.__path__ = [str(src / package)]
    sys.modules[alias] = root
    try:
        yield alias
    finally:
        for name in [n for n in sys.modules if n == alias or n.startswith(alias + ".")]:
            del sys.modules[name]


def project_model_problem(local: Path, package: str, schema: object) -> tuple[str, str]:
    """(skip reason, failure) from the project's own ``parse_schema``; both "" when it passes."""
    module_file = local / "src" / package / "core" / "schema.py"
    if not module_file.is_file():
        return f"the project has no schema model (src/{package}/core/schema.py)", ""
    with _source_package(local / "src", package) as alias:
        try:
            model = importlib.import_module(f"{alias}.core.schema")
            parse = model.parse_schema
        except (Exception, SystemExit) as err:  # the project's code: any failure is a skip
            return f"the project's schema model does not import here ({err!r})", ""
        try:
            parse(schema, SCHEMA)
        except ValueError as err:
            return "", str(err)
    return "", ""


class PML202(Check):
    """Feature schema passes the project's own schema model"""

    family = FAMILY

    def evaluate(self, project: Project) -> tuple[str, str | None]:
        if reason := needs_answers(project):
            return reason, None
        if project.local is None:
            return "a remote repository: the project's model needs a local checkout", None
        schema, problem = _parsed(project)
        if problem or not isinstance(schema, dict):
            return "the schema does not parse (PML201)", None
        assert project.answers is not None
        reason, failure = project_model_problem(
            project.local, project.answers["package_name"], schema
        )
        if failure:
            return "", f"{failure}. Fix `{SCHEMA}` (the comment on top lists the column keys)."
        return reason, None


CHECKS = (PML201, PML202)
