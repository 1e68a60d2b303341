"""The registry mirrored into MLflow's Model Registry, for a project whose ``tracking`` is mlflow.

The registry (``models/``) stays the source of truth: serving, batch scoring, promotion and
rollback read it, checksummed, and need no MLflow. Each of its versions becomes a version of the
registered model named after the project: its source is the version's folder (a ``file://``
URI), it is linked to its training run and tagged with its registry version and artifact
checksum. The alias ``champion`` names the registry's champion; ``challenger`` names the newest
version while it is not the champion (a model the gate refused).

``mirror`` only adds what is missing and moves the aliases, under the registry's lock: a mirror
cut short (a kill, MLflow unreachable) is completed by the next train, promote or rollback.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from . import registry, run_store_mlflow
from .promotion import locked

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION, CHALLENGER = "champion", "challenger"
VERSION_TAG = "prodml.version"
CHECKSUM_TAG = "prodml.sha256"


def _quoted(text: str) -> str:
    quote = '"' if "'" in text else "'"
    return quote + text + quote


def _mirrored(client: MlflowClient, name: str) -> dict[str, str]:
    """Registry version -> MLflow model version, registering the model if it is new."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, description="Mirrors the project's models/.")
        except MlflowException:  # registered meanwhile by another process
            client.get_registered_model(name)
    found: dict[str, str] = {}
    token: str | None = None
    while True:
        page = client.search_model_versions(f"name = {_quoted(name)}", page_token=token)
        for model_version in page:
            if VERSION_TAG in model_version.tags:
                found[model_version.tags[VERSION_TAG]] = str(model_version.version)
        token = page.token
        if not token:
            return found


def _register(client: MlflowClient, uri: str, name: str, root: Path, version: str) -> str:
    document = registry.read_metadata(root, version)
    run = run_store_mlflow.run_of(uri, name, version)
    created = client.create_model_version(
        name,
        source=(root / version).resolve().as_uri(),
        run_id=run,
        tags={VERSION_TAG: version, CHECKSUM_TAG: str(document.get("sha256"))},
        description=registry.describe(root, version),
    )
    return str(created.version)


def _point(client: MlflowClient, name: str, alias: str, version: str | None) -> None:
    from mlflow.exceptions import MlflowException

    if version is not None:
        client.set_registered_model_alias(name, alias, version)
        return
    with contextlib.suppress(MlflowException):  # no such alias
        client.delete_registered_model_alias(name, alias)


def mirror(uri: str, name: str, root: Path) -> None:
    """Make MLflow's registered model ``name`` (at tracking URI ``uri``) mirror ``root``."""
    client = run_store_mlflow.connect(uri)
    with locked(root):
        local = registry.versions(root)
        if not local:
            return
        known = _mirrored(client, name)
        for version in local:
            if version not in known:
                known[version] = _register(client, uri, name, root, version)
        champion = registry.current_champion(root)
        _point(client, name, CHAMPION, known.get(champion) if champion else None)
        newest = local[-1]
        _point(client, name, CHALLENGER, None if newest == champion else known[newest])
