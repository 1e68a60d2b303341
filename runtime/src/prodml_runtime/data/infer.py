"""Schema inference: a first ``configs/schema.yaml`` from a data file, each choice explained.

``python -m <package> schema infer FILE --target COL`` (and ``prodml new --data``) call
``infer_schema``. Every column gets a type, a role and its nullability from the values in the
file, and a comment saying why; ``--id``, ``--ignore`` and ``--problem-type`` override a choice.
The result is validated as the project will read it before it is returned.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..config import TrainConfig
from ..core import coerce
from ..core.coerce import BOOLEAN_TEXT, number_text
from ..core.errors import ProjectError
from ..core.schema import ProblemType, parse_schema
from ..io.tables import holds_text

#: Cell texts that mean "missing" in common exports (R, pandas, SQL, spreadsheets); the ones a
#: file uses become the schema's ``na_values``.
MISSING_TEXT = ("NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "<NA>", "?")
#: A column missing in more than this share of rows is left out of the model.
MOSTLY_MISSING = 0.5
#: Text with more distinct values than this (or than half its rows) is free text, not a category.
MAX_CATEGORIES = 50
#: An integer target with at most this many values is a set of classes, not a quantity.
MAX_CLASSES = 10
#: Names of label values taken as the positive class of a binary target (it is listed last).
POSITIVE = {"1", "true", "yes", "y", "positive", "pos"}
#: Date formats tried, in order, on text that looks like dates (month first before day first,
#: as pandas reads them; a day above 12 somewhere tells them apart).
DATE_FORMATS = (
    "ISO8601",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d %b %Y",
    "%b %d %Y",
)
#: Years a date column's values must lie in (a column of other numbers is not taken for dates).
YEARS = (1800, 2200)
DATE_LIKE = r"\d{1,4}[-/. ]\w{1,3}[-/. ]\d{1,4}|^\w{3} \d{1,2} \d{4}"
ID_NAME = re.compile(r"(^|[_\s-])(id|key|uuid|guid)$|^id[_\s-]", re.IGNORECASE)


class InferenceError(ProjectError, ValueError):
    """The file cannot yield a usable schema: the message says why and what to pass instead."""


@dataclass(frozen=True)
class Choice:
    """One column's inferred entry and the reason, written as a comment above it."""

    entry: dict[str, Any]
    reason: str


def missing_text(frame: pd.DataFrame) -> list[str]:
    """The ``MISSING_TEXT`` values that are whole cells somewhere in ``frame``'s text columns."""
    found: set[str] = set()
    for name in frame.columns:
        values = frame[name]
        if holds_text(values):
            found.update(set(values.dropna().astype(str).unique()) & set(MISSING_TEXT))
    return sorted(found)


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def _numeric(values: pd.Series) -> pd.Series | None:
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


def _is_integer(numbers: pd.Series) -> bool:
    """Whether every value is a whole number (an integer column, or floats without fractions)."""
    if pd.api.types.is_integer_dtype(numbers):
        return bool(len(numbers))
    values = numbers.to_numpy(dtype=float)
    if not len(values) or np.any(np.mod(values[:1000], 1) != 0):
        return False  # most float columns are told by their first values
    return bool(np.all(np.mod(values, 1) == 0))


def _label_texts(values: pd.Series) -> pd.Series:
    """Each value as category text (a number in its canonical form), computed once per value."""
    mapping = {value: number_text(value) or str(value) for value in values.unique()}
    return values.map(mapping)


def _texts(values: pd.Series) -> list[str]:
    """Distinct present values as category text (numbers in their canonical form), sorted."""
    texts = {number_text(v) or str(v) for v in values.dropna().unique()}
    return sorted(
        texts, key=lambda t: (number_text(t) is None, float(t) if number_text(t) else 0, t)
    )


def _column(name: str, values: pd.Series, id_taken: bool) -> Choice:
    """A feature, id or ignored column, from its values alone."""
    rows, present = len(values), values.dropna()
    missing = rows - len(present)
    nullable = {"nullable": True} if missing else {}
    distinct = present.nunique()
    if not len(present):
        return Choice(
            {"role": "ignored", "type": "string", "nullable": True}, "every value missing"
        )
    if missing / rows > MOSTLY_MISSING:
        return Choice(
            {"role": "ignored", "type": "string", "nullable": True},
            f"mostly missing ({missing} of {_rows(rows)})",
        )
    if distinct == 1:
        return Choice(
            {"role": "ignored", "type": "string", **nullable}, "constant: one value in every row"
        )
    dates = _date_format(present)
    if dates is not None:
        return _datetime(dates, nullable)
    parsed = _numeric(present)
    integral = parsed is not None and _is_integer(parsed)
    unique = distinct == len(present) and not missing
    if unique and not id_taken and ID_NAME.search(name) and (parsed is None or integral):
        return Choice(
            {"role": "id", "type": "string"}, f"id: unique in {_rows(rows)}, id-like name"
        )
    texts = {str(v).lower() for v in present.unique()} if distinct <= len(BOOLEAN_TEXT) else set()
    if texts <= set(BOOLEAN_TEXT) and len({BOOLEAN_TEXT[t] for t in texts}) == 2:
        return Choice(
            {"type": "boolean", **nullable}, f"boolean: only {' and '.join(sorted(texts))}"
        )
    if parsed is not None:
        if integral and distinct == 2:
            categories = _texts(present)
            return Choice(
                {"type": "categorical", **nullable, "categories": categories},
                f"integer-coded categorical: two codes ({', '.join(categories)})",
            )
        low, high = float(parsed.min()), float(parsed.max())
        bound = {"min": 0} if low >= 0 else {}
        why = f"numeric: {distinct} values, {low:g} to {high:g}" + (
            "; never negative" if bound else ""
        )
        if integral and distinct <= MAX_CLASSES:
            why += " (integer codes? make it categorical)"
        return Choice({"type": "numeric", **nullable, **bound}, why)
    if unique or distinct > MAX_CATEGORIES or distinct > len(present) / 2:
        kind = "all-unique text" if unique else f"free text: {distinct} distinct values"
        return Choice({"role": "ignored", "type": "string", **nullable}, f"{kind} in {_rows(rows)}")
    categories = _texts(present)
    rare = int((present.astype(str).value_counts() < 5).sum())
    note = f"; {rare} seen in fewer than 5 rows" if rare else ""
    return Choice(
        {"type": "categorical", **nullable, "categories": categories},
        f"categorical: {distinct} distinct values in {_rows(rows)}{note}",
    )


def _read_dates(values: pd.Series, date_format: str) -> pd.Series | None:
    """``values`` as ``coerce.datetimes`` reads them in ``date_format``, or None unless every
    one is a date within ``YEARS``."""
    stamps = coerce.datetimes(values, None if date_format == "ISO8601" else date_format)
    return stamps if stamps.notna().all() and stamps.dt.year.between(*YEARS).all() else None


def _swapped(date_format: str) -> str:
    """A day-first format as month-first, or the other way round."""
    return date_format.replace("%m/%d", "%M").replace("%d/%m", "%m/%d").replace("%M", "%d/%m")


def _date_format(present: pd.Series) -> tuple[str, bool, pd.Series] | None:
    """The first of ``DATE_FORMATS`` every distinct value is a date in ("ISO8601" for ISO),
    whether the day and month could be swapped, and the distinct dates; or None. A number is a
    date only as ``%Y%m%d`` (``20170204``). The first values decide whether to look at all."""
    head = present.head(200)
    if pd.api.types.is_numeric_dtype(present):
        if not (_is_integer(head) and head.between(YEARS[0] * 10**4, YEARS[1] * 10**4).all()):
            return None
        values = pd.Series(present.unique()).map(number_text)
        candidates: tuple[str, ...] = ("%Y%m%d",)
    elif pd.api.types.is_bool_dtype(present) or not (
        head.astype(str).str.contains(DATE_LIKE, regex=True).all()
    ):
        return None
    else:
        values, candidates = pd.Series(present.unique()).astype(str), DATE_FORMATS
    for date_format in candidates:
        stamps = _read_dates(values, date_format)
        if stamps is not None:
            swapped = _swapped(date_format)
            ambiguous = swapped != date_format and _read_dates(values, swapped) is not None
            return date_format, ambiguous, stamps
    return None


def _datetime(found: tuple[str, bool, pd.Series], nullable: dict[str, bool]) -> Choice:
    date_format, ambiguous, stamps = found
    iso = date_format == "ISO8601"
    first, last = stamps.min().date(), stamps.max().date()
    why = (
        f"datetime: {'ISO 8601' if iso else date_format}, {first} to {last}; model inputs: "
        "year, month, day_of_week, age_days (days before as_of, the latest date)"
    )
    if ambiguous:
        why += f"; day and month are both <= 12 in every row: is it {_swapped(date_format)}?"
    entry = {"type": "datetime", **nullable, **({} if iso else {"format": date_format})}
    return Choice({**entry, "as_of": last.isoformat()}, why)


def _problem_type(values: pd.Series, given: ProblemType | None) -> tuple[ProblemType, str]:
    present = values.dropna()
    numbers = _numeric(present)
    classes = present.nunique()
    if given is not None:
        if given == "regression" and numbers is None:
            raise InferenceError(
                f"--problem-type regression needs a numeric target; {values.name!r} holds text"
            )
        return given, "given with --problem-type"
    if numbers is not None and not (_is_integer(numbers) and classes <= MAX_CLASSES):
        return "regression", f"numeric target with {classes} distinct values"
    if classes == 2:
        return "binary_classification", "the target has two classes"
    return "multiclass_classification", f"the target has {classes} classes"


def _target(values: pd.Series, problem_type: ProblemType) -> Choice:
    present = values.dropna()
    unlabelled = len(values) - len(present)
    nullable = {"nullable": True} if unlabelled else {}
    note = f"; {_rows(unlabelled)} unlabelled: left out of training" if unlabelled else ""
    if problem_type == "regression":
        return Choice({"role": "target", "type": "numeric", **nullable}, f"target{note}")
    texts = _label_texts(present)
    counts = texts.value_counts()
    if len(counts) < 2:
        raise InferenceError(f"target {values.name!r} has one class only: nothing to learn")
    protocol = TrainConfig()  # configs/train.yaml's defaults
    small = counts[counts < protocol.rows_per_class]
    if len(small):
        listed = ", ".join(f"{name!r} ({count})" for name, count in small.items())
        share = 1.0 - protocol.test_size - protocol.validation_size
        raise InferenceError(
            f"target {values.name!r}: class(es) {listed} have fewer than "
            f"{protocol.rows_per_class} rows, which training needs ({protocol.cv_folds}-fold "
            f"cross-validation on a {round(100 * share)}% training split, a row each for "
            "validation and test): add rows of them, or merge or drop them"
        )
    classes = _texts(texts)
    why = f"target: {len(classes)} classes"
    if problem_type == "binary_classification":
        if len(classes) != 2:
            raise InferenceError(
                f"--problem-type binary_classification needs two classes; {values.name!r} has "
                f"{len(classes)}"
            )
        positive = [c for c in classes if c.lower() in POSITIVE] or [str(counts.idxmin())]
        classes = [c for c in classes if c != positive[0]] + [positive[0]]
        why += f"; positive class {positive[0]!r} listed last (reorder to change it)"
    return Choice(
        {"role": "target", "type": "categorical", **nullable, "categories": classes}, why + note
    )


@dataclass(frozen=True)
class Inferred:
    """What inference found: a choice per column (in file order) and the problem type."""

    source: str
    rows: int
    target: str
    problem_type: ProblemType
    problem_why: str
    na_values: tuple[str, ...]
    choices: dict[str, Choice]

    def yaml(self) -> str:
        """The schema as YAML, a comment above each column; JSON scalars (valid YAML) keep any
        column name or category exact."""
        ids = [name for name, c in self.choices.items() if c.entry.get("role") == "id"]
        lines = [
            f"# Inferred from {self.source} ({_rows(self.rows)}); the comment above each column "
            "says why.",
            "# Review it: types, roles and bounds are this project's contract for every row it",
            '# trains on, scores and serves (keys: see the README\'s "Your own data"). Numeric',
            "# columns get no max: a new row may exceed the largest value seen. A category not",
            "# listed is refused (a reject in batch, 422 in the API): list it to accept it.",
            f"problem_type: {self.problem_type}  # {self.problem_why}",
            f"target: {json.dumps(self.target)}",
        ]
        if ids:
            lines.append(f"id: {json.dumps(ids[0])}")
        if self.na_values:
            lines.append(
                f"na_values: {json.dumps(list(self.na_values))}  # how the file writes missing"
            )
        lines.append("columns:")
        for name, choice in self.choices.items():
            lines.append(f"  # {choice.reason}")
            lines.append(f"  - name: {json.dumps(name)}")
            lines.extend(f"    {key}: {json.dumps(value)}" for key, value in choice.entry.items())
        return "\n".join(lines) + "\n"


def infer_schema(
    frame: pd.DataFrame,
    target: str,
    *,
    problem_type: ProblemType | None = None,
    id_column: str | None = None,
    ignore: Sequence[str] = (),
    na_values: Sequence[str] = (),
    source: str = "the data",
) -> Inferred:
    """A schema for ``frame`` (checked as the project will read it); InferenceError if none fits."""
    named = [target, *([id_column] if id_column else []), *ignore]
    for name in named:
        if name not in frame.columns:
            close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InferenceError(f"{source} has no column {name!r}{hint}")
    if id_column == target or target in ignore:
        raise InferenceError(f"{target!r} is the target: it cannot also be the id or ignored")
    if frame[target].notna().sum() < 20:
        raise InferenceError(f"target {target!r} has fewer than 20 labelled rows: too few to train")
    kind, kind_why = _problem_type(frame[target], problem_type)
    choices: dict[str, Choice] = {}
    for name in frame.columns:
        values = frame[name]
        if name == target:
            choices[name] = _target(values, kind)
        elif name == id_column:
            if values.isna().any() or values.nunique() != len(values):
                raise InferenceError(
                    f"--id {name!r}: an id must be present and unique in every row"
                )
            choices[name] = Choice({"role": "id", "type": "string"}, "id: given with --id")
        elif name in ignore:
            nullable = {"nullable": True} if values.isna().any() else {}
            choices[name] = Choice(
                {"role": "ignored", "type": "string", **nullable}, "given with --ignore"
            )
        else:
            taken = id_column is not None or any(
                c.entry.get("role") == "id" for c in choices.values()
            )
            choices[name] = _column(str(name), values, taken)
    if not any(c.entry.get("role", "feature") == "feature" for c in choices.values()):
        raise InferenceError(
            f"{source}: no column can be a feature (each is the target, an id, or ignored)"
        )
    found = Inferred(source, len(frame), target, kind, kind_why, tuple(na_values), choices)
    parse_schema(yaml.safe_load(found.yaml()), "inferred schema")  # what the project will read
    return found
