"""What both web servers share: the served model, scoring, prediction logging and metrics.

``Service.start`` loads the registry's champion once (``registry.load`` verifies its sha256),
refuses it if it was trained on another schema than the one served, compiles its fast path
(``fast_path.FastModel``), opens the prediction log and prunes entries past their retention.
If there is no usable model the service still runs, not ready: ``/ready`` answers 503 with the
reason and predictions 503, so an orchestrator holds traffic back instead of crash-looping.

``Service.submit`` scores validated records, makes each one's answer with the project's
``Answer`` (``api.py``), and appends one prediction-log row per record before the answer, so a
returned prediction is a logged prediction. Both servers run an event loop in one
thread (uvicorn: asyncio; Flask's server: gevent), and concurrent requests are micro-batched
without waiting for one another: the requests whose handlers run in the same loop iteration are
scored in one call and logged in one SQLite transaction, right after them. Scoring 8 records
costs about 3x one record, so under load each request costs less, and an idle server answers a
lone request at once. (Measured and dropped: a thread-pool server, which spends more CPU handing
each request between threads than the batching saves, and writing the log on a separate thread,
which adds a hand-off and a wake-up of the event loop per batch.)

A prediction log that cannot be written (disk full, a path that is a directory or not SQLite)
never turns into 500s or a crash: the service answers predictions with 503 and the reason, and
``/ready`` says not ready, until the log takes writes again. Predictions are refused rather than
served unlogged, because a returned prediction is a logged one (monitoring and audits read the
log). The service recovers by itself: every prediction request still tries its write, and while
the log is failing each ``/ready`` commits a write that changes nothing (SQLite's
``user_version`` set to itself), so freeing space brings it back without a restart.

Slow and broken clients are the servers' business (``app_fastapi``, ``app_flask``), with these
shared limits: a
connection idle ``KEEP_ALIVE_SECONDS`` between requests is closed; a request's head, then its
body, must each arrive within ``REQUEST_TIMEOUT_SECONDS`` (else 408 and the connection closes);
a client that goes away before its body is read is counted and logged as status 499
(``CLIENT_CLOSED``), the client's doing, not a server error.
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..core import clock
from ..core.model import LoadedModel
from ..core.schema import Schema, SchemaError
from ..io.prediction_log import PredictionLog, to_json
from ..io.registry import RegistryError, load
from ..project import Project
from ..settings import Settings
from .contract import Answer
from .fast_path import FastModel
from .observability import AccessLog, Metrics, json_logger

SOURCE = "api"
#: Seconds a connection may stay idle between requests before the server closes it.
KEEP_ALIVE_SECONDS = 5
#: The status logged and counted for a client that went away before its request was read.
CLIENT_CLOSED = 499


class NotReady(RuntimeError):
    """The service cannot predict now (no model, or a prediction log refusing writes): 503."""


class SlowRequest(Exception):
    """The request's head or body did not arrive within the request timeout: 408."""


class ClientGone(Exception):
    """The client closed the connection before its request body was read: logged as 499."""


def commit_nothing(path: Path) -> None:
    """Commit a write that changes nothing to the SQLite database at ``path``.

    ``user_version`` is set to its own value, so the database header is written and committed:
    this raises ``sqlite3.Error`` (``database or disk is full``, say) exactly when a real write
    would fail, and leaves the data as it was.
    """
    connection = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        connection.execute(f"PRAGMA user_version = {int(version)}")
        connection.execute("COMMIT")
    finally:
        connection.close()


class Future(Protocol):
    """What ``Service.submit`` needs of a future: asyncio's and gevent's both have it."""

    def done(self) -> bool: ...
    def set_result(self, result: list[dict[str, Any]]) -> None: ...
    def set_exception(self, exception: BaseException) -> None: ...


class EventLoop(Protocol):
    """The server's event loop, as ``Service`` batches on it: a new future, and a way to run a
    function once the handlers that are ready now have run."""

    def future(self) -> Any: ...
    def call_soon(self, function: Callable[[], None]) -> object: ...


class AsyncioLoop:
    """The running asyncio loop (uvicorn's)."""

    def future(self) -> asyncio.Future[list[dict[str, Any]]]:
        return asyncio.get_running_loop().create_future()

    def call_soon(self, function: Callable[[], None]) -> object:
        return asyncio.get_running_loop().call_soon(function)


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


def load_for_serving(schema: Schema, config: Settings, trusted: Sequence[str]) -> LoadedModel:
    """The champion from ``config.model_dir``, refused if trained on another schema than served."""
    model = load(config.model_dir, None, trusted)
    if model.schema != schema:
        raise RegistryError(
            f"model {model.version} was trained on a different schema than the one served; "
            "retrain (`make train`) or promote a matching version"
        )
    return model


class Service:
    """The served model and everything a request touches besides HTTP."""

    def __init__(
        self,
        schema: Schema,
        config: Settings,
        project: Project,
        loop: EventLoop | None = None,
    ) -> None:
        self.schema = schema
        self.settings = config
        self.project = project
        self.answer: type[Answer] = project.parts.answer or Answer
        self.loop: EventLoop = loop or AsyncioLoop()
        self.metrics = Metrics(schema)
        self.logger = json_logger(f"{project.name}.api", config.log_level)
        self._access_log = AccessLog(self.logger)
        self.model: LoadedModel | None = None
        self.fast: FastModel | None = None
        self.log: PredictionLog | None = None
        #: Why there is no model (``NotReady``'s message while ``model`` is None).
        self.error = "model not loaded: not started"
        #: Why the prediction log refuses writes, while it does (None: it takes them).
        self.log_error: str | None = None
        self._pending = _Pending()

    @property
    def version(self) -> str | None:
        return self.model.version if self.model else None

    @property
    def ready(self) -> bool:
        return self.model is not None and self.log is not None and self.log_error is None

    def start(self) -> Service:
        """Load the champion and open the prediction log; on failure stay up but not ready."""
        try:
            model = load_for_serving(self.schema, self.settings, self.project.parts.trusted)
        except (RegistryError, SchemaError, OSError) as error:
            return self._not_loaded(str(error))
        try:
            fast = FastModel(model.pipeline, model.schema)
        except Exception as error:  # the pipeline itself fails on valid records
            return self._not_loaded(
                f"model {model.version} cannot score valid records (the fast path's probe "
                f"records): {type(error).__name__}: {error}"
            )
        self.model, self.fast = model, fast
        pruned = self._open_log()
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

    def _not_loaded(self, reason: str) -> Service:
        self.error = f"model not loaded: {reason}"
        self.logger.error("%s", self.error)
        return self

    def _open_log(self) -> int:
        """Open the prediction log and prune it; the rows pruned (0 if it failed)."""
        try:
            self.log = PredictionLog(self.settings.prediction_log)
            return self.log.prune(self.settings.prediction_log_retention_days)
        except (sqlite3.Error, OSError) as error:
            self._log_failed(error)
            return 0

    def _log_failed(self, error: Exception) -> None:
        """Record why the log refuses writes; logged once, when it starts failing."""
        failing = self.log_error is not None
        self.log_error = (
            f"prediction log {self.settings.prediction_log} unusable ({error}); predictions are "
            "refused until it takes writes again"
        )
        if not failing:
            self.logger.error("%s", self.log_error)

    def _log_writable(self) -> bool:
        """Whether the prediction log takes writes; while it has been failing, one is tried."""
        if self.log_error is None:
            return self.log is not None
        try:
            if self.log is None:
                self.log = PredictionLog(self.settings.prediction_log)
            commit_nothing(self.log.path)
        except (sqlite3.Error, OSError) as error:
            self._log_failed(error)
            return False
        self._log_recovered()
        return True

    def _log_recovered(self) -> None:
        self.log_error = None
        self.logger.info("prediction log %s takes writes again", self.settings.prediction_log)

    def stop(self) -> None:
        if self.log is not None:
            self.log.close()

    def submit(self, records: Sequence[dict[str, Any]], request_id: str, started: float) -> Any:
        """Queue ``records`` to be scored with the other requests of this event-loop iteration;
        return the loop's future of their outputs (one ``{"prediction", "probabilities"?}`` per
        record, each logged under the request id) or of the error. ``started`` is the request's
        ``time.perf_counter()`` at arrival (for the logged latency)."""
        if self.fast is None or self.model is None:
            raise NotReady(self.error)
        if self.log is None and not self._log_writable():
            raise NotReady(self.log_error)
        future = self.loop.future()
        pending = self._pending.jobs
        pending.append(_Job(records, request_id, started, future))
        if len(pending) == 1:
            self.loop.call_soon(self._run_pending)
        return future

    def _run_pending(self) -> None:
        jobs, self._pending.jobs = self._pending.jobs, []
        self._run(jobs)
        for job in jobs:
            if job.future.done():  # e.g. the client went away
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            elif job.outputs is not None:
                job.future.set_result(job.outputs)
            else:  # not reached: _run gives every job its outputs or its error
                job.future.set_exception(RuntimeError("a scoring batch left a request unanswered"))

    def _run(self, jobs: list[_Job]) -> None:
        """Score and log ``jobs`` together; on failure one by one, so a failure stays its own."""
        try:
            self._score(jobs)
        except NotReady as error:  # the log refused the batch: it refuses each job as well
            for job in jobs:
                job.error = error
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
        scored: list[dict[str, Any]]
        if probabilities is not None:
            classes = self.fast.classes
            scored = [
                {"prediction": label, "probabilities": dict(zip(classes, row, strict=True))}
                for label, row in zip(labels, probabilities.tolist(), strict=True)
            ]
        else:
            scored = [{"prediction": value} for value in labels]
        answer = self.answer
        outputs = [
            answer.of(record, item).model_dump(mode="json")
            for record, item in zip(records, scored, strict=True)
        ]
        now, version, done = clock.iso(digits=6), self.model.version, time.perf_counter()
        rows, position = [], 0
        for job in jobs:
            latency_ms = (done - job.started) * 1000
            job_outputs = outputs[position : position + len(job.records)]
            for item, (record, output) in enumerate(zip(job.records, job_outputs, strict=True)):
                logged = (to_json(record), to_json(output), latency_ms)
                rows.append((job.request_id, item, now, version, SOURCE, *logged))
            position += len(job.records)
        try:
            self.log.append_rows(rows)  # one transaction: all of the batch is logged, or none
        except sqlite3.Error as error:
            self._log_failed(error)
            raise NotReady(self.log_error) from None
        if self.log_error is not None:
            self._log_recovered()
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
        """``/ready``: 200 with the model version, or 503 with why predictions are refused."""
        if self.model is None:
            return 503, {"status": "not ready", "detail": self.error}
        if not self._log_writable():
            return 503, {"status": "not ready", "detail": self.log_error}
        return 200, {"status": "ready", "model_version": self.version}

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
