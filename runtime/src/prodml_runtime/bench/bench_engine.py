"""``bench engine``: a project's cluster engine (Dask or Spark) against the local engine, on one
Parquet dataset.

Run from the project root: ``python -m <package> bench engine [--rows 1000000]`` (a dask or
spark project; not part of ``make bench``: it starts a cluster). It writes ``--rows`` rows
generated from configs/schema.yaml (or ``$SCHEMA_PATH``) as one Parquet file (what ``predict``
reads) and as a dataset of files of ``--file-rows`` rows (what ``predict --engine dask|spark``
reads), scores the file with ``predict_file`` (one process, one thread per native pool, no log)
and the dataset with ``predict_dataset`` on the engine's local cluster (Dask: a LocalCluster of
2 worker processes of one thread; Spark: local mode on 2 cores), started, and the runtime and
the project's parts imported by its workers, before the clock. It prints one JSON line: rows/s
of each engine, the ratio, and the workers' peak memory, which should stay flat in the input
size (a worker holds a partition or two at a time). It scores the champion of ``$MODEL_DIR``,
or trains one first (as ``bench batch`` does).

Measured on the default binary model on 2 cores, with 250k-row partitions (the default):
Dask, 10M rows: local 235k rows/s, Dask 408k (1.74x); 4M rows 1.65x; worker peak 543-550 MB at
10M, 541-568 MB at 4M (flat). With 50k-row partitions, 1.57x. With both logs written (--log:
SQLite for the local engine, the Parquet log for the cluster), 10M rows: local 192k rows/s, Dask
272k (1.42x), worker peak 652-655 MB. Spark (local[2,4]), 10M rows: local 215k rows/s, Spark
291k (1.35x); 4M rows: 207k and 242k (1.17x).
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..cli.common import project
from ..project import Project
from .bench_batch import champion_dir, peak_memory_mb

if TYPE_CHECKING:
    from ..core.schema import Schema

#: Rows generated once and repeated (fewer when --rows is smaller).
BLOCK_ROWS = 100_000
#: Tasks that import the project on (and then read the peak memory of) every worker.
WARM_TASKS = 8


def _warm(_item: int, modules: list[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def _peak(_item: int, _shared: None) -> tuple[int, float]:
    return os.getpid(), peak_memory_mb()


def part_modules(current: Project) -> list[str]:
    """The modules the workers import to score: the runtime's, and those of the project's parts
    named by reference (``module:attribute``), which its model files refer to."""
    parts = (current.models, current.features, current.answer, current.checks)
    named = [part.partition(":")[0] for part in parts if isinstance(part, str)]
    return ["prodml_runtime.scoring.dataset", *named]


def write_inputs(schema: Schema, rows: int, file_rows: int, work: Path) -> tuple[Path, Path]:
    """``rows`` rows as one Parquet file and as a dataset folder (repeated generated blocks)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..data.sample import generate_sample
    from ..scoring.predict import DEFAULT_CHUNK_ROWS

    block = pa.Table.from_pandas(
        generate_sample(schema, rows=min(BLOCK_ROWS, rows), seed=1).drop(columns=schema.target),
        preserve_index=False,
    )
    single, dataset = work / "input.parquet", work / "dataset"
    dataset.mkdir()
    with pq.ParquetWriter(single, block.schema) as whole:
        written, part = 0, None
        while written < rows:
            take = block.slice(0, min(block.num_rows, rows - written))
            whole.write_table(take, row_group_size=DEFAULT_CHUNK_ROWS)
            if written % file_rows == 0:
                if part is not None:
                    part.close()
                part = pq.ParquetWriter(dataset / f"part-{written:012d}.parquet", block.schema)
            assert part is not None
            part.write_table(take, row_group_size=DEFAULT_CHUNK_ROWS)
            written += take.num_rows
        if part is not None:
            part.close()
    return single, dataset


@click.command()
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="Rows to score.",
)
@click.option(
    "--file-rows", type=click.IntRange(min=BLOCK_ROWS), default=500_000, show_default=True,
    help=f"Rows per dataset file (a multiple of {BLOCK_ROWS}).",
)  # fmt: skip
@click.option(
    "--partition-rows", type=click.IntRange(min=1), default=None,
    show_default="predict --engine's partition size", help="Rows per partition.",
)  # fmt: skip
@click.option("--log", is_flag=True, help="Both engines write their prediction log.")
def engine(rows: int, file_rows: int, partition_rows: int | None, log: bool) -> None:
    """Time the cluster engine against the local one on a Parquet dataset."""
    from threadpoolctl import threadpool_limits

    from ..io import registry
    from ..io.parquet_log import ParquetLog
    from ..io.prediction_log import PredictionLog
    from ..scoring.dataset import PARTITION_ROWS, predict_dataset
    from ..scoring.predict import predict_file

    if file_rows % BLOCK_ROWS:
        raise click.BadParameter(f"must be a multiple of {BLOCK_ROWS}", param_hint="--file-rows")
    current = project()
    name = current.engine
    partition_rows = partition_rows or PARTITION_ROWS
    module = importlib.import_module(f"..scoring.predict_{name}", __package__)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = registry.load(champion_dir(work, current), None, current.parts.trusted)
        single, dataset = write_inputs(model.schema, rows, file_rows, work)
        local_log = PredictionLog(work / "log.db") if log else None
        start = time.perf_counter()
        with threadpool_limits(1):  # as each cluster worker runs (and faster here than 2 threads)
            predict_file(model, single, work / "local.parquet", log=local_log)
        local = rows / (time.perf_counter() - start)
        with module.connect(None) as cluster:
            # A standing cluster has the project imported: so do these workers, before the clock.
            cluster.map(_warm, range(WARM_TASKS), part_modules(current))
            parquet_log = ParquetLog(work / "log") if log else None
            start = time.perf_counter()
            predict_dataset(
                model, str(dataset), work / "scored", cluster, partition_rows=partition_rows,
                log=parquet_log,
            )  # fmt: skip
            distributed = rows / (time.perf_counter() - start)
            memory = dict(cluster.map(_peak, range(WARM_TASKS), None))  # process id -> MB
        figures = {
            "rows": rows,
            "partition_rows": partition_rows,
            "logged": log,
            "local_rows_per_s": round(local),
            f"{name}_rows_per_s": round(distributed),
            "ratio": round(distributed / local, 2),
            "worker_peak_mb": sorted(round(mb) for mb in memory.values()),
        }
        click.echo(json.dumps(figures))
