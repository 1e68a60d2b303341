"""The ``prodml check`` front end: only prodml's checks, with the reasons skips have.

It builds its own collection (other installed repo-review plugins neither load nor run),
merges ``[tool.prodml.check] ignore = {CODE = "reason"}`` into repo-review's own ignore table
(the prodml one wins), leaves unselected and ignored checks unrun (repo-review runs every
check and filters the results: an ignored PML202 would still import the runtime's model), fills
each skip's reason from the check, and prints with repo-review's JSON, HTML or rich output.
Exit status: 0 passed (skips included), 3 a check failed (as repo-review).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FAILED = 3


class CheckError(ValueError):
    """The repository's configuration cannot be read; the message says what to fix."""


def _ignore_table(pyproject: dict[str, Any]) -> dict[str, Any]:
    """pyproject with ``[tool.prodml.check] ignore`` merged into ``[tool.repo-review] ignore``."""
    from prodml.check.base import check_settings

    settings, problem = check_settings(pyproject)
    tool = pyproject.get("tool", {})
    review = tool.get("repo-review", {})
    theirs = review.get("ignore", {}) if isinstance(review, dict) else None
    if problem or not isinstance(theirs, dict | list):
        raise CheckError(problem or "[tool.repo-review] ignore must be a table or a list of codes")
    ours = settings.get("ignore", {})
    merged = {**_as_table(theirs), **_as_table(ours)}
    return {**pyproject, "tool": {**tool, "repo-review": {**review, "ignore": merged}}}


def _as_table(ignore: dict[str, str] | list[str]) -> dict[str, str]:
    return ignore if isinstance(ignore, dict) else dict.fromkeys(ignore, "")


class NotRun:
    """Stands for a check that is not selected or is ignored: repo-review reports it (skipped,
    with the ignore's reason) or leaves it out, and it does not run."""

    def __init__(self, check: Any):
        self.family, self.__doc__ = check.family, check.__doc__

    def check(self) -> None:
        return None


def _selected(checks: dict[str, Any], pyproject: dict[str, Any], select: frozenset[str],
              ignore: frozenset[str]) -> dict[str, Any]:  # fmt: skip
    """``checks`` with those process() would not report as run replaced by NotRun."""
    from repo_review.checks import is_allowed

    config = pyproject.get("tool", {}).get("repo-review", {})
    select = select or frozenset(config.get("select", ()))
    ignore = ignore or frozenset(config.get("ignore", ()))
    return {
        name: check if is_allowed(select, ignore, name) else NotRun(check)
        for name, check in checks.items()
    }


def run(
    path: Path,
    team: dict[str, str] | None = None,
    team_source: str = "",
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> tuple[dict[str, Any], list[Any], str]:
    """(families, results, status) for the repository at ``path``."""
    from repo_review.fixtures import apply_fixtures, compute_fixtures
    from repo_review.fixtures import pyproject as read_pyproject
    from repo_review.processor import CollectionReturn, process

    import prodml.check as plugin
    from prodml.check.base import Team

    fixture_functions = {
        "pyproject": read_pyproject,
        "prodml_team": (lambda: Team(team, team_source))
        if team is not None
        else plugin.prodml_team,
        "prodml_project": plugin.prodml_project,
    }
    try:
        fixtures = compute_fixtures(path, path, fixture_functions)
    except ValueError as err:  # tomllib.TOMLDecodeError: repo-review's pyproject fixture
        raise CheckError(f"{path / 'pyproject.toml'} is not valid TOML ({err}): fix it") from None
    checks = apply_fixtures(fixtures, plugin.repo_review_checks)
    families: Any = apply_fixtures(fixtures, plugin.repo_review_families)
    fixtures["pyproject"] = _ignore_table(fixtures["pyproject"])
    select, ignore = frozenset(select), frozenset(ignore)
    tasks = _selected(checks, fixtures["pyproject"], select, ignore)
    families, results = process(
        path, select=select, ignore=ignore, collected=CollectionReturn(fixtures, tasks, families)
    )
    project = fixtures["prodml_project"]
    results = [
        dataclasses.replace(r, skip_reason=checks[r.name].evaluate(project)[0])
        if r.result is None and not r.skip_reason
        else r
        for r in results
    ]
    return families, results, status(results)


def status(results: list[Any]) -> str:
    """repo-review's summary: empty, passed, skips or errors."""
    if not results:
        return "empty"
    if any(r.result is False for r in results):
        return "errors"
    return "skips" if any(r.result is None for r in results) else "passed"


def render(families: Any, results: list[Any], state: Any, fmt: str) -> str | None:
    """The report as text (json, html), or None once printed (rich)."""
    if fmt == "json":
        from repo_review.families import sort_family_keys
        from repo_review.processor import as_simple_dict

        report = {
            "status": state,
            "families": {key: families[key] for key in sort_family_keys(families)},
            "checks": as_simple_dict(results),
        }
        return json.dumps(report, indent=2)
    if fmt == "html":
        from repo_review.html import to_html

        return to_html(families, results, state)
    # repo-review's own terminal output; rich_printer is not in its __all__, so the dependency
    # is pinned below the next major version (pyproject.toml) and a test prints with it.
    from repo_review.__main__ import rich_printer

    rich_printer(families, results, status=state)  # type: ignore[arg-type]
    return None
