"""A cluster engine's options (``command_line`` adds them to a dask or spark project):
``predict --engine dask|spark`` with the cluster's address (``--scheduler ADDRESS`` for Dask,
``--master URL`` for Spark) and ``monitor --engine dask|spark``, run by
``scoring.predict_dask`` or ``scoring.predict_spark``.

``--engine local`` (the default) is each command unchanged: the chunked single-process
``predict`` with the SQLite log, and ``monitor`` tallying in this process.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ..project import Engine
from .common import project

#: Each engine's option for the cluster's address: flag, metavar, help.
ADDRESS = {
    "dask": (
        "--scheduler", "ADDRESS",
        "the scheduler, e.g. tcp://10.0.0.5:8786 [default: a LocalCluster of 2 processes on "
        "this machine].",
    ),
    "spark": (
        "--master", "URL",
        "the Spark master, e.g. spark://10.0.0.5:7077 [default: local[2,4]: 2 cores of this "
        "machine, each task tried up to 4 times].",
    ),
}  # fmt: skip


def add_engine(main: click.Group, name: Engine) -> None:
    """Replace ``main``'s ``predict`` and ``monitor`` with copies that take the ``--engine``
    option and the cluster's address option."""
    title = name.capitalize()
    engine = click.Option(
        ["--engine"], type=click.Choice(["local", name]), default="local", show_default=True,
        help=f"{name}: predict scores a Parquet dataset folder, a quoted glob or a file on "
        f"{title}, in partitions of --chunk-size rows [default: 250000], into Parquet dataset "
        "folders (--output, --rejects [default: <output stem>.rejects]) and logs to "
        "$PREDICTION_LOG_DATASET; monitor tallies a Parquet log's parts on the cluster.",
    )  # fmt: skip
    flag, metavar, text = ADDRESS[name]
    address = click.Option(
        [flag, "address"], default=None, metavar=metavar, help=f"With --engine {name}: {text}"
    )
    for command, on_cluster in (("predict", _predict), ("monitor", _monitor)):
        main.add_command(_on_engine(main.commands[command], name, engine, address, on_cluster))


def _on_engine(
    command: click.Command,
    name: Engine,
    engine: click.Option,
    address: click.Option,
    on_cluster: Callable[..., None],
) -> click.Command:
    local = command.callback
    assert local is not None
    flag = ADDRESS[name][0]

    def run(engine: str, address: str | None, **options: Any) -> None:
        if engine == "local":
            if address is not None:
                raise click.UsageError(f"{flag} needs --engine {name}")
            local(**options)
            return
        on_cluster(name, local, address, **options)

    on_engine = copy.copy(command)
    on_engine.params = [*command.params, engine, address]
    on_engine.callback = run
    return on_engine


def _connect(name: Engine) -> Callable[[str | None], Any]:
    """The engine module's ``connect`` (imported when a command runs on the cluster)."""
    connect: Callable[[str | None], Any] = importlib.import_module(
        f"{__package__.rpartition('.')[0]}.scoring.predict_{name}"
    ).connect
    return connect


def _predict(
    name: Engine,
    _local: Callable[..., None],
    address: str | None,
    model_dir: Path | None,
    input_path: Path,
    output_path: Path,
    rejects_path: Path | None,
    chunk_size: int,
    version: str | None,
    no_log: bool,
) -> None:
    from ..io import registry
    from ..io.parquet_log import ParquetLog
    from ..scoring.dataset import PARTITION_ROWS, predict_dataset
    from ..settings import settings

    if click.get_current_context().get_parameter_source("chunk_size") is ParameterSource.DEFAULT:
        chunk_size = PARTITION_ROWS
    with _connect(name)(address) as engine:  # first: a missing extra is named before any work
        model = registry.load(registry.model_dir(model_dir), version, project().parts.trusted)
        log = None if no_log else ParquetLog(settings().prediction_log_dataset)
        if log is not None:  # each run enforces the retention period, as the API does on SQLite
            log.prune(settings().prediction_log_retention_days)
        summary = predict_dataset(
            model, str(input_path), output_path, engine, rejects=rejects_path,
            partition_rows=chunk_size, log=log,
        )  # fmt: skip
    click.echo(
        f"scored {summary.scored} of {summary.rows} rows with model {summary.model_version} "
        f"on {name.capitalize()} into {summary.output}/; {summary.rejected} rejected into "
        f"{summary.rejects}/"
    )
    if log is not None:
        click.echo(
            f"logged {summary.logged} new predictions to {log.root}/ "
            f"(request_id {summary.request_id})"
        )


def _monitor(name: Engine, local: Callable[..., None], address: str | None, **options: Any) -> None:
    from ..monitoring.current import MonitorError
    from ..settings import settings

    if options["input_path"] is not None:
        raise click.UsageError(f"--engine {name} monitors a Parquet log (--log); not with --input")
    log_path = options.pop("log_path") or settings().prediction_log_dataset
    if not log_path.is_dir():
        raise MonitorError(
            f"no Parquet prediction log at {log_path}: `predict --engine {name}` writes "
            f"one (--engine {name} reads a Parquet log folder, not the SQLite log)"
        )
    with _connect(name)(address) as engine:
        local(log_path=log_path, engine=engine, **options)
