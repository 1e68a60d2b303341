"""The schema file parses, and malformed schemas are refused with a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prodml_runtime.config import load_schema
from prodml_runtime.core.schema import Schema, SchemaError, parse_schema


def _raw(schema: Schema) -> dict[str, Any]:
    return schema.model_dump(mode="json")


def test_project_schema_declares_its_target_features_and_id_if_any(schema: Schema) -> None:
    assert schema.column(schema.target).role == "target"
    if schema.id is not None:
        assert schema.column(schema.id).role == "id"
    assert schema.features, "at least one feature"
    assert {c.type for c in schema.features} <= {"numeric", "categorical", "boolean", "datetime"}


def test_features_never_include_id_target_or_ignored_columns(schema: Schema) -> None:
    excluded = {c.name for c in schema.columns if c.role != "feature"}
    assert excluded.isdisjoint(schema.feature_names)
    assert schema.target in excluded


def test_features_of_type_partitions_the_features(schema: Schema) -> None:
    kinds = ("numeric", "categorical", "boolean", "datetime")
    by_type = [schema.features_of_type(t) for t in kinds]
    assert sorted(name for names in by_type for name in names) == sorted(schema.feature_names)


def test_classes_follow_problem_type(schema: Schema) -> None:
    if schema.problem_type == "regression":
        assert schema.column(schema.target).type == "numeric"
    else:
        assert len(schema.classes) == (2 if schema.problem_type == "binary_classification" else 3)


def _a_feature_as(raw: dict[str, Any], column_type: str) -> dict[str, Any]:
    """The raw schema's first feature, turned into a plain column of ``column_type``."""
    column: dict[str, Any] = next(c for c in raw["columns"] if c["role"] == "feature")
    column.update(type=column_type, min=None, max=None, categories=None)
    column.update(slice=False, sensitive=False)
    return column


def test_categorical_without_categories_is_refused(schema: Schema) -> None:
    raw = _raw(schema)
    _a_feature_as(raw, "categorical")
    with pytest.raises(SchemaError, match="categories"):
        parse_schema(raw)


def test_duplicate_column_is_refused(schema: Schema) -> None:
    raw = _raw(schema)
    raw["columns"].append(dict(raw["columns"][-1]))
    with pytest.raises(SchemaError, match="duplicate"):
        parse_schema(raw)


def test_target_must_match_its_role(schema: Schema) -> None:
    raw = _raw(schema)
    raw["target"] = schema.feature_names[0]
    with pytest.raises(SchemaError, match="target"):
        parse_schema(raw)


def test_unknown_key_is_refused(schema: Schema) -> None:
    raw = _raw(schema)
    raw["columns"][0]["typo"] = True
    with pytest.raises(SchemaError):
        parse_schema(raw)


def test_missing_schema_file_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not found"):
        load_schema(tmp_path / "nope.yaml")


@pytest.mark.parametrize("bound", [("min", float("nan")), ("max", float("inf"))])
def test_non_finite_numeric_bounds_are_refused(schema: Schema, bound: tuple[str, float]) -> None:
    """``min: .nan`` would let no value pass; ``max: .inf`` means no bound: leave it out."""
    raw = _raw(schema)
    _a_feature_as(raw, "numeric")[bound[0]] = bound[1]
    with pytest.raises(SchemaError, match=bound[0]):
        parse_schema(raw)


def test_schema_file_faults_are_one_line_refusals(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: [*c, *c, *c]\n"
    cases = {
        "bomb.yaml": (bomb.encode(), "aliases"),
        "latin1.yaml": ("target: caf\u00e9\n".encode("latin-1"), "not UTF-8"),
        "empty.yaml": (b"", "is empty"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(SchemaError, match=reason) as refused:
            load_schema(tmp_path / name)
        assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("format_keys", "reason"),
    [
        ({"separator": "ab"}, "must be one character"),
        ({"separator": "x"}, "must be one character"),
        ({"decimal": ","}, "both ','"),
        ({"decimal": ";"}, "decimal"),
        ({"encoding": "windows-1252x"}, "encoding 'windows-1252x' is not one Python knows"),
    ],
)
def test_a_separator_decimal_mark_or_encoding_that_cannot_be_is_refused(
    schema: Schema, format_keys: dict[str, str], reason: str
) -> None:
    with pytest.raises(SchemaError, match=reason):
        parse_schema({**_raw(schema), **format_keys})
    european = parse_schema(
        {**_raw(schema), "separator": ";", "decimal": ",", "encoding": "cp1252"}
    )
    assert (european.separator, european.decimal, european.encoding) == (";", ",", "cp1252")


def test_leak_and_aliases_only_where_they_mean_something(schema: Schema) -> None:
    raw = _raw(schema)
    _a_feature_as(raw, "numeric")["leak"] = True
    with pytest.raises(SchemaError, match="only ignored columns take leak"):
        parse_schema(raw)
    raw = _raw(schema)
    _a_feature_as(raw, "categorical").update(categories=["a"], aliases={"b": "a"})
    with pytest.raises(SchemaError, match="only a categorical target takes aliases"):
        parse_schema(raw)
    target = next(c for c in _raw(schema)["columns"] if c["role"] == "target")
    if not schema.is_classification:
        return
    declared = target["categories"]
    cases = [
        ({"aliases": {"x": "not declared"}}, "undeclared categories"),
        ({"aliases": {"x": None}, "nullable": False}, "needs nullable: true"),
        ({"aliases": {declared[0]: declared[1]}}, "are categories, not aliases"),
    ]
    for keys, reason in cases:
        raw = _raw(schema)
        raw["columns"] = [{**c, **keys} if c["role"] == "target" else c for c in raw["columns"]]
        with pytest.raises(SchemaError, match=reason):
            parse_schema(raw)
