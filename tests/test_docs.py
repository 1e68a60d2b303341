"""Docs stay true: every file, module, test, function, command and make target that a generated
project's docs, configs and docstrings name exists, in the project or in the runtime it pins;
and every module and function the runtime's own docstrings name exists in the runtime."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

from bake import ROOT, bake, text_files

RUNTIME = ROOT / "runtime" / "src" / "prodml_runtime"
#: The modules a project owns (``api.py``, ``models.py``...), which the runtime's docs may name.
PROJECT_MODULES = {
    path.name.replace("_classification", "").replace("_regression", "")
    for path in (ROOT / "template").glob("*/src/*/*.py")
}
#: Folders a project has in git; data/, models/, reports/, logs/ and runs/ are made by commands.
TRACKED = ("src", "tests", "configs", "docs", "deploy", "vendor", ".github")
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(map(re.escape, TRACKED)) + r")/[\w./-]*[\w/])")
MODULE_FILE = re.compile(r"`([\w/]+\.py)(?:::(\w+))?`")
DOTTED = re.compile(r"\bprodml_runtime(?:\.\w+)+")
MODULE_ATTRIBUTE = re.compile(r"``?(\w+)\.(\w+)(?:\(\))?``?")
MAKE = re.compile(r"`make ([a-z][\w-]*)")
#: File name extensions: ``report.json`` names a file, not the attribute json of a module.
EXTENSIONS = {"py", "md", "json", "csv", "yaml", "yml", "toml", "parquet", "db", "txt", "png",
              "whl", "lock", "html", "skops", "jsonl", "gz", "pem", "cfg", "ini"}  # fmt: skip
COMMAND = re.compile(r"python -m (\w+) ([a-z][\w-]*)(?: ([a-z][\w-]*))?")

VARIANTS = {
    "default": {},
    "pip-flask-gitlab-dask-mlflow": {
        "env_manager": "pip", "serving": "flask", "ci": "gitlab", "engine": "dask",
        "tracking": "mlflow", "problem_type": "multiclass_classification",
    },
    "regression-none-spark": {"problem_type": "regression", "serving": "none", "engine": "spark"},
}  # fmt: skip


def runtime_modules() -> dict[str, list[Path]]:
    """Each runtime module's basename (``registry``) -> its files."""
    found: dict[str, list[Path]] = {}
    for path in RUNTIME.rglob("*.py"):
        found.setdefault(path.stem, []).append(path)
    return found


def resolves(dotted: str) -> bool:
    """Whether ``a.b.c`` is a module, or an attribute of the longest module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                found = getattr(found, name)
        except AttributeError:
            return False
        return True
    return False


def names_in(path: Path) -> set[str]:
    """Every function, class, method and module-level name a Python file defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        defined |= {t.id for t in targets if isinstance(t, ast.Name)}
        defined |= {t.attr for t in targets if isinstance(t, ast.Attribute)}
    return defined


def module_attribute_problems(text: str, where: str, modules: dict[str, list[Path]]) -> list[str]:
    """``module.name`` references whose module is a runtime module that defines no such name."""
    problems = []
    for module, name in MODULE_ATTRIBUTE.findall(text):
        files = modules.get(module)
        # An object's attribute is not a module's (settings.model_dir, schema.id).
        an_object = module in {"settings", "schema", "config"} and name[0].islower()
        if name in EXTENSIONS or not files or an_object:
            continue
        if not any(name in names_in(f) for f in files):
            problems.append(f"{where}: `{module}.{name}`")
    return problems


def project_problems(project: Path) -> list[str]:
    package = next((project / "src").iterdir()).name
    modules = runtime_modules()
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    cli = importlib.import_module(f"{package}.cli").main
    problems = []
    for path in text_files(project):
        if path.suffix not in {".md", ".py", ".yaml", ".yml", ".toml", ""} and path.name not in {
            "Makefile",
            "Dockerfile",
        }:
            continue
        where = str(path.relative_to(project))
        text = path.read_text(encoding="utf-8")
        for named in PATH.findall(text):
            if not any(c in named for c in "<>*{") and not (project / named).exists():
                problems.append(f"{where}: {named}")
        for file, test in MODULE_FILE.findall(text):
            base = Path(file).name
            if file.startswith("runtime/"):  # the runtime's tests, in prodml's repository
                holders = [ROOT / file] if (ROOT / file).is_file() else []
            else:
                holders = list(project.rglob(base))
            if not holders and Path(file).stem not in modules:
                problems.append(f"{where}: {file}")
            elif test and not any(test in names_in(h) for h in holders):
                problems.append(f"{where}: {file}::{test}")
        problems += [f"{where}: {d}" for d in DOTTED.findall(text) if not resolves(d)]
        problems += module_attribute_problems(text, where, modules)
        problems += [f"{where}: make {t}" for t in MAKE.findall(text) if t not in targets]
        for module, command, sub in COMMAND.findall(text):
            if module != package:
                continue
            known = cli.commands
            group = getattr(known.get(command), "commands", None)
            if command not in known or (group is not None and sub and sub not in group):
                problems.append(f"{where}: python -m {module} {command} {sub}".rstrip())
    return problems


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_every_name_a_generated_project_gives_exists(variant: str, tmp_path: Path) -> None:
    project = bake(tmp_path, project_name=f"Docs {variant}", **VARIANTS[variant])
    sys.path.insert(0, str(project / "src"))
    try:
        problems = project_problems(project)
    finally:
        sys.path.remove(str(project / "src"))
    assert problems == [], "\n".join(problems)


def test_every_name_the_runtime_docstrings_give_exists() -> None:
    modules = runtime_modules()
    problems = []
    for path in sorted(RUNTIME.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        docs = [
            ast.get_docstring(node) or ""
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]
        where = str(path.relative_to(RUNTIME))
        for doc in docs:
            for file, _ in MODULE_FILE.findall(doc):
                if Path(file).stem not in modules and Path(file).name not in PROJECT_MODULES:
                    problems.append(f"{where}: {file}")
            problems += [f"{where}: {d}" for d in DOTTED.findall(doc) if not resolves(d)]
            problems += module_attribute_problems(doc, where, modules)
    assert problems == [], "\n".join(problems)


def test_the_checker_finds_a_stale_name(tmp_path: Path) -> None:
    """What the tests above rely on: a reference to something gone is reported."""
    modules = runtime_modules()
    assert module_attribute_problems("see ``registry.promote``", "x", modules)
    assert not module_attribute_problems("see ``registry.load``", "x", modules)
    assert not resolves("prodml_runtime.io.registry.promote")
    assert resolves("prodml_runtime.io.registry.load")
    assert inspect.ismodule(importlib.import_module("prodml_runtime.io.registry"))
