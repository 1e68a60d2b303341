"""Benchmark ``prodml check`` on a generated project against repo-review on the same repo.

The reference is what the issue names, repo-review "with only its built-in checks": repo-review
ships none, so it is ``repo-review PATH`` in a venv holding repo-review alone (made here with uv,
from its cache when it can; it exits 1, "No checks registered", after loading everything a
check run needs). Also timed: the same checks under ``repo-review --select PML`` (the plugin,
this venv) and ``prodml check`` without PML202, the check that imports the schema model of the
runtime the project pins (pydantic). Target: ``prodml check`` <= 2x the reference.

Runs are interleaved and the median is reported, so machine noise hits every command alike.
Prints a table and writes benchmarks/results/check.json. Usage: python benchmarks/bench_check.py [N]
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

from prodml.lock import lock, uv_binary

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, capture_output=True)
    return time.perf_counter() - start


def bare_repo_review(scratch: Path) -> Path:
    """A venv with repo-review (and its CLI extra) alone: no plugin registered."""
    venv, uv = scratch / "bare", uv_binary()
    if uv is None:
        sys.exit("uv is needed to make the reference venv (pip install uv)")
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    install = [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
               "repo-review[cli]"]  # fmt: skip
    if subprocess.run([*install, "--offline"], capture_output=True).returncode != 0:
        subprocess.run(install, check=True)
    return venv / "bin" / "repo-review"


def main(repeats: int) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="prodml-bench-check-"))
    try:
        subprocess.run([str(BIN / "prodml"), "new", "Churn Model", "--no-input", "--no-lock",
                        "-o", str(scratch)], check=True, capture_output=True)  # fmt: skip
        project = scratch / "churn-model"
        if warning := lock(project):
            print(f"note: {warning}; PML503 fails, the timing is alike", file=sys.stderr)
        commands = {
            "repo-review, no plugin (reference)": [str(bare_repo_review(scratch)), "."],
            "prodml check": [str(BIN / "prodml"), "check"],
            "prodml check --format json": [str(BIN / "prodml"), "check", "--format", "json"],
            "prodml check --ignore PML202": [str(BIN / "prodml"), "check", "--ignore", "PML202"],
            "repo-review --select PML (plugin)": [str(BIN / "repo-review"), "--select", "PML", "."],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                times[name].append(timed(command, project))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    reference = medians["repo-review, no plugin (reference)"]
    for name in list(commands)[1:]:
        medians[f"ratio {name} / reference"] = medians[name] / reference
    return medians


if __name__ == "__main__":
    results = main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
    for name, value in results.items():
        unit = "x" if name.startswith("ratio") else " s"
        print(f"{name:52s} {value:8.3f}{unit}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "check.json").write_text(json.dumps(results, indent=2) + "\n")
