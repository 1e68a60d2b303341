"""A team's conventions file: the YAML ``prodml new --config`` takes and ``prodml check --config``
enforces (a mapping of option: value, or cookiecutter's ``default_context``)."""

from __future__ import annotations

from pathlib import Path


def read(path: Path, label: str = "--config") -> dict[str, str]:
    """The answers in ``path``; ValueError with a sentence (starting with ``label``, where the
    path was given) saying what is wrong."""
    import yaml

    try:
        # BaseLoader keeps every scalar a string: 3.10 stays "3.10", yes stays "yes".
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ValueError(f"{label} {path}: cannot read it as YAML ({err})") from None
    if isinstance(data, dict) and isinstance(data.get("default_context"), dict):
        data = data["default_context"]
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(
            f"{label} {path}: expected a mapping of option: value, e.g. 'serving: flask'"
        )
    return data
