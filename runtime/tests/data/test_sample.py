"""The sample generator is deterministic and valid; validation catches each kind of bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.core.schema import (
    Schema,
    parse_schema,
)
from prodml_runtime.core.validation import (
    DataValidationError,
    check,
    format_violations,
    row_problems,
    unexpected_columns,
    validate,
)
from prodml_runtime.data.sample import (
    example_record,
    file_example,
    generate_sample,
)
from prodml_runtime.io.tables import read_table
from prodml_runtime.project import Project

from tests.demo import BadCell, Bound


def _checks(violations: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(violations["column"], violations["check"], strict=True))


def test_generator_is_deterministic(schema: Schema) -> None:
    pd.testing.assert_frame_equal(
        generate_sample(schema, 300, seed=1), generate_sample(schema, 300, seed=1)
    )
    assert not generate_sample(schema, 300, seed=1).equals(generate_sample(schema, 300, seed=2))


def test_sample_is_valid_and_realistic(schema: Schema, sample: pd.DataFrame) -> None:
    assert list(sample.columns) == [c.name for c in schema.columns]
    assert validate(sample, schema).empty
    if schema.id:
        assert sample[schema.id].is_unique
    for column in schema.features:
        missing = sample[column.name].isna().any()
        assert missing == column.nullable, f"{column.name}: missing values iff nullable"


def test_classification_sample_is_imbalanced(schema: Schema, sample: pd.DataFrame) -> None:
    if not schema.is_classification:
        pytest.skip("regression target")
    shares = sample[schema.target].value_counts(normalize=True)
    assert set(shares.index) == set(schema.classes)
    assert shares.max() > 0.5 and shares.min() < 0.25


def test_sample_survives_a_csv_round_trip(schema: Schema, sample: pd.DataFrame, tmp_path) -> None:
    path = tmp_path / "sample.csv"
    sample.to_csv(path, index=False)
    assert validate(read_table(path), schema).empty


def test_out_of_range_value_is_caught(schema: Schema, sample: pd.DataFrame, bound: Bound) -> None:
    bad = sample.copy()
    bad.loc[bad.index[:2], bound.column.name] = bound.beyond
    violations = validate(bad, schema)
    assert (bound.column.name, bound.check) in _checks(violations)
    assert violations.set_index("check").loc[bound.check, "count"] == 2


def test_unknown_category_is_caught(schema: Schema, sample: pd.DataFrame, feature_of) -> None:
    name = feature_of("categorical").name
    bad = sample.copy()
    bad[name] = bad[name].astype(object)
    bad.loc[bad.index[0], name] = "not-a-category"
    violations = validate(bad, schema)
    assert (name, "category") in _checks(violations)
    assert "not-a-category" in violations["examples"].iloc[0]


def test_missing_required_column_is_caught(schema: Schema, sample: pd.DataFrame) -> None:
    name = schema.feature_names[0]
    assert (name, "present") in _checks(validate(sample.drop(columns=name), schema))


def test_nulls_in_non_nullable_column_are_caught(schema: Schema, sample: pd.DataFrame) -> None:
    name = next((c.name for c in schema.features if not c.nullable), None)
    if name is None:
        pytest.skip("every feature of the schema is nullable")
    bad = sample.copy()
    bad[name] = bad[name].astype(object)
    bad.loc[bad.index[:3], name] = None
    assert (name, "not_null") in _checks(validate(bad, schema))


@pytest.mark.parametrize("kind", ["numeric", "categorical", "boolean", "datetime"])
def test_a_value_of_the_wrong_type_is_caught(
    schema: Schema, sample: pd.DataFrame, invalid_cells: list[BadCell], kind: str
) -> None:
    cell = next((c for c in invalid_cells if schema.column(c.column).type == kind), None)
    if cell is None:
        pytest.skip(f"the schema has no {kind} feature")
    bad = sample.copy()
    cell.put(bad, bad.index[:1])
    assert (cell.column, cell.check) in _checks(validate(bad, schema))


def test_duplicate_ids_are_caught(schema: Schema, sample: pd.DataFrame) -> None:
    if not schema.id:
        pytest.skip("the schema declares no id column")
    bad = sample.copy()
    bad.loc[bad.index[1], schema.id] = bad.loc[bad.index[2], schema.id]
    assert (schema.id, "unique") in _checks(validate(bad, schema))


def test_infinite_number_is_caught(schema: Schema, sample: pd.DataFrame, feature_of) -> None:
    name = feature_of("numeric").name
    bad = sample.copy()
    bad.loc[bad.index[1], name] = float("inf")
    assert (name, "finite") in _checks(validate(bad, schema))


def test_every_declared_bound_is_enforced(schema: Schema, sample: pd.DataFrame) -> None:
    bounds = [
        (c.name, side, limit)
        for c in schema.features
        for side, limit in (("min", c.min), ("max", c.max))
        if limit is not None
    ]
    if not bounds:
        pytest.skip("the schema declares no min or max on a numeric feature")
    for name, side, limit in bounds:
        bad = sample.copy()
        bad.loc[bad.index[0], name] = limit - 1 if side == "min" else limit + 1
        assert (name, side) in _checks(validate(bad, schema)), (name, side)


def test_ignored_columns_may_be_absent_and_unknown_columns_are_only_reported(
    schema: Schema, sample: pd.DataFrame
) -> None:
    ignored = [c.name for c in schema.columns if c.role == "ignored"]
    frame = sample.drop(columns=ignored).assign(notes="free text")
    assert validate(frame, schema).empty
    assert unexpected_columns(frame, schema) == ["notes"]
    assert unexpected_columns(sample, schema) == []


def test_violation_table_is_readable(schema: Schema, sample: pd.DataFrame, bound: Bound) -> None:
    name = bound.column.name
    bad = sample.copy()
    bad.loc[bad.index[:2], name] = bound.beyond
    bad = bad.drop(columns=next(n for n in reversed(schema.feature_names) if n != name))
    lines = format_violations(validate(bad, schema)).splitlines()
    assert lines[0].split() == ["column", "check", "expected", "count", "examples"]
    expected = f"{'<=' if bound.check == 'max' else '>='} {bound.limit:g}"
    assert any(line.startswith(name) and expected in line for line in lines)
    assert any("column present" in line for line in lines)


def test_target_is_optional_for_scoring(schema: Schema, sample: pd.DataFrame) -> None:
    scoring = sample.drop(columns=schema.target)
    assert (schema.target, "present") in _checks(validate(scoring, schema))
    assert validate(scoring, schema, require_target=False).empty


def test_check_raises_with_the_violation_table(schema: Schema, sample: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError) as error:
        check(sample.drop(columns=schema.feature_names[0]), schema, "test data")
    assert len(error.value.violations) == 1


def test_a_new_schema_column_needs_no_code_change(schema: Schema) -> None:
    """Adding a feature is one schema entry: the generator and validation pick it up."""
    raw = schema.model_dump(mode="json")
    raw["columns"].append(
        {"name": "new_score", "type": "numeric", "min": 0, "max": 1, "nullable": True}
    )
    extended = parse_schema(raw)
    frame = generate_sample(extended, 200, seed=3)
    assert "new_score" in frame.columns and "new_score" in extended.feature_names
    assert validate(frame, extended).empty


def test_columns_of_any_declared_shape_are_sampled_valid(schema: Schema) -> None:
    """A numeric id, typed ignored columns, a bound on one side only: the sample still passes
    validation (its own schema is only one of the shapes a user may write)."""
    raw = schema.model_dump(mode="json")
    columns = [c for c in raw["columns"] if c["role"] != "id"]
    columns += [
        {"name": "row_number", "role": "id", "type": "numeric", "max": 10_000},
        {"name": "group", "role": "ignored", "type": "categorical", "categories": ["a", "b"]},
        {"name": "flag", "role": "ignored", "type": "boolean"},
        {"name": "below_zero", "type": "numeric", "max": -5},
        {"name": "unbounded", "type": "numeric"},
    ]
    shaped = parse_schema({**raw, "id": "row_number", "columns": columns})
    frame = generate_sample(shaped, 300, seed=3)
    assert validate(frame, shaped).empty
    assert frame["row_number"].is_unique and frame["row_number"].is_monotonic_increasing
    assert (frame["below_zero"] <= -5).all()


def test_the_example_request_is_a_valid_record_of_the_first_complete_row(
    schema: Schema, sample: pd.DataFrame, tmp_path: Path, schema_path: Path, project: Project
) -> None:
    record = example_record(schema, sample)
    assert list(record) == schema.feature_names
    assert row_problems(pd.DataFrame([record]), schema).empty, "a valid request, typed as JSON"
    first = sample[schema.feature_names].dropna().index[0]
    assert str(record[schema.feature_names[0]]) == str(sample.loc[first, schema.feature_names[0]])
    sample.to_csv(tmp_path / "data.csv", index=False)
    args = ["schema", "example", "--data", str(tmp_path / "data.csv"), "--schema", str(schema_path)]
    result = CliRunner().invoke(command_line(project), args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(json.dumps(record))
    assert file_example(schema, tmp_path / "data.csv") == example_record(schema, sample.head(1000))
    assert file_example(schema, tmp_path / "absent.csv") == example_record(schema), "synthetic"
