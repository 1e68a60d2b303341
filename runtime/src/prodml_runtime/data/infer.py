"""Schema inference: a first ``configs/schema.yaml`` from a data file, each choice explained.

``python -m <package> schema infer FILE --target COL`` (and ``prodml new --data``) call
``infer_schema``. Every column gets a type and a role from the values in the file, and a comment
saying why; ``--id``, ``--ignore`` and ``--problem-type`` override a choice. Row names (as R and
pandas write them) become the id; a column that alone predicts the target almost perfectly is
left out as a leak (``data.leaks``); the file's separator, decimal mark and encoding are
recorded. The result is validated as the project will read it before it is returned.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml

from ..core import coerce
from ..core.coerce import BOOLEAN_TEXT
from ..core.schema import ProblemType, Schema, parse_schema
from ..io.tables import column_list, holds_text, separator_hint, shorten
from .choice import (
    Choice,
    InferenceError,
    category_texts,
    infinite_as_missing,
    is_integer,
    label_texts,
    numeric,
    rows_text,
    stray_whitespace,
)
from .infer_dates import date_format, datetime_choice
from .infer_target import MAX_CLASSES, RareClasses, target_choice
from .leaks import LEAK_SCORE, Sample, single_feature_score

__all__ = ["Choice", "InferenceError", "Inferred", "infer_schema", "missing_text"]

#: Cell texts that mean "missing" in common exports (R, pandas, SQL, spreadsheets); the ones a
#: file uses become the schema's ``na_values``.
MISSING_TEXT = ("NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "<NA>", "?")
#: A column missing in more than this share of rows is left out of the model.
MOSTLY_MISSING = 0.5
#: Text with more distinct values than this (or than half its rows) is free text, not a category.
MAX_CATEGORIES = 50
ID_NAME = re.compile(r"(^|[_\s-])(id|key|uuid|guid)$|^id[_\s-]", re.IGNORECASE)
#: Names R, readr and pandas give a column of row names (``write.csv``, ``to_csv`` with its
#: index): empty, ``Unnamed: 0``, ``rownames``, ``...1``, ``index``.
ROW_NAMES = re.compile(r"^(|unnamed: ?\d+|row[._ ]?names|\.\.\.1|index|level_0)$", re.IGNORECASE)
#: Every feature is nullable: what the schema's header says of it.
NULLABLE = (
    "# Every feature is nullable: the pipeline imputes a missing value and monitoring watches",
    "# the missing rate; write nullable: false on a column to refuse rows missing it.",
)


def missing_text(frame: pd.DataFrame) -> list[str]:
    """The ``MISSING_TEXT`` values that are whole cells somewhere in ``frame``'s text columns."""
    found: set[str] = set()
    for name in frame.columns:
        values = frame[name]
        if holds_text(values):
            found.update(set(values.dropna().astype(str).unique()) & set(MISSING_TEXT))
    return sorted(found)


def _ignored(reason: str) -> Choice:
    return Choice({"role": "ignored", "type": "string", "nullable": True}, reason)


def _column(name: str, values: pd.Series, id_taken: bool) -> Choice:
    """A feature, id or ignored column, from its values alone (text read without stray
    whitespace, as ``core.coerce`` reads categories)."""
    rows, present = len(values), values.dropna()
    missing = rows - len(present)
    texts = label_texts(present) if holds_text(present) else present
    distinct = texts.nunique()
    if not len(present):
        return _ignored("every value missing")
    if missing / rows > MOSTLY_MISSING:
        return _ignored(f"mostly missing ({missing} of {rows_text(rows)})")
    if distinct == 1:
        return _ignored("constant: one value in every row")
    dates = date_format(present)
    if dates is not None:
        return datetime_choice(dates)
    parsed = numeric(present)
    integral = parsed is not None and is_integer(parsed)
    unique = distinct == len(present) and not missing
    if unique and not id_taken and ID_NAME.search(name) and (parsed is None or integral):
        return Choice(
            {"role": "id", "type": "string"}, f"id: unique in {rows_text(rows)}, id-like name"
        )
    stray, example = stray_whitespace(present)
    note = f"{rows_text(stray)} with stray whitespace (e.g. {example}) read without it"
    note = note if stray else ""
    stripped = f"; {note}" if note else ""
    lowered = {str(v).lower() for v in texts.unique()} if distinct <= len(BOOLEAN_TEXT) else set()
    if lowered <= set(BOOLEAN_TEXT) and len({BOOLEAN_TEXT[t] for t in lowered}) == 2:
        return Choice(
            {"type": "boolean", "nullable": True},
            f"boolean: only {' and '.join(sorted(lowered))}{stripped}",
            note,
        )
    if parsed is not None:
        if integral and distinct == 2:
            categories = category_texts(texts)
            return Choice(
                {"type": "categorical", "nullable": True, "categories": categories},
                f"integer-coded categorical: two codes ({', '.join(categories)})",
            )
        low, high = float(parsed.min()), float(parsed.max())
        bound = {"min": 0} if low >= 0 else {}
        why = f"numeric: {distinct} values, {low:g} to {high:g}" + (
            "; never negative" if bound else ""
        )
        if integral and distinct <= MAX_CLASSES:
            why += " (integer codes? make it categorical)"
        return Choice({"type": "numeric", "nullable": True, **bound}, why)
    if unique or distinct > MAX_CATEGORIES or distinct > len(present) / 2:
        kind = "all-unique text" if unique else f"free text: {distinct} distinct values"
        return _ignored(f"{kind} in {rows_text(rows)}")
    rare = int((texts.value_counts() < 5).sum())
    few = f"; {rare} seen in fewer than 5 rows" if rare else ""
    return Choice(
        {"type": "categorical", "nullable": True, "categories": category_texts(texts)},
        f"categorical: {distinct} distinct values in {rows_text(rows)}{few}{stripped}",
        note,
    )


def _row_names(name: object, values: pd.Series, position: int) -> str | None:
    """How ``values`` are row names or a row index as R or pandas write them (the first column
    or one named so, unique in every row: the numbers 1..n or 0..n-1, or one label per row),
    or None."""
    named = ROW_NAMES.match(str(name)) is not None
    if not (named or position == 0) or values.isna().any() or not values.is_unique:
        return None
    numbers = numeric(values)
    if numbers is not None and is_integer(numbers):
        low = int(numbers.min())
        if low in (0, 1) and int(numbers.max()) == low + len(values) - 1:
            return f"row numbers {low} to {low + len(values) - 1}"
    if named and (numbers is None or is_integer(numbers)):
        return "one unique label per row"
    return None


def _read(values: pd.Series, entry: dict[str, Any]) -> tuple[pd.Series, bool]:
    """A feature's values as the model reads them: numbers (dates as their time stamps), or
    category text; and whether they are categories."""
    kind = entry["type"]
    if kind in ("categorical", "boolean"):
        texts = (
            coerce.categories(values, entry["categories"])
            if kind == "categorical"
            else coerce.booleans(values)
        )
        return texts, True
    if kind == "datetime":
        stamps = coerce.datetimes(values, entry.get("format"))
        return (stamps - pd.Timestamp(0)).dt.total_seconds(), False
    return coerce.numbers(values), False


def _leak(choice: Choice, score: float, sample: Sample, target: str) -> Choice:
    """``choice`` left out as a leak, saying how to keep it."""
    entry = {k: v for k, v in choice.entry.items() if k != "role"}
    found = f"alone predicts {shorten(target)} almost perfectly ({sample.measure} {score:.3f})"
    reason = (
        f"{choice.reason}; LEAK? {found}: left out of the model. If it is known when a "
        "prediction is made, keep it: delete its two lines role and leak"
    )
    note = (
        f"{found}: left out of the model as a leak (role: ignored, leak: true); delete those "
        "two lines in the schema to keep it"
    )
    return Choice({**entry, "role": "ignored", "leak": True}, reason, note)


@dataclass(frozen=True)
class Inferred:
    """What inference found: a choice per column (in file order), the problem type, the file's
    format, and the notes worth printing (stripped whitespace, leaks, rare classes)."""

    source: str
    rows: int
    target: str
    problem_type: ProblemType
    problem_why: str
    na_values: tuple[str, ...]
    choices: dict[str, Choice]
    separator: str = ","
    decimal: str = "."
    notes: tuple[str, ...] = ()
    encoding: str = "utf-8"

    def yaml(self) -> str:
        """The schema as YAML, a comment above each column; JSON scalars (valid YAML) keep any
        column name or category exact."""
        ids = [name for name, c in self.choices.items() if c.entry.get("role") == "id"]
        lines = [
            f"# Inferred from {self.source} ({rows_text(self.rows)}); the comment above each "
            "column says why.",
            "# Review it: types, roles and bounds are this project's contract for every row it",
            '# trains on, scores and serves (keys: see the README\'s "Your own data"). Numeric',
            "# columns get no max: a new row may exceed the largest value seen. A category not",
            "# listed is refused (a reject in batch, 422 in the API): list it to accept it.",
            *NULLABLE,
            f"problem_type: {self.problem_type}  # {self.problem_why}",
            f"target: {json.dumps(self.target)}",
        ]
        if ids:
            lines.append(f"id: {json.dumps(ids[0])}")
        if self.na_values:
            lines.append(
                f"na_values: {json.dumps(list(self.na_values))}  # how the file writes missing"
            )
        if self.separator != ",":
            lines.append(f"separator: {json.dumps(self.separator)}  # between the file's cells")
        if self.decimal != ".":
            lines.append(f"decimal: {json.dumps(self.decimal)}  # the decimal mark of its numbers")
        if self.encoding != "utf-8":
            lines.append(f"encoding: {json.dumps(self.encoding)}  # its text is not UTF-8")
        lines.append("columns:")
        for name, choice in self.choices.items():
            lines.append(f"  # {choice.reason}")
            lines.append(f"  - name: {json.dumps(name)}")
            for key, value in choice.entry.items():
                if isinstance(value, dict):  # aliases: one a line
                    lines.append(f"    {key}:")
                    lines.extend(
                        f"      {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()
                    )
                else:
                    lines.append(f"    {key}: {json.dumps(value)}")
        return "\n".join(lines) + "\n"

    def schema(self) -> Schema:
        """The schema the project will read (SchemaError if the choices do not make one)."""
        return parse_schema(yaml.safe_load(self.yaml()), "inferred schema")


def _check_names(frame: pd.DataFrame, names: Sequence[str], source: str, separator: str) -> None:
    found = [str(c) for c in frame.columns]
    for name in names:
        if name not in frame.columns:
            close = difflib.get_close_matches(name[:200], found, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InferenceError(
                f"{source} has no column {shorten(name)}{hint}; it has {column_list(found)}"
                + separator_hint(found, separator)
            )


def _choose_columns(
    frame: pd.DataFrame, target: str, id_column: str | None, ignore: Sequence[str]
) -> dict[str, Choice]:
    """Every column but the target: the given id and ignored ones, row names (the id unless
    there is one), and the rest from their values."""
    choices: dict[str, Choice] = {}
    row_names: dict[str, str] = {}
    for position, name in enumerate(frame.columns):
        values = frame[name]
        if name == target:
            continue
        if name == id_column:
            if values.isna().any() or values.nunique() != len(values):
                raise InferenceError(
                    f"--id {shorten(name)}: an id must be present and unique in every row"
                )
            choices[name] = Choice({"role": "id", "type": "string"}, "id: given with --id")
        elif name in ignore:
            choices[name] = _ignored("given with --ignore")
        elif (why := _row_names(name, values, position)) is not None:
            row_names[name] = why
        else:
            taken = id_column is not None or any(
                c.entry.get("role") == "id" for c in choices.values()
            )
            choices[name] = _column(str(name), values, taken)
    for name, why in row_names.items():
        ids = [n for n, c in choices.items() if c.entry.get("role") == "id"]
        why = f"row names as R or pandas write them ({why}): they say nothing of a row"
        if ids:
            choices[name] = _ignored(f"{why}; ignored (the id is {shorten(ids[0])})")
        else:
            choices[name] = Choice({"role": "id", "type": "string"}, f"{why}; the id")
    return choices


def _leave_out_leaks(
    frame: pd.DataFrame, choices: dict[str, Choice], target: Choice, name: str
) -> None:
    """Leave out (in ``choices``) each feature that alone predicts the target almost
    perfectly; InferenceError if that leaves no feature."""
    entry = target.entry
    classification = entry["type"] == "categorical"
    read = (
        coerce.categories(frame[name], entry["categories"], entry.get("aliases"))
        if classification
        else coerce.numbers(frame[name])
    )
    sample = Sample.of(read, classification)
    features = [n for n, c in choices.items() if c.entry.get("role", "feature") == "feature"]
    leaks = {}
    for column in features:
        values, categorical = _read(frame[column].iloc[sample.rows], choices[column].entry)
        score = single_feature_score(values, sample, categorical)
        if score >= LEAK_SCORE:
            leaks[column] = _leak(choices[column], score, sample, name)
    if features and len(leaks) == len(features):
        raise InferenceError(
            f"every feature alone predicts {shorten(name)} almost perfectly (leaks?): "
            f"{', '.join(map(shorten, list(leaks)[:10]))}; a model needs a column known when "
            "a prediction is made"
        )
    choices.update(leaks)


def infer_schema(
    frame: pd.DataFrame,
    target: str,
    *,
    problem_type: ProblemType | None = None,
    id_column: str | None = None,
    ignore: Sequence[str] = (),
    na_values: Sequence[str] = (),
    source: str = "the data",
    separator: str = ",",
    decimal: str = ".",
    encoding: str = "utf-8",
    rare_classes: RareClasses | None = None,
) -> Inferred:
    """A schema for ``frame`` (checked as the project will read it); InferenceError if none fits.
    ``separator``, ``decimal`` and ``encoding``: how the file was read; ``rare_classes``: what
    becomes of the classes too rare to train on (refused without it)."""
    _check_names(frame, [target, *([id_column] if id_column else []), *ignore], source, separator)
    if id_column == target or target in ignore:
        raise InferenceError(
            f"{shorten(target)} is the target: it cannot also be the id or ignored"
        )
    frame, infinite = infinite_as_missing(frame)
    if frame[target].notna().sum() < 20:
        raise InferenceError(
            f"target {shorten(target)} has fewer than 20 labelled rows: too few to train"
        )
    kind, kind_why, target_entry = target_choice(frame[target], problem_type, rare_classes)
    others = _choose_columns(frame, target, id_column, ignore)
    _leave_out_leaks(frame, others, target_entry, target)
    if not any(c.entry.get("role", "feature") == "feature" for c in others.values()):
        raise InferenceError(
            f"{source}: no column can be a feature (each is the target, an id, or ignored)"
        )
    choices = {name: others.get(name, target_entry) for name in frame.columns}
    for name, count in infinite.items():
        refused = f"{rows_text(count)} infinite, which validation refuses: replace them"
        choices[name] = choices[name].noted(refused)
    notes = [f"{shorten(name)}: {c.note}" for name, c in choices.items() if c.note]
    found = Inferred(
        source, len(frame), target, kind, kind_why, tuple(na_values), choices,
        separator, decimal, tuple(notes), encoding,
    )  # fmt: skip
    found.schema()  # what the project will read
    return found
