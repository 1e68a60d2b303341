"""A file-system model registry: versioned, checksummed artifacts and a champion pointer.

Layout::

    models/
      champion                      # the served version's name
      <version>/model.joblib        # the fitted Pipeline (features + model)
      <version>/metadata.json       # version, created_at, sha256, metrics, params, schema, versions

Writes are atomic (temporary directory or file, then ``os.replace``); ``load`` verifies the
checksum before unpickling, so a tampered or truncated artifact is never executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from .schema import Schema, parse_schema

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CHAMPION_FILE = "champion"
DEFAULT_MODEL_DIR = Path("models")
TRACKED_LIBRARIES = ("scikit-learn", "pandas", "numpy", "joblib", "pydantic")


class RegistryError(RuntimeError):
    """No usable model: none trained yet, unknown version, or an artifact failing its checksum."""


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
    return Path(path or os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR)


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


def _write_text_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def save(
    pipeline: Pipeline,
    root: Path,
    *,
    schema: Schema,
    metrics: dict[str, Any],
    params: dict[str, Any],
) -> str:
    """Store a fitted pipeline as a new version (not yet champion); return the version name."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
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
        }
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


def promote(root: Path, version: str) -> None:
    """Make ``version`` the champion (also how to roll back: promote an older version)."""
    if version not in versions(root):
        raise RegistryError(f"no model version {version!r} in {root} (known: {versions(root)})")
    _write_text_atomic(root / CHAMPION_FILE, version + "\n")


def champion(root: Path) -> str:
    """The champion's version name."""
    pointer = root / CHAMPION_FILE
    if not pointer.is_file():
        raise RegistryError(
            f"no trained model in {root}/: run `make train` (or the `train` command) first"
        )
    return pointer.read_text(encoding="utf-8").strip()


def read_metadata(root: Path, version: str) -> dict[str, Any]:
    file = root / version / METADATA_FILE
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"model version {version!r} not found in {root}") from None
    except json.JSONDecodeError as error:
        raise RegistryError(f"metadata of model {version!r} is corrupt: {error}") from None


def load(root: Path, version: str | None = None) -> LoadedModel:
    """Load ``version`` (default: the champion) after checking the artifact's sha256."""
    version = version or champion(root)
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
    return LoadedModel(joblib.load(artifact), document, parse_schema(document["schema"]))
