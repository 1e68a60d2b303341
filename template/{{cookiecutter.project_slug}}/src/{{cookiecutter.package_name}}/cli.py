"""Command line: thin commands over the package's functions (``python -m <package> --help``).

Every expected failure (missing file, invalid data, no model yet) ends with a one-line reason
and a non-zero exit code, never a traceback. Heavy libraries are imported inside commands.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import click

from .schema import SchemaError, load_schema

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
    from .data import read_csv

    if not path.is_file():
        raise click.ClickException(f"data file not found: {path} (run `make data` for the sample)")
    try:
        return read_csv(path)
    except ValueError as error:
        raise click.ClickException(f"could not read {path} as CSV: {error}") from None


def _violations_text(violations) -> str:
    return violations.to_string(index=False)


@click.group()
def main() -> None:
    """Train, validate, register and serve a tabular model defined by configs/schema.yaml."""


@main.command()
@schema_option
@click.option("--output", type=click.Path(path_type=Path), default=DEFAULT_DATA, show_default=True)
@click.option("--rows", type=click.IntRange(min=50), default=3000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def data(schema_file: Path | None, output: Path, rows: int, seed: int) -> None:
    """Write the deterministic synthetic sample dataset."""
    from .data import generate_sample

    frame = generate_sample(_schema(schema_file), rows=rows, seed=seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    click.echo(f"wrote {len(frame)} rows to {output}")


@main.command()
@schema_option
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_DATA)
@click.option("--no-target", is_flag=True, help="Do not require the target column (scoring data).")
def validate(schema_file: Path | None, path: Path, no_target: bool) -> None:
    """Check a CSV file against the schema; exit 1 listing the violations."""
    from .data import validate as validate_frame

    violations = validate_frame(_read(path), _schema(schema_file), require_target=not no_target)
    if len(violations):
        click.echo(_violations_text(violations))
        raise click.ClickException(f"{path}: {len(violations)} schema violation(s)")
    click.echo(f"{path}: valid")


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
@click.option(
    "--reports", type=click.Path(path_type=Path), default=Path("reports"), show_default=True
)
def train(
    schema_file: Path | None,
    model_dir: Path | None,
    data_path: Path,
    config_path: Path,
    reports: Path,
) -> None:
    """Validate data, train baseline and candidates, gate, register and promote the champion."""
    from . import registry
    from .config import ConfigError, load_config
    from .data import DataValidationError, check
    from .predict import PredictionError, predict_frame
    from .train import QualityGateError
    from .train import train as train_model

    schema = _schema(schema_file)
    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    frame = _read(data_path)
    try:
        check(frame, schema, f"training data {data_path}")
    except DataValidationError as error:
        click.echo(_violations_text(error.violations), err=True)
        raise click.ClickException(f"{error}; refusing to train on invalid data") from None
    try:
        result = train_model(frame, schema, config)
    except QualityGateError as error:
        raise click.ClickException(str(error)) from None
    root = registry.model_dir(model_dir)
    metrics = {
        "primary_metric": result.primary_metric,
        "validation": result.validation,
        "test": result.test,
    }
    version = registry.save(
        result.pipeline,
        root,
        schema=schema,
        metrics={"champion": result.champion, "improvement": result.improvement, **metrics},
        params={"family": result.champion, **result.params, "config": config.model_dump()},
    )
    # Canary: the stored artifact must load and score held-out rows before it is promoted.
    try:
        predict_frame(registry.load(root, version), result.test_split.features.head(20))
    except (registry.RegistryError, PredictionError) as error:
        raise click.ClickException(
            f"canary check failed, {version} not promoted: {error}"
        ) from None
    registry.promote(root, version)
    reports.mkdir(parents=True, exist_ok=True)
    report = {
        "model_version": version,
        "champion": result.champion,
        "params": result.params,
        **metrics,
    }
    (reports / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    name = result.primary_metric
    click.echo(
        f"champion {result.champion} ({version}): "
        f"test {name} {result.test[result.champion][name]:.4f} "
        f"vs baseline {result.test['baseline'][name]:.4f}; metrics in {reports / 'metrics.json'}"
    )


@main.command()
@model_dir_option
@click.option("--input", "input_path", type=click.Path(path_type=Path), required=True)
@click.option("--output", "output_path", type=click.Path(path_type=Path), required=True)
@click.option("--version", default=None, help="Model version [default: the champion].")
def predict(
    model_dir: Path | None, input_path: Path, output_path: Path, version: str | None
) -> None:
    """Score a CSV file with the champion model into another CSV file."""
    from . import registry
    from .data import DataValidationError
    from .predict import PredictionError, predict_csv

    if not input_path.is_file():
        raise click.ClickException(f"input file not found: {input_path}")
    try:
        model = registry.load(registry.model_dir(model_dir), version)
        rows = predict_csv(model, input_path, output_path)
    except registry.RegistryError as error:
        raise click.ClickException(str(error)) from None
    except DataValidationError as error:
        click.echo(_violations_text(error.violations), err=True)
        raise click.ClickException(str(error)) from None
    except PredictionError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {rows} predictions from model {model.version} to {output_path}")


@main.command()
@model_dir_option
@click.argument("version", required=False)
def promote(model_dir: Path | None, version: str | None) -> None:
    """List model versions, or make VERSION the champion (one-step rollback)."""
    from . import registry

    root = registry.model_dir(model_dir)
    try:
        if version:
            registry.promote(root, version)
        current = registry.champion(root) if (root / registry.CHAMPION_FILE).is_file() else None
    except registry.RegistryError as error:
        raise click.ClickException(str(error)) from None
    for name in registry.versions(root):
        click.echo(("* " if name == current else "  ") + name)


if importlib.util.find_spec(f"{__package__}.api") is not None:

    @main.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", type=int, default=8000, show_default=True)
    def serve(host: str, port: int) -> None:
        """Serve the champion model over HTTP (GET /health, POST /predict)."""
        from .registry import RegistryError

        try:
            from .api import serve as run_server

            run_server(host, port)
        except (RegistryError, SchemaError) as error:
            raise click.ClickException(str(error)) from None
