"""dgeflow.edger.locfit against edgeR's locfitByCol(degree = 0) (R's locfit 1.5); references by
tests/r/make_edger_references.R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dgeflow.edger.locfit import locfit_by_col, tree_vertices

REF = Path(__file__).parent / "data" / "r_reference" / "edger" / "locfit_by_col.csv.gz"


def test_equals_r_locfit_tree_evaluation():
    cases = pd.read_csv(REF, skipinitialspace=True)
    assert cases["case"].nunique() == 6
    for _, case in cases.groupby("case"):
        y = case[["y1", "y2"]].to_numpy()
        fitted = locfit_by_col(y, case["x"].to_numpy(), case["span"].iloc[0])
        ref = case[["fitted1", "fitted2"]].to_numpy()
        np.testing.assert_allclose(fitted, ref, rtol=1e-11, atol=1e-11)


def test_tree_interpolates_rather_than_fitting_everywhere():
    x = np.linspace(0.0, 10.0, 400)
    y = np.sin(x)[:, None]
    vertices, h = tree_vertices(x, 0.2)
    assert vertices[0] == 0.0 and vertices[-1] == 10.0 and 5 < vertices.size < 400
    assert np.all(np.diff(vertices) <= 0.8 * np.maximum(h[:-1], h[1:]) + 1e-12)
    fitted = locfit_by_col(y, x, 0.2)[:, 0]
    # linear between vertices: second differences vanish away from the vertices
    inside = (x > vertices[1]) & (x < vertices[2])
    assert np.allclose(np.diff(fitted[inside], 2), 0.0, atol=1e-12)


def test_too_few_points_are_returned_unsmoothed():
    y = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(locfit_by_col(y, np.arange(3.0), 0.5), y)
