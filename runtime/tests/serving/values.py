"""JSON values near what each feature type takes, for testing that the request model's JSON
Schema and the server agree: right and wrong types, texts a pattern may or may not match
(whitespace of every kind, signs, exponents, letter case), numbers on and off the bounds.

``schema_accepts(validator, record, column)`` is what the tests expect of the server, with the
two things JSON Schema cannot state: the bounds of the number a text spells (and that it is
finite), and that ``-0.0`` is not the boolean 0 (JSON Schema compares numbers by value). Which
texts are dates it cannot state either: for a date, the tests check one way only.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from prodml_runtime.core.coerce import number_text
from prodml_runtime.core.schema import Column

SPACE = st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u3000"])
AROUND = st.lists(SPACE, max_size=2).map("".join)
ANY_JSON = st.none() | st.booleans() | st.text(max_size=8) | st.lists(st.integers(), max_size=2)


@st.composite
def padded(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """A text with whitespace (of any kind, or none) around it."""
    return draw(AROUND) + draw(texts) + draw(AROUND)


numeric_texts = st.from_regex(
    r"\A[+-]{0,2}[0-9]{0,4}\.?[0-9]{0,3}(?:[eE][+-]?[0-9]{1,3})?\Z", fullmatch=True
) | st.sampled_from(["inf", "-Infinity", "nan", "1e400", "1_0", "0x10", "\uff11", "1,5", "."])


def numeric_values(column: Column) -> st.SearchStrategy[Any]:
    low = column.min if column.min is not None else -1e6
    high = column.max if column.max is not None else 1e6
    near = st.floats(low - 10, high + 10, allow_nan=False)
    return (
        near
        | st.integers(int(low) - 10, int(high) + 10)
        | st.floats(allow_nan=False, allow_infinity=False)
        | padded(numeric_texts)
        | near.map(repr)
        | ANY_JSON
    )


boolean_texts = st.sampled_from(
    ["true", "false", "1", "0", "1.0", "0.0", "yes", "no", "t", "f", "2", "-0", "01", "1.00"]
).flatmap(lambda text: st.sampled_from([text, text.upper(), text.title(), text.swapcase()]))


def boolean_values() -> st.SearchStrategy[Any]:
    numbers = st.sampled_from([0, 1, 0.0, 1.0, 2, -1, 0.5, 1e-300])
    return st.booleans() | numbers | padded(boolean_texts) | ANY_JSON


def spellings(number: str) -> st.SearchStrategy[str]:
    """Texts spelling the number ``number`` (or one near it) in decimals or otherwise."""
    whole, _, fraction = number.lstrip("-").partition(".")
    sign = st.sampled_from(["-" if number.startswith("-") else "", "+", "-"])
    zeros = st.sampled_from(["", "0", "00"])
    return st.builds(
        lambda s, z, point, z2, tail: f"{s}{z}{whole}{point}{fraction}{z2}{tail}",
        sign,
        zeros,
        st.sampled_from(["", "."] if not fraction else ["."]),
        zeros,
        st.sampled_from(["", "", "e0", "1", "_0"]),
    )


def category_values(column: Column) -> st.SearchStrategy[Any]:
    declared = list(column.categories or ())
    numbers = [text for text in map(number_text, declared) if text is not None]
    choices = (
        st.sampled_from(declared)
        | padded(st.sampled_from(declared))
        | st.sampled_from(declared).map(str.upper)
        | ANY_JSON
    )
    if numbers:
        choices |= st.sampled_from(numbers).map(float) | st.sampled_from(numbers).map(
            lambda text: int(float(text)) if float(text).is_integer() else float(text) + 1
        )
        choices |= padded(st.sampled_from(numbers).flatmap(spellings))
    return choices


def date_values(column: Column) -> st.SearchStrategy[Any]:
    written_in = column.format or "%Y-%m-%d"
    written = st.dates(dt.date(1900, 1, 1)).map(lambda day: day.strftime(written_in))
    return written | st.integers(1, 30_000_000) | ANY_JSON


def values_of(column: Column) -> st.SearchStrategy[Any]:
    """Values near what ``column`` takes (and ``None``)."""
    if column.type == "numeric":
        return numeric_values(column)
    if column.type == "boolean":
        return boolean_values()
    if column.type == "categorical":
        return category_values(column)
    return date_values(column)


def schema_accepts(validator: Draft202012Validator, record: dict[str, Any], column: Column) -> bool:
    """Whether the JSON Schema says the server accepts ``record`` (its ``column`` value tried).

    Numeric text valid by the schema is accepted when the number it spells is finite and valid
    too; ``-0.0`` is no boolean.
    """
    value = record[column.name]
    valid = validator.is_valid(record)
    if column.type == "numeric" and valid and isinstance(value, str):
        number = float(value.strip(" \t\n\r\x0b\x0c"))
        return math.isfinite(number) and validator.is_valid({**record, column.name: number})
    if column.type == "boolean" and value == 0 and math.copysign(1, value) < 0:
        return False  # the schema's 0 is -0.0 too; batch scoring refuses it, as the API does
    return valid
