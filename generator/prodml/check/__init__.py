"""``prodml check``: a repo-review plugin checking a repository against prodml's conventions.

Entry points (pyproject.toml): ``repo_review.checks`` -> ``repo_review_checks``,
``repo_review.families`` -> ``repo_review_families``, and the fixtures ``prodml_team`` and
``prodml_project``. The codes are stable: PML1xx answers and layout, PML2xx the feature schema,
PML3xx CI, PML4xx Docker, PML5xx pre-commit and the lock, PML6xx docs, PML7xx git hygiene and
secrets. ``prodml.check.run`` is the ``prodml check`` front end.
"""

from __future__ import annotations

from typing import Any

from prodml.check import answers, ci, docker, docs, hygiene, lockfile, precommit, schema, secrets
from prodml.check.base import NOT_PRODML, Check, Project, read_project, read_team

__all__ = [
    "CHECKS", "FAMILIES", "markdown_table", "prodml_project", "prodml_team",
    "repo_review_checks", "repo_review_families",
]  # fmt: skip

CHECKS: tuple[type[Check], ...] = (
    *answers.CHECKS, *schema.CHECKS, *ci.CHECKS, *docker.CHECKS, *precommit.CHECKS,
    *lockfile.CHECKS, *docs.CHECKS, *hygiene.CHECKS, *secrets.CHECKS,
)  # fmt: skip

#: family key -> (name, order); one family per hundred of codes.
FAMILIES = {
    answers.FAMILY: ("prodml: answers and layout", 0),
    schema.FAMILY: ("prodml: feature schema", 1),
    ci.FAMILY: ("prodml: CI", 2),
    docker.FAMILY: ("prodml: Docker", 3),
    precommit.FAMILY: ("prodml: pre-commit", 4),
    lockfile.FAMILY: ("prodml: lock file", 5),
    docs.FAMILY: ("prodml: docs", 6),
    hygiene.FAMILY: ("prodml: git hygiene and secrets", 7),
}

prodml_team = read_team
prodml_project = read_project


def repo_review_checks() -> dict[str, Check]:
    return {check.__name__: check() for check in CHECKS}


def repo_review_families(prodml_project: Project) -> dict[str, dict[str, Any]]:
    """Families, the first described by what it found (plain repo-review shows no skip reasons)."""
    if prodml_project.answers is None:
        about = f"{NOT_PRODML}: checks of prodml's conventions are skipped."
    else:
        version = prodml_project.version or "unknown"
        about = f"Answers recorded with prodml template `{version}`."
    return {
        key: {"name": name, "order": order, **({"description": about} if not order else {})}
        for key, (name, order) in FAMILIES.items()
    }


def markdown_table() -> str:
    """The README's table of codes (``prodml check --list-codes``)."""
    rows = ["| code | family | what it checks |", "|---|---|---|"]
    for check in CHECKS:
        rows.append(f"| `{check.__name__}` | {FAMILIES[check.family][0]} | {check.__doc__} |")
    return "\n".join(rows)
