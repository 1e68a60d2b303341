"""Measure a generated project's serving image with podman (the container tier's engine).

For each case of tests/test_container.py (fastapi + uv, flask + pip): bake, lock, train on a
small config, then

- build from scratch (``make docker-build``: nothing cached but the base image),
- rebuild after a retrain (only models/ changed),
- image size and the size of its venv layer,
- cold start: ``podman run`` to the first 200 from /ready (median of N runs),
- ``podman stop`` (SIGTERM) to exit.

It measures and reports; it asserts nothing about times. Prints a table and writes
benchmarks/results/image.json. Needs podman and the base image (.ci/containers.sh).
Usage: python benchmarks/bench_image.py [N]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from engine import Engine, unavailable  # noqa: E402
from test_container import CASES, build, champion, project_run, trained, wait_ready  # noqa: E402
from test_e2e import free_port  # noqa: E402


def measure(engine: Engine, scratch: Path, case: str, runs: int) -> dict[str, float]:
    (scratch / case).mkdir()
    project, package = trained(scratch / case, case)
    image = f"{project.name}:latest"
    build_s, _ = build(engine, project)
    starts, stops = [], []
    for _ in range(runs):
        name = f"bench-{case}-{uuid.uuid4().hex[:8]}"
        with engine.compose_run(project, name, free_port()) as api:
            starts.append(wait_ready(api))
            stopping = time.perf_counter()
            api.stop()
            stops.append(time.perf_counter() - stopping)
    before = champion(project)
    python = str(project / ".venv" / "bin" / "python")
    project_run(project, python, "-m", package, "train", "--data", "data/raw/sample.csv")
    assert champion(project) != before, "the retrain changed models/"
    rebuild_s, _ = build(engine, project)
    return {
        "build_from_scratch_s": round(build_s, 1),
        "rebuild_models_only_s": round(rebuild_s, 1),
        "image_mb": round(engine.image_size(image) / 1e6),
        "venv_layer_mb": round(engine.venv_layer_size(image) / 1e6),
        "cold_start_to_ready_s": round(statistics.median(starts), 2),
        "sigterm_stop_s": round(statistics.median(stops), 2),
    }


def main(runs: int) -> dict[str, dict[str, float]]:
    reason = unavailable()
    if reason is not None:
        raise SystemExit(f"bench_image: no container engine: {reason}")
    scratch = Path(tempfile.mkdtemp(prefix="prodml-bench-image-"))
    engine = Engine(scratch / "podman")
    try:
        results = {case: measure(engine, scratch, case, runs) for case in CASES}
    finally:
        engine.close()
    names = list(next(iter(results.values())))
    print(f"{'':24}" + "".join(f"{case:>14}" for case in results))
    for name in names:
        print(f"{name:24}" + "".join(f"{results[case][name]:>14}" for case in results))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "image.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
