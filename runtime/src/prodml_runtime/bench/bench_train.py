"""Benchmark: the full ``train`` job on the default sample, timed by stage, with peak memory.

Run from the project root with ``make bench``. It uses configs/schema.yaml and
configs/train.yaml as they are (searches and cross-validation included) and writes the data,
models, reports and runs into a temporary directory. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from {{ cookiecutter.package_name }}.config import load_config, load_schema
from {{ cookiecutter.package_name }}.data.sample import generate_sample
from {{ cookiecutter.package_name }}.io.run_store import store_in
from {{ cookiecutter.package_name }}.jobs import Outputs, train_job

ROOT = Path(__file__).resolve().parents[1]


def peak_memory_mb() -> float:
    """Peak resident memory of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000, help="sample rows (default: 3000)")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--max-mb", type=float, default=1024.0)
    args = parser.parse_args()
    schema = load_schema(ROOT / "configs" / "schema.yaml")
    config = load_config(ROOT / "configs" / "train.yaml")
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        data = tmp / "sample.csv"
        generate_sample(schema, rows=args.rows).to_csv(data, index=False)
        runs = store_in(tmp / "runs")
        outputs = Outputs(tmp / "models", tmp / "reports", tmp / "model-card.md", runs)
        start = time.perf_counter()
        outcome = train_job(data, schema, config, outputs)
        wall = time.perf_counter() - start
    memory = peak_memory_mb()
    print(f"train on {args.rows} rows ({schema.problem_type}), champion {outcome.result.champion}")
    print(f"{'stage':<32}{'seconds':>9}{'share':>8}")
    for stage, seconds in outcome.durations.items():
        print(f"{stage:<32}{seconds:>9.2f}{100 * seconds / wall:>7.0f}%")
    print(f"{'total (wall)':<32}{wall:>9.2f}")
    print(f"peak memory {memory:.0f} MB")
    if not outcome.promoted:
        print(f"note: not promoted: {outcome.message}")
    missed = []
    if wall > args.max_seconds:
        missed.append(f"wall time {wall:.1f} s > {args.max_seconds:.0f} s")
    if memory > args.max_mb:
        missed.append(f"peak memory {memory:.0f} MB > {args.max_mb:.0f} MB")
    for reason in missed:
        print(f"target missed: {reason}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
