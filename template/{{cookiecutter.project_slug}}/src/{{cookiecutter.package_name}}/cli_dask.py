"""``predict --engine dask [--scheduler ADDRESS]``: the Dask engine's options (added by ``cli``).

``--engine local`` (the default) is the chunked single-process ``predict``, unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

ENGINE = click.Option(
    ["--engine"], type=click.Choice(["local", "dask"]), default="local", show_default=True,
    help="dask: score a Parquet dataset folder, a quoted glob or a file on a Dask cluster into "
    "Parquet dataset folders (--output, --rejects [default: <output stem>.rejects]); no log.",
)  # fmt: skip
SCHEDULER = click.Option(
    ["--scheduler"], default=None, metavar="ADDRESS",
    help="With --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 [default: a LocalCluster "
    "of 2 processes on this machine].",
)  # fmt: skip


def add_engines(main: click.Group) -> None:
    """Give ``main``'s ``predict`` command the ``--engine`` and ``--scheduler`` options."""
    command = main.commands["predict"]
    local = command.callback
    assert local is not None
    command.params += [ENGINE, SCHEDULER]

    def predict(engine: str, scheduler: str | None, **options: Any) -> None:
        if engine == "local":
            if scheduler is not None:
                raise click.UsageError("--scheduler needs --engine dask")
            local(**options)
            return
        _predict_dask(scheduler, **options)

    command.callback = predict


def _predict_dask(
    scheduler: str | None,
    model_dir: Path | None,
    input_path: Path,
    output_path: Path,
    rejects_path: Path | None,
    chunk_size: int,
    version: str | None,
    no_log: bool,
) -> None:
    try:  # the engine imports them as it runs: a missing extra is named before any work
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ModuleNotFoundError as error:
        raise click.ClickException(
            f"--engine dask needs {error.name}, from the project's 'dask' extra: "
            "pip install -e '.[dask]' (or `uv sync --extra dask`)"
        ) from None
    from .io import registry
    from .scoring.predict_dask import predict_dataset

    model = registry.load(registry.model_dir(model_dir), version)
    summary = predict_dataset(
        model, str(input_path), output_path, rejects=rejects_path, scheduler=scheduler,
        partition_rows=chunk_size,
    )  # fmt: skip
    click.echo(
        f"scored {summary.scored} of {summary.rows} rows with model {summary.model_version} "
        f"on Dask into {summary.output}/; {summary.rejected} rejected into {summary.rejects}/"
    )
    if not no_log:
        click.echo("the dask engine writes no prediction log: monitor with `monitor --input`")
