"""Benchmark prodml's whole-process times against references measured in the same run.

- ``prodml new --no-input`` vs plain ``cookiecutter template/ --no-input`` (target: <= 1.2x),
  both rendering only: ``--no-lock`` (locking resolves against the package index, 2-3 s).
- ``prodml --help`` vs a Click hello-world (target: <= 2x).

Runs are interleaved and the median is reported, so machine noise hits both sides alike.
Prints a table and writes benchmarks/results/cli.json. Usage: python benchmarks/bench_cli.py [N]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HELLO = "import click\n\n@click.command()\ndef hello():\n    click.echo('hello')\n\nhello()\n"


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main(repeats: int) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="prodml-bench-"))
    hello = scratch / "hello.py"
    hello.write_text(HELLO)
    commands = {
        "cookiecutter --no-input": [
            str(BIN / "cookiecutter"),
            str(ROOT / "template"),
            "--no-input",
            "-o",
            "out",
        ],
        "prodml new --no-input --no-git": [
            str(BIN / "prodml"),
            "new",
            "--no-input",
            "--no-git",
            "--no-lock",
            "-o",
            "out",
        ],
        "prodml new --no-input (with git)": [
            str(BIN / "prodml"),
            "new",
            "--no-input",
            "--no-lock",
            "-o",
            "out",
        ],
        "click hello-world --help": [sys.executable, str(hello), "--help"],
        "prodml --help": [str(BIN / "prodml"), "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    try:
        for _ in range(repeats):
            for name, command in commands.items():
                shutil.rmtree(scratch / "out", ignore_errors=True)
                times[name].append(timed(command, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    medians["ratio new/cookiecutter"] = (
        medians["prodml new --no-input --no-git"] / medians["cookiecutter --no-input"]
    )
    medians["ratio new+git/cookiecutter"] = (
        medians["prodml new --no-input (with git)"] / medians["cookiecutter --no-input"]
    )
    medians["ratio help/click-hello"] = (
        medians["prodml --help"] / medians["click hello-world --help"]
    )
    return medians


if __name__ == "__main__":
    results = main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    for name, value in results.items():
        unit = "x" if name.startswith("ratio") else " s"
        print(f"{name:36s} {value:8.3f}{unit}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "cli.json").write_text(json.dumps(results, indent=2) + "\n")
