"""Reading data files: a schema's ``na_values`` are missing wherever a file is read; a file that
cannot be used is refused saying why."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.core.schema import Schema
from prodml_runtime.io.tables import TableError, read_chunks, read_table, text_encoding
from prodml_runtime.project import Project


@pytest.fixture(params=["csv", "parquet"])
def marked_file(
    request: pytest.FixtureRequest, tmp_path: Path, sample: pd.DataFrame, schema: Schema
) -> tuple[Path, str]:
    """The sample with one feature's first cells written as ``N/A`` (text, as exports do)."""
    name = schema.feature_names[0]
    frame = sample.head(40).astype({name: object})
    frame.loc[:4, name] = "N/A"
    frame[name] = frame[name].astype(str)
    path = tmp_path / f"marked.{request.param}"
    if request.param == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path, name


def test_na_values_are_missing_in_whole_reads_and_in_chunks(marked_file: tuple[Path, str]) -> None:
    path, name = marked_file
    whole = read_table(path, missing=["N/A"])
    chunks = pd.concat(read_chunks(path, 7, [name], missing=["N/A"]))
    for values in (whole[name], chunks[name]):
        assert values.head(5).isna().all() and values.iloc[5:].notna().all()


def test_without_na_values_the_text_is_kept_as_written(marked_file: tuple[Path, str]) -> None:
    path, name = marked_file
    assert (read_table(path)[name].head(5) == "N/A").all()
    assert (pd.concat(read_chunks(path, 7, [name]))[name].head(5) == "N/A").all()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        ("name,x\ncaf\xe9,1\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at"),
    ],
)
def test_an_empty_or_non_utf8_file_is_refused_saying_how_to_fix_it(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(TableError, match=re.escape(reason)):
        read_table(path)
    with pytest.raises(TableError, match=re.escape(reason)):
        list(read_chunks(path, 10, ["name"]))


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_file_of_only_a_header_is_refused_in_one_line_naming_it(
    tmp_path: Path,
    sample: pd.DataFrame,
    project: Project,
    schema_path: Path,
    fast_config_path: Path,
    model_dir: Path,
    command: str,
) -> None:
    path = tmp_path / "header.csv"
    sample.head(0).to_csv(path, index=False)
    written = ["--reports", str(tmp_path / "reports"), "--model-card", str(tmp_path / "card.md")]
    arguments = {
        "train": ["--schema", str(schema_path), "--config", str(fast_config_path)],
        "evaluate": [],
    }[command]
    models = tmp_path / "models" if command == "train" else model_dir
    result = CliRunner().invoke(
        command_line(project),
        [command, "--data", str(path), "--model-dir", str(models), *written, *arguments],
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), "no traceback"
    what = "training" if command == "train" else "evaluation"
    (line,) = result.output.strip().splitlines()
    assert line == f"Error: {what} data {path} has no rows: the file holds only a header"
    assert not (tmp_path / "models").exists() and not (tmp_path / "reports").exists()


def test_training_on_a_file_without_a_labelled_row_is_refused_in_one_line(
    tmp_path: Path, sample: pd.DataFrame, schema: Schema, project: Project, fast_config_path: Path
) -> None:
    raw = schema.model_dump(mode="json")
    next(c for c in raw["columns"] if c["name"] == schema.target)["nullable"] = True
    schema_path = tmp_path / "schema.yaml"
    schema_path.write_text(yaml.safe_dump(raw))
    path = tmp_path / "unlabelled.csv"
    sample.head(5).assign(**{schema.target: None}).to_csv(path, index=False)
    result = CliRunner().invoke(
        command_line(project),
        ["train", "--schema", str(schema_path), "--data", str(path), "--config",
         str(fast_config_path), "--model-dir", str(tmp_path / "models")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), "no traceback"
    (line,) = result.output.strip().splitlines()
    assert line == (
        f"Error: training data {path} has no labelled rows: "
        f"none of its 5 rows has a {schema.target} value"
    )
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("a,b\nMünchen,1\n".encode(), "utf-8"),
        ("\ufeffa,b\nMünchen,1\n".encode(), "utf-8"),
        (b"a,b\nx,1\n", "utf-8"),
        ("a,b\nMünchen,1 €\n".encode("cp1252"), "cp1252"),
        ("a,b\nx\x81y,1\n".encode("latin-1"), "latin-1"),
        # UTF-8 with one broken byte stays UTF-8: its readers name the byte (a cp1252 reading
        # would turn every other non-ASCII character into two)
        ("a,b\nMünchen,1\n".encode() + b"caf\xe9,2\n", "utf-8"),
    ],
    ids=["utf-8", "utf-8 with BOM", "ascii", "cp1252", "latin-1", "broken utf-8"],
)
def test_a_files_text_encoding_is_told_from_its_bytes(
    tmp_path: Path, content: bytes, encoding: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert text_encoding(path) == encoding
