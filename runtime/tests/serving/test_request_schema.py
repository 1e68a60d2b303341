"""The request model's JSON Schema says what the request model accepts, value by value, for a
schema with every kind of feature: bounded and unbounded numbers, booleans, text and
number-like categories, dates in a format, required and nullable. And the texts it accepts
are read as batch scoring reads them (``core.coerce``)."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from prodml_runtime.core.coerce import booleans, categories, numbers
from prodml_runtime.core.schema import Column, Schema
from prodml_runtime.serving.contract import request_model
from prodml_runtime.serving.texts import BOOLEAN_PATTERN, NUMERIC_TEXT, category_pattern
from pydantic import BaseModel, ValidationError

from tests.serving.values import schema_accepts, values_of

SCHEMA = Schema(
    problem_type="binary_classification",
    target="y",
    columns=(
        Column(name="bounded", type="numeric", min=-5, max=120.5),
        Column(name="unbounded", type="numeric", nullable=True),
        Column(name="flag", type="boolean"),
        Column(name="maybe", type="boolean", nullable=True),
        Column(name="plan", type="categorical", categories=("basic", "pro plan", "a.b|c")),
        Column(
            name="code", type="categorical", categories=("1", "2.50", "-3", "0", "x"), nullable=True
        ),
        Column(name="day", type="datetime", format="%d/%m/%Y", nullable=True),
        Column(name="y", role="target", type="categorical", categories=("no", "yes")),
    ),
)
VALID = {"bounded": 3, "flag": True, "plan": "basic"}
CHECKS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def model() -> type[BaseModel]:
    return request_model(SCHEMA, {**VALID, "unbounded": 1.5})


@pytest.fixture(scope="module")
def validator(model: type[BaseModel]) -> Draft202012Validator:
    document = model.model_json_schema()
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document)


def server_accepts(model: type[BaseModel], record: dict[str, Any]) -> bool:
    try:
        model.model_validate(record)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", [c.name for c in SCHEMA.features])
@CHECKS
@given(data=st.data())
def test_a_value_is_valid_by_the_schema_exactly_when_it_is_accepted(
    model: type[BaseModel], validator: Draft202012Validator, name: str, data: st.DataObject
) -> None:
    column = SCHEMA.column(name)
    value = data.draw(values_of(column), label=name)
    record = {**VALID, name: value}
    accepted = server_accepts(model, record)
    if column.type == "datetime":  # JSON Schema cannot say which texts are dates
        assert not accepted or validator.is_valid(record), value
    else:
        assert accepted == schema_accepts(validator, record, column), value


def test_what_the_schema_cannot_say_is_documented(validator: Draft202012Validator) -> None:
    properties = validator.schema["properties"]
    text = next(s for s in properties["bounded"]["anyOf"] if s.get("type") == "string")
    assert "at least -5 and at most 120.5" in text["description"]
    day = properties["day"]["anyOf"][0]
    assert "%d/%m/%Y" in day["description"]
    assert validator.is_valid({**VALID, "flag": -0.0})  # equal to 0, to JSON Schema


@pytest.mark.parametrize("name", ["bounded", "flag", "code"])
@CHECKS
@given(data=st.data())
def test_an_accepted_text_is_read_as_batch_scoring_reads_it(
    model: type[BaseModel], name: str, data: st.DataObject
) -> None:
    """What the API reads of a text is what ``core.coerce`` reads of it as a cell."""
    column = SCHEMA.column(name)
    value = data.draw(values_of(column).filter(lambda v: isinstance(v, str)), label=name)
    if not server_accepts(model, {**VALID, name: value}):
        return
    read = getattr(model.model_validate({**VALID, name: value}), name)
    cell = pd.Series([value], dtype=object)
    if column.type == "numeric":
        assert read == numbers(cell).iloc[0]
    elif column.type == "boolean":
        assert float(read) == booleans(cell).iloc[0]
    else:
        assert read == categories(cell, column.categories or ()).iloc[0]


@pytest.mark.parametrize(
    ("pattern", "matches", "refuses"),
    [
        (NUMERIC_TEXT, [" 1.5e3\n", "-.5", "+7.", "\x0c12"], ["1.5e", ".", "\xa012", "12\n\n\xa0"]),
        (BOOLEAN_PATTERN, ["TRUE", " false\u3000", "0.0"], ["true\n1", "yes", "-0", "1.00"]),
        (category_pattern(["1", "2.50", "x"]), ["01", "1.", "+1.000", " 2.5 ", "x"], ["1e0", "X"]),
    ],
)
def test_patterns_mean_the_same_in_python_and_ecma_262(
    pattern: str, matches: list[str], refuses: list[str]
) -> None:
    """Written for both dialects: no ``$`` (Python's matches before a final newline), no
    escape ECMA 262's unicode mode refuses."""
    assert "$" not in pattern and not re.search(r"\\[^\\^$.*+?()\[\]{}|/tnrvfxuSs]", pattern)
    assert all(re.search(pattern, text) for text in matches)
    assert not any(re.search(pattern, text) for text in refuses)
    assert not re.search(pattern, matches[0] + "\nz"), "the end is the end of the text"
