"""dgeflow.stats.lowess against R's lowess (R 4.2.2), references made by
tests/r/make_hard_references.R:
random curves with ties, flat stretches, exact fits and DESeq2-like rejection curves, for several
spans, robustness iterations and deltas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow.stats.lowess import lowess

CASES = Path(__file__).parent / "data" / "r_reference" / "hard" / "lowess_cases.csv.gz"


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return pd.read_csv(CASES, skipinitialspace=True)


def test_every_case_equals_r_to_1e10(cases):
    assert cases["case"].nunique() >= 50
    worst = 0.0
    for _, case in cases.groupby("case"):
        first = case.iloc[0]
        x_sorted, fitted = lowess(
            case["x"].to_numpy(),
            case["y"].to_numpy(),
            f=first["f"],
            iter=int(first["iter"]),
            delta=first["delta"],
        )
        np.testing.assert_array_equal(x_sorted, case["x"].to_numpy())
        ref = case["fitted"].to_numpy()
        err = np.max(np.abs(fitted - ref) / np.maximum(1.0, np.abs(ref)))
        worst = max(worst, err)
    assert worst < 1e-10, worst


def test_cases_cover_ties_flat_stretches_and_exact_fits(cases):
    per_case = cases.groupby("case")
    assert per_case["x"].apply(lambda x: x.duplicated().any()).sum() >= 5
    assert per_case["iter"].first().isin([0, 1, 3, 5]).all()
    # exact fits: residuals zero at more than half the points (R stops its robustness passes)
    exact = per_case.apply(lambda c: np.mean(np.abs(c["y"] - c["fitted"]) < 1e-12) > 0.5)
    assert exact.sum() >= 3


def test_unsorted_input_is_sorted_stably():
    x = np.array([3.0, 1.0, 2.0, 1.0, 5.0, 4.0])
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    xs, fitted = lowess(x, y, f=0.9, iter=0)
    np.testing.assert_array_equal(xs, np.sort(x))
    # a permutation of the input gives the same curve
    perm = np.array([5, 0, 3, 1, 4, 2])
    xs2, fitted2 = lowess(x[perm], y[perm], f=0.9, iter=0)
    np.testing.assert_array_equal(xs2, xs)
    # tied x share one fitted value, so the order of ties does not matter
    assert fitted[0] == fitted[1]
    np.testing.assert_allclose(fitted2, fitted, rtol=1e-12)


def test_constant_curve_is_returned_unchanged():
    _, fitted = lowess(np.arange(10.0), np.full(10, 4.0))
    np.testing.assert_allclose(fitted, 4.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.arange(3.0), np.arange(4.0), "same length"),
        (np.array([0.0, np.nan]), np.arange(2.0), "finite"),
    ],
)
def test_bad_input(x, y, message):
    with pytest.raises(ValueError, match=message):
        lowess(x, y)
