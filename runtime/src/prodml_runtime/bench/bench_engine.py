"""Benchmark: the {{ cookiecutter.engine | capitalize }} engine against the local engine, on one Parquet dataset.

Run from the project root with ``python benchmarks/bench_engine.py [--rows 1000000]`` (not part
of ``make bench``: it starts a cluster). It writes ``--rows`` rows generated from the schema as
one Parquet file (what ``predict`` reads) and as a dataset of files of ``--file-rows`` rows (what
``predict --engine {{ cookiecutter.engine }}`` reads), scores the file with ``predict_file`` (one process, one
thread per native pool, no log) and the dataset with ``predict_dataset`` on
{{ "a LocalCluster of 2 worker processes of one thread" if cookiecutter.engine == "dask" else "local-mode Spark on 2 cores" }} (started, and the project imported by its
workers, before the clock), and prints rows/s, the ratio, and the workers' peak memory, which
should stay flat in the input size (a worker holds a partition or two at a time).

Measured on the default binary model on 2 cores, with 250k-row partitions (the default):
Dask, 10M rows: local 235k rows/s, Dask 408k (1.74x); 4M rows 1.65x; worker peak 543-550 MB at
10M, 541-568 MB at 4M (flat). With 50k-row partitions, 1.57x. With both logs written (--log:
SQLite for the local engine, the Parquet log for the cluster), 10M rows: local 192k rows/s, Dask
272k (1.42x), worker peak 652-655 MB. Spark (local[2,4]), 10M rows: local 215k rows/s, Spark
291k (1.35x); 4M rows: 207k and 242k (1.17x).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from bench_batch import champion_dir, peak_memory_mb
from threadpoolctl import threadpool_limits

from {{ cookiecutter.package_name }}.core.schema import Schema
from {{ cookiecutter.package_name }}.data.sample import generate_sample
from {{ cookiecutter.package_name }}.io import registry
from {{ cookiecutter.package_name }}.io.parquet_log import ParquetLog
from {{ cookiecutter.package_name }}.io.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.scoring.dataset import PARTITION_ROWS, predict_dataset
from {{ cookiecutter.package_name }}.scoring.predict import DEFAULT_CHUNK_ROWS, predict_file
from {{ cookiecutter.package_name }}.scoring.predict_{{ cookiecutter.engine }} import connect

BLOCK_ROWS = 100_000
#: Tasks that import the project on (and then read the peak memory of) every worker.
WARM_TASKS = 8


def _warm(_item: int, module: str) -> None:
    importlib.import_module(module)


def _peak(_item: int, _shared: None) -> tuple[int, float]:
    return os.getpid(), peak_memory_mb()


def write_inputs(schema: Schema, rows: int, file_rows: int, work: Path) -> tuple[Path, Path]:
    """``rows`` rows as one Parquet file and as a dataset folder (repeated generated blocks)."""
    block = pa.Table.from_pandas(
        generate_sample(schema, rows=BLOCK_ROWS, seed=1).drop(columns=schema.target),
        preserve_index=False,
    )
    single, dataset = work / "input.parquet", work / "dataset"
    dataset.mkdir()
    with pq.ParquetWriter(single, block.schema) as whole:
        written, part = 0, None
        while written < rows:
            take = block.slice(0, min(BLOCK_ROWS, rows - written))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file-rows", type=int, default=500_000, help="rows per dataset file")
    parser.add_argument(
        "--partition-rows", type=int, default=PARTITION_ROWS, help="rows per partition"
    )
    parser.add_argument(
        "--log", action="store_true", help="both engines write their prediction log"
    )
    args = parser.parse_args()
    if args.file_rows % BLOCK_ROWS:
        parser.error(f"--file-rows must be a multiple of {BLOCK_ROWS}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = registry.load(champion_dir(work))
        single, dataset = write_inputs(model.schema, args.rows, args.file_rows, work)
        local_log = PredictionLog(work / "log.db") if args.log else None
        start = time.perf_counter()
        with threadpool_limits(1):  # as each Dask worker runs (and faster here than 2 threads)
            predict_file(model, single, work / "local.parquet", log=local_log)
        local = args.rows / (time.perf_counter() - start)
        # The workers unpickle this script's tasks, which call bench_batch: they import it too.
        here = [str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")]
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, here))
        with connect(None) as engine:
            # A standing cluster has the project imported: so do these workers, before the clock.
            engine.map(_warm, range(WARM_TASKS), predict_dataset.__module__)
            log = ParquetLog(work / "log") if args.log else None
            start = time.perf_counter()
            predict_dataset(
                model, str(dataset), work / "scored", engine,
                partition_rows=args.partition_rows, log=log,
            )  # fmt: skip
            distributed = args.rows / (time.perf_counter() - start)
            memory = dict(engine.map(_peak, range(WARM_TASKS), None))  # process id -> MB
        figures = {
            "rows": args.rows,
            "partition_rows": args.partition_rows,
            "logged": args.log,
            "local_rows_per_s": round(local),
            "{{ cookiecutter.engine }}_rows_per_s": round(distributed),
            "ratio": round(distributed / local, 2),
            "worker_peak_mb": sorted(round(mb) for mb in memory.values()),
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
