"""The answers file a generated project carries: ``.cruft.json``, in cruft's file layout.

It records every answer, the template version and the commit that last changed the template
(null outside a clean source checkout), so ``prodml new --replay PATH`` regenerates the same tree
and ``prodml update`` re-renders and merges. It is not cruft-compatible: ``cruft check``/``diff``
clone the template from a git URL, and prodml's template ships inside the package. Standard
library only (hooks use it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from prodml.options import OPTIONS

ANSWERS_FILE = ".cruft.json"


def document(context: Mapping[str, object]) -> dict[str, object]:
    """The answers file's content for a cookiecutter context (private keys left out)."""
    recorded = {o.name: context[o.name] for o in OPTIONS}
    recorded["_template_version"] = context["_template_version"]
    return {
        "template": "prodml",
        "commit": context.get("_commit"),
        "checkout": None,
        "context": {"cookiecutter": recorded},
        "directory": None,
        "skip": [],
    }


def write(project_dir: Path, context: Mapping[str, object]) -> None:
    text = json.dumps(document(context), indent=2, ensure_ascii=False) + "\n"
    (project_dir / ANSWERS_FILE).write_text(text, encoding="utf-8")


def read(path: Path) -> tuple[dict[str, str], str]:
    """The answers and template version recorded at ``path`` (a project or its answers file).

    Raises ValueError with a sentence saying what is wrong.
    """
    file = path / ANSWERS_FILE if path.is_dir() else path
    try:
        recorded = json.loads(file.read_text(encoding="utf-8"))["context"]["cookiecutter"]
    except FileNotFoundError:
        raise ValueError(
            f"{file} not found: point --replay at a generated project or its {ANSWERS_FILE}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(
            f"{file} is not a prodml answers file ({err.__class__.__name__}: {err})"
        ) from None
    if not isinstance(recorded, dict):
        raise ValueError(f"{file}: context.cookiecutter must be an object of answers")
    version = str(recorded.pop("_template_version", "unknown"))
    answers = {key: str(value) for key, value in recorded.items() if not key.startswith("_")}
    return answers, version
