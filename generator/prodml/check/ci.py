"""PML3xx: CI runs lint, the tests, a training smoke run and prodml check.

The provider is the recorded ``ci`` answer (GitHub workflows or ``.gitlab-ci.yml``); a repo
prodml did not generate is read from whichever of the two it has. Commands are found in the
``run`` steps of the workflows that run on a push or pull request (not a scheduled one), and in
the pipeline's ``script`` lists (YAML anchors resolved).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prodml.check.base import NOT_PRODML, Check, Project, yaml_of

FAMILY = "prodml-ci"
GITHUB, GITLAB = ".github/workflows", ".gitlab-ci.yml"


def _strings(node: object, keys: frozenset[str]) -> Iterator[str]:
    """Every string under a mapping key in ``keys``, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys:
                yield from _all_strings(value)
            else:
                yield from _strings(value, keys)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, keys)


def _all_strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _all_strings(item)


PUSH_EVENTS = frozenset({"push", "pull_request", "pull_request_target", "merge_group"})


def _on_push(workflow: object) -> bool:
    """Whether a GitHub workflow runs on pushes or pull requests (YAML 1.1 reads ``on`` as True)."""
    if not isinstance(workflow, dict):
        return False
    events = workflow.get("on", workflow.get(True))
    if isinstance(events, str):
        events = [events]
    return bool(PUSH_EVENTS & set(events or ()))


def provider(project: Project) -> str:
    """``github``, ``gitlab`` or ``none``: the answer, else what the repo has."""
    if project.valid:
        assert project.answers is not None
        return project.answers["ci"]
    if project.exists(GITHUB):
        return "github"
    return "gitlab" if project.exists(GITLAB) else "none"


def commands(project: Project) -> tuple[str, str]:
    """(the CI files read, every command they run joined by newlines)."""
    import yaml

    if provider(project) == "github":
        folder = project.root.joinpath(*GITHUB.split("/"))
        names = (
            sorted(f.name for f in folder.iterdir() if f.name.endswith((".yml", ".yaml")))
            if folder.is_dir()
            else []
        )
        files, keys = [f"{GITHUB}/{name}" for name in names], frozenset({"run"})
    else:
        files, keys = [GITLAB], frozenset({"script", "before_script", "after_script"})
    found: list[str] = []
    for file in files:
        try:
            config = yaml_of(project.text(file) or "")
        except yaml.YAMLError:
            continue
        if provider(project) == "gitlab" or _on_push(config):
            found += _strings(config, keys)
    return ", ".join(f"`{f}`" for f in files) or f"`{GITHUB}/`", "\n".join(found)


class CIStep(Check):
    """A command CI must run: ``pattern`` finds it, ``fix`` says what to add."""

    family = FAMILY
    pattern: re.Pattern[str]
    needs_prodml = False
    fix = ""

    def skip_reason(self, project: Project) -> str:
        if project.answers is None and (self.needs_prodml or provider(project) == "none"):
            return NOT_PRODML if self.needs_prodml else f"{NOT_PRODML}, and no CI configuration"
        if project.answers is not None and not project.valid:
            return "the answers are invalid (PML102)"
        return "ci: none in the answers" if provider(project) == "none" else ""

    def verify(self, project: Project) -> str | None:
        files, run = commands(project)
        if self.pattern.search(run):
            return None
        return f"No step in {files} runs {self.fix}."


class PML301(CIStep):
    """CI runs the linters"""

    pattern = re.compile(r"\b(ruff check|make lint|pre-commit run( --all-files| -a)?$)", re.M)
    fix = "the linters: add `make lint` (or `ruff check .`) to the lint job"


class PML302(CIStep):
    """CI runs the tests"""

    pattern = re.compile(r"\b(make test|pytest|tox|nox)\b")
    fix = "the tests: add `make test` to the test job"


class PML303(CIStep):
    """CI runs a training smoke run"""

    pattern = re.compile(r"\bmake train\b|\bpython -m [\w.]+ train\b")
    needs_prodml = True
    fix = "a training smoke run: add `make data` and `make train` to the test job"


class PML304(CIStep):
    """CI runs prodml check"""

    pattern = re.compile(r"\bprodml check\b|\bprodml-check\b")
    needs_prodml = True
    fix = (
        "prodml check: add `pre-commit run prodml-check --all-files` (`uv run pre-commit ...` in "
        "a uv project) to the lint job, after it installs the project's environment: the hook "
        "(`.pre-commit-config.yaml`, PML502) runs the prodml of that environment"
    )


CHECKS = (PML301, PML302, PML303, PML304)
