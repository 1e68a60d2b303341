"""PML4xx: the serving image runs as a non-root user and has a HEALTHCHECK (final stage)."""

from __future__ import annotations

import re

from prodml.check.base import NOT_PRODML, Check, Project

FAMILY = "prodml-docker"
DOCKERFILE = "Dockerfile"


def final_stage(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    if current:
        logical.append(current)
    instructions = [tuple([*line.split(None, 1), ""][:2]) for line in logical]
    stage: list[tuple[str, str]] = []
    for word, args in instructions:
        if word.upper() == "FROM":
            stage = []
        stage.append((word.upper(), args.strip()))
    return stage


class DockerCheck(Check):
    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        if project.exists(DOCKERFILE):
            return ""
        if project.answers is None:
            return f"{NOT_PRODML}, and no Dockerfile"
        if not project.valid:
            return "the answers are invalid (PML102)"
        if project.answers["docker"] != "yes":
            return f"docker: no in the answers (serving: {project.answers['serving']})"
        return ""

    def stage(self, project: Project) -> list[tuple[str, str]] | None:
        text = project.text(DOCKERFILE)
        return None if text is None else final_stage(text)


MISSING = (
    f"No `{DOCKERFILE}`, though the answers say docker: yes: restore it, or run "
    "`prodml update --set docker=no`."
)


class PML401(DockerCheck):
    """Dockerfile runs as a non-root user"""

    def verify(self, project: Project) -> str | None:
        stage = self.stage(project)
        if stage is None:
            return MISSING
        users = [args.split()[0] for word, args in stage if word == "USER" and args]
        if users and not re.fullmatch(r"(root|0)(:.*)?", users[-1]):
            return None
        return (
            f"The final stage of `{DOCKERFILE}` runs as root: create a user "
            "(`RUN useradd --uid 10001 app`) and add `USER 10001` before `CMD`."
        )


class PML402(DockerCheck):
    """Dockerfile has a HEALTHCHECK"""

    def verify(self, project: Project) -> str | None:
        stage = self.stage(project)
        if stage is None:
            return MISSING
        checks = [args for word, args in stage if word == "HEALTHCHECK"]
        if checks and checks[-1].upper() != "NONE":
            return None
        return (
            f"The final stage of `{DOCKERFILE}` has no HEALTHCHECK: add one that calls the "
            "API's `/health`, e.g. `HEALTHCHECK CMD python -c \"import urllib.request; "
            "urllib.request.urlopen('http://127.0.0.1:8000/health')\"`."
        )


CHECKS = (PML401, PML402)
