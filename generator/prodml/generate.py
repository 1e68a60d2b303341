"""Generation as a transaction: render into a staging directory, then move into place.

The staging directory sits beside the target (same filesystem, so the final move is a rename).
A failing hook, an exception or Ctrl-C leaves nothing behind; ``--force`` swaps the old tree out
only once the new one is complete.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

from prodml import __version__
from prodml.lock import lock as lock_dependencies


class GenerationError(RuntimeError):
    """Generation failed; the message says why and what to do."""


def template_dir() -> Path:
    """The cookiecutter template: the source checkout's template/, else the packaged copy."""
    source = Path(__file__).resolve().parents[2] / "template"
    if (source / "cookiecutter.json").is_file():
        return source
    return Path(str(resources.files("prodml"))) / "template"


@functools.cache
def _compiled(expression: str):
    from cookiecutter.environment import StrictEnvironment

    return StrictEnvironment(context={"cookiecutter": {}}).from_string(expression)


def render_default(expression: str, answers: Mapping[str, str]) -> str:
    """Render an option's default the way cookiecutter renders cookiecutter.json."""
    return _compiled(expression).render(cookiecutter=answers)


@contextlib.contextmanager
def _importable(path: Path) -> Iterator[None]:
    """Let cookiecutter import the template's local Jinja extensions, as its own CLI does."""
    sys.path.insert(0, str(path))
    try:
        yield
    finally:
        sys.path.remove(str(path))


def render(answers: Mapping[str, str], parent: Path) -> Path:
    """Render the template with its hooks into ``parent``; return the project directory."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.generate import generate_files
    from jinja2 import TemplateError

    template = template_dir()
    private = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    context = {k: v for k, v in private.items() if k.startswith("_")}
    context.update(answers, _template="prodml", _repo_dir=str(template), _output_dir=str(parent))
    # cookiecutter logs a traceback for a failing hook; the GenerationError below says it once.
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)
    try:
        with _importable(template):
            project = generate_files(
                repo_dir=template, context={"cookiecutter": context}, output_dir=parent
            )
    except (CookiecutterException, TemplateError) as err:
        raise GenerationError(f"rendering the template failed: {err}") from err
    return Path(project)


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, text=True)


def init_git(project: Path, answers: Mapping[str, str]) -> str | None:
    """``git init`` and an initial commit; returns a warning instead of failing generation."""
    if shutil.which("git") is None:
        return "git not found: the project was created without a repository"
    identity = subprocess.run(
        ["git", "config", "user.email"], cwd=project, capture_output=True, text=True
    ).stdout.strip()
    author = " ".join(answers["author_name"].split()) or "prodml"
    fallback = (
        []
        if identity
        else ["-c", f"user.name={author}", "-c", f"user.email={answers['author_email']}"]
    )
    try:
        _git(project, "init", "-q")
        _git(project, "add", "-A")
        _git(project, *fallback, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
             "-m", f"Initial commit from prodml {__version__}")  # fmt: skip
    except subprocess.CalledProcessError as err:
        shutil.rmtree(project / ".git", ignore_errors=True)
        reason = err.stderr.strip() or err
        return f"git failed ({reason}): the project was created without a repository"
    return None


def _replace(project: Path, target: Path, staging: Path) -> None:
    """Move ``project`` to ``target``; an existing target is swapped out, restored on failure."""
    if not (target.exists() or target.is_symlink()):
        os.rename(project, target)
        return
    previous = staging / "previous"
    os.rename(target, previous)
    try:
        os.rename(project, target)
    except BaseException:
        os.rename(previous, target)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (what mkdir -p would create)."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            return missing
        missing = candidate
    return missing


def create(
    answers: Mapping[str, str],
    output_dir: Path,
    *,
    force: bool = False,
    git: bool = True,
    lock: bool = False,
) -> tuple[Path, list[str]]:
    """Generate the project into ``output_dir``; return its path and any warnings.

    ``lock`` resolves the project's dependencies into its lock file (``make lock``) before the
    initial commit; it needs the package index, and degrades to a warning without it.
    """
    target = output_dir / answers["project_slug"]
    if (target.exists() or target.is_symlink()) and not force:
        raise GenerationError(
            f"{target} already exists: pass --force to replace it, or choose another name "
            "or --output-dir"
        )
    created = _first_missing(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".prodml-", dir=output_dir))
    except OSError as err:
        raise GenerationError(
            f"cannot write to output directory {output_dir}: {err.strerror or err}; "
            "choose a writable --output-dir"
        ) from err
    warnings: list[str] = []
    succeeded = False
    try:
        project = render(answers, staging)
        if lock and (warning := lock_dependencies(project)):
            warnings.append(warning)
        if git and (warning := init_git(project, answers)):
            warnings.append(warning)
        _replace(project, target, staging)
        succeeded = True
    except OSError as err:
        raise GenerationError(f"writing {target} failed: {err}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None and not succeeded:
            shutil.rmtree(created, ignore_errors=True)
    return target, warnings


def preview(answers: Mapping[str, str]) -> list[str]:
    """The relative paths generation would write, rendered in a throwaway directory."""
    with tempfile.TemporaryDirectory(prefix="prodml-dry-run-") as scratch:
        project = render(answers, Path(scratch))
        return sorted(
            str(path.relative_to(project)) + ("/" if path.is_dir() else "")
            for path in project.rglob("*")
        )
