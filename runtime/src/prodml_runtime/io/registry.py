"""A file-system model registry: versioned, checksummed artifacts and a champion pointer.

Layout::

    models/
      history.jsonl                 # promotions and rollbacks, oldest first: the champion is the
                                    # version its last entry names
      champion                      # that version's name, a copy for people and scripts
      <version>/model.skops         # the fitted Pipeline (features + model), see ``artifact``
      <version>/metadata.json       # version, created_at, sha256, metrics, params, schema,
                                    # schema_sha256, libraries, lineage (data hash, git commit,
                                    # run id), reference_sha256
      <version>/reference.json      # the training data's profile, for drift monitoring

A version is named ``<UTC time>-<first 8 hex of its sha256>``; nothing else is ever loaded, and
a symbolic link below the root (a version folder, or a file in one) is refused, so nothing is read
from outside the registry. Versions are staged under a hidden name and renamed into place (a
killed ``train`` leaves only staging, cleaned by the next save). ``load`` checks the sha256, the
schema (unchanged since training, and the model's inputs and classes), the scikit-learn version
the model was trained with, and the types the artifact names, before anything in it is built.

The champion is read from the history, so the pointer can only be a stale copy of it (for a
moment, or after a crash): ``promotion`` writes the history first and repairs the pointer.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from ..core import clock
from ..core.errors import ProjectError
from ..core.model import LoadedModel, schema_misfit
from ..core.schema import Schema, SchemaError, parse_schema
from ..settings import settings
from . import artifact, atomic

MODEL_FILE = artifact.MODEL_FILE
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.json"
CHAMPION_FILE = "champion"
HISTORY_FILE = "history.jsonl"
TRACKED_LIBRARIES = ("scikit-learn", "skops", "pandas", "numpy", "pydantic")
#: The library whose version must match between training and loading (its estimators' state).
PINNED_LIBRARY = "scikit-learn"
VERSION_NAME = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # Windows has none: the lstat checks remain


class RegistryError(ProjectError, RuntimeError):
    """No usable model: none trained yet, unknown version, or an artifact failing its checks."""


def model_dir(path: Path | str | None = None) -> Path:
    """The registry root: ``path``, else ``$MODEL_DIR``, else ``models``."""
    return Path(path or settings().model_dir)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def schema_sha256(schema: dict[str, Any]) -> str:
    """The digest of a schema as the metadata holds it (its JSON, keys sorted)."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def refuse_link(path: Path) -> None:
    """RegistryError if ``path``, inside the registry, is a symbolic link."""
    if path.is_symlink():
        raise RegistryError(
            f"{path} is a symbolic link to {os.readlink(path)}: the registry loads only what is "
            "inside it (move what it points to into the registry, or remove the link)"
        )


def refuse_links(root: Path, version: str) -> None:
    """RegistryError if the folder of ``version``, or anything in it, is a symbolic link."""
    folder = root / version
    refuse_link(folder)
    if folder.is_dir():
        for path in folder.iterdir():
            refuse_link(path)


def read_inside(root: Path, *names: str) -> bytes:
    """The bytes of ``root/names...``; RegistryError if one of them is a symbolic link (the root
    itself may be one), FileNotFoundError if there is no such file."""
    path = root
    for name in names:
        path = path / name
        refuse_link(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError as error:
        if error.errno == errno.ELOOP:  # made a link since the check
            refuse_link(path)
        raise
    with os.fdopen(descriptor, "rb") as file:
        return file.read()


def checked_name(root: Path, version: str) -> str:
    """``version`` if it names a version of this registry; RegistryError otherwise."""
    if not VERSION_NAME.fullmatch(version):
        raise RegistryError(
            f"{version!r} is not a model version name (like 20260131T120000Z-0123abcd); "
            f"list the versions with `promote`"
        )
    refuse_links(root, version)
    if not (root / version / METADATA_FILE).is_file():
        raise RegistryError(f"no model version {version!r} in {root} (known: {versions(root)})")
    return version


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
    data = artifact.dumps(pipeline)
    checksum = hashlib.sha256(data).hexdigest()
    version = clock.compact() + "-" + checksum[:8]
    target = root / version
    if target.exists():  # same second, same bytes: the version is already stored
        return version
    staging = atomic.staging_folder(target)
    try:
        (staging / MODEL_FILE).write_bytes(data)
        stored_schema = schema.model_dump(mode="json")
        document = {
            "version": version,
            "created_at": clock.iso(),
            "sha256": checksum,
            "metrics": metrics,
            "params": params,
            "schema": stored_schema,
            "schema_sha256": schema_sha256(stored_schema),
            "libraries": library_versions(),
            "lineage": lineage or {},
        }
        if reference is not None:
            (staging / REFERENCE_FILE).write_text(json.dumps(reference) + "\n", encoding="utf-8")
            document["reference_sha256"] = sha256(staging / REFERENCE_FILE)
        (staging / METADATA_FILE).write_text(
            json.dumps(document, indent=2) + "\n", encoding="utf-8"
        )
        os.rename(staging, target)
    except BaseException:
        atomic.remove(staging)
        raise
    return version


def versions(root: Path) -> list[str]:
    """Stored versions, oldest first (staging folders and other files are not versions);
    RegistryError if a version's folder, or a file in it, is a symbolic link."""
    if not root.is_dir():
        return []
    names = []
    for path in root.iterdir():
        if VERSION_NAME.fullmatch(path.name):
            refuse_links(root, path.name)
            if (path / METADATA_FILE).is_file():
                names.append(path.name)
    return sorted(names)


def _parse_json(data: bytes, file: Path, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise RegistryError(f"{what} {file} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise RegistryError(f"{what} {file} is not valid JSON ({error})") from None


def history(root: Path) -> list[dict[str, Any]]:
    """Promotions and rollbacks, oldest first; RegistryError naming a corrupt line."""
    file = root / HISTORY_FILE
    try:
        lines = read_inside(root, HISTORY_FILE).decode("utf-8").splitlines()
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise RegistryError(f"{file} is not UTF-8 text: restore it from a backup") from None
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not (
            isinstance(entry, dict)
            and entry.get("action") in ("promote", "rollback")
            and isinstance(entry.get("version"), str)
        ):
            raise RegistryError(
                f"{file} line {number} is not a promotion or rollback record: fix or remove "
                "that line (each line is a JSON object with action and version)"
            )
        entries.append(entry)
    return entries


def current_champion(root: Path) -> str | None:
    """The champion's version name (the history's last entry), or None before the first one."""
    entries = history(root)
    name: str
    if entries:
        name = entries[-1]["version"]
    else:  # a registry promoted by hand: only the pointer
        pointer = root / CHAMPION_FILE
        try:
            name = read_inside(root, CHAMPION_FILE).decode("utf-8").strip()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise RegistryError(f"{pointer} is not UTF-8 text") from None
    if not VERSION_NAME.fullmatch(name):
        raise RegistryError(
            f"the champion recorded in {root} ({name[:80]!r}) is not a version name: "
            "promote a version (`promote VERSION`)"
        )
    return name


def champion(root: Path) -> str:
    """The champion's version name; RegistryError before the first promotion."""
    name = current_champion(root)
    if name is None:
        raise RegistryError(
            f"no trained model in {root}/: run `make train` (or the `train` command) first"
        )
    return name


def read_metadata(root: Path, version: str) -> dict[str, Any]:
    """The metadata of ``version``; RegistryError if it is missing or not a metadata object."""
    file = root / checked_name(root, version) / METADATA_FILE
    document = _parse_json(read_inside(root, version, METADATA_FILE), file, "metadata")
    if not isinstance(document, dict) or not isinstance(document.get("schema"), dict):
        raise RegistryError(
            f"metadata {file} is not a model's metadata (a JSON object with its schema): "
            "retrain (`make train`)"
        )
    return document


def _verified(root: Path, version: str) -> tuple[dict[str, Any], bytes]:
    """The metadata of ``version`` and its artifact's bytes, once they match the recorded sha256
    and the schema is the one recorded at training (nothing built)."""
    document = read_metadata(root, version)
    artifact_path = root / version / MODEL_FILE
    try:
        data = read_inside(root, version, MODEL_FILE)
    except (FileNotFoundError, IsADirectoryError):
        older = (
            "; it holds a pickle from an older prodml, which is never loaded"
            if (root / version / "model.joblib").is_file()
            else ""
        )
        raise RegistryError(
            f"model file missing: {artifact_path}{older}; retrain (`make train`)"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != document.get("sha256"):
        raise RegistryError(
            f"checksum mismatch for {artifact_path}: expected {document.get('sha256')}, "
            f"got {actual}; refusing to load a modified artifact"
        )
    recorded = document.get("schema_sha256")  # absent from models saved before it was recorded
    if recorded is not None and recorded != schema_sha256(document["schema"]):
        raise RegistryError(
            f"model {version}: the schema in its {METADATA_FILE} was changed after training: "
            "restore the file, or retrain (`make train`) and promote the new model"
        )
    return document, data


def verify(root: Path, version: str) -> dict[str, Any]:
    """The metadata of ``version`` once its artifact matches the recorded sha256 and its schema
    the one recorded at training (nothing built)."""
    return _verified(root, version)[0]


def check_libraries(document: dict[str, Any]) -> None:
    """RegistryError if the model was trained with another scikit-learn than this one."""
    recorded = (document.get("libraries") or {}).get(PINNED_LIBRARY)
    installed = library_versions()[PINNED_LIBRARY]
    if recorded != installed:
        raise RegistryError(
            f"model {document.get('version')} was trained with {PINNED_LIBRARY} {recorded}, "
            f"this environment has {installed}: retrain it here (`make train`), or install "
            f"the recorded version (`pip install {PINNED_LIBRARY}=={recorded}`)"
        )


def load(root: Path, version: str | None = None, trusted: Sequence[str] = ()) -> LoadedModel:
    """Load ``version`` (default: the champion) once its sha256, its schema (unchanged, and
    matching the model), its scikit-learn version and the types it names (the runtime's
    reviewed ones, and the project's ``trusted``) have passed their checks."""
    version = version or champion(root)
    document, data = _verified(root, version)
    check_libraries(document)
    try:
        schema = parse_schema(document["schema"])
    except SchemaError as error:
        raise RegistryError(
            f"model {version}: the schema in its {METADATA_FILE} is not usable ({error}): "
            "restore the file, or retrain (`make train`)"
        ) from None
    try:
        pipeline = artifact.loads(data, trusted)
    except artifact.UntrustedArtifact as error:
        raise RegistryError(f"refusing to load model {version}: {error}") from None
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        raise RegistryError(
            f"model {version} cannot be loaded here ({error}): it was saved by another package "
            "or other library versions; retrain it (`make train`) in this project"
        ) from error
    misfit = schema_misfit(pipeline, schema)
    if misfit is not None:
        raise RegistryError(
            f"model {version}: the schema in its {METADATA_FILE} does not match the model "
            f"({misfit}): restore the file, or retrain (`make train`)"
        )
    return LoadedModel(pipeline, document, schema)


def describe(root: Path, version: str) -> str:
    """One line about a version: its name, creation time and primary test metric."""
    document = read_metadata(root, version)
    metrics = document.get("metrics", {})
    try:
        metric = metrics["primary_metric"]
        score = f"test {metric} {metrics['test'][metrics['champion']][metric]:.4f}"
    except (KeyError, TypeError):
        score = "no test metrics"
    return f"{version}  {document.get('created_at', '?')}  {score}"


def load_reference(root: Path, version: str) -> dict[str, Any]:
    """The reference profile stored with ``version``, checked against its recorded sha256."""
    document = read_metadata(root, version)
    file = root / version / REFERENCE_FILE
    expected = document.get("reference_sha256")
    try:
        data = read_inside(root, version, REFERENCE_FILE) if expected else None
    except (FileNotFoundError, IsADirectoryError):
        data = None
    if data is None:
        raise RegistryError(
            f"model {version} has no reference profile for monitoring: retrain it with "
            "`make train` (models trained before monitoring existed lack one)"
        )
    if hashlib.sha256(data).hexdigest() != expected:
        raise RegistryError(f"checksum mismatch for {file}: refusing a modified reference")
    reference: dict[str, Any] = _parse_json(data, file, "reference")
    return reference
