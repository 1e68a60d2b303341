"""Benchmark ``prodml update`` of an unchanged project against ``prodml new`` of the same project.

Both are whole processes with ``--no-lock`` (locking needs the package index), measured
interleaved in one run so machine noise hits both alike; the median is reported. Two pairs:
without git (``new --no-git`` vs an update of that project) and with git (``new`` with its
initial commit vs an update of that repository, which checks the work tree first). Target:
update <= 3x new. Also reports the size of the base each project carries
(.prodml/base.tar.gz). Usage: python benchmarks/bench_update.py [N]; writes
benchmarks/results/update.json.
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
PRODML = str(Path(sys.executable).parent / "prodml")
PROJECT = "churn-model"


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main(repeats: int) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="prodml-bench-update-"))
    commands = {
        "prodml new --no-git": ["new", "--no-input", "--no-lock", "--no-git", "-o", "new-plain"],
        "prodml update (no git)": ["update", f"kept-plain/{PROJECT}"],
        "prodml new (git)": ["new", "--no-input", "--no-lock", "-o", "new-git"],
        "prodml update (git)": ["update", f"kept-git/{PROJECT}"],
    }
    try:
        for kept, git in (("kept-plain", "--no-git"), ("kept-git", "--git")):
            command = [PRODML, "new", "--no-input", "--no-lock", git, "-o", kept]
            subprocess.run(command, cwd=scratch, check=True, capture_output=True)
        base_kb = (scratch / "kept-plain" / PROJECT / ".prodml" / "base.tar.gz").stat().st_size
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeats):
            for name, args in commands.items():
                shutil.rmtree(scratch / "new-plain", ignore_errors=True)
                shutil.rmtree(scratch / "new-git", ignore_errors=True)
                times[name].append(timed([PRODML, *args], scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    medians["ratio update/new (no git)"] = (
        medians["prodml update (no git)"] / medians["prodml new --no-git"]
    )
    medians["ratio update/new (git)"] = medians["prodml update (git)"] / medians["prodml new (git)"]
    medians["base.tar.gz KB"] = base_kb / 1024
    return medians


if __name__ == "__main__":
    results = main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
    for name, value in results.items():
        unit = "x" if name.startswith("ratio") else (" KB" if name.endswith("KB") else " s")
        print(f"{name:30s} {value:8.3f}{unit}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "update.json").write_text(json.dumps(results, indent=2) + "\n")
