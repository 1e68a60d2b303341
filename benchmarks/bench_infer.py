"""Benchmark schema inference (what ``prodml new --data`` runs) against reading the same file.

A deterministic CSV (default 1M rows, 50 columns: 30 floats, 8 integers, 6 text categories,
3 integer codes, a date, a yes/no flag and a binary target) is written once; then, interleaved
and each in a fresh process, ``pyarrow.csv.read_csv`` of the file (the reference) and a baked
project's ``python -m <package> schema infer FILE --target target``. Reported: median seconds,
their ratio (target: <= 1.5x) and each process's peak memory.
Usage: python benchmarks/bench_infer.py [ROWS] [REPEATS]; writes benchmarks/results/infer.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bake import bake  # noqa: E402


def write_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    columns: dict[str, object] = {f"num_{i}": rng.normal(50, 10, rows).round(3) for i in range(30)}
    columns |= {f"int_{i}": rng.integers(0, 10_000, rows) for i in range(8)}
    words = np.array(["alpha", "beta", "gamma", "delta"], dtype=object)
    columns |= {f"cat_{i}": rng.choice(words, rows) for i in range(6)}
    columns |= {f"code_{i}": rng.integers(1, 6, rows) for i in range(3)}
    days = pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    columns["date_0"] = days.strftime("%Y-%m-%d")
    columns["flag_0"] = rng.choice(np.array(["yes", "no"], dtype=object), rows)
    columns["target"] = rng.choice(np.array(["a", "b"], dtype=object), rows)
    pd.DataFrame(columns).to_csv(path, index=False)


def run(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one child process (its own rusage, from wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} exited with {child.returncode}")
    return seconds, usage.ru_maxrss / 1024


def main(rows: int = 1_000_000, repeats: int = 3) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="prodml-bench-infer-"))
    data = scratch / "wide.csv"
    write_file(data, rows)
    project = bake(scratch, project_name="Infer Bench", serving="none")
    read = f"import pyarrow.csv as c; c.read_csv({str(data)!r})"
    commands = {
        "pyarrow.csv.read_csv": [sys.executable, "-c", read],
        "schema infer": [sys.executable, "-m", "infer_bench", "schema", "infer", str(data),
                         "--target", "target", "--output", str(scratch / "schema.yaml")],
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, float] = dict.fromkeys(commands, 0.0)
    for _ in range(repeats):
        for name, command in commands.items():
            seconds, peak = run(command, project / "src")
            times[name].append(seconds)
            peaks[name] = max(peaks[name], peak)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["schema infer"] / medians["pyarrow.csv.read_csv"]
    print(f"{rows} rows x 50 columns, {data.stat().st_size / 1e6:.0f} MB, median of {repeats}")
    for name, value in medians.items():
        print(f"  {name:22} {value:6.2f} s")
    print(f"  ratio {ratio:.2f}x (target <= 1.5x); peak memory MB: {peaks}")
    result = {**{f"{k} s": v for k, v in medians.items()}, "ratio": ratio, "rows": rows,
              **{f"{k} peak MB": v for k, v in peaks.items()}}  # fmt: skip
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "infer.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    main(*arguments)
