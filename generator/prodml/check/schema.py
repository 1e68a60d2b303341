"""PML2xx: the feature schema ``configs/schema.yaml``, the project's single source of truth.

PML201 parses it (YAML, the top-level keys every project reads); PML202 validates it with the
model every command validates it with: ``prodml_runtime.core.schema.parse_schema`` of the
runtime the project pins (``check.runtime``: its vendored wheel, else the installed runtime), so
the rules live in one place. The model is imported under a private package name and dropped
after, so no other copy is used and nothing is left imported.
"""

from __future__ import annotations

from prodml.check.base import Check, Project, needs_answers, yaml_of
from prodml.check.runtime import runtime_source, schema_problem

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


class PML202(Check):
    """Feature schema passes the schema model of the runtime the project pins"""

    family = FAMILY

    def evaluate(self, project: Project) -> tuple[str, str | None]:
        if reason := needs_answers(project):
            return reason, None
        if project.local is None:
            return "a remote repository: the runtime's model needs a local checkout", None
        schema, problem = _parsed(project)
        if problem or not isinstance(schema, dict):
            return "the schema does not parse (PML201)", None
        source, reason = runtime_source(project)
        if source is None:
            return reason, None
        reason, failure = schema_problem(source, schema, SCHEMA)
        if failure:
            return "", f"{failure}. Fix `{SCHEMA}` (the comment on top lists the column keys)."
        return reason, None


CHECKS = (PML201, PML202)
