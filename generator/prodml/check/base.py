"""What every check reads: the repository as one fixture (``prodml_project``), and the base class.

repo-review records a check that returns None as skipped without a reason, so each check
states its reason in ``skip_reason``; ``prodml check`` shows it, and plain ``repo-review``
shows the family's description, which names the most common one (not a prodml project).
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.answers import ANSWERS_FILE

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable  # importlib.abc before Python 3.11

NOT_PRODML = f"not a prodml project (no {ANSWERS_FILE})"


@dataclass(frozen=True)
class Team:
    """Required answers (``--config`` or ``[tool.prodml.check] config``) and their source."""

    values: dict[str, str] = field(default_factory=dict)
    source: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Project:
    """The repository, read once: repo-review deep-copies fixtures, so everything is eager."""

    root: Traversable
    local: Path | None
    answers: dict[str, str] | None  # None: no answers file
    answers_problem: str
    version: str
    required: bool  # a team file or [tool.prodml] says this must be a prodml project
    team: Team
    tracked: tuple[str, ...] | None  # None: not a git work tree (git_reason says why)
    git_reason: str
    pyproject: dict[str, Any]  # repo-review's fixture: {} without a (valid) pyproject.toml

    @property
    def valid(self) -> bool:
        return self.answers is not None and not self.answers_problem

    def text(self, relative: str) -> str | None:
        """A file's text, or None when it is missing or unreadable."""
        file = self.root.joinpath(*relative.split("/"))
        try:
            return file.read_text(encoding="utf-8") if file.is_file() else None
        except (OSError, UnicodeDecodeError):
            return None

    def exists(self, relative: str) -> bool:
        path = self.root.joinpath(*relative.split("/"))
        return path.is_file() or path.is_dir()


@functools.lru_cache(maxsize=32)
def yaml_of(text: str) -> object:
    """``text`` parsed as YAML (libyaml when present), once per text: checks share it, read-only.

    Raises yaml.YAMLError.
    """
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def prodml_tool(pyproject: dict[str, Any]) -> dict[str, Any]:
    """``[tool.prodml]`` of pyproject.toml ({} without one)."""
    tool = pyproject.get("tool", {}).get("prodml", {})
    return tool if isinstance(tool, dict) else {}


def check_settings(pyproject: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``[tool.prodml.check]`` and what is wrong with its shape ("" when nothing)."""
    table = prodml_tool(pyproject).get("check", {})
    if not isinstance(table, dict):
        return {}, "[tool.prodml.check] in pyproject.toml must be a table"
    ignore, config = table.get("ignore", {}), table.get("config", "")
    if not isinstance(ignore, dict | list) or not all(isinstance(c, str) for c in ignore):
        return {}, '[tool.prodml.check] ignore must be a table, e.g. {PML703 = "why"}'
    if isinstance(ignore, dict) and not all(isinstance(r, str) for r in ignore.values()):
        return {}, "[tool.prodml.check] ignore: each reason must be a string"
    if not isinstance(config, str):
        return {}, '[tool.prodml.check] config must be a path, e.g. "team.yaml"'
    return table, ""


def read_team(root: Traversable, pyproject: dict[str, Any]) -> Team:
    """The fixture ``prodml_team``: the file ``[tool.prodml.check] config`` names, if any."""
    from prodml import team

    settings, problem = check_settings(pyproject)
    configured = settings.get("config")
    if problem or not configured:
        return Team(source="pyproject.toml", problem=problem)
    if not isinstance(root, Path):
        return Team(source=configured, problem="a team file needs a local checkout")
    try:
        return Team(team.read(root / configured, "[tool.prodml.check] config"), configured)
    except ValueError as err:
        return Team(source=configured, problem=str(err))


def _answers(root: Traversable) -> tuple[dict[str, str] | None, str, str]:
    from prodml import answers
    from prodml.options import AnswerError, unknown_keys, validate

    file = root.joinpath(ANSWERS_FILE)
    if not file.is_file():
        return None, "", ""
    try:
        recorded, version = answers.read(file)  # type: ignore[arg-type]  # a Traversable will do
    except ValueError as err:
        return {}, str(err), ""
    problems = unknown_keys(recorded)
    try:
        validate(recorded)
    except AnswerError as err:
        problems += err.problems
    return recorded, "; ".join(problems), version


def _tracked(root: Traversable) -> tuple[tuple[str, ...] | None, str]:
    if not isinstance(root, Path):
        return None, "a remote repository: git checks need a local checkout"
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return None, "git is not installed"
    if listing.returncode != 0:
        return None, "not a git repository"
    return tuple(sorted(p for p in listing.stdout.split("\0") if p)), ""


def read_project(root: Traversable, pyproject: dict[str, Any], prodml_team: Team) -> Project:
    """The fixture ``prodml_project``."""
    answers, problem, version = _answers(root)
    tracked, git_reason = _tracked(root)
    return Project(
        root=root,
        local=root if isinstance(root, Path) else None,
        answers=answers,
        answers_problem=problem,
        version=version,
        required=bool(prodml_team.values or prodml_tool(pyproject)),
        team=prodml_team,
        tracked=tracked,
        git_reason=git_reason,
        pyproject=pyproject,
    )


class Check:
    """A check: the class docstring is its one-line description (repo-review shows it).

    Subclasses define ``family`` and ``verify`` (None when it passes, else the failure: what is
    wrong and how to fix it), and ``skip_reason`` when the check may not apply.
    """

    family: str

    def skip_reason(self, project: Project) -> str:
        """Why the check does not apply to ``project`` ("" when it does)."""
        return needs_answers(project)

    def verify(self, project: Project) -> str | None:
        raise NotImplementedError

    def evaluate(self, project: Project) -> tuple[str, str | None]:
        """(why it does not apply, the failure): ("", None) is a pass."""
        if reason := self.skip_reason(project):
            return reason, None
        return "", self.verify(project)

    def check(self, prodml_project: Project) -> str | None:
        """repo-review's entry: None is skipped, "" passed, any other text the failure."""
        reason, failure = self.evaluate(prodml_project)
        return None if reason else failure or ""


def needs_answers(project: Project) -> str:
    """The reason a check that reads the recorded answers cannot run ("" when it can)."""
    if project.answers is None:
        return NOT_PRODML
    if not project.valid:
        return f"the answers in {ANSWERS_FILE} are invalid (PML102)"
    return ""


def listing(items: list[str], limit: int = 5) -> str:
    """``a``, ``b`` and N more: a bounded list for a failure message."""
    shown = ", ".join(f"`{item}`" for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
