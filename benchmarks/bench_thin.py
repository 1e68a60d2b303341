"""Benchmark the thin project on prodml's runtime against the project a previous prodml made.

The previous prodml is a source checkout given by ``--before`` (e.g. a git worktree of the last
commit whose template carried the whole platform). Both generate their default project in the
same run, on the same machine, and these are measured side by side:

- project size: lines of Python under ``src/`` and ``tests/`` (the default project and the
  largest variant, spark + flask + mlflow);
- ``prodml new --no-input --no-git --no-lock``: medians of interleaved runs;
- ``make test``'s command (``pytest -q --cov``) in each project, once each;
- API throughput (its ``bench api``: predictions per second, 8 connections) and batch scoring
  (its ``bench batch``: rows per second, CSV and Parquet, without and with the log), each
  project on its own trained champion.

Each project runs in this interpreter, its package on ``PYTHONPATH`` (the runtime is this
environment's). Ratios are after / before. Figures go to benchmarks/results/thin.json.
Usage: python benchmarks/bench_thin.py --before PATH [--repeats N] [--seconds S] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LARGEST = ["--set", "engine=spark", "--set", "serving=flask", "--set", "tracking=mlflow"]


def generate(prodml: Path | None, out: Path, *args: str) -> float:
    """Seconds ``prodml new`` takes (``prodml`` a source checkout's generator/, None: this one)."""
    env = {**os.environ}
    if prodml is not None:
        env["PYTHONPATH"] = str(prodml / "generator")
    command = [sys.executable, "-m", "prodml", "new", "thinbench", "--no-input", "--no-git"]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--no-lock", "-o", str(out), *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - start


def python_lines(folder: Path) -> int:
    return sum(len(p.read_text(encoding="utf-8").splitlines()) for p in folder.rglob("*.py"))


def run(project: Path, *args: str, timeout: int = 3600) -> tuple[float, str]:
    """(seconds, stdout) of ``python ARGS`` in ``project`` with its package importable."""
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} in {project} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start, done.stdout


def throughput(stdout: str) -> float:
    """Predictions per second from a bench api's report."""
    found = re.search(r"^predict\s+\d+ req\s+([\d.]+) req/s", stdout, re.M)
    assert found, stdout
    return float(found.group(1))


def rows_per_second(stdout: str) -> dict[str, float]:
    """``<format> <log>`` -> rows/s from a bench batch's table."""
    rows = re.findall(r"^\s*\d+ (csv|parquet)\s+(no|log)\s+[\d.]+\s+(\d+)", stdout, re.M)
    return {f"{kind} {log}": float(rate) for kind, log, rate in rows}


def measure(before: Path, repeats: int, seconds: float, rows: int) -> dict[str, object]:
    scratch = Path(tempfile.mkdtemp(prefix="prodml-thin-"))
    sides = {"before": before, "after": None}
    figures: dict[str, dict[str, object]] = {name: {} for name in sides}
    try:
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(repeats):
            for name, prodml in sides.items():
                shutil.rmtree(scratch / name, ignore_errors=True)
                times[name].append(generate(prodml, scratch / name))
        for name, prodml in sides.items():
            project = scratch / name / "thinbench"
            largest = scratch / f"{name}-largest"
            generate(prodml, largest, *LARGEST)
            figures[name].update(
                new_seconds=statistics.median(times[name]),
                src_lines=python_lines(project / "src"),
                tests_lines=python_lines(project / "tests"),
                src_modules=len(list((project / "src").rglob("*.py"))),
                largest_src_lines=python_lines(largest / "thinbench" / "src"),
            )
            run(project, "-m", "thinbench", "data", "--rows", str(rows))
            run(project, "-m", "thinbench", "train")
            figures[name]["make_test_seconds"], _ = run(project, "-m", "pytest", "-q", "--cov")
            # The previous projects ran their benchmarks as scripts, this one as its commands.
            bench = ["-m", "thinbench", "bench"] if prodml is None else []
            api = [*bench, "api"] if bench else ["benchmarks/bench_api.py"]
            load = ["--seconds", str(seconds), "--connections", "8"]
            figures[name]["api_predictions_per_second"] = throughput(run(project, *api, *load)[1])
            batch = [*bench, "batch"] if bench else ["benchmarks/bench_batch.py"]
            scored = run(project, *batch, "--sizes", "100000")[1]
            figures[name]["batch_rows_per_second"] = rows_per_second(scored)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    after, old = figures["after"], figures["before"]
    ratios: dict[str, object] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            ratios[key] = {k: v / old[key][k] for k, v in value.items()}  # type: ignore[index]
        else:
            ratios[key] = float(value) / float(old[key])  # type: ignore[arg-type]
    return {"before": old, "after": after, "after/before": ratios}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the previous prodml's checkout")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0, help="API load per server")
    parser.add_argument("--rows", type=int, default=3000, help="sample rows to train on")
    options = parser.parse_args()
    results = measure(options.before, options.repeats, options.seconds, options.rows)
    print(json.dumps(results, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "thin.json").write_text(json.dumps(results, indent=2) + "\n")
