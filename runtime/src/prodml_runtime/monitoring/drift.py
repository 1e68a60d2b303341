"""Drift statistics (pure functions): distribution profiles, PSI, Kolmogorov-Smirnov, chi-square.

A *profile* summarises one column so that the training data need not be kept to compare with:
numeric columns keep quantile bin edges with the share of values per bin and ``QUANTILES``
evenly spaced quantiles (a stand-in sample for the KS test); categorical and boolean columns
keep the share of each value. Both keep the missing rate and the number of values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

BINS = 10
QUANTILES = 1000
#: Floor on a bin's share in PSI, so an empty bin does not make the index infinite.
EPSILON = 1e-4

#: Numbers as a profile stores them (a list, from JSON) or as they are computed (an array).
Floats = Sequence[float] | np.ndarray


def _present(values: pd.Series) -> pd.Series:
    return values[values.notna()]


def numeric_profile(values: pd.Series, bins: int = BINS) -> dict[str, Any]:
    """Quantile bin edges, shares per bin, ``QUANTILES`` quantiles and the missing rate."""
    numbers = _present(pd.to_numeric(values, errors="coerce")).to_numpy(dtype=float)
    profile: dict[str, Any] = {"kind": "numeric", "count": len(values)}
    profile["missing_rate"] = float(1.0 - len(numbers) / len(values)) if len(values) else 0.0
    if not len(numbers):
        return {**profile, "edges": [], "proportions": [1.0], "quantiles": []}
    edges = np.unique(np.quantile(numbers, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    profile["edges"] = edges.tolist()
    profile["proportions"] = shares(bin_counts(numbers, edges)).tolist()
    profile["quantiles"] = np.quantile(numbers, np.linspace(0.0, 1.0, QUANTILES)).tolist()
    profile["mean"], profile["std"] = float(numbers.mean()), float(numbers.std())
    return profile


def categorical_profile(values: pd.Series) -> dict[str, Any]:
    """The share of each value (as text) among present values, and the missing rate."""
    present = _present(values).astype(str)
    frequencies = present.value_counts(normalize=True).sort_index()
    return {
        "kind": "categorical",
        "count": len(values),
        "missing_rate": float(1.0 - len(present) / len(values)) if len(values) else 0.0,
        "frequencies": {str(k): float(v) for k, v in frequencies.items()},
    }


def bin_counts(values: np.ndarray, edges: Floats) -> np.ndarray:
    """How many ``values`` fall in each bin: (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="right")
    return np.bincount(index, minlength=len(edges) + 1)


def category_counts(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """How many present values are each of ``categories`` (as text), then any other value."""
    present = _present(values).astype(str)
    counts = present.value_counts()
    known = np.array([counts.get(c, 0) for c in categories], dtype=np.int64)
    return np.append(known, len(present) - known.sum())


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (all zero when there are none)."""
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def psi(expected: Floats, actual: Floats) -> float:
    """Population stability index: sum((a - e) * ln(a / e)) over bins, shares floored at EPSILON.

    Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
    """
    e = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_counts(reference_quantiles: Floats, values: np.ndarray) -> np.ndarray:
    """What the KS test needs of ``values``, as counts that add up across partitions.

    Row 0 counts the values by how many of the reference's distinct quantiles lie below each,
    row 1 by how many lie at or below it; their running sums are the values at or below, and
    strictly below, each quantile.
    """
    grid = np.unique(np.asarray(reference_quantiles, dtype=float))
    return np.stack(
        [
            np.bincount(np.searchsorted(grid, values, side=side), minlength=len(grid) + 1)
            for side in ("left", "right")
        ]
    )


def ks_test(reference_quantiles: Floats, counts: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value of the current values (their ``ks_counts``) against
    the reference quantiles.

    The statistic is ``scipy.stats.ks_2samp``'s on the quantiles and the values themselves: two
    step functions differ most at a quantile or just before one. The p-value is Smirnov's
    asymptotic one (``ks_2samp(..., method="asymp")``). The quantiles stand in for the
    reference's sample (``QUANTILES`` values), which caps the test's power on that side: large
    shifts are found, tiny ones are not flagged.
    """
    reference = np.sort(np.asarray(reference_quantiles, dtype=float))
    grid = np.unique(reference)
    size, current = len(reference), int(counts[0].sum())
    at = np.searchsorted(reference, grid, side="right") / size
    before = np.searchsorted(reference, grid, side="left") / size
    current_at = np.cumsum(counts[0])[:-1] / current
    current_before = np.cumsum(counts[1])[:-1] / current
    statistic = float(max(np.abs(at - current_at).max(), np.abs(before - current_before).max()))
    effective = round(size * current / (size + current))
    return statistic, float(stats.kstwo.sf(statistic, effective))


def chi_square(reference: Floats, current_counts: Floats) -> tuple[float, float, float]:
    """Goodness of fit of current counts to reference shares: statistic, p-value, Cramér's V.

    Reference shares are floored at EPSILON (a value unseen in training is then a large
    deviation, not a division by zero). Cramér's V = sqrt(chi2 / (n (k - 1))) measures the size
    of the shift, which the p-value alone does not: with many rows tiny shifts are significant.
    """
    observed = np.asarray(current_counts, dtype=float)
    expected = np.clip(np.asarray(reference, dtype=float), EPSILON, None)
    total = observed.sum()
    if total == 0 or len(observed) < 2:
        return 0.0, 1.0, 0.0
    expected = expected / expected.sum() * total
    statistic, pvalue = stats.chisquare(observed, expected)
    effect = float(np.sqrt(statistic / (total * (len(observed) - 1))))
    return float(statistic), float(pvalue), effect
