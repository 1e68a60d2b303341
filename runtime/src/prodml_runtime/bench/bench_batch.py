"""``bench batch``: batch scoring (``predict_file``, what ``predict`` runs) on 100k and 1M rows.

Run from the project root: ``python -m <package> bench batch [--sizes 100000,1000000]`` (part of
``make bench``). It scores the champion of ``$MODEL_DIR`` (or, when there is none, a model
trained on the default sample with configs/train.yaml into a temporary registry) on rows
generated from configs/schema.yaml (or ``$SCHEMA_PATH``), as CSV and Parquet, with and without
the prediction log. Each run is a fresh process (``python -m <package> bench batch --child
...``), so its peak resident memory is its own: memory should stay flat from 100k to 1M rows
(the file is streamed in chunks). Targets: >= 100k rows/s; the figures are printed, never
asserted.

Measured on the default binary model, 2 cores, otherwise idle; rows/s and peak MB at 100k / 1M
rows: CSV 141k / 213k without the log, 90k / 121k with it; Parquet 179k / 274k without,
96k / 134k with; peak 316-442 MB, flat in the input size (+6-12% for 10x the rows). At 100k
rows (two chunks) a run's fixed costs weigh more: the first chunk's scoring and the last chunk's
logging overlap nothing. With the log on, a worker thread builds each chunk's JSON (with Arrow)
and writes it to SQLite while the main thread scores the next chunk; CSV numbers are parsed by
Arrow.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from ..cli.common import project
from ..project import Project


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


def listed(convert: type = str, choices: tuple[str, ...] = ()) -> Any:
    """A callback reading an option given as a list (``1000,5000`` or ``"1000 5000"``), or
    given several times, into one tuple."""

    def read(_context: click.Context, parameter: click.Parameter, given: tuple[str, ...]) -> Any:
        items = [item for text in given for item in re.split(r"[,\s]+", text) if item]
        try:
            values = tuple(convert(item) for item in items)
        except ValueError:
            raise click.BadParameter(f"{', '.join(items)}: not all {convert.__name__}") from None
        wrong = [value for value in values if choices and value not in choices]
        if wrong or not values:
            raise click.BadParameter(f"give some of {', '.join(choices) or 'them'}")
        return values

    return read


def timed_run(models: Path, source: Path, work: Path, log: bool, chunk_rows: int) -> None:
    """One timed run in this (fresh) process; prints a JSON line with the figures."""
    from ..io import registry
    from ..io.prediction_log import PredictionLog
    from ..scoring.predict import predict_file

    model = registry.load(models, None, project().parts.trusted)
    prediction_log = PredictionLog(work / "predictions.db") if log else None
    output = work / f"predictions{source.suffix}"
    start = time.perf_counter()
    summary = predict_file(model, source, output, chunk_rows=chunk_rows, log=prediction_log)
    seconds = time.perf_counter() - start
    figures = {"rows": summary.rows, "seconds": seconds, "peak_mb": peak_memory_mb()}
    click.echo(json.dumps({**figures, "logged": summary.logged}))


def champion_dir(tmp: Path, current: Project) -> Path:
    """The registry to score with: $MODEL_DIR if it has a champion, else a fresh training run
    of the project on the default sample (in ``tmp``)."""
    from ..config import load_config, load_schema
    from ..data.sample import generate_sample
    from ..io import registry
    from ..io.run_store import RunStore
    from ..jobs import Outputs, train_job

    models = registry.model_dir()
    if registry.current_champion(models):
        return models
    click.echo(f"no champion in {models} - training one on the default sample first")
    schema = load_schema()
    data = tmp / "sample.csv"
    generate_sample(schema).to_csv(data, index=False)
    runs = RunStore.inside(current.tracking, current.name, tmp / "runs")
    outputs = Outputs(tmp / "models", tmp / "reports", tmp / "model-card.md", runs)
    train_job(data, schema, load_config(), outputs, current)
    return tmp / "models"


@click.command()
@click.option(
    "--sizes", multiple=True, default=("100000,1000000",), show_default=True,
    callback=listed(int), help="Input rows of each run: a list (1000,5000) or repeated.",
)  # fmt: skip
@click.option(
    "--formats", multiple=True, default=("csv,parquet",), show_default=True,
    callback=listed(str, ("csv", "parquet")), help="Input formats: csv, parquet or both.",
)  # fmt: skip
@click.option(
    "--chunk-size", type=click.IntRange(min=1), default=None,
    show_default="predict's chunk size", help="Rows read and scored at a time.",
)  # fmt: skip
@click.option(
    "--child", nargs=4, default=None, hidden=True, metavar="MODELS SOURCE WORK LOG",
    help="One timed run (what each run's process does).",
)  # fmt: skip
def batch(
    sizes: tuple[int, ...],
    formats: tuple[str, ...],
    chunk_size: int | None,
    child: tuple[str, str, str, str] | None,
) -> None:
    """Time batch scoring by input size, format and log setting."""
    from ..scoring.predict import DEFAULT_CHUNK_ROWS

    chunk_rows = chunk_size or DEFAULT_CHUNK_ROWS
    if child:
        models, source, work, log = child
        timed_run(Path(models), Path(source), Path(work), log == "log", chunk_rows)
        return
    run_all(project(), sizes, formats, chunk_rows)


def run_all(current: Project, sizes: tuple[int, ...], formats: tuple[str, ...], chunk: int) -> None:
    """Each size, format and log setting timed in its own process, one printed line each."""
    from ..config import load_schema
    from ..data.sample import generate_sample
    from ..io import registry

    schema = load_schema()
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        models = champion_dir(tmp, current)
        click.echo(
            f"batch scoring with {registry.champion(models)} ({schema.problem_type}), "
            f"chunks of {chunk} rows"
        )
        click.echo(
            f"{'rows':>9} {'format':<8} {'log':<4} {'seconds':>8} {'rows/s':>9} {'peak MB':>8}"
        )
        for size in sizes:
            frame = generate_sample(schema, rows=size, seed=1).drop(columns=schema.target)
            sources = {"csv": tmp / "input.csv", "parquet": tmp / "input.parquet"}
            frame.to_csv(sources["csv"], index=False, **schema.writing)
            frame.to_parquet(sources["parquet"], index=False, row_group_size=100_000)
            del frame
            for kind in formats:
                for log in ("no", "log"):
                    work = Path(tempfile.mkdtemp(dir=tmp))
                    command = [sys.executable, "-m", current.name, "bench", "batch"]
                    command += ["--chunk-size", str(chunk), "--child", str(models)]
                    command += [str(sources[kind]), str(work), log]
                    result = subprocess.run(command, capture_output=True, text=True)
                    if result.returncode:
                        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                        raise click.ClickException(f"the run on {size} {kind} rows failed: {last}")
                    figures = json.loads(result.stdout.strip().splitlines()[-1])
                    rate = figures["rows"] / figures["seconds"]
                    click.echo(
                        f"{figures['rows']:>9} {kind:<8} {log:<4} {figures['seconds']:>8.2f} "
                        f"{rate:>9.0f} {figures['peak_mb']:>8.0f}"
                    )
