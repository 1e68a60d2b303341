"""Benchmark: batch scoring (``predict_file``, what ``predict`` runs) on 100k and 1M rows.

Run from the project root with ``python benchmarks/bench_batch.py`` (part of ``make bench``).
It scores the champion of ``$MODEL_DIR`` (or, when there is none, a model trained on the
default sample into a temporary registry) on rows generated from the schema, as CSV and
Parquet, with and without the prediction log. Each run is a fresh process, so its peak
resident memory is its own: memory should stay flat from 100k to 1M rows (the file is
streamed in chunks). Targets: >= 100k rows/s; the figures are printed, never asserted.

Measured on the default binary model, 2 cores, otherwise idle; rows/s and peak MB at 100k / 1M
rows: CSV 141k / 213k without the log, 90k / 121k with it; Parquet 179k / 274k without,
96k / 134k with; peak 316-442 MB, flat in the input size (+6-12% for 10x the rows). At 100k
rows (two chunks) a run's fixed costs weigh more: the first chunk's scoring and the last chunk's
logging overlap nothing. With the log on, a worker thread builds each chunk's JSON (with Arrow)
and writes it to SQLite while the main thread scores the next chunk; CSV numbers are parsed by
Arrow.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from {{ cookiecutter.package_name }}.config import load_config, load_schema
from {{ cookiecutter.package_name }}.data.sample import generate_sample
from {{ cookiecutter.package_name }}.io import registry
from {{ cookiecutter.package_name }}.io.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.io.run_store import store_in
from {{ cookiecutter.package_name }}.jobs import Outputs, train_job
from {{ cookiecutter.package_name }}.scoring.predict import DEFAULT_CHUNK_ROWS, predict_file

ROOT = Path(__file__).resolve().parents[1]


def peak_memory_mb() -> float:
    """Peak resident memory of this process since it started.

    Linux: VmHWM from /proc (ru_maxrss would carry over the parent's peak across fork + exec);
    elsewhere ru_maxrss (bytes on macOS).
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child(models: Path, source: Path, work: Path, log: bool, chunk_rows: int) -> None:
    """One timed run in this (fresh) process; prints a JSON line with the figures."""
    model = registry.load(models)
    prediction_log = PredictionLog(work / "predictions.db") if log else None
    output = work / f"predictions{source.suffix}"
    start = time.perf_counter()
    summary = predict_file(model, source, output, chunk_rows=chunk_rows, log=prediction_log)
    seconds = time.perf_counter() - start
    figures = {"rows": summary.rows, "seconds": seconds, "peak_mb": peak_memory_mb()}
    print(json.dumps({**figures, "logged": summary.logged}))


def champion_dir(tmp: Path) -> Path:
    """The registry to score with: $MODEL_DIR if it has a champion, else a fresh training run."""
    models = registry.model_dir()
    if registry.current_champion(models):
        return models
    print("no champion in", models, "- training one on the default sample first", flush=True)
    schema = load_schema(ROOT / "configs" / "schema.yaml")
    data = tmp / "sample.csv"
    generate_sample(schema).to_csv(data, index=False)
    outputs = Outputs(
        tmp / "models", tmp / "reports", tmp / "model-card.md", store_in(tmp / "runs")
    )
    train_job(data, schema, load_config(ROOT / "configs" / "train.yaml"), outputs)
    return tmp / "models"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--formats", nargs="+", choices=["csv", "parquet"], default=["csv", "parquet"]
    )
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_ROWS)
    parser.add_argument("--child", nargs=4, metavar=("MODELS", "SOURCE", "WORK", "LOG"))
    args = parser.parse_args()
    if args.child:
        models, source, work, log = args.child
        child(Path(models), Path(source), Path(work), log == "log", args.chunk_size)
        return 0
    schema = load_schema(ROOT / "configs" / "schema.yaml")
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        models = champion_dir(tmp)
        print(
            f"batch scoring with {registry.champion(models)} ({schema.problem_type}), "
            f"chunks of {args.chunk_size} rows"
        )
        print(f"{'rows':>9} {'format':<8} {'log':<4} {'seconds':>8} {'rows/s':>9} {'peak MB':>8}")
        for size in args.sizes:
            frame = generate_sample(schema, rows=size, seed=1).drop(columns=schema.target)
            sources = {"csv": tmp / "input.csv", "parquet": tmp / "input.parquet"}
            frame.to_csv(sources["csv"], index=False)
            frame.to_parquet(sources["parquet"], index=False, row_group_size=100_000)
            del frame
            for kind in args.formats:
                for log in ("no", "log"):
                    work = Path(tempfile.mkdtemp(dir=tmp))
                    command = [sys.executable, __file__, "--chunk-size", str(args.chunk_size)]
                    command += ["--child", str(models), str(sources[kind]), str(work), log]
                    result = subprocess.run(command, capture_output=True, text=True, check=True)
                    figures = json.loads(result.stdout.strip().splitlines()[-1])
                    rate = figures["rows"] / figures["seconds"]
                    print(
                        f"{figures['rows']:>9} {kind:<8} {log:<4} {figures['seconds']:>8.2f} "
                        f"{rate:>9.0f} {figures['peak_mb']:>8.0f}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
