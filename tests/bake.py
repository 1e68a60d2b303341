"""Helpers shared by the test modules: answers, option combinations, rendering, file listing."""

from __future__ import annotations

import functools
import itertools
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from prodml.generate import render, render_default
from prodml.options import OPTIONS, AnswerError, resolve
from prodml.vendor import vendor_wheels

ROOT = Path(__file__).resolve().parents[1]
CHOICE_OPTIONS = [o for o in OPTIONS if o.choices]
#: Options that change which files are written or what the code does.
STRUCTURAL = ("problem_type", "serving", "docker", "ci", "env_manager", "tracking")
#: Options set per structural combination to cover pairs: those that only change text, and engine,
#: whose files (a cluster engine's) no other option changes.
TEXTUAL = ("engine", "license", "python_version")


def answers(**given: str) -> dict[str, str]:
    """Complete, validated answers: ``given`` plus the schema's defaults."""
    return resolve(given, {}, render_default)


def _valid(given: Mapping[str, str]) -> bool:
    try:
        answers(**given)
    except AnswerError:
        return False
    return True


def all_combinations() -> Iterator[dict[str, str]]:
    """Every valid combination of every choice option."""
    names = [o.name for o in CHOICE_OPTIONS]
    for values in itertools.product(*(o.choices for o in CHOICE_OPTIONS)):
        combo = dict(zip(names, values, strict=True))
        if _valid(combo):
            yield combo


def pairs(combo: Mapping[str, str]) -> set[tuple[str, str, str, str]]:
    """The (option, value, option, value) pairs a combination exercises."""
    named = sorted(combo.items())
    return {(*a, *b) for a, b in itertools.combinations(named, 2)}


def matrix() -> list[dict[str, str]]:
    """The render tier's covering array: every valid combination of the structural options, each
    given the textual values that exercise the most pairs not yet covered, so that every pair of
    values of any two options that some valid combination has appears (greedy, deterministic)."""
    by_name = {o.name: o for o in OPTIONS}
    textual = [
        dict(zip(TEXTUAL, values, strict=True))
        for values in itertools.product(*(by_name[n].choices for n in TEXTUAL))
    ]
    combos: list[dict[str, str]] = []
    covered: set[tuple[str, str, str, str]] = set()
    for values in itertools.product(*(by_name[n].choices for n in STRUCTURAL)):
        structural = dict(zip(STRUCTURAL, values, strict=True))
        # Start each search at the next textual tuple so that ties rotate instead of repeating.
        turn = len(combos) % len(textual)
        candidates = [{**structural, **t} for t in textual[turn:] + textual[:turn]]
        candidates = [c for c in candidates if _valid(c)]
        if candidates:
            best = max(candidates, key=lambda c: len(pairs(c) - covered))
            combos.append(best)
            covered |= pairs(best)
    return combos


def combo_id(combo: Mapping[str, str]) -> str:
    return "-".join(combo[n] for n in (*STRUCTURAL, *TEXTUAL) if n in combo).replace(
        "_classification", ""
    )


@functools.cache
def _wheels() -> Path:
    """The wheels a project vendors, built once per process (``prodml.vendor``)."""
    folder = Path(tempfile.mkdtemp(prefix="prodml-wheels-"))
    vendor_wheels(folder)
    return folder / "vendor"


def bake(parent: Path, **given: str) -> Path:
    """Render a project (what the hooks do included, no git) into ``parent``, with the wheels
    ``prodml new`` puts in its vendor/."""
    project = render(answers(**given), parent)
    shutil.copytree(_wheels(), project / "vendor")
    return project


def text_files(project: Path) -> Iterator[Path]:
    """Every file ``files`` gives but the vendored wheels."""
    return (p for p in files(project) if p.relative_to(project).parts[0] != "vendor")


def files(project: Path) -> Iterator[Path]:
    """Every file in a project, .git excluded."""
    return (
        p
        for p in sorted(project.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(project).parts
    )


def tree(project: Path) -> dict[str, bytes]:
    """Relative path -> content for every file (for comparing two generations)."""
    return {str(p.relative_to(project)): p.read_bytes() for p in files(project)}


def fast_training(project: Path) -> None:
    """Train the linear family alone, 2 folds: seconds instead of the default's 20 (an owner's
    edit of models.py and configs/train.yaml)."""
    path = project / "configs" / "train.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(cv_folds=2)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (models,) = project.glob("src/*/models.py")
    models.write_text(models.read_text() + '\nMODELS = {"linear": MODELS["linear"]}\n')
