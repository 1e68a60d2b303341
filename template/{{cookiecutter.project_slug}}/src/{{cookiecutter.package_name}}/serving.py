"""What both web servers share: the served model, scoring, prediction logging and metrics.

``Service.start`` loads the registry's champion once (``registry.load`` verifies its sha256),
refuses it if it was trained on another schema than the one served, compiles its fast path
(``fast_path.FastModel``), opens the prediction log and prunes entries past their retention.
If there is no usable model the service still runs, not ready: ``/ready`` answers 503 with the
reason and predictions 503, so an orchestrator holds traffic back instead of crash-looping.

``Service.submit`` scores validated records and appends one prediction-log row per record before
the answer, so a returned prediction is a logged prediction. Both servers run an event loop in one
thread (uvicorn: asyncio; Flask's server: gevent), and concurrent requests are micro-batched
without waiting for one another: the requests whose handlers run in the same loop iteration are
scored in one call and logged in one SQLite transaction, right after them. Scoring 8 records
costs about 3x one record, so under load each request costs less, and an idle server answers a
lone request at once. (Measured and dropped: a thread-pool server, which spends more CPU handing
each request between threads than the batching saves, and writing the log on a separate thread,
which adds a hand-off and a wake-up of the event loop per batch.)
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .fast_path import FastModel
from .observability import AccessLog, Metrics, json_logger
from .prediction_log import PredictionLog, timestamp, to_json
from .registry import LoadedModel, RegistryError, load
from .schema import Schema, SchemaError
from .settings import Settings

SOURCE = "api"


class NotReady(RuntimeError):
    """No model is loaded; the message says why."""


class Future(Protocol):
    """What ``Service.submit`` needs of a future: asyncio's and gevent's both have it."""

    def done(self) -> bool: ...
    def set_result(self, result: list[dict[str, Any]]) -> None: ...
    def set_exception(self, exception: BaseException) -> None: ...


F = TypeVar("F", bound=Future)


class _Pending(threading.local):
    """The jobs queued for the next batch: one queue per thread, as each thread runs its loop."""

    def __init__(self) -> None:
        self.jobs: list[_Job] = []


@dataclass
class _Job:
    """One request's records on their way through a scoring batch."""

    records: Sequence[dict[str, Any]]
    request_id: str
    started: float
    future: Future
    outputs: list[dict[str, Any]] | None = None
    error: Exception | None = None


def load_for_serving(schema: Schema, config: Settings) -> LoadedModel:
    """The champion from ``config.model_dir``, refused if trained on another schema than served."""
    model = load(config.model_dir)
    if model.schema != schema:
        raise RegistryError(
            f"model {model.version} was trained on a different schema than the one served; "
            "retrain (`make train`) or promote a matching version"
        )
    return model


class Service:
    """The served model and everything a request touches besides HTTP."""

    def __init__(self, schema: Schema, config: Settings, logger_name: str = "api") -> None:
        self.schema = schema
        self.settings = config
        self.metrics = Metrics(schema)
        self.logger = json_logger(logger_name, config.log_level)
        self._access_log = AccessLog(self.logger)
        self.model: LoadedModel | None = None
        self.fast: FastModel | None = None
        self.log: PredictionLog | None = None
        self.error = "not started"
        self._pending = _Pending()

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
            try:
                fast = FastModel(model.pipeline, model.schema)
            except Exception as error:  # the pipeline itself fails on valid records
                raise RegistryError(
                    f"model {model.version} cannot score valid records (the fast path's probe "
                    f"records): {type(error).__name__}: {error}"
                ) from None
            log = PredictionLog(self.settings.prediction_log)
            pruned = log.prune(self.settings.prediction_log_retention_days)
        except (RegistryError, SchemaError, OSError) as error:
            self.error = str(error)
            self.logger.error("model not loaded: %s", error)
            return self
        self.model, self.fast, self.log = model, fast, log
        # Everything loaded so far (libraries, the model) lives as long as the process: move it out
        # of the garbage collector's reach, so its full collections stay short (fewer p99 spikes).
        gc.collect()
        gc.freeze()
        self.metrics.set_model(model.version, str(model.metadata.get("sha256", "")))
        self.logger.info(
            "model %s loaded (fast path: %s%s); pruned %d prediction-log rows",
            model.version,
            fast.mode,
            f"; refused: {'; '.join(fast.reasons)}" if fast.reasons else "",
            pruned,
            extra={"model_version": model.version},
        )
        return self

    def stop(self) -> None:
        if self.log is not None:
            self.log.close()

    def submit(
        self,
        records: Sequence[dict[str, Any]],
        request_id: str,
        started: float,
        future: F,
        call_soon: Callable[[Callable[[], None]], object],
    ) -> F:
        """Queue ``records`` to be scored with the other requests of this event-loop iteration.

        ``future`` (asyncio's or gevent's) gets one ``{"prediction", "probabilities"?}`` per
        record, each logged under the request id, or the error; ``call_soon`` is the loop's way to
        run a function after the handlers that are ready now. ``started`` is the request's
        ``time.perf_counter()`` at arrival (for the logged latency).
        """
        if self.fast is None or self.log is None or self.model is None:
            raise NotReady(self.error)
        pending = self._pending.jobs
        pending.append(_Job(records, request_id, started, future))
        if len(pending) == 1:
            call_soon(self._run_pending)
        return future

    def _run_pending(self) -> None:
        jobs, self._pending.jobs = self._pending.jobs, []
        self._run(jobs)
        for job in jobs:
            if job.future.done():  # e.g. the client went away
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.outputs)

    def _run(self, jobs: list[_Job]) -> None:
        """Score and log ``jobs`` together; on failure one by one, so a failure stays its own."""
        try:
            self._score(jobs)
        except Exception as error:
            if len(jobs) == 1:
                jobs[0].error = error
                return
            for job in jobs:
                try:
                    self._score([job])
                except Exception as single:
                    job.error = single

    def _score(self, jobs: list[_Job]) -> None:
        assert self.fast is not None and self.log is not None and self.model is not None
        records = [record for job in jobs for record in job.records]
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
        now, version, done = timestamp(), self.model.version, time.perf_counter()
        rows, position = [], 0
        for job in jobs:
            latency_ms = (done - job.started) * 1000
            job_outputs = outputs[position : position + len(job.records)]
            for item, (record, output) in enumerate(zip(job.records, job_outputs, strict=True)):
                rows.append(
                    (job.request_id, item, now, version, SOURCE, to_json(record), to_json(output))
                    + (latency_ms,)
                )
            position += len(job.records)
        self.log.append_rows(rows)  # one transaction: all of the batch is logged, or none
        position = 0
        for job in jobs:
            job.outputs = outputs[position : position + len(job.records)]
            position += len(job.records)
        self.metrics.observe_predictions(labels)

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
            "lineage": {
                "data_sha256": lineage.get("data_hash"),
                "git_commit": lineage.get("git_commit"),
                "run_id": lineage.get("run_id"),
            },
            "sha256": metadata.get("sha256", ""),
            "fast_path": self.fast.mode,
            "fast_path_refused": self.fast.reasons,
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
        self._access_log(
            request_id=request_id,
            method=method,
            path=path,
            status=status,
            latency_ms=round(seconds * 1000, 3),
            model_version=self.version,
        )
