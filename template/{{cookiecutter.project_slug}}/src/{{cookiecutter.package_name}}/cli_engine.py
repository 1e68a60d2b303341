"""The cluster engine's options, added by ``cli``: ``predict --engine {{ cookiecutter.engine }}
[{{ '--scheduler ADDRESS' if cookiecutter.engine == 'dask' else '--master URL' }}]`` and
``monitor --engine {{ cookiecutter.engine }}``, run by ``scoring.predict_{{ cookiecutter.engine }}``.

``--engine local`` (the default) is each command unchanged: the chunked single-process
``predict`` with the SQLite log, and ``monitor`` tallying in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

# The engine's facts live here, not in its module: importing that (pandas, pyarrow,
# scikit-learn) would cost every command, --help included, seconds.
NAME, TITLE = "{{ cookiecutter.engine }}", "{{ cookiecutter.engine | capitalize }}"
{%- if cookiecutter.engine == "dask" %}
#: The option for the cluster's address: flag, metavar, help.
ADDRESS = (
    "--scheduler", "ADDRESS",
    "the scheduler, e.g. tcp://10.0.0.5:8786 [default: a LocalCluster of 2 processes on this "
    "machine].",
)  # fmt: skip
#: Where a missing module comes from, for ``cli``'s one-line message.
EXTRAS = {"dask": "dask", "distributed": "dask"}
{%- else %}
#: The option for the cluster's address: flag, metavar, help.
ADDRESS = (
    "--master", "URL",
    "the Spark master, e.g. spark://10.0.0.5:7077 [default: local[2,4]: 2 cores of this "
    "machine, each task tried up to 4 times].",
)  # fmt: skip
#: Where a missing module comes from, for ``cli``'s one-line message.
EXTRAS = {"pyspark": "spark", "py4j": "spark"}
{%- endif %}


def add_engine(main: click.Group, extras: dict[str, str]) -> None:
    """Give ``main``'s ``predict`` and ``monitor`` the ``--engine`` option and the cluster's
    address option, and name the engine's extra in ``extras``."""
    extras.update(EXTRAS)
    engine = click.Option(
        ["--engine"], type=click.Choice(["local", NAME]), default="local", show_default=True,
        help=f"{NAME}: predict scores a Parquet dataset folder, a quoted glob or a file on "
        f"{TITLE}, in partitions of --chunk-size rows [default: 250000], into Parquet dataset "
        "folders (--output, --rejects [default: <output stem>.rejects]) and logs to "
        "$PREDICTION_LOG_DATASET; monitor tallies a Parquet log's parts on the cluster.",
    )  # fmt: skip
    flag, metavar, text = ADDRESS
    address = click.Option(
        [flag, "address"], default=None, metavar=metavar, help=f"With --engine {NAME}: {text}"
    )
    for name, on_cluster in (("predict", _predict), ("monitor", _monitor)):
        _engine_options(main.commands[name], engine, address, on_cluster)


def _engine_options(
    command: click.Command,
    engine: click.Option,
    address: click.Option,
    on_cluster: Callable[..., None],
) -> None:
    local = command.callback
    assert local is not None
    command.params += [engine, address]

    def run(engine: str, address: str | None, **options: Any) -> None:
        if engine == "local":
            if address is not None:
                raise click.UsageError(f"{ADDRESS[0]} needs --engine {NAME}")
            local(**options)
            return
        on_cluster(local, address, **options)

    command.callback = run


def _predict(
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
    from .io import registry
    from .io.parquet_log import ParquetLog
    from .scoring.dataset import PARTITION_ROWS, predict_dataset
    from .scoring.predict_{{ cookiecutter.engine }} import connect
    from .settings import settings

    if click.get_current_context().get_parameter_source("chunk_size") is ParameterSource.DEFAULT:
        chunk_size = PARTITION_ROWS
    with connect(address) as engine:  # first: a missing extra is named before any work
        model = registry.load(registry.model_dir(model_dir), version)
        log = None if no_log else ParquetLog(settings().prediction_log_dataset)
        if log is not None:  # each run enforces the retention period, as the API does on SQLite
            log.prune(settings().prediction_log_retention_days)
        summary = predict_dataset(
            model, str(input_path), output_path, engine, rejects=rejects_path,
            partition_rows=chunk_size, log=log,
        )  # fmt: skip
    click.echo(
        f"scored {summary.scored} of {summary.rows} rows with model {summary.model_version} "
        f"on {TITLE} into {summary.output}/; {summary.rejected} rejected into "
        f"{summary.rejects}/"
    )
    if log is not None:
        click.echo(
            f"logged {summary.logged} new predictions to {log.root}/ "
            f"(request_id {summary.request_id})"
        )


def _monitor(local: Callable[..., None], address: str | None, **options: Any) -> None:
    from .monitoring.current import MonitorError
    from .scoring.predict_{{ cookiecutter.engine }} import connect
    from .settings import settings

    if options["input_path"] is not None:
        raise click.UsageError(f"--engine {NAME} monitors a Parquet log (--log); not with --input")
    log_path = options.pop("log_path") or settings().prediction_log_dataset
    if not log_path.is_dir():
        raise MonitorError(
            f"no Parquet prediction log at {log_path}: `predict --engine {NAME}` writes "
            f"one (--engine {NAME} reads a Parquet log folder, not the SQLite log)"
        )
    with connect(address) as engine:
        local(log_path=log_path, engine=engine, **options)
