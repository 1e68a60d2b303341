"""``python -m <package> schema ...``: the schema commands (``command_line`` adds them)."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import click

from ..core.schema import ProblemType


@click.group()
def schema() -> None:
    """The feature schema (configs/schema.yaml)."""


@schema.command("infer")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", required=True, help="The column to predict.")
@click.option(
    "--problem-type", type=click.Choice(get_args(ProblemType)), help="[default: inferred]"
)
@click.option("--id", "id_column", help="The id column [default: inferred from names].")
@click.option("--ignore", multiple=True, help="A column the model must not use (repeatable).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema here [default: print it].",
)  # fmt: skip
@click.option(
    "--data-card", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a data card (Markdown) of the file here, e.g. docs/data-card.md.",
)  # fmt: skip
def infer(
    path: Path,
    target: str,
    problem_type: ProblemType | None,
    id_column: str | None,
    ignore: tuple[str, ...],
    output: Path | None,
    data_card: Path | None,
) -> None:
    """Infer a schema from a CSV or Parquet file: a commented YAML; exit 2 if none fits."""
    from ..data.card import data_card as card_text
    from ..data.infer import InferenceError, infer_schema, missing_text
    from ..io.atomic import write_text
    from ..io.tables import read_table

    frame = read_table(path)
    na_values = missing_text(frame)
    frame = read_table(path, missing=na_values) if na_values else frame
    try:
        found = infer_schema(
            frame, target, problem_type=problem_type, id_column=id_column, ignore=ignore,
            na_values=na_values, source=path.name,
        )  # fmt: skip
    except InferenceError as error:
        raise click.UsageError(str(error)) from None
    if data_card is not None:
        from ..io.registry import sha256  # the hash training records of its data

        write_text(data_card, card_text(found, frame, sha256(path)))
        click.echo(f"wrote {data_card}", err=True)
    if output is None:
        click.echo(found.yaml(), nl=False)
    else:
        write_text(output, found.yaml())
        click.echo(f"wrote {output}", err=True)


@schema.command("example")
@click.option(
    "--data", "data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the first complete, valid row of this file [default: a synthetic row].",
)  # fmt: skip
@click.option(
    "--schema", "schema_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("configs/schema.yaml"), show_default=True,
)  # fmt: skip
def example(data: Path | None, schema_file: Path) -> None:
    """Print a POST /predict request body (JSON) for the schema's features."""
    import json

    from ..config import load_schema
    from ..data.sample import example_record
    from ..io.tables import read_table

    loaded = load_schema(schema_file)
    frame = None if data is None else read_table(data, missing=loaded.na_values)
    try:
        click.echo(json.dumps(example_record(loaded, frame), ensure_ascii=False))
    except ValueError as error:
        raise click.ClickException(f"{data}: {error}") from None
