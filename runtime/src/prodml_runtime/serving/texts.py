"""The JSON values the API reads as each feature type, as JSON Schema states them.

The request model (``contract.request_model``) accepts what batch scoring reads of a JSON value
(``core.coerce``), and publishes it in its JSON Schema (OpenAPI), so a client generated from
the schema agrees with the server:

- numeric: a number, or numeric text (``NUMERIC_TEXT``: optional sign, digits, decimal point,
  exponent, ASCII whitespace around), both within the declared bounds. JSON Schema cannot
  bound the number a text spells: the bounds are in the text's description;
- boolean: true/false, 0/1, or text in ``coerce.BOOLEAN_TEXT`` in any letter case, with
  whitespace around (``boolean_schema``);
- categorical: a declared category as text (whitespace around is ignored) and, for a category
  that is a number, that number or text spelling it in decimals (``1``, ``1.0``, ``"01"``,
  ``"1.00"`` for a declared ``"1"``; ``category_schema``);
- datetime: text or a number; JSON Schema cannot say which texts are dates, the description
  names the format.

A text is read only when it matches its pattern (``read_text``); spellings of a number that
Python's ``float`` reads besides decimals (``"1e0"``, ``"1_0"``) are refused as categories.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ..core.coerce import BOOLEAN_TEXT, number_text
from ..core.schema import Column

#: Whitespace ``str.strip`` removes (around boolean and category texts), as a regex class.
STRIPPED = r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*"
#: Whitespace around numeric text (pandas' and Arrow's parsers skip ASCII whitespace only).
SPACE = r"[\t-\r ]*"
#: The end of the text in every regex dialect: ``$`` matches before a final newline too in
#: Python's ``re`` (which ``jsonschema`` uses), not in ECMA 262's (which JSON Schema names).
END = r"(?![\s\S])"
NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
NUMERIC_TEXT = f"^{SPACE}{NUMBER}{SPACE}{END}"
_SYNTAX = set("\\^$.*+?()[]{}|/")


def literal(text: str) -> str:
    """``text`` as a regex matching itself in both dialects (ECMA 262's unicode mode refuses
    escapes of characters that need none, which ``re.escape`` adds)."""
    return "".join(f"\\{char}" if char in _SYNTAX else char for char in text)


def any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else literal(c) for c in text)


BOOLEAN_PATTERN = f"^{STRIPPED}(?:{'|'.join(map(any_case, BOOLEAN_TEXT))}){STRIPPED}{END}"


def decimals(number: str) -> str:
    """A regex of the decimal spellings of ``number`` (canonical text, ``number_text``'s):
    leading zeros, a ``+``, trailing zeros after a decimal point; no exponent."""
    value = Decimal(number)
    integer, _, fraction = f"{value.copy_abs():f}".partition(".")
    integer, fraction = integer.lstrip("0"), fraction.rstrip("0")
    signs = "[+-]?" if value == 0 else ("-" if value < 0 else r"\+?")
    if not integer and not fraction:
        body = r"(?:0+\.?0*|\.0+)"
    elif not fraction:
        body = rf"0*{integer}(?:\.0*)?"
    else:
        body = rf"0*{integer}\.{fraction}0*"
    return signs + body


def category_numbers(declared: Sequence[str]) -> list[int | float]:
    """The numbers that number-like categories stand for (``coerce.category_lookup``)."""
    found: list[int | float] = []
    for category in declared:
        text = number_text(category)
        if text is not None:
            value = float(text)
            number = int(value) if value.is_integer() else value
            if number not in found:
                found.append(number)
    return found


def category_pattern(declared: Sequence[str]) -> str:
    """Texts standing for a declared category: itself, or a decimal spelling of its number."""
    numbers = sorted({text for text in map(number_text, declared) if text is not None})
    choices = [literal(c) for c in declared] + [decimals(text) for text in numbers]
    return f"^{STRIPPED}(?:{'|'.join(choices)}){STRIPPED}{END}"


def read_text(pattern: re.Pattern[str], value: Any) -> bool:
    """Whether ``value`` is text the API reads (it matches ``pattern``)."""
    return isinstance(value, str) and pattern.search(value) is not None


def numeric_schema(column: Column) -> dict[str, Any]:
    bounds = {
        key: value
        for key, value in (("minimum", column.min), ("maximum", column.max))
        if value is not None
    }
    words = {
        "minimum": f"at least {column.min:g}" if column.min is not None else "",
        "maximum": f"at most {column.max:g}" if column.max is not None else "",
    }
    within = " and ".join(words[key] for key in bounds)
    text = "a number as text, read as that number" + (f" ({within})" if within else "")
    return {
        "anyOf": [
            {"type": "number", **bounds},
            {"type": "string", "pattern": NUMERIC_TEXT, "description": text},
        ]
    }


def boolean_schema() -> dict[str, Any]:
    text = "true or false in any letter case, " + ", ".join(
        key for key in BOOLEAN_TEXT if not key.isalpha()
    )
    return {
        "anyOf": [
            {"type": "boolean"},
            {"enum": [0, 1]},
            {"type": "string", "pattern": BOOLEAN_PATTERN, "description": text},
        ]
    }


def category_schema(declared: Sequence[str]) -> dict[str, Any]:
    choices: list[dict[str, Any]] = [{"type": "string", "enum": list(declared)}]
    numbers = category_numbers(declared)
    if numbers:
        choices.append({"enum": numbers, "description": "a category that is a number, as one"})
    choices.append(
        {
            "type": "string",
            "pattern": category_pattern(declared),
            "description": "a category's text with whitespace around, or a category that is a "
            "number spelled in decimals",
        }
    )
    return {"anyOf": choices}


def date_schema(column: Column) -> dict[str, Any]:
    written = f"in {column.format} or ISO 8601" if column.format else "in ISO 8601"
    return {
        "anyOf": [
            {"type": "string", "description": f"a date {written}"},
            {"type": "number", "description": "a number spelling such a date (20170204)"},
        ]
    }
