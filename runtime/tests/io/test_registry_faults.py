"""What the registry refuses with one line saying why: a symbolic link that leads out of it, and a
model whose schema was edited after training (``predict`` and ``monitor`` included)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import promotion, registry
from prodml_runtime.project import Project

from tests.io.stand_in import stand_in

pytestmark = [
    pytest.mark.usefixtures("problem"),
    pytest.mark.parametrize("problem", ["binary"], indirect=True),
]

#: Every way in to a version: each must refuse one that leads out of the registry.
ENTRIES: dict[str, Callable[[Path, str], object]] = {
    "load": registry.load,
    "verify": registry.verify,
    "read_metadata": registry.read_metadata,
    "load_reference": registry.load_reference,
    "versions": lambda root, version: registry.versions(root),
    "promote": lambda root, version: promotion.promote(root, version, force=True),
    "rollback": lambda root, version: promotion.rollback(root),
}
LINKED = [
    "the version folder",
    registry.MODEL_FILE,
    registry.METADATA_FILE,
    registry.REFERENCE_FILE,
]


def _registry(monitored: Path, tmp_path: Path, schema: Schema) -> tuple[Path, str]:
    """A copy of ``monitored`` whose champion, the version returned, was replaced by another
    (so that a rollback restores it)."""
    root = tmp_path / "models"
    shutil.copytree(monitored, root)
    version = registry.champion(root)
    promotion.promote(root, stand_in(root, schema, 0.99), force=True)
    return root, version


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("linked", LINKED)
def test_a_version_leading_out_of_the_registry_is_refused(
    monitored: Path, tmp_path: Path, schema: Schema, linked: str, entry: str
) -> None:
    root, version = _registry(monitored, tmp_path, schema)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    inside = root / version if linked == LINKED[0] else root / version / linked
    moved = outside / inside.name
    shutil.move(inside, moved)
    inside.symlink_to(moved)
    before = sorted(p.name for p in root.iterdir())
    refusal = f"{re.escape(str(inside))} is a symbolic link to {re.escape(str(moved))}: "
    with pytest.raises(registry.RegistryError, match=refusal) as refused:
        ENTRIES[entry](root, version)
    assert "the registry loads only what is inside it" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert sorted(p.name for p in root.iterdir()) == before, "nothing written"


def test_a_registry_root_that_is_a_link_is_used(monitored: Path, tmp_path: Path) -> None:
    """The root may live elsewhere (a mounted volume, say): only what is below it must not."""
    root = tmp_path / "models"
    root.symlink_to(monitored)
    assert registry.load(root).version == registry.champion(monitored)
    assert registry.load_reference(root, registry.champion(root))["rows"] > 0


def _edited(metadata: dict[str, Any], schema: Schema, edit: str) -> None:
    columns = metadata["schema"]["columns"]
    feature = next(c for c in columns if c["name"] == schema.feature_names[0])
    if edit == "a feature removed":
        columns.remove(feature)
    elif edit == "a type that does not parse":
        feature["type"] = "text"
    elif edit == "another target":
        next(c for c in columns if c["name"] == schema.target)["categories"] = ["a", "b"]
    else:  # "a feature made nullable": parses, and matches the model's inputs
        feature["nullable"] = not feature.get("nullable", False)


EDITS = ["a feature removed", "a type that does not parse", "another target", "nullable"]


def _edit_schema(root: Path, schema: Schema, edit: str, recorded: bool = True) -> str:
    """Edit the champion's schema in its metadata (as a model saved before the schema's sha256
    was recorded, unless ``recorded``); return the champion."""
    version = registry.champion(root)
    file = root / version / registry.METADATA_FILE
    metadata = json.loads(file.read_text())
    _edited(metadata, schema, edit)
    if not recorded:
        del metadata["schema_sha256"]
    file.write_text(json.dumps(metadata))
    return version


@pytest.mark.parametrize("edit", EDITS)
def test_a_schema_edited_after_training_is_refused(
    monitored: Path, tmp_path: Path, schema: Schema, edit: str
) -> None:
    root = tmp_path / "models"
    shutil.copytree(monitored, root)
    version = _edit_schema(root, schema, edit)
    changed = f"model {version}: the schema in its metadata.json was changed after training"
    for refused in (registry.load, registry.verify):
        with pytest.raises(registry.RegistryError, match=re.escape(changed)):
            refused(root, version)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ("a feature removed", "the schema's features lack "),
        ("a type that does not parse", "is not usable (invalid schema: columns"),
        ("another target", "the model predicts "),
    ],
)
def test_an_older_model_whose_schema_no_longer_fits_is_refused(
    monitored: Path, tmp_path: Path, schema: Schema, edit: str, reason: str
) -> None:
    """Saved before the schema's sha256 was recorded: its model is compared with the schema."""
    root = tmp_path / "models"
    shutil.copytree(monitored, root)
    version = _edit_schema(root, schema, edit, recorded=False)
    with pytest.raises(registry.RegistryError, match=f"model {version}: .*{re.escape(reason)}"):
        registry.load(root)


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "older model"])
@pytest.mark.parametrize("command", ["predict", "monitor"])
@pytest.mark.parametrize("edit", EDITS[:3])
def test_predict_and_monitor_refuse_an_edited_schema_in_one_line(
    monitored: Path,
    tmp_path: Path,
    schema: Schema,
    project: Project,
    sample_path: Path,
    edit: str,
    command: str,
    recorded: bool,
) -> None:
    root = tmp_path / "models"
    shutil.copytree(monitored, root)
    version = _edit_schema(root, schema, edit, recorded)
    config = tmp_path / "monitor.yaml"
    config.write_text("min_rows: 10\n")
    arguments = {
        "predict": ["--output", str(tmp_path / "scored.csv"), "--no-log"],
        "monitor": ["--output", str(tmp_path / "report"), "--config", str(config)],
    }[command]
    result = CliRunner().invoke(
        command_line(project),
        [command, "--model-dir", str(root), "--input", str(sample_path), *arguments],
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), "no traceback"
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: model {version}: the schema in its metadata.json")
    assert "restore the file, or retrain (`make train`)" in line
