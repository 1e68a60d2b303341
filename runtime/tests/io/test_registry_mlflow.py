"""A project tracking in MLflow finds its models in MLflow's Model Registry: every registry
version, linked to its run, with the aliases champion and challenger following training, the
gate, promote and rollback. The registry stays the source of truth: a mirror cut short is
completed by the next command, and MLflow failing is one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from mlflow import MlflowClient
from prodml_runtime.cli import command_line
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry, run_store_mlflow
from prodml_runtime.io.registry_mlflow import CHALLENGER, CHAMPION, VERSION_TAG

from tests.demo import demo_project

pytestmark = pytest.mark.parametrize("problem", ["binary"], indirect=True)


class Tracked:
    """A demo project tracking in a fresh MLflow store, run inside ``tmp_path``."""

    def __init__(self, tmp_path: Path, schema: Schema, sample_path: Path) -> None:
        self.project = demo_project(schema, sample_path, tracking="mlflow")
        self.models = tmp_path / "models"
        self.uri = run_store_mlflow.store_in(tmp_path / "tracking")

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(command_line(self.project), list(args))

    def aliases(self) -> dict[str, str]:
        """Alias -> registry version, as MLflow's Model Registry holds them."""
        client = MlflowClient(tracking_uri=self.uri)
        found = client.get_registered_model("demo").aliases
        return {
            alias: client.get_model_version("demo", number).tags[VERSION_TAG]
            for alias, number in found.items()
        }

    def mirrored(self) -> list[str]:
        client = MlflowClient(tracking_uri=self.uri)
        return sorted(v.tags[VERSION_TAG] for v in client.search_model_versions("name = 'demo'"))


@pytest.fixture
def tracked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    schema_path: Path,
    schema: Schema,
    sample_path: Path,
    fast_config: TrainConfig,
) -> Tracked:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEMA_PATH", str(schema_path))
    monkeypatch.delenv("MODEL_DIR", raising=False)
    project = Tracked(tmp_path, schema, sample_path)
    monkeypatch.setenv(run_store_mlflow.LOCATION_ENV, project.uri)
    strict = fast_config.model_copy(update={"min_improvement": 1e9})
    for name, config in (("fast.yaml", fast_config), ("strict.yaml", strict)):
        (tmp_path / name).write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return project


def test_aliases_follow_training_the_gate_promote_and_rollback(tracked: Tracked) -> None:
    assert tracked("train", "--config", "fast.yaml").exit_code == 0
    (first,) = registry.versions(tracked.models)
    assert tracked.aliases() == {CHAMPION: first}

    client = MlflowClient(tracking_uri=tracked.uri)
    model_version = client.get_model_version_by_alias("demo", CHAMPION)
    assert model_version.source == (tracked.models / first).resolve().as_uri()
    assert client.get_run(model_version.run_id).data.tags["model_version"] == first
    assert (
        model_version.tags["prodml.sha256"]
        == registry.read_metadata(tracked.models, first)["sha256"]
    )

    refused = tracked("train", "--config", "strict.yaml")
    assert refused.exit_code == 1 and "challenger" in refused.output
    second = registry.versions(tracked.models)[-1]
    assert second != first
    assert tracked.aliases() == {CHAMPION: first, CHALLENGER: second}

    assert tracked("train", "--config", "fast.yaml").exit_code == 0, "a tie is promoted"
    third = registry.versions(tracked.models)[-1]
    assert tracked.aliases() == {CHAMPION: third}
    assert tracked("rollback").exit_code == 0
    assert tracked.aliases() == {CHAMPION: first, CHALLENGER: third}
    assert tracked("promote", third).exit_code == 0
    assert tracked.aliases() == {CHAMPION: third}
    assert tracked.mirrored() == [first, second, third], "each version registered once"


def test_a_mirror_cut_short_is_completed_by_the_next_command(tracked: Tracked) -> None:
    assert tracked("train", "--config", "fast.yaml").exit_code == 0
    (version,) = registry.versions(tracked.models)
    client = MlflowClient(tracking_uri=tracked.uri)
    client.delete_registered_model("demo")  # as if killed before mirroring
    assert tracked("promote", version).exit_code == 0, "already the champion"
    assert tracked.aliases() == {CHAMPION: version}
    assert tracked.mirrored() == [version]


def test_mlflow_failing_is_one_line_and_the_registry_keeps_its_change(
    tracked: Tracked, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(2):
        assert tracked("train", "--config", "fast.yaml").exit_code == 0
    first, second = registry.versions(tracked.models)

    def down(*args: object, **kwargs: object) -> None:
        from mlflow.exceptions import MlflowException

        raise MlflowException("API request to http://tracking failed\nretries exhausted")

    with monkeypatch.context() as patched:
        patched.setattr(MlflowClient, "set_registered_model_alias", down)
        result = tracked("rollback")
    assert result.exit_code == 1
    done, error = result.output.strip().splitlines()
    assert done == f"rolled back: champion is now {first} (was {second})"
    assert error.startswith(
        "Error: the registry changed, MLflow's Model Registry did not "
        "(MLflow: API request to http://tracking failed); the next train, promote or rollback"
    )
    assert registry.current_champion(tracked.models) == first
    assert tracked.aliases() == {CHAMPION: second}, "MLflow behind until the next command"

    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "mlflow", None)  # an environment without the train extra
        result = tracked("promote", second)
    assert result.exit_code == 1
    assert "needs mlflow, from the project's 'train' extra" in result.output
    assert registry.current_champion(tracked.models) == second

    assert tracked("promote", second).exit_code == 0
    assert tracked.aliases() == {CHAMPION: second}
