"""Reading data files: a schema's ``na_values`` are missing wherever a file is read."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.schema import Schema
from {{ cookiecutter.package_name }}.io.tables import TableError, read_chunks, read_table


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
