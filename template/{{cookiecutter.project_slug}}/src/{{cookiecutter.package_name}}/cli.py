"""Command line: thin commands over the package's functions (``python -m <package> --help``).

Every expected failure (missing file, invalid data, no model yet) ends with a one-line reason
and a non-zero exit code, never a traceback; so do faults of the machine (a full disk, an
unwritable folder, a locked database) and a missing optional dependency. Heavy libraries are
imported inside commands.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import click

from .config import load_schema
from .core.gate import PromotionRefused
from .core.schema import SchemaError
from .io import promotion, run_store

DEFAULT_DATA = Path("data/raw/sample.csv")

schema_option = click.option(
    "--schema",
    "schema_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Feature schema YAML [default: $SCHEMA_PATH or configs/schema.yaml].",
)
model_dir_option = click.option(
    "--model-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Model registry directory [default: $MODEL_DIR or models].",
)


def _schema(path: Path | None):
    try:
        return load_schema(path)
    except SchemaError as error:
        raise click.ClickException(str(error)) from None


def _read(path: Path):
    from .io.tables import TableError, read_table

    try:
        return read_table(path)
    except TableError as error:
        raise click.ClickException(str(error)) from None


def _violations_text(violations) -> str:
    from .core.validation import format_violations

    return format_violations(violations)


#: Optional dependencies (the ``train`` extra), and the commands that need them.
EXTRAS = {"matplotlib": "train", "mlflow": "train"}


def _fault(error: BaseException) -> str | None:
    """A one-line message for a fault of the environment, or None for anything else (a bug)."""
    if isinstance(error, ModuleNotFoundError) and error.name in EXTRAS:
        extra = EXTRAS[error.name]
        return (
            f"this command needs {error.name}, from the project's {extra!r} extra: "
            f"pip install -e '.[{extra}]' (or `uv sync --extra {extra}`)"
        )
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    if isinstance(error, sqlite3.Error):
        return f"database error: {error}"
    return None


class Commands(click.Group):
    """Click's group, turning environment faults into one-line errors (exit status 1)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (OSError, sqlite3.Error, ModuleNotFoundError) as error:
            message = _fault(error)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=Commands)
def main() -> None:
    """Train, validate, register and serve a tabular model defined by configs/schema.yaml."""


@main.command()
@schema_option
@click.option("--output", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True)
@click.option("--rows", type=click.IntRange(min=50), default=3000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def data(schema_file: Path | None, output: Path, rows: int, seed: int) -> None:
    """Write the deterministic synthetic sample dataset."""
    from .data.sample import generate_sample
    from .io.atomic import file

    frame = generate_sample(_schema(schema_file), rows=rows, seed=seed)
    with file(output) as staged:
        frame.to_csv(staged, index=False)
    click.echo(f"wrote {len(frame)} rows to {output}")


@main.command()
@schema_option
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_DATA)
@click.option("--no-target", is_flag=True, help="Do not require the target column (scoring data).")
def validate(schema_file: Path | None, path: Path, no_target: bool) -> None:
    """Check a CSV file against the schema; exit 1 listing the violations."""
    from .core.validation import unexpected_columns
    from .core.validation import validate as validate_frame

    frame, schema = _read(path), _schema(schema_file)
    extra = unexpected_columns(frame, schema)
    if extra:
        click.echo(f"note: columns not in the schema are never used: {', '.join(extra)}")
    violations = validate_frame(frame, schema, require_target=not no_target)
    if len(violations):
        click.echo(_violations_text(violations))
        raise click.ClickException(f"{path}: {len(violations)} schema violation(s)")
    click.echo(f"{path}: valid")


@main.command()
@schema_option
@click.option(
    "--data", "data_path", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True
)
@click.option(
    "--output", type=click.Path(path_type=Path), default=Path("reports/eda"), show_default=True
)
def eda(schema_file: Path | None, data_path: Path, output: Path) -> None:
    """Write an exploratory analysis (Markdown + PNG figures) of a CSV file."""
    from .data.eda import write_report

    report = write_report(_read(data_path), _schema(schema_file), output)
    click.echo(f"wrote {report}")


reports_option = click.option(
    "--reports", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
)
model_card_option = click.option(
    "--model-card",
    type=click.Path(path_type=Path),
    default=Path("docs/model-card.md"),
    show_default=True,
    help="Model card to regenerate from the evaluation.",
)
runs_store_option = click.option("--runs-store", default=None, help=run_store.LOCATION_HELP)


def _outputs(model_dir: Path | None, reports: Path, model_card: Path, runs_store: str | None):
    from .io.registry import model_dir as registry_dir
    from .jobs import Outputs

    return Outputs(registry_dir(model_dir), reports, model_card, run_store.location(runs_store))


def _progress(line: str) -> None:
    click.echo(line, err=True)


@main.command()
@schema_option
@model_dir_option
@click.option(
    "--data", "data_path", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("configs/train.yaml"),
    show_default=True,
)
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
    from .config import ConfigError, load_config
    from .core.validation import DataValidationError
    from .io.tables import TableError
    from .jobs import CanaryError, train_job
    from .training.train import TrainingError

    schema = _schema(schema_file)
    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    outputs = _outputs(model_dir, reports, model_card, runs_store)
    try:
        outcome = train_job(data_path, schema, config, outputs, progress=_progress)
    except DataValidationError as error:
        click.echo(_violations_text(error.violations), err=True)
        raise click.ClickException(f"{error}; refusing to train on invalid data") from None
    except (ConfigError, CanaryError, TableError, TrainingError) as error:
        raise click.ClickException(str(error)) from None
    if not outcome.promoted:
        raise click.ClickException(
            f"{outcome.message}; {outcome.version} stays registered as a challenger "
            f"(run {outcome.run_id})"
        )
    result, name = outcome.result, outcome.result.primary_metric
    click.echo(
        f"champion {result.champion} ({outcome.version}, run {outcome.run_id}): "
        f"test {name} {result.test[result.champion][name]:.4f} "
        f"vs baseline {result.test['baseline'][name]:.4f}; "
        f"report in {reports / 'evaluation.md'}, model card in {model_card}"
    )


@main.command()
@model_dir_option
@click.option("--version", default=None, help="Model version [default: the champion].")
@click.option(
    "--data", "data_path", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True
)
@reports_option
@model_card_option
def evaluate(
    model_dir: Path | None,
    version: str | None,
    data_path: Path,
    reports: Path,
    model_card: Path,
) -> None:
    """Evaluate a model on the test split of a dataset: reports/, figures, model card."""
    from .core.validation import DataValidationError
    from .io import registry
    from .io.tables import TableError
    from .jobs import evaluate_job

    outputs = _outputs(model_dir, reports, model_card, None)
    try:
        report = evaluate_job(data_path, outputs, version)
    except (registry.RegistryError, TableError) as error:
        raise click.ClickException(str(error)) from None
    except DataValidationError as error:
        click.echo(_violations_text(error.violations), err=True)
        raise click.ClickException(str(error)) from None
    name, champion = report["primary_metric"], report["champion"]
    lift = report["lift"]
    click.echo(
        f"model {report['model_version']} ({champion}): test {name} "
        f"{report['test'][champion][name]:.4f}, lift {lift['baseline'][name]:+.4f} over "
        f"baseline, {lift['linear'][name]:+.4f} over linear; "
        f"{reports / 'evaluation.md'}, {model_card}"
    )


@main.command()
@runs_store_option
@click.argument("run_id", required=False)
def runs(runs_store: str | None, run_id: str | None) -> None:
    """List training runs (oldest first), or print the full record of RUN_ID."""
    store = run_store.location(runs_store)
    if run_id:
        try:
            click.echo(json.dumps(run_store.read_run(store, run_id), indent=2))
        except run_store.RunNotFoundError as error:
            raise click.ClickException(str(error)) from None
        return
    entries = run_store.list_runs(store)
    if not entries:
        click.echo(f"no runs in {store} yet: run `make train`")
    for entry in entries:
        score = entry["test_score"]
        click.echo(
            f"{entry['run_id']}  {entry['status']:<13} {entry['model_version']}  "
            f"{entry['champion']} {entry['metric']} "
            f"{'n/a' if score is None else format(score, '.4f')}  "
            f"data {str(entry['data_sha256'])[:12]}  commit {str(entry['git_commit'])[:12]}"
        )


@main.command()
@model_dir_option
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Rows to score (.csv or .parquet).",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Predictions (.csv or .parquet), written atomically.",
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Rows breaking the schema, with row and reason [default: <output stem>.rejects.csv].",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Rows read and scored at a time (bounds memory).",
)
@click.option("--version", default=None, help="Model version [default: the champion].")
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
    """Score a file with the champion (or --version): predictions, rejects, prediction log.

    Idempotent: the same file and model give the same output bytes and no new log rows.
    """
    from .core.model import PredictionError
    from .io import registry
    from .io.prediction_log import BatchRunBusy, PredictionLog
    from .io.tables import TableError
    from .scoring.predict import predict_file
    from .settings import settings

    if not input_path.is_file():
        raise click.ClickException(f"input file not found: {input_path}")
    try:
        model = registry.load(registry.model_dir(model_dir), version)
        log = None if no_log else PredictionLog(settings().prediction_log)
        summary = predict_file(
            model,
            input_path,
            output_path,
            rejects_path=rejects_path,
            chunk_rows=chunk_size,
            log=log,
        )
    except (registry.RegistryError, TableError, PredictionError, BatchRunBusy) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"scored {summary.scored} of {summary.rows} rows with model {summary.model_version} "
        f"into {summary.output}; {summary.rejected} rejected into {summary.rejects}"
    )
    if log is not None:
        click.echo(
            f"logged {summary.logged} new predictions to {log.path} "
            f"(request_id {summary.request_id})"
        )


#: Exit status of ``monitor`` when a threshold is breached (1 is an error, 0 all clear).
ALERT_EXIT = 3


def _since(since: str | None, days: float | None) -> str | None:
    """The start of the monitoring window as an ISO time, from --since or --days."""

    from .core import clock

    if since and days is not None:
        raise click.ClickException("give --since or --days, not both")
    if days is not None:
        return clock.iso(clock.now() - days * 86400, digits=6)
    if since and not since[:4].isdigit():
        raise click.ClickException(f"--since must be an ISO time such as 2026-01-31, not {since}")
    return since


@main.command()
@model_dir_option
@click.option(
    "--input",
    "input_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Judge this batch file (.csv or .parquet) instead of the prediction log.",
)
@click.option("--since", default=None, help="Logged predictions from this ISO time on.")
@click.option(
    "--days", type=click.FloatRange(min=0, min_open=True), default=None, help="Last N days."
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV of delayed ground truth: request_id, [item], target column.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("configs/monitor.yaml"),
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=Path("reports/monitoring"),
    show_default=True,
)
def monitor(
    model_dir: Path | None,
    input_path: Path | None,
    since: str | None,
    days: float | None,
    labels_path: Path | None,
    config_path: Path,
    output: Path,
) -> None:
    """Check drift and quality against the champion's training reference; exit 3 on an alert.

    Reads the prediction log ($PREDICTION_LOG) unless --input is given. Writes report.md,
    report.json and plots to --output and prints one line per breached threshold.
    Exit status: 0 all clear, 3 a threshold breached, 1 an error (no data, bad file or config).
    """
    from .config import ConfigError, load_monitor_config
    from .io import registry
    from .io.tables import TableError
    from .jobs import monitor_job
    from .monitoring.checks import NOT_ENOUGH
    from .monitoring.current import MonitorError
    from .settings import settings

    if input_path is not None and (since or days is not None):
        raise click.ClickException("--since/--days select logged predictions; not with --input")
    if input_path is not None and not input_path.is_file():
        raise click.ClickException(f"input file not found: {input_path}")
    start = _since(since, days)
    try:
        config = load_monitor_config(config_path)
        report = monitor_job(
            registry.model_dir(model_dir),
            output,
            config,
            log_path=settings().prediction_log,
            input_path=input_path,
            since=start,
            labels_path=labels_path,
        )
    except (registry.RegistryError, MonitorError, TableError, ConfigError) as error:
        raise click.ClickException(str(error)) from None
    for line in report["breaches"]:
        click.echo(line)
    unjudged = sorted({c["check"] for c in report["checks"] if c["status"] == NOT_ENOUGH})
    if unjudged:
        click.echo(
            f"note: not enough data to judge {', '.join(unjudged)} "
            f"(min_rows {config.min_rows}, {report['rows']} rows)"
        )
    quality = report["quality"]
    if quality is not None:
        click.echo(
            f"labels: {quality['matched']} of {quality['labels']} matched logged predictions "
            f"({quality['matched_champion']} from model {report['model_version']})"
        )
    alerts = len(report["breaches"])
    click.echo(
        f"monitoring {report['status']}: {alerts} alert(s) in {len(report['checks'])} checks "
        f"on {report['rows']} rows, model {report['model_version']}; "
        f"report in {output / 'report.md'}"
    )
    if alerts:
        raise SystemExit(ALERT_EXIT)


@main.command()
@model_dir_option
@click.argument("version", required=False)
@click.option(
    "--force", is_flag=True, help="Skip the comparison with the champion (not the baseline)."
)
def promote(model_dir: Path | None, version: str | None, force: bool) -> None:
    """Make VERSION the champion if it passes the gate; without VERSION, list the versions."""
    from .io import registry

    root = registry.model_dir(model_dir)
    if version:
        try:
            reason = promotion.promote(root, version, force=force)
        except (registry.RegistryError, PromotionRefused) as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"champion is now {version}: {reason}")
        return
    current = registry.current_champion(root)
    for name in registry.versions(root):
        click.echo(("* " if name == current else "  ") + _version_summary(root, name))


def _version_summary(root: Path, version: str) -> str:
    """One line per version: name, creation time and primary test metric."""
    from .io import registry

    document = registry.read_metadata(root, version)
    metrics = document.get("metrics", {})
    try:
        metric = metrics["primary_metric"]
        score = f"test {metric} {metrics['test'][metrics['champion']][metric]:.4f}"
    except (KeyError, TypeError):
        score = "no test metrics"
    return f"{version}  {document.get('created_at', '?')}  {score}"


@main.command()
@model_dir_option
def rollback(model_dir: Path | None) -> None:
    """Restore the champion that the last promotion replaced (recorded in history.jsonl)."""
    from .io import registry

    root = registry.model_dir(model_dir)
    try:
        previous = registry.current_champion(root)
        restored = promotion.rollback(root)
    except registry.RegistryError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"rolled back: champion is now {restored} (was {previous})")


if importlib.util.find_spec(f"{__package__}.serving") is not None:

    @main.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", type=int, default=8000, show_default=True)
    def serve(host: str, port: int) -> None:
        """Serve the champion model over HTTP (GET /health, POST /predict)."""
        from .io.registry import RegistryError

        try:
            from .serving.app import serve as run_server

            run_server(host, port)
        except (RegistryError, SchemaError) as error:
            raise click.ClickException(str(error)) from None
