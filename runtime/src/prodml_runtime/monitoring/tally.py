"""Tallies of the current data: the counts the drift checks need, computed part by part.

A tally holds counts only (values per reference bin or category, values around each reference
quantile), so the tallies of a file's chunks, of a log's parts or of a dataset's partitions add
up to the tally of the whole, exactly: ``monitor --engine dask|spark`` merges what its workers
counted and never gathers the rows on one process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from . import drift


@dataclass(frozen=True)
class Tally:
    """One monitored column against its reference profile: values (missing included), missing
    values, counts per reference bin or category (then other), and ``drift.ks_counts``."""

    values: int
    missing: int
    bins: np.ndarray
    ks: np.ndarray | None = None

    @property
    def present(self) -> int:
        return self.values - self.missing

    def __add__(self, other: Tally) -> Tally:
        ks = None if self.ks is None or other.ks is None else self.ks + other.ks
        return Tally(
            self.values + other.values, self.missing + other.missing, self.bins + other.bins, ks
        )


def tally(values: pd.Series, profile: Mapping[str, Any]) -> Tally:
    """Count ``values`` into the bins (or categories) of their reference ``profile``."""
    present = values[values.notna()]
    missing = len(values) - len(present)
    if profile["kind"] != "numeric":
        return Tally(
            len(values), missing, drift.category_counts(present, list(profile["frequencies"]))
        )
    numbers = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype=float)
    quantiles = profile["quantiles"]
    ks = drift.ks_counts(quantiles, numbers) if quantiles else None
    return Tally(len(values), missing, drift.bin_counts(numbers, profile["edges"]), ks)


@dataclass(frozen=True)
class Current:
    """The data being judged: the tallies of each monitored input (valid rows, as
    ``core.dates.with_parts`` gives them) and of the champion's predictions, rows read and rows
    that broke the schema. Parts add up (``+``); the sum keeps the first part's source."""

    features: dict[str, Tally]
    prediction: Tally
    rows: int
    violations: int
    source: str = field(default="", compare=False)

    def __add__(self, other: Current) -> Current:
        features = {name: t + other.features[name] for name, t in self.features.items()}
        return Current(
            features,
            self.prediction + other.prediction,
            self.rows + other.rows,
            self.violations + other.violations,
            self.source,
        )


def tally_current(
    reference: Mapping[str, Any],
    inputs: pd.DataFrame,
    predictions: pd.Series,
    rows: int,
    violations: int,
) -> Current:
    """The tallies of one part: its valid rows' monitored ``inputs`` and the predictions."""
    features = {name: tally(inputs[name], p) for name, p in reference["features"].items()}
    return Current(features, tally(predictions, reference["prediction"]), rows, violations)


def total(parts: Iterable[Current], source: str) -> Current:
    """The sum of ``parts`` (at least one), labelled ``source``."""
    return replace(reduce(lambda a, b: a + b, parts), source=source)
