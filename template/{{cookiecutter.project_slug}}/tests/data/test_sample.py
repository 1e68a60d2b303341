"""The sample generator is deterministic and valid; validation catches each kind of bad data."""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.schema import (
    Schema,
    parse_schema,
)
from {{ cookiecutter.package_name }}.core.validation import (
    DataValidationError,
    check,
    format_violations,
    unexpected_columns,
    validate,
)
from {{ cookiecutter.package_name }}.data.sample import generate_sample
from {{ cookiecutter.package_name }}.io.tables import read_table


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


def test_out_of_range_value_is_caught(schema: Schema, sample: pd.DataFrame) -> None:
    column = schema.column(schema.features_of_type("numeric")[0])
    bad = sample.copy()
    bad.loc[bad.index[:2], column.name] = column.max + 1
    violations = validate(bad, schema)
    assert (column.name, "max") in _checks(violations)
    assert violations.set_index("check").loc["max", "count"] == 2


def test_unknown_category_is_caught(schema: Schema, sample: pd.DataFrame) -> None:
    name = schema.features_of_type("categorical")[0]
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
    name = next(c.name for c in schema.features if not c.nullable)
    bad = sample.copy()
    bad[name] = bad[name].astype(object)
    bad.loc[bad.index[:3], name] = None
    assert (name, "not_null") in _checks(validate(bad, schema))


def test_non_numeric_text_and_duplicate_ids_are_caught(
    schema: Schema, sample: pd.DataFrame
) -> None:
    name = schema.features_of_type("numeric")[0]
    bad = sample.copy()
    bad[name] = bad[name].astype(object)
    bad.loc[bad.index[0], name] = "twelve"
    bad.loc[bad.index[1], schema.id] = bad.loc[bad.index[2], schema.id]
    assert {(name, "numeric_type"), (schema.id, "unique")} <= _checks(validate(bad, schema))


def test_below_minimum_infinite_and_non_boolean_values_are_caught(
    schema: Schema, sample: pd.DataFrame
) -> None:
    numeric = schema.column(next(c for c in schema.feature_names if schema.column(c).min == 0))
    boolean = schema.features_of_type("boolean")[0]
    bad = sample.copy()
    bad[boolean] = bad[boolean].astype(object)
    bad.loc[bad.index[0], numeric.name] = -1
    bad.loc[bad.index[1], numeric.name] = float("inf")
    bad.loc[bad.index[2], boolean] = "maybe"
    expected = {(numeric.name, "min"), (numeric.name, "finite"), (boolean, "boolean")}
    assert expected <= _checks(validate(bad, schema))


def test_ignored_columns_may_be_absent_and_unknown_columns_are_only_reported(
    schema: Schema, sample: pd.DataFrame
) -> None:
    ignored = [c.name for c in schema.columns if c.role == "ignored"]
    frame = sample.drop(columns=ignored).assign(notes="free text")
    assert validate(frame, schema).empty
    assert unexpected_columns(frame, schema) == ["notes"]
    assert unexpected_columns(sample, schema) == []


def test_violation_table_is_readable(schema: Schema, sample: pd.DataFrame) -> None:
    column = schema.column(schema.features_of_type("numeric")[0])
    bad = sample.copy()
    bad.loc[bad.index[:2], column.name] = column.max + 1
    bad = bad.drop(columns=schema.feature_names[-1])
    lines = format_violations(validate(bad, schema)).splitlines()
    assert lines[0].split() == ["column", "check", "expected", "count", "examples"]
    assert any(line.startswith(column.name) and f"<= {column.max:g}" in line for line in lines)
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
