"""A file-system model registry: versioned, checksummed artifacts and a champion pointer.

Layout::

    models/
      champion                      # the served version's name
      history.jsonl                 # append-only log of promotions and rollbacks
      <version>/model.joblib        # the fitted Pipeline (features + model)
      <version>/metadata.json       # version, created_at, sha256, metrics, params, schema,
                                    # libraries, lineage (data hash, git commit, run id),
                                    # reference_sha256
      <version>/reference.json      # the training data's profile, for drift monitoring

Writes are atomic (temporary directory or file, then ``os.replace``); ``load`` verifies the
checksum before unpickling, so a tampered or truncated artifact is never executed.
``promote`` is the champion/challenger gate; ``rollback`` undoes the last promotion.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from . import atomic
from .schema import Schema, parse_schema
from .settings import settings

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.json"
CHAMPION_FILE = "champion"
HISTORY_FILE = "history.jsonl"
TRACKED_LIBRARIES = ("scikit-learn", "pandas", "numpy", "joblib", "pydantic")


class RegistryError(RuntimeError):
    """No usable model: none trained yet, unknown version, or an artifact failing its checksum."""


class PromotionRefused(RegistryError):
    """The challenger failed the gate: not better than the baseline, or worse than the champion."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified model with its metadata and the schema it was trained on."""

    pipeline: Pipeline
    metadata: dict[str, Any]
    schema: Schema

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def model_dir(path: Path | str | None = None) -> Path:
    """The registry root: ``path``, else ``$MODEL_DIR``, else ``models``."""
    return Path(path or settings().model_dir)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def save(
    pipeline: Pipeline,
    root: Path,
    *,
    schema: Schema,
    metrics: dict[str, Any],
    params: dict[str, Any],
    lineage: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
) -> str:
    """Store a fitted pipeline as a new version (not yet champion); return the version name.

    ``lineage`` records where the model came from (e.g. data hash, git commit, run id);
    ``reference`` is the training data's profile for monitoring (``monitor.reference_profile``),
    stored as reference.json with its sha256 in the metadata.
    """
    root.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale(root)
    staging = atomic.staging_folder(root / "version")
    try:
        joblib.dump(pipeline, staging / MODEL_FILE)
        checksum = sha256(staging / MODEL_FILE)
        version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + checksum[:8]
        document = {
            "version": version,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sha256": checksum,
            "metrics": metrics,
            "params": params,
            "schema": schema.model_dump(mode="json"),
            "libraries": library_versions(),
            "lineage": lineage or {},
        }
        if reference is not None:
            (staging / REFERENCE_FILE).write_text(json.dumps(reference) + "\n", encoding="utf-8")
            document["reference_sha256"] = sha256(staging / REFERENCE_FILE)
        (staging / METADATA_FILE).write_text(
            json.dumps(document, indent=2) + "\n", encoding="utf-8"
        )
        target = root / version
        if target.exists():  # same second, same bytes: the version is already stored
            return version
        os.replace(staging, target)
        return version
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def versions(root: Path) -> list[str]:
    """Stored versions, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / METADATA_FILE).is_file())


def champion(root: Path) -> str:
    """The champion's version name."""
    pointer = root / CHAMPION_FILE
    if not pointer.is_file():
        raise RegistryError(
            f"no trained model in {root}/: run `make train` (or the `train` command) first"
        )
    return pointer.read_text(encoding="utf-8").strip()


def current_champion(root: Path) -> str | None:
    """The champion's version name, or None before the first promotion."""
    return champion(root) if (root / CHAMPION_FILE).is_file() else None


def read_metadata(root: Path, version: str) -> dict[str, Any]:
    file = root / version / METADATA_FILE
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"model version {version!r} not found in {root}") from None
    except json.JSONDecodeError as error:
        raise RegistryError(f"metadata of model {version!r} is corrupt: {error}") from None


def verify(root: Path, version: str) -> dict[str, Any]:
    """The metadata of ``version`` once its artifact matches the recorded sha256 (no unpickling)."""
    document = read_metadata(root, version)
    artifact = root / version / MODEL_FILE
    if not artifact.is_file():
        raise RegistryError(f"model file missing: {artifact}")
    actual = sha256(artifact)
    if actual != document.get("sha256"):
        raise RegistryError(
            f"checksum mismatch for {artifact}: expected {document.get('sha256')}, got {actual}; "
            "refusing to load a modified artifact"
        )
    return document


def load(root: Path, version: str | None = None) -> LoadedModel:
    """Load ``version`` (default: the champion) after checking the artifact's sha256."""
    version = version or champion(root)
    document = verify(root, version)
    try:
        pipeline = joblib.load(root / version / MODEL_FILE)
    except (ImportError, AttributeError) as error:  # the artifact names code this install lacks
        raise RegistryError(
            f"model {version} cannot be loaded here ({error}): it was saved by another package "
            "or other library versions; retrain it (`make train`) in this project"
        ) from error
    return LoadedModel(pipeline, document, parse_schema(document["schema"]))


def load_reference(root: Path, version: str) -> dict[str, Any]:
    """The reference profile stored with ``version``, checked against its recorded sha256."""
    document = read_metadata(root, version)
    file = root / version / REFERENCE_FILE
    expected = document.get("reference_sha256")
    if not expected or not file.is_file():
        raise RegistryError(
            f"model {version} has no reference profile for monitoring: retrain it with "
            "`make train` (models trained before monitoring existed lack one)"
        )
    if sha256(file) != expected:
        raise RegistryError(f"checksum mismatch for {file}: refusing a modified reference")
    return json.loads(file.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Evidence:
    """What the gate compares, read from a version's metadata."""

    metric: str
    higher_is_better: bool
    score: float
    baseline: float
    min_improvement: float

    @property
    def gain(self) -> float:
        """How much the model beats the baseline (positive = better)."""
        delta = self.score - self.baseline
        return delta if self.higher_is_better else -delta


def lower_is_better(metric: str) -> bool:
    """Loss and error metrics (rmse, mae, log_loss, ...) are better when lower."""
    return any(word in metric for word in ("loss", "error", "rmse", "mae", "mse"))


def evidence(metadata: dict[str, Any]) -> Evidence:
    """The gate's inputs: primary test metric of the model and of the baseline, and the margin."""
    version = metadata.get("version")
    try:
        metrics = metadata["metrics"]
        metric = metrics["primary_metric"]
        test = metrics["test"]
        score, baseline = test[metrics["champion"]][metric], test["baseline"][metric]
        margin = metadata["params"]["config"]["min_improvement"]
    except (KeyError, TypeError) as error:
        raise PromotionRefused(
            f"model {version} has no gate evidence in its metadata (missing {error}): "
            "train it with the `train` command"
        ) from None
    higher = metrics.get("higher_is_better", not lower_is_better(metric))
    return Evidence(metric, bool(higher), float(score), float(baseline), float(margin))


def gate(candidate: dict[str, Any], incumbent: dict[str, Any] | None, force: bool = False) -> str:
    """Why ``candidate`` may replace ``incumbent`` as champion; PromotionRefused if it may not.

    It must beat the dummy baseline, by at least ``min_improvement``, on the primary test metric;
    and, unless ``force``, score at least as well as the champion (ties are promoted).
    """
    new = evidence(candidate)
    name = candidate["version"]
    if new.gain <= 0 or new.gain < new.min_improvement:
        raise PromotionRefused(
            f"{name} refused: test {new.metric} {new.score:.4f} beats the baseline "
            f"({new.baseline:.4f}) by {new.gain:.4f}; at least {new.min_improvement} "
            "(and more than 0) is required"
        )
    reason = f"beats the baseline by {new.gain:.4f} {new.metric}"
    if incumbent is None:
        return f"first champion; {reason}"
    if force:
        return f"forced by operator over {incumbent['version']}; {reason}"
    old = evidence(incumbent)
    if old.metric != new.metric:
        raise PromotionRefused(
            f"{name} refused: its primary metric {new.metric} differs from the champion's "
            f"{old.metric}; use --force to promote anyway"
        )
    sign = 1.0 if new.higher_is_better else -1.0
    if sign * (new.score - old.score) < 0:
        raise PromotionRefused(
            f"{name} refused: test {new.metric} {new.score:.4f} is worse than champion "
            f"{incumbent['version']} ({old.score:.4f}); use --force to promote anyway"
        )
    return f"test {new.metric} {new.score:.4f} vs champion {old.score:.4f}; {reason}"


def history(root: Path) -> list[dict[str, Any]]:
    """Promotions and rollbacks, oldest first."""
    file = root / HISTORY_FILE
    if not file.is_file():
        return []
    lines = file.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _record(root: Path, action: str, version: str, previous: str | None, reason: str) -> None:
    """Point the champion at ``version``, then append the change to the history."""
    atomic.write_text(root / CHAMPION_FILE, version + "\n")
    entry = {
        "action": action,
        "version": version,
        "previous": previous,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reason": reason,
    }
    file = root / HISTORY_FILE
    before = file.read_text(encoding="utf-8") if file.is_file() else ""
    atomic.write_text(file, before + json.dumps(entry) + "\n")


def promote(root: Path, version: str, *, force: bool = False) -> str:
    """Make ``version`` the champion if it passes the gate; return the reason recorded.

    Raises PromotionRefused when the gate fails (see ``gate``), RegistryError when the version is
    unknown or its artifact fails its checksum. Promoting the current champion changes nothing.
    """
    if version not in versions(root):
        raise RegistryError(f"no model version {version!r} in {root} (known: {versions(root)})")
    candidate = verify(root, version)
    previous = current_champion(root)
    if previous == version:
        return f"{version} is already the champion"
    incumbent = read_metadata(root, previous) if previous else None
    reason = gate(candidate, incumbent, force=force)
    _record(root, "promote", version, previous, reason)
    return reason


def _champion_stack(entries: list[dict[str, Any]]) -> list[str]:
    """Champions in promotion order, with rolled-back promotions removed."""
    stack: list[str] = []
    for entry in entries:
        if entry["action"] == "rollback":
            stack.pop()
        else:
            stack.append(entry["version"])
    return stack


def rollback(root: Path) -> str:
    """Restore the champion that the last promotion replaced; return its version.

    Repeated rollbacks walk further back. The restored artifact is checksum-verified first.
    """
    stack = _champion_stack(history(root))
    if len(stack) < 2:
        raise RegistryError(f"nothing to roll back to: {root} has no earlier champion")
    current, restored = current_champion(root), stack[-2]
    verify(root, restored)
    _record(root, "rollback", restored, current, f"rollback from {current}")
    return restored
