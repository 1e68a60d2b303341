"""Drift statistics on synthetic data: near zero when nothing changed, large when shifted;
computed from counts that add up across parts, equal to scipy's on the rows themselves."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.monitoring.drift import (
    bin_counts,
    categorical_profile,
    category_counts,
    chi_square,
    ks_counts,
    ks_test,
    numeric_profile,
    psi,
    shares,
)
from prodml_runtime.monitoring.tally import tally
from scipy import stats

RNG = np.random.default_rng(0)
REFERENCE = pd.Series(RNG.gamma(2.0, 10.0, 20_000))
SAME = pd.Series(RNG.gamma(2.0, 10.0, 5_000))
SHIFTED = SAME * 1.6


def test_numeric_profile_has_equal_mass_bins_quantiles_and_missing_rate() -> None:
    values = pd.concat([REFERENCE, pd.Series([np.nan] * 500)])
    profile = numeric_profile(values)
    assert profile["missing_rate"] == pytest.approx(500 / len(values))
    assert len(profile["edges"]) == 9 and len(profile["quantiles"]) == 1000
    np.testing.assert_allclose(profile["proportions"], 0.1, atol=0.002)


def test_psi_is_near_zero_unshifted_and_large_shifted() -> None:
    profile = numeric_profile(REFERENCE)
    stable = psi(profile["proportions"], shares(bin_counts(SAME.to_numpy(), profile["edges"])))
    moved = psi(profile["proportions"], shares(bin_counts(SHIFTED.to_numpy(), profile["edges"])))
    assert stable < 0.02
    assert moved > 0.25


def test_psi_of_identical_shares_is_zero_and_empty_bins_stay_finite() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert np.isfinite(psi([1.0, 0.0], [0.0, 1.0]))


def test_ks_accepts_the_same_distribution_and_rejects_a_shift() -> None:
    quantiles = numeric_profile(REFERENCE)["quantiles"]
    statistic, pvalue = ks_test(quantiles, ks_counts(quantiles, SAME.to_numpy()))
    assert pvalue > 0.01 and statistic < 0.05
    statistic, pvalue = ks_test(quantiles, ks_counts(quantiles, SHIFTED.to_numpy()))
    assert pvalue < 1e-6 and statistic > 0.15


@pytest.mark.parametrize(
    "reference, current",
    [
        (REFERENCE, SHIFTED),
        (REFERENCE, SAME.iloc[:7]),
        # Ties: a discrete feature's quantiles repeat, and so do its values.
        (pd.Series(RNG.integers(0, 5, 3_000)), pd.Series(RNG.integers(1, 7, 900))),
        (pd.Series(np.zeros(100)), pd.Series([0.0, 0.0, 1.0])),
    ],
)
def test_ks_from_counts_equals_scipy_on_the_rows(reference: pd.Series, current: pd.Series) -> None:
    quantiles = numeric_profile(reference)["quantiles"]
    values = current.to_numpy(dtype=float)
    expected = stats.ks_2samp(quantiles, values, method="asymp")
    statistic, pvalue = ks_test(quantiles, ks_counts(quantiles, values))
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


def test_the_tallies_of_parts_add_up_to_the_tally_of_the_whole() -> None:
    values = pd.concat([SHIFTED, pd.Series([np.nan] * 40)]).sample(frac=1.0, random_state=3)
    texts = pd.Series(RNG.choice(["a", "b", "zzz", None], len(values)))
    numeric = numeric_profile(REFERENCE)
    categorical = categorical_profile(pd.Series(["a", "b", "b"]))
    cuts = [0, *sorted(RNG.choice(len(values), 6, replace=False)), len(values)]
    for column, profile in ((values, numeric), (texts, categorical)):
        parts = [tally(column.iloc[a:b], profile) for a, b in itertools.pairwise(cuts)]
        whole, summed = tally(column, profile), sum(parts[1:], parts[0])
        assert (summed.values, summed.missing) == (whole.values, whole.missing)
        np.testing.assert_array_equal(summed.bins, whole.bins)
        if profile is numeric:
            assert summed.ks is not None and whole.ks is not None
            np.testing.assert_array_equal(summed.ks, whole.ks)


def test_chi_square_and_category_shares() -> None:
    categories = ["a", "b", "c"]
    reference = categorical_profile(pd.Series(RNG.choice(categories, 10_000, p=[0.6, 0.3, 0.1])))
    expected = [*reference["frequencies"].values(), 0.0]
    same = pd.Series(RNG.choice(categories, 2_000, p=[0.6, 0.3, 0.1]))
    moved = pd.Series(RNG.choice(categories, 2_000, p=[0.2, 0.3, 0.5]))
    _, pvalue, effect = chi_square(expected, category_counts(same, categories))
    assert pvalue > 0.01 and effect < 0.05
    _, pvalue, effect = chi_square(expected, category_counts(moved, categories))
    assert pvalue < 1e-6 and effect > 0.3
    counts = category_counts(pd.Series(["a", "zzz", None, "a"]), categories)
    np.testing.assert_array_equal(counts, [2, 0, 0, 1])  # unknown values: counted last
