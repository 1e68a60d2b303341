"""What schema inference decides for one column (``Choice``), why it refuses a file
(``InferenceError``), and how it reads a column's values as ``core.coerce`` will."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core import coerce
from ..core.coerce import number_text
from ..core.errors import ProjectError
from ..io.tables import holds_text, infinite_cells, shorten

#: At most this many values (classes, columns) are named in a message; the rest are counted.
LISTED = 10


class InferenceError(ProjectError, ValueError):
    """The file cannot yield a usable schema: the message says why and what to pass instead."""


@dataclass(frozen=True)
class Choice:
    """One column's inferred entry and the reason, written as a comment above it; ``note``:
    what is worth printing as the schema is written (stripped whitespace, a leak)."""

    entry: dict[str, Any]
    reason: str
    note: str = ""

    def noted(self, note: str) -> Choice:
        """This choice with ``note`` added to its reason and to what is printed."""
        return Choice(
            self.entry, f"{self.reason}; {note}", "; ".join(filter(None, (self.note, note)))
        )


def infinite_as_missing(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` with its infinite numbers missing, and how many each column held."""
    infinite = infinite_cells(frame)
    finite = frame.copy() if infinite else frame
    for name, rows in infinite.items():
        finite[name] = frame[name].mask(rows)
    return finite, {str(name): int(rows.sum()) for name, rows in infinite.items()}


def rows_text(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def listed(counts: pd.Series, limit: int = LISTED) -> str:
    """``'a' (3), 'b' (2)``: the first ``limit`` values with their counts, then how many more."""
    shown = ", ".join(f"{shorten(name)} ({count})" for name, count in counts.head(limit).items())
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def numeric(values: pd.Series) -> pd.Series | None:
    """The present values as floats if every one is a number, else None (text is parsed as
    ``coerce.numbers`` parses it, after a look at its first values)."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(present):
        return None
    if pd.api.types.is_numeric_dtype(present):
        return present
    if coerce.numbers(present.head(100)).isna().any():
        return None  # most text columns are told at once
    parsed = coerce.numbers(present)
    return None if parsed.isna().any() else parsed


def is_integer(numbers: pd.Series) -> bool:
    """Whether every value is a whole number (an integer column, or floats without fractions)."""
    if pd.api.types.is_integer_dtype(numbers):
        return bool(len(numbers))
    values = numbers.to_numpy(dtype=float)
    if not len(values) or np.any(np.mod(values[:1000], 1) != 0):
        return False  # most float columns are told by their first values
    return bool(np.all(np.mod(values, 1) == 0))


def label_texts(values: pd.Series) -> pd.Series:
    """Each present value as category text, as ``coerce.categories`` reads it: a number in its
    canonical form, text without stray whitespace (computed once per distinct value)."""
    mapping = {value: number_text(value) or str(value).strip() for value in values.unique()}
    return values.map(mapping)


def stray_whitespace(values: pd.Series) -> tuple[int, str]:
    """How many present text values have stray whitespace around them, and one of them."""
    if not holds_text(values):
        return 0, ""
    texts = pd.Series(values.dropna().unique()).astype(str)
    stray = texts[texts != texts.str.strip()]
    if not len(stray):
        return 0, ""
    return int(values.isin(set(stray)).sum()), repr(stray.iloc[0])


def category_texts(values: pd.Series) -> list[str]:
    """The distinct present values as category texts (``label_texts``), in order."""
    return sorted_texts(number_text(v) or str(v).strip() for v in values.dropna().unique())


def sorted_texts(texts: Iterable[str]) -> list[str]:
    """Category texts in order: numbers by value first, then the rest alphabetically."""
    return sorted(
        set(texts),
        key=lambda t: (number_text(t) is None, float(t) if number_text(t) else 0, t),
    )
