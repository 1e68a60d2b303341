"""The registry round-trips models, refuses tampered artifacts, gates promotions, rolls back."""

from __future__ import annotations

import importlib
import itertools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }} import registry
from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.train import TrainingResult

_distinct = itertools.count()


def _version(
    root: Path,
    schema: Schema,
    score: float,
    baseline: float = 0.5,
    metric: str = "roc_auc",
    margin: float = 0.05,
) -> str:
    """Store a stand-in model (distinct bytes each call) whose metadata says ``score``."""
    pipeline = Pipeline([("model", DummyRegressor(constant=float(next(_distinct))))])
    return registry.save(
        pipeline,
        root,
        schema=schema,
        metrics={
            "primary_metric": metric,
            "champion": "candidate",
            "test": {"candidate": {metric: score}, "baseline": {metric: baseline}},
        },
        params={"config": {"min_improvement": margin}},
    )


def test_round_trip_preserves_predictions_and_metadata(
    trained: TrainingResult, schema: Schema, loaded: registry.LoadedModel, model_dir: Path
) -> None:
    features = trained.test_split.features
    np.testing.assert_array_equal(
        loaded.pipeline.predict(features), trained.pipeline.predict(features)
    )
    meta = loaded.metadata
    expected = {"version", "created_at", "sha256", "metrics", "params", "schema", "libraries"}
    assert expected | {"lineage"} <= set(meta)
    assert meta["sha256"] == registry.sha256(model_dir / loaded.version / registry.MODEL_FILE)
    assert loaded.schema == schema
    assert "scikit-learn" in meta["libraries"]


def test_lineage_is_stored_in_the_metadata(schema: Schema, tmp_path: Path) -> None:
    lineage = {"data_hash": "abc123", "git_commit": "deadbeef", "run_id": "run-1"}
    pipeline = Pipeline([("model", DummyRegressor())])
    version = registry.save(
        pipeline, tmp_path, schema=schema, metrics={}, params={}, lineage=lineage
    )
    assert registry.read_metadata(tmp_path, version)["lineage"] == lineage


def test_tampered_artifact_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    with (copy / version / registry.MODEL_FILE).open("ab") as file:
        file.write(b"tampered")
    with pytest.raises(registry.RegistryError, match="checksum mismatch"):
        registry.load(copy)


def test_artifact_naming_code_this_install_lacks_is_refused(
    schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "other_project.py").write_text(
        "from sklearn.preprocessing import FunctionTransformer\n\n"
        "class Step(FunctionTransformer):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    step = importlib.import_module("other_project").Step()
    root = tmp_path / "models"
    version = registry.save(
        Pipeline([("step", step), ("model", DummyRegressor())]),
        root,
        schema=schema,
        metrics={},
        params={},
    )
    monkeypatch.delitem(sys.modules, "other_project")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    with pytest.raises(registry.RegistryError, match=f"model {version} cannot be loaded.*retrain"):
        registry.load(root, version)


def test_tampered_challenger_is_never_promoted(schema: Schema, tmp_path: Path) -> None:
    version = _version(tmp_path, schema, 0.8)
    (tmp_path / version / registry.MODEL_FILE).write_bytes(b"not the pickle that was checked")
    with pytest.raises(registry.RegistryError, match="checksum mismatch"):
        registry.promote(tmp_path, version)
    assert registry.current_champion(tmp_path) is None


def test_empty_registry_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="make train"):
        registry.load(tmp_path)


def test_first_model_only_has_to_beat_the_baseline(schema: Schema, tmp_path: Path) -> None:
    version = _version(tmp_path, schema, 0.6, margin=0.05)
    assert "first champion" in registry.promote(tmp_path, version)
    assert registry.champion(tmp_path) == version
    [entry] = registry.history(tmp_path)
    assert entry["version"] == version and entry["previous"] is None
    assert {"at", "reason"} <= set(entry)


@pytest.mark.parametrize(
    ("score", "margin"), [(0.52, 0.05), (0.5, 0.0), (0.4, 0.0)], ids=["margin", "tie", "worse"]
)
def test_model_not_beating_the_baseline_is_refused(
    schema: Schema, tmp_path: Path, score: float, margin: float
) -> None:
    """Model 5: a model no better than the dummy baseline never becomes champion, even forced."""
    version = _version(tmp_path, schema, score, baseline=0.5, margin=margin)
    for force in (False, True):
        with pytest.raises(registry.PromotionRefused, match="beats the baseline"):
            registry.promote(tmp_path, version, force=force)
    assert registry.current_champion(tmp_path) is None
    assert registry.history(tmp_path) == []


def test_challenger_worse_than_the_champion_is_refused_unless_forced(
    schema: Schema, tmp_path: Path
) -> None:
    champion = _version(tmp_path, schema, 0.80)
    worse, tie = _version(tmp_path, schema, 0.70), _version(tmp_path, schema, 0.80)
    registry.promote(tmp_path, champion)
    with pytest.raises(registry.PromotionRefused, match="worse than champion"):
        registry.promote(tmp_path, worse)
    assert registry.champion(tmp_path) == champion
    registry.promote(tmp_path, tie)
    assert registry.champion(tmp_path) == tie
    assert "forced" in registry.promote(tmp_path, worse, force=True)
    assert registry.champion(tmp_path) == worse


def test_error_metrics_are_lower_is_better_by_default(schema: Schema, tmp_path: Path) -> None:
    champion = _version(tmp_path, schema, 10.0, baseline=20.0, metric="rmse", margin=1.0)
    worse = _version(tmp_path, schema, 12.0, baseline=20.0, metric="rmse", margin=1.0)
    better = _version(tmp_path, schema, 9.0, baseline=20.0, metric="rmse", margin=1.0)
    registry.promote(tmp_path, champion)
    with pytest.raises(registry.PromotionRefused, match="worse than champion"):
        registry.promote(tmp_path, worse)
    registry.promote(tmp_path, better)
    assert registry.champion(tmp_path) == better


def test_metadata_without_gate_evidence_is_refused(schema: Schema, tmp_path: Path) -> None:
    pipeline = Pipeline([("model", DummyRegressor())])
    version = registry.save(pipeline, tmp_path, schema=schema, metrics={}, params={})
    with pytest.raises(registry.PromotionRefused, match="no gate evidence"):
        registry.promote(tmp_path, version)


def test_rollback_walks_back_through_the_promotions(schema: Schema, tmp_path: Path) -> None:
    first, second, third = (_version(tmp_path, schema, s) for s in (0.7, 0.8, 0.9))
    for version in (first, second, third):
        registry.promote(tmp_path, version)
    assert registry.rollback(tmp_path) == second
    assert registry.champion(tmp_path) == second
    assert registry.rollback(tmp_path) == first
    with pytest.raises(registry.RegistryError, match="nothing to roll back"):
        registry.rollback(tmp_path)
    lines = (tmp_path / registry.HISTORY_FILE).read_text().splitlines()
    actions = [(e["action"], e["version"], e["previous"]) for e in map(json.loads, lines)]
    assert actions[-2:] == [("rollback", second, third), ("rollback", first, second)]


def test_promote_unknown_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="no model version"):
        registry.promote(tmp_path, "does-not-exist")


def test_save_leaves_no_temporary_files(schema: Schema, tmp_path: Path) -> None:
    version = _version(tmp_path, schema, 0.8)
    registry.promote(tmp_path, version)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [version, registry.CHAMPION_FILE, registry.HISTORY_FILE]
    )
    assert sorted(p.name for p in (tmp_path / version).iterdir()) == [
        "metadata.json",
        "model.joblib",
    ]



def _other_users_can_read(path: Path) -> bool:
    mode = path.stat().st_mode
    return bool(mode & stat.S_IROTH and (not path.is_dir() or mode & stat.S_IXOTH))


@pytest.fixture
def shared_registry(trained: TrainingResult, schema: Schema) -> Iterator[Path]:
    """A registry trained and promoted under the usual umask (022), in a folder others can enter
    (pytest's own temporary folders are private)."""
    home = Path(tempfile.mkdtemp())
    home.chmod(0o755)
    previous = os.umask(0o022)
    try:
        root = home / "models"
        version = registry.save(
            trained.pipeline,
            root,
            schema=schema,
            metrics=trained.registry_metrics(),
            params=trained.registry_params(),
            reference={"rows": 1, "features": {}, "prediction": {}},
        )
        registry.promote(root, version)
    finally:
        os.umask(previous)
    yield root
    shutil.rmtree(home)


def test_registry_files_are_readable_by_other_users(shared_registry: Path) -> None:
    """The serving image runs as another user than the one who trained (uid 10001): every file
    the registry writes is readable, and every folder traversable, by others."""
    written = [shared_registry, *shared_registry.rglob("*")]
    assert {p.name for p in written} >= {registry.CHAMPION_FILE, registry.HISTORY_FILE}
    assert [p for p in written if not _other_users_can_read(p)] == []


def test_another_uid_loads_the_champion(shared_registry: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("switching to another uid needs root")
    code = f"import sys; sys.path[:0] = {sys.path!r}; from {registry.__package__} import registry"
    code += f"; print(registry.load(registry.Path({str(shared_registry)!r})).version)"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], user=65534, capture_output=True, text=True, check=False
        )
    except PermissionError:
        pytest.skip("this interpreter is not executable by other users")
    if "Permission denied" in done.stderr and str(shared_registry) not in done.stderr:
        pytest.skip("this interpreter's packages are not readable by other users")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == registry.champion(shared_registry)
