"""``python -m <package> schema ...``: the schema commands (``command_line`` adds them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from ..core.schema import ProblemType

if TYPE_CHECKING:
    from ..data.infer_target import RareClasses


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
    "--rare-classes", type=click.Choice(["drop", "merge"]),
    help="Classes with too few rows to train on: leave their rows out (drop), or make them one "
    "class, 'other' (merge) [default: refuse the file, naming them].",
)  # fmt: skip
@click.option("--separator", help="The CSV file's separator, e.g. ';' or tab [default: detected].")
@click.option(
    "--decimal", type=click.Choice([".", ","]),
    help="The CSV file's decimal mark [default: detected].",
)  # fmt: skip
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
    rare_classes: RareClasses | None,
    separator: str | None,
    decimal: str | None,
    output: Path | None,
    data_card: Path | None,
) -> None:
    """Infer a schema from a CSV or Parquet file: a commented YAML; exit 2 if none fits.

    What deserves a look is printed on stderr too: stray whitespace read away, columns left out
    as leaks, rare classes dropped or merged."""
    from ..core.schema import SchemaError
    from ..data.card import data_card as card_text
    from ..data.infer import InferenceError, infer_schema, missing_text
    from ..io.atomic import write_text
    from ..io.tables import file_format, infinite_text, read_table, sniff, text_encoding

    given = {"tab": "\t", "\\t": "\t"}.get(separator or "", separator)
    if given is not None and len(given) != 1:
        raise click.BadParameter(f"{given!r} is not one character", param_hint="--separator")
    text = file_format(path) == "csv" and path.is_file()
    encoding = text_encoding(path) if text else "utf-8"
    if encoding != "utf-8":
        click.echo(f"note: the file is not UTF-8 text: read as {encoding}", err=True)
    sniffed = sniff(path, given, encoding) if text else (given or ",", ".")
    read = {"separator": sniffed[0], "decimal": decimal or sniffed[1], "encoding": encoding}
    frame = read_table(path, **read)
    na_values = missing_text(frame)
    frame = read_table(path, missing=na_values, **read) if na_values else frame
    infinite = infinite_text(path, frame, separator=read["separator"], encoding=encoding)
    if infinite:  # R writes Inf: a model cannot take it, validation refuses it
        na_values = sorted({*na_values, *infinite})
        frame = read_table(path, missing=na_values, **read)
        click.echo(f"note: infinite numbers ({', '.join(infinite)}) read as missing", err=True)
    try:
        found = infer_schema(
            frame, target, problem_type=problem_type, id_column=id_column, ignore=ignore,
            na_values=na_values, source=path.name, rare_classes=rare_classes, **read,
        )  # fmt: skip
    except (InferenceError, SchemaError) as error:
        raise click.UsageError(str(error)) from None
    for note in found.notes:
        click.echo(f"note: {note}", err=True)
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
    frame = None if data is None else read_table(data, **loaded.reading)
    try:
        click.echo(json.dumps(example_record(loaded, frame), ensure_ascii=False))
    except ValueError as error:
        raise click.ClickException(f"{data}: {error}") from None
