"""PML501-502: the pre-commit configuration runs ruff and prodml check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prodml.check.base import NOT_PRODML, Check, Project, yaml_of

FAMILY = "prodml-precommit"
CONFIG = ".pre-commit-config.yaml"


def hooks(project: Project) -> list[dict[str, Any]] | None:
    """Every hook of the config with its repo's URL (``repo``); None when it is missing."""
    import yaml

    text = project.text(CONFIG)
    if text is None:
        return None
    try:
        config = yaml_of(text)
    except yaml.YAMLError:
        return []
    return list(_hooks(config))


def _hooks(config: object) -> Iterator[dict[str, Any]]:
    repos = config.get("repos", []) if isinstance(config, dict) else []
    for repo in repos if isinstance(repos, list) else []:
        if isinstance(repo, dict):
            for hook in repo.get("hooks") or []:
                if isinstance(hook, dict):
                    yield {**hook, "repo": str(repo.get("repo", ""))}


def runs(hook: dict[str, Any], ids: set[str], command: str) -> bool:
    return hook.get("id") in ids or command in str(hook.get("entry", ""))


class PML501(Check):
    """pre-commit runs ruff"""

    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        if project.answers is None and not project.exists(CONFIG):
            return f"{NOT_PRODML}, and no {CONFIG}"
        return ""

    def verify(self, project: Project) -> str | None:
        found = hooks(project)
        if found is None:
            return f"No `{CONFIG}`: add one with the ruff hooks (`pre-commit install` runs it)."
        if any(runs(h, {"ruff", "ruff-check"}, "ruff check") for h in found):
            return None
        return (
            f"`{CONFIG}` has no ruff hook: add the repo `https://github.com/astral-sh/"
            "ruff-pre-commit` with the hooks `ruff-check` and `ruff-format`."
        )


def hook_entry(project: Project) -> str:
    """The prodml-check hook's command: prodml from the project's environment (a dev
    dependency), through uv in a uv project."""
    uv = project.answers is None or project.answers.get("env_manager") != "pip"
    return "uv run --no-sync prodml check" if uv else "prodml check"


class PML502(Check):
    """pre-commit runs prodml check"""

    family = FAMILY

    def verify(self, project: Project) -> str | None:
        found = hooks(project) or []
        if any(runs(h, {"prodml-check"}, "prodml check") for h in found):
            return None
        return (
            f"`{CONFIG}` does not run prodml check: add a `repo: local` hook with "
            f"`id: prodml-check`, `entry: {hook_entry(project)}`, `language: system`, "
            "`pass_filenames: false`, `always_run: true`; it runs the prodml of the project's "
            "environment (`prodml~=<version>` in the dev extra, `make install`). A freshly "
            "generated project has it."
        )


CHECKS = (PML501, PML502)
