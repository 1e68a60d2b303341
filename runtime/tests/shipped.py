"""The files a project prodml generates starts with (read from the repository's template): the
runtime must accept them as shipped.

``models_<kind>.py`` is plain Python; ``configs/train.yaml`` is rendered with the answers that
matter to it (the problem type)."""

from __future__ import annotations

import runpy
from collections.abc import Mapping
from pathlib import Path

import jinja2
from prodml_runtime.core.schema import Schema
from prodml_runtime.training.families import Family

TEMPLATE = Path(__file__).resolve().parents[2] / "template" / "{{cookiecutter.project_slug}}"
PACKAGE = TEMPLATE / "src" / "{{cookiecutter.package_name}}"
MONITOR_CONFIG = TEMPLATE / "configs" / "monitor.yaml"


def families(schema: Schema) -> Mapping[str, Family]:
    """The model families (``models.py``) of a project of ``schema``'s problem type."""
    kind = "classification" if schema.is_classification else "regression"
    found: Mapping[str, Family] = runpy.run_path(str(PACKAGE / f"models_{kind}.py"))["MODELS"]
    return found


def train_config(schema: Schema, folder: Path) -> Path:
    """``configs/train.yaml`` of a project of ``schema``'s problem type, written in ``folder``."""
    text = (TEMPLATE / "configs" / "train.yaml").read_text(encoding="utf-8")
    answers = {"problem_type": schema.problem_type, "dataset": "sample.csv", "package_name": "p"}
    path = folder / "train.yaml"
    path.write_text(jinja2.Template(text).render(cookiecutter=answers), encoding="utf-8")
    return path
