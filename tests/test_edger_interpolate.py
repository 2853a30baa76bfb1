"""dgeflow.edger.interpolate against edgeR 3.40's maximizeInterpolant (and R's fmm spline);
references by tests/r/make_edger_references.R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow.edger.interpolate import fmm_spline, maximize_interpolant

REF = Path(__file__).parent / "data" / "r_reference" / "edger" / "maximize_interpolant.csv.gz"
GRID = np.linspace(-10, 10, 21)


def test_maximize_interpolant_equals_edger():
    ref = pd.read_csv(REF)
    y = ref.drop(columns="max").to_numpy()
    got = maximize_interpolant(GRID, y)
    np.testing.assert_allclose(got, ref["max"].to_numpy(), rtol=1e-11, atol=1e-11)
    # the cases the reference covers: interior maxima, both ends, a flat row
    assert (ref["max"].iloc[:20] == -10).all() and (ref["max"].iloc[20:40] == 10).all()
    assert ((ref["max"] > -10) & (ref["max"] < 10)).sum() > 200


def test_fmm_spline_interpolates_and_is_exact_for_cubics():
    x = np.array([0.0, 0.5, 1.7, 2.0, 3.5, 4.0])
    y = 1.0 - 2.0 * x + 0.5 * x**2 + 0.25 * x**3
    b, c, d = fmm_spline(x, y)
    # FMM's end conditions reproduce a cubic exactly: every segment has its coefficients
    np.testing.assert_allclose(d[0, :-1], 0.25, rtol=1e-10)
    t = np.diff(x)
    np.testing.assert_allclose(
        y[:-1] + b[0, :-1] * t + c[0, :-1] * t**2 + d[0, :-1] * t**3, y[1:], rtol=1e-12
    )


def test_too_few_points_are_refused():
    with pytest.raises(ValueError, match="at least 4"):
        fmm_spline(np.arange(3.0), np.arange(3.0))
