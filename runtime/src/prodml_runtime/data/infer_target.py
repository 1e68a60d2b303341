"""Schema inference of the target: the problem type, the classes, and what becomes of classes
too rare for the training protocol (``--rare-classes drop|merge``: the target's ``aliases``)."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from ..config import TrainConfig
from ..core.schema import ProblemType
from ..io.tables import shorten
from .choice import (
    Choice,
    InferenceError,
    is_integer,
    label_texts,
    listed,
    numeric,
    rows_text,
    sorted_texts,
    stray_whitespace,
)

#: What ``--rare-classes`` does with classes too rare to train on: leave their rows out (read
#: as unlabelled), or merge them into one class (``OTHER``).
RareClasses = Literal["drop", "merge"]
OTHER = "other"
#: An integer target with at most this many values is a set of classes, not a quantity.
MAX_CLASSES = 10
#: Names of label values taken as the positive class of a binary target (it is listed last).
POSITIVE = {"1", "true", "yes", "y", "positive", "pos"}


def _other(classes: pd.Index) -> str:
    """``OTHER``, or ``other_2``... if a class has that name already."""
    taken, name, number = set(map(str, classes)), OTHER, 1
    while name in taken:
        number += 1
        name = f"{OTHER}_{number}"
    return name


def _too_rare(name: object, counts: pd.Series, protocol: TrainConfig) -> str:
    share = 1.0 - protocol.test_size - protocol.validation_size
    other = _other(counts.index)
    return (
        f"target {shorten(name)}: class(es) {listed(counts)} have fewer than "
        f"{protocol.rows_per_class} rows, which training needs ({protocol.cv_folds}-fold "
        f"cross-validation on a {round(100 * share)}% training split, a row each for "
        "validation and test): add rows of them, or pass --rare-classes drop (their rows are "
        f"left out) or --rare-classes merge (they become one class, {other!r})"
    )


def _rare(
    name: object, counts: pd.Series, rare_classes: RareClasses | None
) -> tuple[pd.Series, dict[str, str | None], str]:
    """The class counts training sees, the aliases reading the rare classes so, and a note."""
    protocol = TrainConfig()  # configs/train.yaml's defaults
    small = counts[counts < protocol.rows_per_class]
    if not len(small):
        return counts, {}, ""
    if rare_classes is None:
        raise InferenceError(_too_rare(name, small, protocol))
    kept = counts[counts >= protocol.rows_per_class]
    rare = f"{len(small)} class(es) with fewer than {protocol.rows_per_class} rows: {listed(small)}"
    if rare_classes == "drop":
        aliases: dict[str, str | None] = dict.fromkeys(map(str, small.index))
        note = (
            f"--rare-classes drop: {rare}; their {rows_text(int(small.sum()))} read as unlabelled"
        )
    else:
        other = _other(counts.index)
        if small.sum() < protocol.rows_per_class:
            raise InferenceError(
                f"target {shorten(name)}: merged, the {rare} hold {int(small.sum())} rows, still "
                f"fewer than {protocol.rows_per_class}: use --rare-classes drop"
            )
        aliases = dict.fromkeys(map(str, small.index), other)
        kept = pd.concat([kept, pd.Series({other: int(small.sum())})])
        note = f"--rare-classes merge: {rare}; merged into one class, {other!r}"
    if len(kept) < 2:
        raise InferenceError(
            f"target {shorten(name)}: {rare}; {len(kept)} class left: nothing to learn"
        )
    return kept, aliases, note


def target_choice(
    values: pd.Series, given: ProblemType | None, rare_classes: RareClasses | None = None
) -> tuple[ProblemType, str, Choice]:
    """The problem type and why, and the target's entry."""
    present = values.dropna()
    numbers = numeric(present)
    unlabelled = len(values) - len(present)
    nullable = {"nullable": True} if unlabelled else {}
    note = f"; {rows_text(unlabelled)} unlabelled: left out of training" if unlabelled else ""
    if given == "regression" and numbers is None:
        raise InferenceError(
            f"--problem-type regression needs a numeric target; {shorten(values.name)} holds text"
        )
    texts = label_texts(present)
    distinct = texts.nunique()
    if given == "regression" or (
        given is None
        and numbers is not None
        and not (is_integer(numbers) and distinct <= MAX_CLASSES)
    ):
        why = "given with --problem-type" if given else f"numeric target with {distinct} values"
        entry = {"role": "target", "type": "numeric", **nullable}
        return "regression", why, Choice(entry, "target" + note)
    counts = texts.value_counts()
    if len(counts) < 2:
        raise InferenceError(f"target {shorten(values.name)} has one class only: nothing to learn")
    notes = []
    stray, example = stray_whitespace(present)
    if stray:
        notes.append(f"{rows_text(stray)} with stray whitespace (e.g. {example}) read without it")
    kept, aliases, rare_note = _rare(values.name, counts, rare_classes)
    if rare_note:
        notes.append(rare_note)
    kind: ProblemType = given or (
        "binary_classification" if len(kept) == 2 else "multiclass_classification"
    )
    count = "two" if len(kept) == 2 else str(len(kept))
    why = "given with --problem-type" if given else f"the target has {count} classes"
    wanted = {"binary_classification": (2, 2), "multiclass_classification": (3, len(kept))}[kind]
    if not wanted[0] <= len(kept) <= wanted[1]:
        raise InferenceError(
            f"--problem-type {kind} needs {'two' if wanted[1] == 2 else 'three or more'} "
            f"classes; {shorten(values.name)} has {len(kept)}"
        )
    classes = sorted_texts(c for c in kept.index if c not in aliases.values())
    classes += sorted({c for c in aliases.values() if c is not None})
    reason = f"target: {len(classes)} classes"
    if kind == "binary_classification":
        positive = [c for c in classes if c.lower() in POSITIVE] or [str(kept.idxmin())]
        classes = [c for c in classes if c != positive[0]] + [positive[0]]
        reason += f"; positive class {positive[0]!r} listed last (reorder to change it)"
    if None in aliases.values():  # a dropped class reads as missing
        nullable = {"nullable": True}
    entry = {"role": "target", "type": "categorical", **nullable, "categories": classes}
    if aliases:
        entry["aliases"] = aliases
    return kind, why, Choice(entry, "; ".join([reason + note, *notes]), "; ".join(notes))
