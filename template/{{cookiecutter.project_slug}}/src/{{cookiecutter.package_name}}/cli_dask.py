"""The Dask engine's options, added by ``cli``: ``predict --engine dask [--scheduler ADDRESS]``
and ``monitor --engine dask [--scheduler ADDRESS]``.

``--engine local`` (the default) is each command unchanged: the chunked single-process
``predict`` with the SQLite log, and ``monitor`` tallying in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

#: Where a missing module comes from, for ``cli``'s one-line message.
EXTRAS = {"dask": "dask", "distributed": "dask"}
ENGINE = click.Option(
    ["--engine"], type=click.Choice(["local", "dask"]), default="local", show_default=True,
    help="dask: predict scores a Parquet dataset folder, a quoted glob or a file on a Dask "
    "cluster, in partitions of --chunk-size rows [default: 250000], into Parquet dataset folders "
    "(--output, --rejects [default: <output stem>.rejects]) and logs to "
    "$PREDICTION_LOG_DATASET; monitor tallies a Parquet log's parts on the cluster.",
)  # fmt: skip
SCHEDULER = click.Option(
    ["--scheduler"], default=None, metavar="ADDRESS",
    help="With --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 [default: a LocalCluster "
    "of 2 processes on this machine].",
)  # fmt: skip


def add_engines(main: click.Group, extras: dict[str, str]) -> None:
    """Give ``main``'s ``predict`` and ``monitor`` the ``--engine`` and ``--scheduler`` options,
    and name the ``dask`` extra in ``extras``."""
    extras.update(EXTRAS)
    _engine_options(main.commands["predict"], _predict_dask)
    _engine_options(main.commands["monitor"], _monitor_dask)


def _engine_options(command: click.Command, on_dask: Callable[..., None]) -> None:
    local = command.callback
    assert local is not None
    command.params += [ENGINE, SCHEDULER]

    def run(engine: str, scheduler: str | None, **options: Any) -> None:
        if engine == "local":
            if scheduler is not None:
                raise click.UsageError("--scheduler needs --engine dask")
            local(**options)
            return
        import dask.dataframe  # noqa: F401  (a missing extra is named before any work)
        import distributed  # noqa: F401

        on_dask(local, scheduler, **options)

    command.callback = run


def _predict_dask(
    _local: Callable[..., None],
    scheduler: str | None,
    model_dir: Path | None,
    input_path: Path,
    output_path: Path,
    rejects_path: Path | None,
    chunk_size: int,
    version: str | None,
    no_log: bool,
) -> None:
    from .io import registry
    from .io.parquet_log import ParquetLog
    from .scoring.predict_dask import PARTITION_ROWS, predict_dataset
    from .settings import settings

    if click.get_current_context().get_parameter_source("chunk_size") is ParameterSource.DEFAULT:
        chunk_size = PARTITION_ROWS
    model = registry.load(registry.model_dir(model_dir), version)
    log = None if no_log else ParquetLog(settings().prediction_log_dataset)
    if log is not None:  # each run enforces the retention period, as the API does on SQLite
        log.prune(settings().prediction_log_retention_days)
    summary = predict_dataset(
        model, str(input_path), output_path, rejects=rejects_path, scheduler=scheduler,
        partition_rows=chunk_size, log=log,
    )  # fmt: skip
    click.echo(
        f"scored {summary.scored} of {summary.rows} rows with model {summary.model_version} "
        f"on Dask into {summary.output}/; {summary.rejected} rejected into {summary.rejects}/"
    )
    if log is not None:
        click.echo(
            f"logged {summary.logged} new predictions to {log.root}/ "
            f"(request_id {summary.request_id})"
        )


def _monitor_dask(local: Callable[..., None], scheduler: str | None, **options: Any) -> None:
    from .monitoring.current import MonitorError
    from .scoring.predict_dask import dask_client
    from .settings import settings

    if options["input_path"] is not None:
        raise click.UsageError("--engine dask monitors a Parquet log (--log); not with --input")
    log_path = options.pop("log_path") or settings().prediction_log_dataset
    if not log_path.is_dir():
        raise MonitorError(
            f"no Parquet prediction log at {log_path}: `predict --engine dask` writes one "
            "(--engine dask reads a Parquet log folder, not the SQLite log)"
        )
    with dask_client(scheduler) as client:
        local(log_path=log_path, client=client, **options)
