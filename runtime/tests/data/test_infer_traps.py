"""Schema inference on the traps real files set: labels with stray whitespace, R's and pandas'
row names, a column that is the target in disguise, features with no missing value yet.

Each case is a file of the shape that fell into the trap (synthetic, or a dataset bundled with
scikit-learn), read as ``schema infer`` reads it; then every reader of rows (validation, the
training target, the pipeline's coercion, the API's request model) must agree with the schema.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from prodml_runtime.cli import command_line
from prodml_runtime.config import load_schema
from prodml_runtime.core.coerce import booleans, categories, coerce_features
from prodml_runtime.core.schema import Schema, parse_schema
from prodml_runtime.core.validation import row_problems, validate
from prodml_runtime.data.infer import InferenceError, infer_schema
from prodml_runtime.data.leaks import LEAK_ROWS, Sample
from prodml_runtime.io.tables import columns, read_table
from prodml_runtime.project import Project
from prodml_runtime.serving.contract import request_model
from prodml_runtime.training.train import target_series
from sklearn import datasets


@pytest.fixture(scope="module")
def project() -> Project:
    """A project to run ``schema infer`` in (it reads no part of the project)."""
    return Project(name="data", data=Path("data.csv"), models={})


def infer(project: Project, path: Path, *args: str) -> tuple[Result, Schema]:
    """``schema infer`` run on ``path``: its result and the schema it wrote."""
    out = path.with_suffix(".yaml")
    command = ["schema", "infer", str(path), "-o", str(out), *args]
    result = CliRunner().invoke(command_line(project), command)
    assert result.exit_code == 0, result.output
    return result, load_schema(out)


def comment_of(path: Path, name: str) -> str:
    """The comment ``schema infer`` wrote above column ``name`` in the schema at ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[lines.index(f'  - name: "{name}"') - 1]


def bundled(name: str) -> pd.DataFrame:
    """A dataset bundled with scikit-learn, its target last (class names for classes)."""
    loaded = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = loaded.frame.rename(columns={"target": "outcome"})
    if name != "diabetes":
        frame["outcome"] = np.asarray(loaded.target_names)[loaded.target]
    return frame


def test_stray_whitespace_in_labels_and_categories_is_read_away_everywhere(
    tmp_path: Path, project: Project
) -> None:
    # Given a file where " yes " sits next to "yes", and "red " next to "red"
    rng = np.random.default_rng(0)
    rows = 300
    frame = pd.DataFrame({
        "colour": rng.choice(["red", "red ", " blue", "blue"], rows),
        "size": rng.normal(10, 2, rows).round(2),
        "bought": rng.choice(["yes", " yes ", "no", "no "], rows),
    })  # fmt: skip
    path = tmp_path / "shop.csv"
    frame.to_csv(path, index=False)
    # When its schema is inferred
    result, schema = infer(project, path, "--target", "bought")
    # Then there are two classes, not four, and the comments and stderr say why
    assert schema.problem_type == "binary_classification" and schema.classes == ["no", "yes"]
    assert schema.column("colour").categories == ("blue", "red")
    for name in ("bought", "colour"):
        assert "with stray whitespace" in comment_of(path.with_suffix(".yaml"), name)
        assert f"'{name}': " in result.stderr and "stray whitespace" in result.stderr
    # And every reader reads " yes " as "yes"
    read = read_table(path)
    assert validate(read, schema).empty
    assert set(target_series(read, schema)) == {"no", "yes"}, "training: two classes"
    assert row_problems(read, schema).empty, "batch scoring rejects no row"
    assert set(coerce_features(read, schema)["colour"]) == {"blue", "red"}
    record = request_model(schema).model_validate({"colour": " red ", "size": 1.0})
    assert record.colour == "red", "the API"  # type: ignore[attr-defined]
    assert list(categories(pd.Series([" no", "yes "]), ["no", "yes"])) == ["no", "yes"]
    assert list(booleans(pd.Series([" true", "false "]))) == [1.0, 0.0]


def _sorted_by_class() -> pd.DataFrame:
    """Breast cancer, sorted by class as many exports are: the row number then tells it."""
    frame = bundled("breast_cancer").iloc[:, [0, 1, 2, 20, 21, -1]]
    return frame.sort_values("outcome", kind="stable").reset_index(drop=True)


def _r_write_csv(frame: pd.DataFrame, path: Path) -> None:
    """As R's ``write.csv`` writes a data frame: an empty first name, row names "1".."n"."""
    named = frame.set_axis([str(i) for i in range(1, len(frame) + 1)])
    named.to_csv(path, index_label="", quoting=csv.QUOTE_NONNUMERIC)


WRITERS = {
    "R write.csv": _r_write_csv,
    "pandas to_csv": lambda frame, path: frame.to_csv(path),
    "Rdatasets rownames": lambda frame, path: frame.rename_axis("rownames").to_csv(
        path, index_label="rownames"
    ),
    "row labels": lambda frame, path: frame.set_axis(
        [f"case {i:04d}" for i in range(len(frame))]
    ).to_csv(path, index_label=""),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_row_names_are_the_id_never_a_feature(
    tmp_path: Path, project: Project, writer: str
) -> None:
    # Given a file sorted by class, written with its row names
    path = tmp_path / "cells.csv"
    WRITERS[writer](_sorted_by_class(), path)
    # When its schema is inferred
    _, schema = infer(project, path, "--target", "outcome")
    # Then the row names are the id, saying why, and the name scoring reads them by
    first = columns(path)[0]
    assert schema.id == first and first not in schema.feature_names
    assert "row names as R or pandas write them" in comment_of(path.with_suffix(".yaml"), first)
    assert validate(read_table(path), schema).empty


def test_row_names_are_ignored_when_the_file_has_an_id(tmp_path: Path, project: Project) -> None:
    path = tmp_path / "cells.csv"
    _sorted_by_class().assign(patient_id=lambda f: [f"P{i}" for i in range(len(f))]).to_csv(path)
    _, schema = infer(project, path, "--target", "outcome")
    assert schema.id == "patient_id"
    assert schema.column("Unnamed: 0").role == "ignored"
    assert "the id is 'patient_id'" in comment_of(path.with_suffix(".yaml"), "Unnamed: 0")


def _sleep(rows: int = 400) -> pd.DataFrame:
    """A sleep diary: hours awake is 24 minus the target, hours asleep."""
    rng = np.random.default_rng(1)
    coffee = rng.poisson(2, rows)
    asleep = (8.5 - 0.4 * coffee + rng.normal(0, 1, rows)).round(2)
    return pd.DataFrame({
        "age": rng.integers(18, 80, rows), "coffee": coffee,
        "screen_hours": rng.gamma(2, 1.5, rows).round(1), "hours_awake": (24 - asleep).round(2),
        "hours_asleep": asleep,
    })  # fmt: skip


def test_a_column_that_is_the_target_in_disguise_is_left_out_as_a_leak(
    tmp_path: Path, project: Project
) -> None:
    # Given hours awake next to the target, hours asleep
    path = tmp_path / "sleep.csv"
    _sleep().to_csv(path, index=False)
    # When its schema is inferred
    result, schema = infer(project, path, "--target", "hours_asleep")
    # Then it is left out of the model, flagged as a leak, saying how to keep it
    awake = schema.column("hours_awake")
    assert awake.role == "ignored" and awake.leak and awake.type == "numeric"
    assert schema.feature_names == ["age", "coffee", "screen_hours"]
    written = path.with_suffix(".yaml")
    assert "LEAK?" in comment_of(written, "hours_awake")
    assert "delete its two lines role and leak" in comment_of(written, "hours_awake")
    assert "'hours_awake': alone predicts 'hours_asleep' almost perfectly" in result.stderr
    # And keeping it is one edit: deleting those two lines
    text = written.read_text(encoding="utf-8")
    kept = text.replace('    role: "ignored"\n    leak: true\n', "")
    assert parse_schema(yaml.safe_load(kept)).column("hours_awake").role == "feature"


def test_a_class_written_in_another_column_is_a_leak_and_honest_columns_are_not() -> None:
    frame = bundled("breast_cancer")
    frame["code"] = frame["outcome"].map({"malignant": "M", "benign": "B"})
    found = infer_schema(frame, "outcome")
    assert found.choices["code"].entry["leak"] is True
    leaks = [name for name, choice in found.choices.items() if choice.entry.get("leak")]
    assert leaks == ["code"], "no real measurement is taken for a leak"


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "diabetes"])
def test_no_column_of_a_real_dataset_is_taken_for_a_leak(name: str) -> None:
    found = infer_schema(bundled(name), "outcome")
    assert not [n for n, choice in found.choices.items() if choice.entry.get("leak")]


def test_a_file_whose_every_feature_leaks_is_refused_saying_so() -> None:
    frame = _sleep()[["hours_awake", "hours_asleep"]]
    with pytest.raises(InferenceError, match="every feature alone predicts 'hours_asleep'"):
        infer_schema(frame, "hours_asleep")


def test_the_leak_check_scores_a_bounded_sample() -> None:
    target = pd.Series(np.arange(3 * LEAK_ROWS, dtype=float)).where(lambda s: s % 7 > 0)
    sample = Sample.of(target, classification=False)
    assert len(sample.rows) == LEAK_ROWS and sample.target.notna().all()


def test_every_feature_is_nullable_so_the_api_takes_null_for_it(tmp_path: Path) -> None:
    # Given a file without a missing value
    frame = (
        _sleep()
        .drop(columns="hours_awake")
        .assign(kind=lambda f: np.where(f["age"] % 2 == 0, "even", "odd"))
    )
    assert not frame.isna().any().any()
    # When its schema is inferred
    found = infer_schema(frame, "hours_asleep")
    schema = found.schema()
    # Then every feature is nullable (the pipeline imputes), the target is not, and the header
    # says how to refuse missing values
    assert all(column.nullable for column in schema.features)
    assert not schema.column("hours_asleep").nullable
    assert "write nullable: false on a column to refuse" in found.yaml()
    # And a null is accepted by the API and by batch scoring
    record = request_model(schema).model_validate(dict.fromkeys(schema.feature_names))
    assert record.model_dump() == dict.fromkeys(schema.feature_names)
    holed = frame.astype(object)
    holed.loc[0, schema.feature_names] = None
    assert row_problems(holed, schema).empty


def _with_infinite(path: Path) -> pd.DataFrame:
    """Diabetes as R writes a ratio with a zero divisor in it: ``Inf``, ``-Inf``, ``NA``."""
    frame = bundled("diabetes").assign(ratio=lambda f: f["bmi"] / f["s1"].round(2))
    lines = frame.to_csv(index=False, na_rep="NA").replace("inf", "Inf")
    path.write_text(lines, encoding="utf-8")
    return frame


def test_infinite_numbers_in_a_file_are_read_as_missing_by_every_reader(
    tmp_path: Path, project: Project
) -> None:
    # Given an export whose ratio column holds R's Inf and -Inf
    path = tmp_path / "ratios.csv"
    frame = _with_infinite(path)
    infinite = np.isinf(frame["ratio"])
    cells = set(path.read_text().replace("\n", ",").split(","))
    assert 0 < infinite.sum() < len(frame) and {"Inf", "-Inf"} <= cells
    # When its schema is inferred
    result, schema = infer(project, path, "--target", "outcome")
    # Then those texts are the file's missing values, saying so, and every file reader agrees
    assert {"Inf", "-Inf"} <= set(schema.na_values), schema.na_values
    assert "infinite numbers (-Inf, Inf) read as missing" in result.output
    read = read_table(path, missing=schema.na_values)
    assert read["ratio"].isna().sum() == infinite.sum()
    assert validate(read, schema).empty


def test_infinite_numbers_in_a_frame_do_not_stop_inference_and_are_reported() -> None:
    # Given a frame (as from Parquet) whose feature holds infinite numbers
    frame = bundled("diabetes").assign(ratio=lambda f: f["bmi"] / f["s1"].round(2))
    count = int(np.isinf(frame["ratio"]).sum())
    # When its schema is inferred, then the column is a feature and the comment says what
    # validation will make of those rows
    found = infer_schema(frame, "outcome")
    assert "ratio" in found.schema().feature_names
    assert f"{count} rows infinite, which validation refuses" in found.yaml()
