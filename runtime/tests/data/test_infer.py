"""Schema inference: its schema holds the file it read; data that fits no schema is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.core.schema import Schema, parse_schema
from prodml_runtime.core.validation import validate
from prodml_runtime.data.infer import InferenceError, infer_schema, missing_text
from prodml_runtime.project import Project


def inferred(frame: pd.DataFrame, target: str, **roles: object) -> Schema:
    return parse_schema(yaml.safe_load(infer_schema(frame, target, **roles).yaml()))  # type: ignore[arg-type]


def test_the_schema_inferred_from_the_sample_accepts_every_row_of_it(
    sample: pd.DataFrame, schema: Schema
) -> None:
    found = inferred(sample, schema.target)
    assert found.problem_type == schema.problem_type
    if schema.is_classification:
        assert set(found.classes) == set(schema.classes)
    assert validate(sample, found).empty, "no inferred bound or category rejects its own data"
    assert found.features, "some column stays a feature"


def test_every_column_gets_a_comment_saying_why(sample: pd.DataFrame, schema: Schema) -> None:
    text = infer_schema(sample, schema.target).yaml()
    entries = [line for line in text.splitlines() if line.startswith("  - name: ")]
    comments = [line for line in text.splitlines() if line.startswith("  # ")]
    assert len(entries) == len(sample.columns) == len(comments)


def test_real_file_shapes_are_read_as_a_user_means_them() -> None:
    rows = 60
    frame = pd.DataFrame({
        "order id": [f"O{i:03d}" for i in range(rows)],
        "note": [f"free text number {i}" for i in range(rows)],
        "amount": [None if i % 7 == 0 else float(i) for i in range(rows)],
        "code": [1 + i // 2 % 2 for i in range(rows)],  # 1 + i % 2 would copy the label
        "flag": ["true" if i % 3 else "false" for i in range(rows)],
        "when": [f"2024-01-{1 + i % 28:02d}" for i in range(rows)],
        "day first": [f"{1 + i % 28:02d}/0{1 + i % 9}/2023" for i in range(rows)],
        "stamped": [20230101 + i % 28 for i in range(rows)],
        "same": ["x"] * rows,
        "label": [None if i % 10 == 0 else ("spam", "ham")[i % 2] for i in range(rows)],
    })  # fmt: skip
    found = inferred(frame, "label")
    kinds = {c.name: (c.role, c.type) for c in found.columns}
    assert kinds == {
        "order id": ("id", "string"),
        "note": ("ignored", "string"),
        "amount": ("feature", "numeric"),
        "code": ("feature", "categorical"),
        "flag": ("feature", "boolean"),
        "when": ("feature", "datetime"),
        "day first": ("feature", "datetime"),
        "stamped": ("feature", "datetime"),
        "same": ("ignored", "string"),
        "label": ("target", "categorical"),
    }
    assert found.column("amount").nullable and found.column("amount").min == 0
    assert found.column("amount").max is None, "no hard max: a new row may exceed the largest seen"
    assert found.column("code").categories == ("1", "2")
    assert found.column("label").nullable, "unlabelled rows are allowed (left out of training)"
    formats = {name: found.column(name).format for name in ("when", "day first", "stamped")}
    assert formats == {"when": None, "day first": "%d/%m/%Y", "stamped": "%Y%m%d"}
    assert str(found.column("stamped").as_of) == "2023-01-28", "as_of: the latest date seen"


def test_dates_month_first_unless_a_day_says_otherwise_and_ambiguity_is_flagged() -> None:
    rows = 40
    frame = pd.DataFrame({
        "us": [f"0{1 + i % 9}/{1 + i % 28:02d}/2023" for i in range(rows)],
        "either": [f"0{1 + i % 9}/0{1 + i % 9}/2023" for i in range(rows)],
        "version": [f"1.{i % 3}.{i % 7}" for i in range(rows)],
        "label": ["a", "b"] * (rows // 2),
    })  # fmt: skip
    found = infer_schema(frame, "label")
    assert found.choices["us"].entry["format"] == "%m/%d/%Y"
    assert found.choices["either"].entry["format"] == "%m/%d/%Y"
    assert "is it %d/%m/%Y?" in found.choices["either"].reason
    assert "is it" not in found.choices["us"].reason
    assert found.choices["version"].entry["type"] != "datetime", "1.2.3 is no date"


def test_missing_value_texts_a_file_uses_become_na_values() -> None:
    frame = pd.DataFrame({"x": ["1", "NA", "3"], "y": ["a", "N/A", "none"], "z": [1, 2, 3]})
    assert missing_text(frame) == ["N/A", "NA"]


@pytest.mark.parametrize(
    ("target", "roles", "fragment"),
    [
        ("labl", {}, "no column 'labl' (did you mean 'label'?)"),
        ("label", {"problem_type": "regression"}, "needs a numeric target"),
        ("label", {"id_column": "x"}, "an id must be present and unique"),
        ("label", {"ignore": ["label"]}, "cannot also be the id or ignored"),
        ("one", {}, "one class only"),
        ("rare", {}, "class(es) 'b' (3) have fewer than 10 rows"),
    ],
)
def test_what_fits_no_schema_is_refused_naming_the_problem(
    target: str, roles: dict[str, object], fragment: str
) -> None:
    frame = pd.DataFrame({
        "x": [1.0, 2.0] * 20, "label": ["a", "b"] * 20, "one": ["k"] * 40,
        "rare": ["a"] * 37 + ["b"] * 3,
    })  # fmt: skip
    with pytest.raises(InferenceError, match=re.escape(fragment)):
        infer_schema(frame, target, **roles)  # type: ignore[arg-type]


def test_schema_infer_command_writes_the_file_or_exits_2(
    tmp_path: Path, sample: pd.DataFrame, schema: Schema, project: Project
) -> None:
    data = tmp_path / "data.csv"
    sample.to_csv(data, index=False)
    out, card = tmp_path / "schema.yaml", tmp_path / "data-card.md"
    args = ["schema", "infer", str(data), "--target", schema.target, "-o", str(out)]
    main = command_line(project)
    result = CliRunner().invoke(main, [*args, "--data-card", str(card)])
    assert result.exit_code == 0, result.output
    assert parse_schema(yaml.safe_load(out.read_text(encoding="utf-8"))).target == schema.target
    text = card.read_text(encoding="utf-8")
    assert f"# Data card: {data.name}" in text and f"{len(sample)} rows" in text
    assert all(f"| `{name}` |" in text for name in sample.columns), "a row per column"
    refused = CliRunner().invoke(main, ["schema", "infer", str(data), "--target", "no such column"])
    assert refused.exit_code == 2 and "no column 'no such column'" in refused.output
