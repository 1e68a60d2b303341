"""Drift statistics on synthetic data: near zero when nothing changed, large when shifted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.monitoring.drift import (
    bin_shares,
    categorical_profile,
    category_shares,
    chi_square,
    ks_test,
    numeric_profile,
    psi,
)

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
    stable = psi(profile["proportions"], bin_shares(SAME.to_numpy(), profile["edges"]))
    moved = psi(profile["proportions"], bin_shares(SHIFTED.to_numpy(), profile["edges"]))
    assert stable < 0.02
    assert moved > 0.25


def test_psi_of_identical_shares_is_zero_and_empty_bins_stay_finite() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert np.isfinite(psi([1.0, 0.0], [0.0, 1.0]))


def test_ks_accepts_the_same_distribution_and_rejects_a_shift() -> None:
    quantiles = numeric_profile(REFERENCE)["quantiles"]
    statistic, pvalue = ks_test(quantiles, SAME.to_numpy())
    assert pvalue > 0.01 and statistic < 0.05
    statistic, pvalue = ks_test(quantiles, SHIFTED.to_numpy())
    assert pvalue < 1e-6 and statistic > 0.15


def test_chi_square_and_category_shares() -> None:
    categories = ["a", "b", "c"]
    reference = categorical_profile(pd.Series(RNG.choice(categories, 10_000, p=[0.6, 0.3, 0.1])))
    expected = [*reference["frequencies"].values(), 0.0]
    same = pd.Series(RNG.choice(categories, 2_000, p=[0.6, 0.3, 0.1]))
    moved = pd.Series(RNG.choice(categories, 2_000, p=[0.2, 0.3, 0.5]))
    _, pvalue, effect = chi_square(expected, category_shares(same, categories) * 2_000)
    assert pvalue > 0.01 and effect < 0.05
    _, pvalue, effect = chi_square(expected, category_shares(moved, categories) * 2_000)
    assert pvalue < 1e-6 and effect > 0.3
    shares = category_shares(pd.Series(["a", "zzz", None, "a"]), categories)
    np.testing.assert_allclose(shares, [2 / 3, 0.0, 0.0, 1 / 3])  # unknown values: last share
