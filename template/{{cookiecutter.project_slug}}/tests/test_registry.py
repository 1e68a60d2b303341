"""The registry round-trips models, refuses tampered artifacts and rolls back in one step."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from {{ cookiecutter.package_name }} import registry
from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.train import TrainingResult


def _save(trained: TrainingResult, schema: Schema, root: Path) -> str:
    return registry.save(
        trained.pipeline, root, schema=schema, metrics=trained.test, params=trained.params
    )


def test_round_trip_preserves_predictions_and_metadata(
    trained: TrainingResult, schema: Schema, loaded: registry.LoadedModel, model_dir: Path
) -> None:
    features = trained.test_split.features
    np.testing.assert_array_equal(
        loaded.pipeline.predict(features), trained.pipeline.predict(features)
    )
    meta = loaded.metadata
    assert {"version", "created_at", "sha256", "metrics", "params", "schema", "libraries"} <= set(
        meta
    )
    assert meta["sha256"] == registry.sha256(model_dir / loaded.version / registry.MODEL_FILE)
    assert loaded.schema == schema
    assert "scikit-learn" in meta["libraries"]


def test_tampered_artifact_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    with (copy / version / registry.MODEL_FILE).open("ab") as file:
        file.write(b"tampered")
    with pytest.raises(registry.RegistryError, match="checksum mismatch"):
        registry.load(copy)


def test_empty_registry_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="make train"):
        registry.load(tmp_path)


def test_promote_rolls_back_to_an_older_version(
    trained: TrainingResult, schema: Schema, tmp_path: Path
) -> None:
    split = trained.test_split
    old = _save(trained, schema, tmp_path)
    retrained = clone(trained.pipeline).fit(split.features, split.target)
    new = registry.save(retrained, tmp_path, schema=schema, metrics={}, params={})
    registry.promote(tmp_path, new)
    assert registry.load(tmp_path).version == new
    registry.promote(tmp_path, old)
    assert registry.load(tmp_path).version == old
    with pytest.raises(registry.RegistryError, match="no model version"):
        registry.promote(tmp_path, "does-not-exist")


def test_save_leaves_no_temporary_files(
    trained: TrainingResult, schema: Schema, tmp_path: Path
) -> None:
    version = _save(trained, schema, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [version]
    assert sorted(p.name for p in (tmp_path / version).iterdir()) == [
        "metadata.json",
        "model.joblib",
    ]
