"""The data contract (configs/schema.yaml): it parses, the rows it describes pass it, every
feature refuses what its type and bounds exclude, and the project's data file passes it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prodml_runtime.core.coerce import target_values
from prodml_runtime.core.schema import Schema
from prodml_runtime.core.validation import row_problems, validate
from prodml_runtime.io.tables import read_table

from {{ cookiecutter.package_name }}.project import PROJECT

from .cases import ROOT, refused_values


def test_the_schema_names_a_target_and_features(schema: Schema) -> None:
    assert schema.target not in schema.feature_names
    assert schema.features, "at least one feature"
    if schema.is_classification:
        assert len(schema.classes) >= 2


def test_rows_made_from_the_schema_pass_it(schema: Schema, sample: pd.DataFrame) -> None:
    assert validate(sample, schema).empty
    assert row_problems(sample, schema).empty


def test_each_feature_refuses_what_it_excludes(schema: Schema, sample: pd.DataFrame) -> None:
    for column, value, check in refused_values(schema):
        frame = sample.head(5).copy()
        frame[column.name] = frame[column.name].astype(object)
        frame.loc[frame.index[2], column.name] = value
        problems = row_problems(frame, schema)
        assert list(problems.index) == [frame.index[2]], (column.name, value)
        violations = validate(frame, schema)
        found = set(zip(violations["column"], violations["check"], strict=True))
        assert (column.name, check) in found, (column.name, value, found)


def test_the_project_data_file_passes_the_schema(schema: Schema) -> None:
    path = ROOT / PROJECT.data
    if not path.is_file():
        pytest.skip(f"{PROJECT.data} is not here (git-ignored; `make data` writes the sample)")
    frame = read_table(path, **schema.reading)
    labelled = frame[target_values(frame[schema.target], schema).notna()]
    assert validate(labelled, schema).empty, f"{path} breaks configs/schema.yaml"


def test_the_data_file_is_git_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/data/" in ignored and isinstance(PROJECT.data, Path)
