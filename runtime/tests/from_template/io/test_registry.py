"""The registry round-trips models, refuses tampered artifacts, gates promotions, rolls back."""

from __future__ import annotations

import copy
import hashlib
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
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from {{ cookiecutter.package_name }}.config import TrainConfig
from {{ cookiecutter.package_name }}.core.gate import PromotionRefused
from {{ cookiecutter.package_name }}.core.model import LoadedModel
from {{ cookiecutter.package_name }}.core.schema import Schema
from {{ cookiecutter.package_name }}.io import artifact, atomic, promotion, registry
from {{ cookiecutter.package_name }}.training.train import FAMILIES, TrainingResult, build_pipeline, target_series

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
    with pytest.raises(registry.RegistryError, match="not on the reviewed list: planted.Step"):
        registry.load(copy)
    assert not marker.exists()


def test_an_artifact_calling_a_system_function_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    evil = Pipeline([("step", FunctionTransformer(os.system)), ("model", DummyRegressor())])
    _rewrite_both(copy, version, evil)
    with pytest.raises(registry.RegistryError, match="not on the reviewed list: .*system"):
        registry.load(copy)


def test_a_pickle_from_an_older_prodml_is_never_loaded(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(model_dir, copy)
    version = registry.champion(copy)
    (copy / version / registry.MODEL_FILE).rename(copy / version / "model.joblib")
    with pytest.raises(registry.RegistryError, match="pickle .* never loaded.*retrain"):
        registry.load(copy)


FEATURE_VARIANTS = {
    "default": {},
    "robust": {"scaling": "robust"},
    "chi2": {"scaling": "minmax", "selection": {"method": "k_best", "k": 3, "score": "chi2"}},
    "bins-rfe": {"discretize_bins": 3, "selection": {"method": "rfe", "k": 3}},
    "l1": {"selection": {"method": "l1", "l1_strength": 0.1}},
    "anova": {"selection": {"method": "k_best", "k": 3}},
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("features", FEATURE_VARIANTS.values(), ids=list(FEATURE_VARIANTS))
def test_every_pipeline_training_builds_loads_from_the_reviewed_types(
    family: str, features: dict, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    config = TrainConfig(features=features)
    if features.get("selection", {}).get("score") == "chi2" and not schema.is_classification:
        pytest.skip("chi2 selection needs a classification target")
    rows = sample.head(300)
    pipeline = build_pipeline(family, schema, config).fit(
        rows[schema.feature_names], target_series(rows, schema)
    )
    version = registry.save(pipeline, tmp_path, schema=schema, metrics={}, params={})
    loaded = registry.load(tmp_path, version)
    features_only = rows[schema.feature_names]
    method = "predict_proba" if schema.is_classification else "predict"
    np.testing.assert_array_equal(
        getattr(loaded.pipeline, method)(features_only), getattr(pipeline, method)(features_only)
    )


def test_the_same_model_always_gives_the_same_bytes(trained: TrainingResult) -> None:
    """skops names arrays after object ids and stamps the time: neither reaches the file."""
    assert artifact.dumps(trained.pipeline) == artifact.dumps(copy.deepcopy(trained.pipeline))


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
    version = _version(tmp_path, schema, 0.8)
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
    version = _version(tmp_path, schema, 0.8)
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


def test_a_corrupt_history_line_is_named(tmp_path: Path, schema: Schema) -> None:
    first = _version(tmp_path, schema, 0.8)
    promotion.promote(tmp_path, first)
    with (tmp_path / registry.HISTORY_FILE).open("a") as file:
        file.write("{truncated\n")
    with pytest.raises(registry.RegistryError, match="history.jsonl line 2 .*fix or remove"):
        registry.champion(tmp_path)


def test_more_rollbacks_than_promotions_is_a_clear_refusal(tmp_path: Path, schema: Schema) -> None:
    first, second = _version(tmp_path, schema, 0.8), _version(tmp_path, schema, 0.9)
    promotion.promote(tmp_path, first)
    promotion.promote(tmp_path, second)
    entries = registry.history(tmp_path)
    rollback = {"action": "rollback", "version": first, "previous": second}
    lines = [*entries, rollback, rollback]
    (tmp_path / registry.HISTORY_FILE).write_text("".join(json.dumps(e) + "\n" for e in lines))
    with pytest.raises(registry.RegistryError, match="rolls back further than its promotions"):
        promotion.rollback(tmp_path)


def test_a_crash_between_history_and_pointer_keeps_one_champion(
    tmp_path: Path, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history is written first: a crash (here: a full disk) before the pointer is updated
    leaves the promotion recorded and a stale pointer that the next registry write repairs."""
    first, second = _version(tmp_path, schema, 0.8), _version(tmp_path, schema, 0.9)
    promotion.promote(tmp_path, first)

    def disk_full(root: Path, name: str) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(promotion, "_sync_pointer", disk_full)
        with pytest.raises(OSError):
            promotion.promote(tmp_path, second)
    assert registry.champion(tmp_path) == second
    assert registry.history(tmp_path)[-1]["previous"] == first
    assert "already the champion" in promotion.promote(tmp_path, second)
    assert (tmp_path / registry.CHAMPION_FILE).read_text().strip() == second
    assert promotion.rollback(tmp_path) == first


_PROMOTER = """
import sys
from pathlib import Path
from {package} import promotion
root = Path(sys.argv[1])
for version in sys.argv[2:]:
    promotion.promote(root, version, force=True)
    print(version)
"""


def test_concurrent_promotions_are_serialized(tmp_path: Path, schema: Schema) -> None:
    """Six processes promoting five versions each: every reported promotion is in the history,
    and each entry's ``previous`` is the entry before it."""
    names = [_version(tmp_path, schema, 0.6 + i / 100) for i in range(30)]
    code = _PROMOTER.format(package=promotion.__package__)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path), *names[i::6]],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    reported = [line for worker in workers for line in worker.communicate()[0].split()]
    assert all(worker.returncode == 0 for worker in workers)
    entries = registry.history(tmp_path)
    assert sorted(reported) == sorted(names) == sorted(e["version"] for e in entries)
    assert [e["previous"] for e in entries] == [None, *(e["version"] for e in entries[:-1])]
    assert registry.champion(tmp_path) == entries[-1]["version"]


def test_tampered_challenger_is_never_promoted(schema: Schema, tmp_path: Path) -> None:
    version = _version(tmp_path, schema, 0.8)
    (tmp_path / version / registry.MODEL_FILE).write_bytes(b"not the pickle that was checked")
    with pytest.raises(registry.RegistryError, match="checksum mismatch"):
        promotion.promote(tmp_path, version)
    assert registry.current_champion(tmp_path) is None


def test_empty_registry_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="make train"):
        registry.load(tmp_path)


def test_first_model_only_has_to_beat_the_baseline(schema: Schema, tmp_path: Path) -> None:
    version = _version(tmp_path, schema, 0.6, margin=0.05)
    assert "first champion" in promotion.promote(tmp_path, version)
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
        with pytest.raises(PromotionRefused, match="beats the baseline"):
            promotion.promote(tmp_path, version, force=force)
    assert registry.current_champion(tmp_path) is None
    assert registry.history(tmp_path) == []


def test_challenger_worse_than_the_champion_is_refused_unless_forced(
    schema: Schema, tmp_path: Path
) -> None:
    champion = _version(tmp_path, schema, 0.80)
    worse, tie = _version(tmp_path, schema, 0.70), _version(tmp_path, schema, 0.80)
    promotion.promote(tmp_path, champion)
    with pytest.raises(PromotionRefused, match="worse than champion"):
        promotion.promote(tmp_path, worse)
    assert registry.champion(tmp_path) == champion
    promotion.promote(tmp_path, tie)
    assert registry.champion(tmp_path) == tie
    assert "forced" in promotion.promote(tmp_path, worse, force=True)
    assert registry.champion(tmp_path) == worse


def test_error_metrics_are_lower_is_better_by_default(schema: Schema, tmp_path: Path) -> None:
    champion = _version(tmp_path, schema, 10.0, baseline=20.0, metric="rmse", margin=1.0)
    worse = _version(tmp_path, schema, 12.0, baseline=20.0, metric="rmse", margin=1.0)
    better = _version(tmp_path, schema, 9.0, baseline=20.0, metric="rmse", margin=1.0)
    promotion.promote(tmp_path, champion)
    with pytest.raises(PromotionRefused, match="worse than champion"):
        promotion.promote(tmp_path, worse)
    promotion.promote(tmp_path, better)
    assert registry.champion(tmp_path) == better


def test_metadata_without_gate_evidence_is_refused(schema: Schema, tmp_path: Path) -> None:
    pipeline = Pipeline([("model", DummyRegressor())])
    version = registry.save(pipeline, tmp_path, schema=schema, metrics={}, params={})
    with pytest.raises(PromotionRefused, match="no gate evidence"):
        promotion.promote(tmp_path, version)


def test_rollback_walks_back_through_the_promotions(schema: Schema, tmp_path: Path) -> None:
    first, second, third = (_version(tmp_path, schema, s) for s in (0.7, 0.8, 0.9))
    for version in (first, second, third):
        promotion.promote(tmp_path, version)
    assert promotion.rollback(tmp_path) == second
    assert registry.champion(tmp_path) == second
    assert promotion.rollback(tmp_path) == first
    with pytest.raises(registry.RegistryError, match="nothing to roll back"):
        promotion.rollback(tmp_path)
    lines = (tmp_path / registry.HISTORY_FILE).read_text().splitlines()
    actions = [(e["action"], e["version"], e["previous"]) for e in map(json.loads, lines)]
    assert actions[-2:] == [("rollback", second, third), ("rollback", first, second)]


def test_promote_unknown_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="no model version"):
        promotion.promote(tmp_path, "20260101T000000Z-00000000")


def test_save_leaves_no_temporary_files(schema: Schema, tmp_path: Path) -> None:
    version = _version(tmp_path, schema, 0.8)
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
def shared_registry(trained: TrainingResult, register) -> Iterator[Path]:
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
