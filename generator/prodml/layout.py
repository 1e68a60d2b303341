"""Which template files a set of answers keeps: the rules the post-generation hook applies.

An option that adds or removes a component keeps or removes whole files here, so the template's
Python carries no ``{% if %}`` blocks. Standard library only (hooks use it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

Answers = Mapping[str, str]

#: Paths (relative to the project, formatted with the answers) kept only when their predicate holds.
OPTIONAL: tuple[tuple[str, Callable[[Answers], bool]], ...] = (
    ("src/{package_name}/api.py", lambda a: a["serving"] != "none"),
    ("tests/test_api.py", lambda a: a["serving"] != "none"),
    (".github", lambda a: a["ci"] == "github"),
    (".gitlab-ci.yml", lambda a: a["ci"] == "gitlab"),
    ("Dockerfile", lambda a: a["docker"] == "yes"),
    (".dockerignore", lambda a: a["docker"] == "yes"),
    ("docker-compose.yml", lambda a: a["docker"] == "yes"),
    ("deploy", lambda a: a["docker"] == "yes"),
)

#: Target path, the option choosing it, and the template file standing for each choice.
#: The chosen file takes the target's name; the others are removed.
VARIANTS: tuple[tuple[str, str, Mapping[str, str]], ...] = (
    (
        "src/{package_name}/models.py",
        "problem_type",
        {
            "binary_classification": "src/{package_name}/models_classification.py",
            "multiclass_classification": "src/{package_name}/models_classification.py",
            "regression": "src/{package_name}/models_regression.py",
        },
    ),
)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _remove_bytecode(project_dir: Path) -> None:
    """Drop ``__pycache__`` folders: an installed template is byte-compiled by pip, and only
    rendered sources belong in a project."""
    for cache in sorted(project_dir.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for compiled in project_dir.rglob("*.py[co]"):
        compiled.unlink()


def arrange(project_dir: Path, answers: Answers) -> None:
    """Remove the files ``answers`` leaves out and give chosen variants their final names."""
    _remove_bytecode(project_dir)
    for relative, keep in OPTIONAL:
        if not keep(answers):
            _remove(project_dir / relative.format(**answers))
    for target, option, sources in VARIANTS:
        chosen = sources[answers[option]]
        for source in set(sources.values()) - {chosen}:
            _remove(project_dir / source.format(**answers))
        (project_dir / chosen.format(**answers)).rename(project_dir / target.format(**answers))
