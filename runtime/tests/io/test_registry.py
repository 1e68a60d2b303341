"""The registry round-trips models and refuses tampered or foreign artifacts, names outside its
own, and unusable metadata; what it writes is readable by other users."""

from __future__ import annotations

import hashlib
import importlib
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
from prodml_runtime.core.model import LoadedModel
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import artifact, atomic, promotion, registry
from prodml_runtime.training.train import TrainingResult
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from tests.conftest import Register
from tests.io.stand_in import stand_in

# The registry does not depend on the problem type: one demo project.
pytestmark = [
    pytest.mark.usefixtures("problem"),
    pytest.mark.parametrize("problem", ["binary"], indirect=True),
]


def test_round_trip_preserves_predictions_and_metadata(
    trained: TrainingResult, schema: Schema, loaded: LoadedModel, model_dir: Path
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


def _rewrite_both(root: Path, version: str, pipeline: Pipeline) -> None:
    """Replace a version's artifact and its recorded sha256, as anyone who can write there can."""
    data = artifact.dumps(pipeline)
    (root / version / registry.MODEL_FILE).write_bytes(data)
    metadata = json.loads((root / version / registry.METADATA_FILE).read_text())
    metadata["sha256"] = hashlib.sha256(data).hexdigest()
    (root / version / registry.METADATA_FILE).write_text(json.dumps(metadata))


def test_an_artifact_naming_a_foreign_type_is_refused_before_it_runs(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Artifact and checksum both rewritten: the foreign type is named, and nothing in it ran."""
    marker = tmp_path / "ran"
    (tmp_path / "planted.py").write_text(
        "from pathlib import Path\n"
        "from sklearn.preprocessing import FunctionTransformer\n\n"
        "class Step(FunctionTransformer):\n"
        "    def __setstate__(self, state):\n"
        f"        Path({str(marker)!r}).write_text('ran')\n"
        "        super().__setstate__(state)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    step = importlib.import_module("planted").Step()
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    _rewrite_both(copy, version, Pipeline([("step", step), ("model", DummyRegressor())]))
    with pytest.raises(registry.RegistryError, match=r"not on the reviewed list: planted\.Step"):
        registry.load(copy)
    assert not marker.exists()


def test_an_artifact_calling_a_system_function_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    evil = Pipeline([("step", FunctionTransformer(os.system)), ("model", DummyRegressor())])
    _rewrite_both(copy, version, evil)
    with pytest.raises(registry.RegistryError, match=r"not on the reviewed list: .*system"):
        registry.load(copy)


def test_a_pickle_from_an_older_prodml_is_never_loaded(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    (copy / version / registry.MODEL_FILE).rename(copy / version / "model.joblib")
    with pytest.raises(registry.RegistryError, match=r"pickle .* never loaded.*retrain"):
        registry.load(copy)


def test_a_model_from_another_scikit_learn_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    metadata_file = copy / version / registry.METADATA_FILE
    metadata = json.loads(metadata_file.read_text())
    installed = metadata["libraries"]["scikit-learn"]
    metadata["libraries"]["scikit-learn"] = "0.24.2"
    metadata_file.write_text(json.dumps(metadata))
    with pytest.raises(registry.RegistryError) as refused:
        registry.load(copy)
    message = str(refused.value)
    assert "0.24.2" in message and installed in message
    assert "make train" in message and "scikit-learn==0.24.2" in message


@pytest.mark.parametrize(
    "name", ["/abs/path/evil-model", "../../../../evil-model", ".staging", "20260101T000000Z-zz"]
)
def test_only_version_names_of_the_registry_are_loaded(model_dir: Path, name: str) -> None:
    with pytest.raises(registry.RegistryError, match="not a model version name"):
        registry.load(model_dir, name)
    with pytest.raises(registry.RegistryError, match="not a model version name"):
        promotion.promote(model_dir, name)


def test_a_champion_pointer_outside_the_registry_is_refused(tmp_path: Path, schema: Schema) -> None:
    version = stand_in(tmp_path, schema, 0.8)
    (tmp_path / registry.CHAMPION_FILE).write_text(str((tmp_path / version).resolve()))
    with pytest.raises(registry.RegistryError, match="is not a version name"):
        registry.load(tmp_path)


def test_a_killed_save_leaves_staging_that_is_never_a_version(
    schema: Schema, tmp_path: Path
) -> None:
    """A ``train`` killed while saving leaves a staging folder: not listed, not promotable,
    removed by the next save once its writer is gone."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = tmp_path / f".version.{atomic._HOST}-{dead}-0123abcd.tmp"
    stale.mkdir(parents=True)
    (stale / registry.METADATA_FILE).write_text("{}")
    assert registry.versions(tmp_path) == []
    with pytest.raises(registry.RegistryError, match="not a model version name"):
        promotion.promote(tmp_path, stale.name)
    version = stand_in(tmp_path, schema, 0.8)
    assert not stale.exists() and registry.versions(tmp_path) == [version]


@pytest.mark.parametrize(
    "content",
    [b"[1, 2]", b'{"version": "x"}', b"{not json", b"\xff\xfe{}"],
    ids=["a list", "no schema", "invalid JSON", "not UTF-8"],
)
def test_unusable_metadata_is_a_clear_refusal(
    model_dir: Path, tmp_path: Path, content: bytes
) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    (copy / version / registry.METADATA_FILE).write_bytes(content)
    with pytest.raises(registry.RegistryError, match=f"metadata {copy / version}"):
        registry.load(copy)


def test_empty_registry_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="make train"):
        registry.load(tmp_path)


def test_save_leaves_no_temporary_files(schema: Schema, tmp_path: Path) -> None:
    version = stand_in(tmp_path, schema, 0.8)
    promotion.promote(tmp_path, version)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [version, registry.CHAMPION_FILE, registry.HISTORY_FILE, promotion.LOCK_FILE]
    )
    assert sorted(p.name for p in (tmp_path / version).iterdir()) == [
        "metadata.json",
        registry.MODEL_FILE,
    ]


def _other_users_can_read(path: Path) -> bool:
    mode = path.stat().st_mode
    return bool(mode & stat.S_IROTH and (not path.is_dir() or mode & stat.S_IXOTH))


@pytest.fixture
def shared_registry(trained: TrainingResult, register: Register) -> Iterator[Path]:
    """A registry trained and promoted under the usual umask (022), in a folder others can enter
    (pytest's own temporary folders are private)."""
    home = Path(tempfile.mkdtemp())
    home.chmod(0o755)
    previous = os.umask(0o022)
    try:
        root = home / "models"
        register(
            trained, root, promote=True, reference={"rows": 1, "features": {}, "prediction": {}}
        )
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
