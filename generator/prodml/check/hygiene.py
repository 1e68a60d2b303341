"""PML701-702: generated data, models, logs and runs stay out of git."""

from __future__ import annotations

import subprocess

from prodml.check.base import Check, Project, listing, needs_answers

FAMILY = "prodml-git"
#: What training, serving and tracking write (``make data``, ``make train``, the prediction log).
GENERATED = ("data", "models", "logs", "runs")


class GitCheck(Check):
    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        return needs_answers(project) or project.git_reason


class PML701(GitCheck):
    """Generated data, models, logs and runs are git-ignored"""

    def verify(self, project: Project) -> str | None:
        assert project.local is not None
        probes = [f"{folder}/prodml-check-probe" for folder in GENERATED]
        result = subprocess.run(
            ["git", "check-ignore", "--no-index", "--stdin"], cwd=project.local,
            input="\n".join(probes) + "\n", capture_output=True, text=True, check=False,
        )  # fmt: skip
        ignored = {line.split("/")[0] for line in result.stdout.splitlines()}
        missing = [f"/{folder}/" for folder in GENERATED if folder not in ignored]
        if not missing:
            return None
        return f"Not git-ignored: {listing(missing)}. Add them to `.gitignore`."


class PML702(GitCheck):
    """No generated data, models, logs or runs committed"""

    def verify(self, project: Project) -> str | None:
        assert project.tracked is not None
        committed = [p for p in project.tracked if p.split("/")[0] in GENERATED]
        if not committed:
            return None
        return (
            f"Tracked by git: {listing(committed)}. Untrack them with "
            "`git rm -r --cached data models logs runs` (the files stay), and keep them "
            "git-ignored (PML701)."
        )


CHECKS = (PML701, PML702)
