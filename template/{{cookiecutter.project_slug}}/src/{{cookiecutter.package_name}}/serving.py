"""What both web servers share: the served model, scoring, prediction logging and metrics.

``Service.start`` loads the registry's champion once (``registry.load`` verifies its sha256),
refuses it if it was trained on another schema than the one served, compiles its fast path
(``fast_path.FastModel``), opens the prediction log and prunes entries past their retention.
If there is no usable model the service still runs, not ready: ``/ready`` answers 503 with the
reason and predictions 503, so an orchestrator holds traffic back instead of crash-looping.

``Service.predict`` scores validated records and appends one prediction-log row per record (one
SQLite transaction per request, before the response is sent, so a returned prediction is a
logged prediction).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from .fast_path import FastModel
from .observability import Metrics, json_logger
from .prediction_log import PredictionLog, timestamp
from .registry import LoadedModel, RegistryError, load
from .schema import Schema, SchemaError
from .settings import Settings

SOURCE = "api"


class NotReady(RuntimeError):
    """No model is loaded; the message says why."""


def load_for_serving(schema: Schema, config: Settings) -> LoadedModel:
    """The champion from ``config.model_dir``, refused if trained on another schema than served."""
    model = load(config.model_dir)
    if model.schema != schema:
        raise RegistryError(
            f"model {model.version} was trained on a different schema than the one served; "
            "retrain (`make train`) or promote a matching version"
        )
    return model


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class Service:
    """The served model and everything a request touches besides HTTP."""

    def __init__(self, schema: Schema, config: Settings, logger_name: str = "api") -> None:
        self.schema = schema
        self.settings = config
        self.metrics = Metrics(schema)
        self.logger = json_logger(logger_name, config.log_level)
        self.model: LoadedModel | None = None
        self.fast: FastModel | None = None
        self.log: PredictionLog | None = None
        self.error = "not started"

    @property
    def version(self) -> str | None:
        return self.model.version if self.model else None

    @property
    def ready(self) -> bool:
        return self.model is not None and self.log is not None

    def start(self) -> Service:
        """Load the champion and open the prediction log; on failure stay up but not ready."""
        try:
            model = load_for_serving(self.schema, self.settings)
            fast = FastModel(model.pipeline, model.schema)
            log = PredictionLog(self.settings.prediction_log)
            pruned = log.prune(self.settings.prediction_log_retention_days)
        except (RegistryError, SchemaError, OSError) as error:
            self.error = str(error)
            self.logger.error("model not loaded: %s", error)
            return self
        self.model, self.fast, self.log = model, fast, log
        self.metrics.set_model(model.version, str(model.metadata.get("sha256", "")))
        self.logger.info(
            "model %s loaded (fast path: %s%s); pruned %d prediction-log rows",
            model.version,
            fast.mode,
            f", {'; '.join(fast.reasons)}" if fast.reasons else "",
            pruned,
            extra={"model_version": model.version},
        )
        return self

    def stop(self) -> None:
        if self.log is not None:
            self.log.close()

    def predict(
        self, records: Sequence[dict[str, Any]], request_id: str, started: float
    ) -> list[dict[str, Any]]:
        """One ``{"prediction", "probabilities"?}`` per record, each logged under the request id.

        ``started`` is the request's ``time.perf_counter()`` at arrival (for the logged latency).
        """
        if self.fast is None or self.log is None or self.model is None:
            raise NotReady(self.error)
        labels, probabilities = self.fast.score(records)
        outputs: list[dict[str, Any]]
        if probabilities is not None:
            classes = self.fast.classes
            outputs = [
                {"prediction": label, "probabilities": dict(zip(classes, row, strict=True))}
                for label, row in zip(labels, probabilities.tolist(), strict=True)
            ]
        else:
            outputs = [{"prediction": value} for value in labels]
        latency_ms = (time.perf_counter() - started) * 1000
        now, version = timestamp(), self.model.version
        self.log.append_rows(
            (request_id, item, now, version, SOURCE, _dumps(record), _dumps(output), latency_ms)
            for item, (record, output) in enumerate(zip(records, outputs, strict=True))
        )
        self.metrics.observe_predictions(labels)
        return outputs

    def model_card(self) -> dict[str, Any]:
        """What ``GET /model`` answers: version, training time, metrics, schema, lineage."""
        if self.model is None or self.fast is None:
            raise NotReady(self.error)
        metadata = self.model.metadata
        lineage = metadata.get("lineage") or {}
        return {
            "version": self.model.version,
            "trained_at": metadata.get("created_at", ""),
            "metrics": metadata.get("metrics", {}),
            "schema": metadata.get("schema", {}),
            "lineage": {k: lineage.get(k) for k in ("data_sha256", "git_commit", "run_id")},
            "sha256": metadata.get("sha256", ""),
            "fast_path": self.fast.mode,
        }

    def readiness(self) -> tuple[int, dict[str, Any]]:
        if self.ready:
            return 200, {"status": "ready", "model_version": self.version}
        return 503, {"status": "not ready", "detail": self.error}

    def access_log(
        self, request_id: str, method: str, path: str, status: int, seconds: float, endpoint: str
    ) -> None:
        """Count and time the request, and write its JSON log line."""
        self.metrics.observe_request(endpoint, method, status, seconds)
        self.logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "latency_ms": round(seconds * 1000, 3),
                "model_version": self.version,
            },
        )
