"""Helpers shared by the test modules: answers, option combinations, rendering, file listing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from prodml.generate import render, render_default
from prodml.options import OPTIONS, AnswerError, resolve

ROOT = Path(__file__).resolve().parents[1]
CHOICE_OPTIONS = [o for o in OPTIONS if o.choices]
#: Options that change which files are written or what the code does.
STRUCTURAL = ("problem_type", "serving", "docker", "ci", "env_manager", "tracking")
#: Options rotated across the structural combinations: those that only change text, and engine,
#: whose files (the Dask engine's) no other option changes; every value and pair of them appears.
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


#: Options alternated across ``all_combinations`` instead of multiplying it: engine's files are
#: its own (no other option changes them), so each value with every other combination would
#: double the render tier's time for nothing the alternation misses.
ALTERNATED = ("engine",)


def all_combinations() -> list[dict[str, str]]:
    """Every valid combination of every choice option but ``ALTERNATED``, whose values take
    turns across them."""
    names = [o.name for o in CHOICE_OPTIONS if o.name not in ALTERNATED]
    turns = list(itertools.product(*(o.choices for o in CHOICE_OPTIONS if o.name in ALTERNATED)))
    combos = []
    for values in itertools.product(*(o.choices for o in CHOICE_OPTIONS if o.name in names)):
        combo = dict(zip(names, values, strict=True))
        combo.update(zip(ALTERNATED, turns[len(combos) % len(turns)], strict=True))
        if _valid(combo):
            combos.append(combo)
    return combos


def matrix() -> list[dict[str, str]]:
    """Every valid combination of the structural options; each engine, license and python_version
    value (and, across the matrix, each pair of them) appears, rotated."""
    by_name = {o.name: o for o in OPTIONS}
    combos = []
    textual = list(itertools.product(*(by_name[n].choices for n in TEXTUAL)))
    structural = itertools.product(*(by_name[n].choices for n in STRUCTURAL))
    for values in structural:
        combo = dict(zip(STRUCTURAL, values, strict=True))
        if _valid(combo):
            combo.update(zip(TEXTUAL, textual[len(combos) % len(textual)], strict=True))
            combos.append(combo)
    return combos


def combo_id(combo: Mapping[str, str]) -> str:
    return "-".join(combo[n] for n in (*STRUCTURAL, *TEXTUAL) if n in combo).replace(
        "_classification", ""
    )


def bake(parent: Path, **given: str) -> Path:
    """Render a project (hooks included, no git) into ``parent``."""
    return render(answers(**given), parent)


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
    """Train the linear family alone, one setting, 2 folds: seconds instead of the default's 20."""
    path = project / "configs" / "train.yaml"
    config = yaml.safe_load(path.read_text())
    linear = config["models"]["linear"]
    linear["space"] = {name: values[:1] for name, values in linear["space"].items()}
    config.update(cv_folds=2, models={"linear": linear})
    path.write_text(yaml.safe_dump(config, sort_keys=False))
