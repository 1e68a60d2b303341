"""The commands every project has, over the runtime's jobs (``command_line`` groups them).

Options several commands share are declared once, in ``common``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .common import (
    ALERT_EXIT,
    SAMPLE_DATA,
    data_argument,
    data_option,
    fault,
    load_schema,
    model_card_option,
    model_dir_option,
    outputs,
    path_option,
    progress,
    project,
    reports_option,
    runs_store_option,
    schema_option,
    version_option,
)

if TYPE_CHECKING:
    from ..io.run_store import RunStore


@click.command()
@schema_option
@path_option("--output", default=SAMPLE_DATA, show_default=True)
@click.option("--rows", type=click.IntRange(min=50), default=3000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def data(schema_file: Path | None, output: Path, rows: int, seed: int) -> None:
    """Write the deterministic synthetic sample dataset (a CSV written as the schema says the
    data files are: its separator, decimal mark and encoding)."""
    from ..data.sample import generate_sample
    from ..io.atomic import file

    schema = load_schema(schema_file)
    frame = generate_sample(schema, rows=rows, seed=seed)
    with file(output) as staged:
        frame.to_csv(staged, index=False, **schema.writing)
    click.echo(f"wrote {len(frame)} rows to {output}")


@click.command()
@schema_option
@data_argument
@click.option("--no-target", is_flag=True, help="Do not require the target column (scoring data).")
def validate(schema_file: Path | None, path: Path, no_target: bool) -> None:
    """Check a CSV or Parquet file against the schema; exit 1 listing the violations."""
    from ..core.validation import DataValidationError, check, unexpected_columns
    from ..io.tables import read_table

    schema = load_schema(schema_file)
    frame = read_table(path, **schema.reading)
    extra = unexpected_columns(frame, schema)
    if extra:
        click.echo(f"note: columns not in the schema are never used: {', '.join(extra)}")
    try:
        check(frame, schema, str(path), require_target=not no_target)
    except DataValidationError as error:
        click.echo(error.details)
        raise click.ClickException(f"{path}: {len(error.violations)} schema violation(s)") from None
    click.echo(f"{path}: valid")


@click.command()
@schema_option
@data_option
@path_option("--output", default=Path("reports/eda"), show_default=True)
def eda(schema_file: Path | None, data_path: Path, output: Path) -> None:
    """Write an exploratory analysis (Markdown + PNG figures) of a data file."""
    from ..data.eda import write_report
    from ..io.tables import read_table

    schema = load_schema(schema_file)
    frame = read_table(data_path, **schema.reading)
    click.echo(f"wrote {write_report(frame, schema, output)}")


@click.command()
@schema_option
@model_dir_option
@data_option
@path_option("--config", "config_path", default=Path("configs/train.yaml"), show_default=True)
@reports_option
@model_card_option
@runs_store_option
def train(
    schema_file: Path | None,
    model_dir: Path | None,
    data_path: Path,
    config_path: Path,
    reports: Path,
    model_card: Path,
    runs_store: str | None,
) -> None:
    """Validate, tune and choose a champion, register it, canary, promote (gated), evaluate."""
    from ..config import load_config
    from ..jobs import train_job

    schema, config = load_schema(schema_file), load_config(config_path)
    written = outputs(model_dir, reports, model_card, runs_store)
    outcome = train_job(data_path, schema, config, written, project(), progress=progress)
    if outcome.promoted:
        result, name = outcome.result, outcome.result.primary_metric
        click.echo(
            f"champion {result.champion} ({outcome.version}, run {outcome.run_id}): "
            f"test {name} {result.test[result.champion][name]:.4f} "
            f"vs baseline {result.test['baseline'][name]:.4f}; "
            f"report in {reports / 'evaluation.md'}, model card in {model_card}"
        )
    _mirror(written.runs, written.models)
    if not outcome.promoted:
        raise click.ClickException(
            f"{outcome.message}; {outcome.version} stays registered as a challenger "
            f"(run {outcome.run_id})"
        )


@click.command()
@model_dir_option
@version_option
@data_option
@reports_option
@model_card_option
def evaluate(
    model_dir: Path | None, version: str | None, data_path: Path, reports: Path, model_card: Path
) -> None:
    """Evaluate a model on the test split of a dataset: reports/, figures, model card."""
    from ..jobs import evaluate_job

    written = outputs(model_dir, reports, model_card, None)
    report = evaluate_job(data_path, written, project(), version)
    name, champion, lift = report["primary_metric"], report["champion"], report["lift"]
    click.echo(
        f"model {report['model_version']} ({champion}): test {name} "
        f"{report['test'][champion][name]:.4f}, lift {lift['baseline'][name]:+.4f} over "
        f"baseline, {lift['linear'][name]:+.4f} over linear; "
        f"{reports / 'evaluation.md'}, {model_card}"
    )


def _runs_store(given: str | None = None) -> RunStore:
    """The project's runs store: ``given``, else the settings'."""
    from ..io.run_store import RunStore

    current = project()
    return RunStore.at(current.tracking, current.name, given)


@click.command()
@runs_store_option
@click.argument("run_id", required=False)
def runs(runs_store: str | None, run_id: str | None) -> None:
    """List training runs (oldest first), or print the full record of RUN_ID."""
    store = _runs_store(runs_store)
    if run_id:
        click.echo(json.dumps(store.run(run_id), indent=2))
        return
    entries = store.runs()
    if not entries:
        click.echo(f"no runs in {store.location} yet: run `make train`")
    for entry in entries:
        score = entry["test_score"]
        click.echo(
            f"{entry['run_id']}  {entry['status']:<13} {entry['model_version']}  "
            f"{entry['champion']} {entry['metric']} "
            f"{'n/a' if score is None else format(score, '.4f')}  "
            f"data {str(entry['data_sha256'])[:12]}  commit {str(entry['git_commit'])[:12]}"
        )


@click.command()
@model_dir_option
@path_option("--input", "input_path", required=True, help="Rows to score (.csv or .parquet).")
@path_option("--output", "output_path", required=True, help="Predictions (.csv or .parquet).")
@path_option(
    "--rejects", "rejects_path", default=None,
    help="Rows breaking the schema, with row and reason [default: <output stem>.rejects.csv].",
)  # fmt: skip
@click.option(
    "--chunk-size", type=click.IntRange(min=1), default=50_000, show_default=True,
    help="Rows read and scored at a time (bounds memory).",
)  # fmt: skip
@version_option
@click.option("--no-log", is_flag=True, help="Do not append to the prediction log.")
def predict(
    model_dir: Path | None,
    input_path: Path,
    output_path: Path,
    rejects_path: Path | None,
    chunk_size: int,
    version: str | None,
    no_log: bool,
) -> None:
    """Score a file with the champion (or --version): predictions, rejects, log; idempotent."""
    from ..io import registry
    from ..io.prediction_log import PredictionLog
    from ..scoring.predict import predict_file
    from ..settings import settings

    if not input_path.is_file():
        raise click.ClickException(f"input file not found: {input_path}")
    model = registry.load(registry.model_dir(model_dir), version, project().parts.trusted)
    log = None if no_log else PredictionLog(settings().prediction_log)
    summary = predict_file(
        model, input_path, output_path, rejects_path=rejects_path, chunk_rows=chunk_size, log=log
    )
    click.echo(
        f"scored {summary.scored} of {summary.rows} rows with model {summary.model_version} "
        f"into {summary.output}; {summary.rejected} rejected into {summary.rejects}"
    )
    if log is not None:
        click.echo(
            f"logged {summary.logged} new predictions to {log.path} "
            f"(request_id {summary.request_id})"
        )


@click.command()
@model_dir_option
@path_option(
    "--input", "input_path", default=None,
    help="Judge this batch file (.csv or .parquet) instead of the prediction log.",
)  # fmt: skip
@path_option(
    "--log", "log_path", default=None,
    help="The prediction log: the SQLite file, or a Parquet log folder [default: $PREDICTION_LOG].",
)  # fmt: skip
@click.option("--since", default=None, help="Logged predictions from this ISO time on.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), help="Last N days.")
@path_option("--labels", "labels_path", default=None, help="CSV of delayed ground truth.")
@path_option("--config", "config_path", default=Path("configs/monitor.yaml"), show_default=True)
@path_option("--output", default=Path("reports/monitoring"), show_default=True)
def monitor(
    model_dir: Path | None,
    input_path: Path | None,
    since: str | None,
    days: float | None,
    labels_path: Path | None,
    config_path: Path,
    output: Path,
    log_path: Path | None,
    engine: Any = None,
) -> None:
    """Check drift and quality against the champion's training reference; exit 3 on an alert.

    Reads the prediction log (--log) unless --input is given; --labels is a CSV with
    request_id, [item] and the target column. Writes report.md, report.json and plots to
    --output and prints one line per breached threshold. Exit status: 0 all clear, 3 a
    threshold breached, 1 an error (no data, bad file or config).
    """
    from ..config import load_monitor_config
    from ..core import clock
    from ..io import registry
    from ..jobs import monitor_job
    from ..monitoring.report import summary_lines
    from ..settings import settings

    if input_path is not None and log_path is not None:
        raise click.ClickException("--log and --input: judge one of them")
    if input_path is not None and (since or days is not None):
        raise click.ClickException("--since/--days select logged predictions; not with --input")
    if input_path is not None and not input_path.is_file():
        raise click.ClickException(f"input file not found: {input_path}")
    start, config = clock.window_start(since, days), load_monitor_config(config_path)
    report = monitor_job(
        registry.model_dir(model_dir), output, config, project(),
        log_path=log_path or settings().prediction_log, input_path=input_path, since=start,
        labels_path=labels_path, engine=engine,
    )  # fmt: skip
    for line in summary_lines(report, config.min_rows, output):
        click.echo(line)
    if report["breaches"]:
        raise SystemExit(ALERT_EXIT)


def _mirror(store: RunStore, root: Path) -> None:
    """Show the registry's change in MLflow's Model Registry when ``store`` is MLflow's."""
    try:
        store.mirror(root)
    except Exception as error:
        reason = fault(error)
        if reason is None:
            raise
        raise click.ClickException(
            f"the registry changed, MLflow's Model Registry did not ({reason}); "
            "the next train, promote or rollback that reaches MLflow mirrors it"
        ) from None


@click.command()
@model_dir_option
@click.argument("version", required=False)
@click.option("--force", is_flag=True, help="Skip the comparison with the champion.")
def promote(model_dir: Path | None, version: str | None, force: bool) -> None:
    """Make VERSION the champion if it passes the gate; without VERSION, list the versions."""
    from ..io import promotion, registry

    root = registry.model_dir(model_dir)
    if version:
        reason = promotion.promote(root, version, force=force)
        click.echo(f"champion is now {version}: {reason}")
        _mirror(_runs_store(), root)
        return
    current = registry.current_champion(root)
    for name in registry.versions(root):
        click.echo(("* " if name == current else "  ") + registry.describe(root, name))


@click.command()
@model_dir_option
def rollback(model_dir: Path | None) -> None:
    """Restore the champion that the last promotion replaced (recorded in history.jsonl)."""
    from ..io import promotion, registry

    root = registry.model_dir(model_dir)
    previous = registry.current_champion(root)
    restored = promotion.rollback(root)
    click.echo(f"rolled back: champion is now {restored} (was {previous})")
    _mirror(_runs_store(), root)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the champion model over HTTP (GET /health, POST /predict)."""
    from ..serving.server import serve as run_server

    run_server(project(), host, port)


#: The commands of every project (``serve`` joins them when the project serves).
COMMANDS = (data, validate, eda, train, evaluate, runs, predict, monitor, promote, rollback)
