"""edgeR's ``maximizeInterpolant``: the maximum of a cubic spline through each row's values on
a grid (how edgeR reads dispersions off its grids of log-likelihoods)."""

from __future__ import annotations

import numpy as np


def fmm_spline(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cubic spline coefficients with Forsythe, Malcolm & Moler's end conditions (R's
    ``spline(method = "fmm")``): on ``[x_i, x_i+1]`` the curve is
    ``y_i + b_i t + c_i t^2 + d_i t^3`` with ``t = x - x_i``. Rows of ``y`` are separate curves
    over the same ``x`` (at least 4 points)."""
    x = np.asarray(x, dtype=float)
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n = x.size
    if n < 4:
        raise ValueError("fmm_spline needs at least 4 points")
    h = np.diff(x)  # interval widths
    slope = np.diff(y, axis=1) / h  # divided differences, per row
    # tridiagonal system for the (scaled) second derivatives sigma
    diag = np.empty(n)
    diag[0], diag[-1] = -h[0], -h[-1]
    diag[1:-1] = 2.0 * (h[:-1] + h[1:])
    rhs = np.zeros_like(y)
    rhs[:, 1:-1] = slope[:, 1:] - slope[:, :-1]
    # end conditions: match the third derivative of the cubic through the end four points
    first = rhs[:, 2] / (x[3] - x[1]) - rhs[:, 1] / (x[2] - x[0])
    last = rhs[:, -2] / (x[-1] - x[-3]) - rhs[:, -3] / (x[-2] - x[-4])
    rhs[:, 0] = first * h[0] ** 2 / (x[3] - x[0])
    rhs[:, -1] = -last * h[-1] ** 2 / (x[-1] - x[-4])
    # forward elimination (same matrix for every row) and back substitution
    for i in range(1, n):
        t = h[i - 1] / diag[i - 1]
        diag[i] -= t * h[i - 1]
        rhs[:, i] -= t * rhs[:, i - 1]
    sigma = np.empty_like(rhs)
    sigma[:, -1] = rhs[:, -1] / diag[-1]
    for i in range(n - 2, -1, -1):
        sigma[:, i] = (rhs[:, i] - h[i] * sigma[:, i + 1]) / diag[i]
    b = np.empty_like(y)
    c = 3.0 * sigma
    d = np.empty_like(y)
    b[:, :-1] = slope - h * (sigma[:, 1:] + 2.0 * sigma[:, :-1])
    d[:, :-1] = (sigma[:, 1:] - sigma[:, :-1]) / h
    b[:, -1] = slope[:, -1] + h[-1] * (sigma[:, -2] + 2.0 * sigma[:, -1])
    d[:, -1] = d[:, -2]
    return b, c, d


def maximize_interpolant(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each row of ``y`` (values on the grid ``x``), the x maximizing the row's FMM spline
    near its largest grid value (edgeR's ``maximizeInterpolant``).

    The search looks only at the two segments beside the largest grid value: in each, the
    stationary point ``(-c - sqrt(c^2 - 3 b d)) / (3 d)`` of the cubic is taken when it lies
    inside the segment and beats the best value so far; otherwise the grid point stays.
    """
    x = np.asarray(x, dtype=float)
    y = np.atleast_2d(np.asarray(y, dtype=float))
    rows = np.arange(y.shape[0])
    at = np.argmax(y, axis=1)  # first maximum, as edgeR
    best = y[rows, at]
    x_best = x[at]
    b, c, d = fmm_spline(x, y)
    for seg in (at - 1, at):  # left, then right segment
        ok = (seg >= 0) & (seg < x.size - 1)
        s = np.clip(seg, 0, x.size - 2)
        bs, cs, ds = b[rows, s], c[rows, s], d[rows, s]
        a2 = 3.0 * ds
        with np.errstate(divide="ignore", invalid="ignore"):
            disc = (2.0 * cs) ** 2 - 4.0 * a2 * bs
            t = -(2.0 * cs) / (2.0 * a2) - np.sqrt(disc) / (2.0 * a2)
            value = ((ds * t + cs) * t + bs) * t + y[rows, s]
            inside = ok & (disc >= 0) & (t > 0) & (t < x[s + 1] - x[s]) & (value > best)
        best = np.where(inside, value, best)
        x_best = np.where(inside, t + x[s], x_best)
    return x_best
