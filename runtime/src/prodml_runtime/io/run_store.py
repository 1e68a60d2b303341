"""Where a project records its training runs, by its ``tracking`` option: JSON files under
``runs/`` (``run_store_local``) or MLflow (``run_store_mlflow``, an experiment named after the
project, whose Model Registry also mirrors the registry). mlflow is imported only when an MLflow
store is used. Both raise RunNotFoundError for a run they do not hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..project import Tracking
from . import run_store_local
from .run_store_local import RunNotFoundError

__all__ = ["RunNotFoundError", "RunStore"]


@dataclass(frozen=True)
class RunStore:
    """A runs store: its kind, its location (a folder, or a tracking URI) and its experiment."""

    tracking: Tracking
    location: str
    experiment: str

    @classmethod
    def at(cls, tracking: Tracking, experiment: str, given: str | Path | None = None) -> RunStore:
        """The store ``given`` (a folder or URI), else the settings' (``RUNS_DIR`` or
        ``MLFLOW_TRACKING_URI``)."""
        if tracking == "mlflow":
            from . import run_store_mlflow

            return cls(tracking, run_store_mlflow.location(given), experiment)
        return cls(tracking, run_store_local.location(given), experiment)

    @classmethod
    def inside(cls, tracking: Tracking, experiment: str, directory: Path) -> RunStore:
        """A store kept inside ``directory`` (tests, benchmarks)."""
        if tracking == "mlflow":
            from . import run_store_mlflow

            return cls(tracking, run_store_mlflow.store_in(directory), experiment)
        return cls(tracking, run_store_local.store_in(directory), experiment)

    def record(self, record: dict[str, Any]) -> None:
        """Store one run's record (which holds its ``run_id``)."""
        if self.tracking == "mlflow":
            from . import run_store_mlflow

            run_store_mlflow.record_run(self.location, record, self.experiment)
        else:
            run_store_local.record_run(self.location, record)

    def runs(self) -> list[dict[str, Any]]:
        """Run summaries, oldest first."""
        if self.tracking == "mlflow":
            from . import run_store_mlflow

            return run_store_mlflow.list_runs(self.location, self.experiment)
        return run_store_local.list_runs(self.location)

    def run(self, run_id: str) -> dict[str, Any]:
        """One run's full record (RunNotFoundError when there is none)."""
        if self.tracking == "mlflow":
            from . import run_store_mlflow

            return run_store_mlflow.read_run(self.location, run_id, self.experiment)
        return run_store_local.read_run(self.location, run_id)

    def mirror(self, models: Path) -> None:
        """Mirror the registry ``models`` into MLflow's Model Registry (``registry_mlflow``);
        a local store keeps no second registry."""
        if self.tracking == "mlflow":
            from . import registry_mlflow

            registry_mlflow.mirror(self.location, self.experiment, models)
