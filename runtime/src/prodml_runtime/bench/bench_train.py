"""``bench train``: the full ``train`` job on the default sample, timed by stage, with peak memory.

Run from the project root: ``python -m <package> bench train [--rows 3000]`` (part of
``make bench``). It uses configs/schema.yaml (or ``$SCHEMA_PATH``) and configs/train.yaml as they
are (the project's families and searches, cross-validation included) and writes the data,
models, reports and runs into a temporary directory. It ends with a verdict against the targets
(``--max-seconds``, ``--max-mb``): a missed target is printed, the exit status stays 0.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import click

from ..cli.common import project


def peak_memory_mb() -> float:
    """Peak resident memory of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def missed_targets(wall: float, memory: float, max_seconds: float, max_mb: float) -> list[str]:
    """What missed its target, one line each (none: all met)."""
    missed = []
    if wall > max_seconds:
        missed.append(f"wall time {wall:.1f} s > {max_seconds:.0f} s")
    if memory > max_mb:
        missed.append(f"peak memory {memory:.0f} MB > {max_mb:.0f} MB")
    return missed


@click.command()
@click.option(
    "--rows", type=click.IntRange(min=50), default=3000, show_default=True, help="Sample rows."
)
@click.option(
    "--max-seconds", type=float, default=60.0, show_default=True, help="Target wall time."
)
@click.option("--max-mb", type=float, default=1024.0, show_default=True, help="Target peak memory.")
def train(rows: int, max_seconds: float, max_mb: float) -> None:
    """Time the train job on the sample by stage, with peak memory."""
    from ..config import load_config, load_schema
    from ..data.sample import generate_sample
    from ..io.run_store import RunStore
    from ..jobs import Outputs, train_job

    current = project()
    schema, config = load_schema(), load_config()
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        data = tmp / "sample.csv"
        generate_sample(schema, rows=rows).to_csv(data, index=False)
        runs = RunStore.inside(current.tracking, current.name, tmp / "runs")
        outputs = Outputs(tmp / "models", tmp / "reports", tmp / "model-card.md", runs)
        start = time.perf_counter()
        outcome = train_job(data, schema, config, outputs, current)
        wall = time.perf_counter() - start
    memory = peak_memory_mb()
    click.echo(f"train on {rows} rows ({schema.problem_type}), champion {outcome.result.champion}")
    click.echo(f"{'stage':<32}{'seconds':>9}{'share':>8}")
    for stage, seconds in outcome.durations.items():
        click.echo(f"{stage:<32}{seconds:>9.2f}{100 * seconds / wall:>7.0f}%")
    click.echo(f"{'total (wall)':<32}{wall:>9.2f}")
    click.echo(f"peak memory {memory:.0f} MB")
    if not outcome.promoted:
        click.echo(f"note: not promoted: {outcome.message}")
    missed = missed_targets(wall, memory, max_seconds, max_mb)
    for reason in missed:
        click.echo(f"target missed: {reason}")
    if not missed:
        click.echo(f"targets met: wall time <= {max_seconds:.0f} s, peak memory <= {max_mb:.0f} MB")
