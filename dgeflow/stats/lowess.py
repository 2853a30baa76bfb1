"""R's ``lowess``: Cleveland's robust locally weighted linear smoother, value for value.

DESeq2 smooths its independent-filtering curve with R's ``lowess`` (and limma's ``voom`` fits
its mean-variance trend with it), so their thresholds depend on that smoother's exact
arithmetic. statsmodels' ``lowess`` implements the same paper but not the same program: its
robustness weights and its handling of ``delta`` and of tied ``x`` differ, and so do its
curves from the first robustness pass on. This module follows the procedure as Cleveland
(1979, JASA 74:829; 1981, The American Statistician 35:54) and R's documentation describe it:

- ``ns = max(2, min(n, floor(f * n + 1e-7)))`` nearest neighbours; the window slides right
  while the point just beyond it is strictly closer than its leftmost point;
- tricube weights on distance / ``h`` (``h`` the larger distance to the window's ends), 1 within
  ``0.001 h``, 0 beyond ``0.999 h``; points past the window with a distance at most ``0.999 h``
  (ties at the right end) take part; a weighted straight line, unless the weighted spread of x
  is below ``0.001`` of its range (then the weighted mean); a local fit with no positive
  weight returns the observation itself;
- ``delta``: after a fit at ``x_i``, points up to ``x_i + delta`` are skipped, the last of them
  fitted next and those between interpolated linearly; points tied with a fitted x take its
  value;
- ``iter`` robustness passes with bisquare weights of residual / (6 MAD): 1 within ``0.001``,
  0 beyond ``0.999``; the passes stop once 6 MAD is below ``1e-7`` times the mean absolute
  residual (the fit is exact at more than half the points).

Tested against R 4.2.2 to 1e-10 in ``tests/test_lowess.py`` (curves with ties, flat stretches,
exact fits).
"""

from __future__ import annotations

import numpy as np


def lowess(
    x: np.ndarray,
    y: np.ndarray,
    f: float = 2.0 / 3.0,
    iter: int = 3,  # noqa: A002 - R's argument name
    delta: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth ``y`` on ``x`` exactly as R's ``lowess(x, y, f, iter, delta)``.

    Parameters
    ----------
    x, y
        Coordinates (same length); sorted by ``x`` (stably, as R's ``order``) before smoothing.
    f
        Span: the fraction of points in each local fit.
    iter
        Number of robustness iterations.
    delta
        Points within ``delta`` of the last fitted x are interpolated instead of fitted;
        default ``0.01 * (max(x) - min(x))``, as R.

    Returns
    -------
    x_sorted, fitted
        The sorted ``x`` and the smoothed values at those points (R's ``$x`` and ``$y``).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-d arrays of the same length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    if delta is None:
        delta = 0.01 * (xs[-1] - xs[0]) if xs.size else 0.0
    return xs, lowess_sorted(xs, ys, f, iter, delta)


def lowess_sorted(x: np.ndarray, y: np.ndarray, f: float, iter: int, delta: float) -> np.ndarray:  # noqa: A002
    """:func:`lowess` on ``x`` already sorted ascending; returns the fitted values."""
    n = x.size
    if n < 2:
        return y.copy()
    ns = max(2, min(n, int(np.floor(f * n + 1e-7))))
    robustness = None
    fitted = np.empty(n)
    for it in range(iter + 1):
        _smooth_pass(x, y, ns, delta, robustness, fitted)
        if it == iter:
            break
        residual = np.abs(y - fitted)
        cmad = 6.0 * np.median(residual)
        if cmad < 1e-7 * np.mean(residual):
            break
        robustness = _bisquare(residual, cmad)
    return fitted


def _bisquare(residual: np.ndarray, scale: float) -> np.ndarray:
    # scale 0 (every residual exactly 0) gives NaN here and weight 1 below, as in R
    with np.errstate(divide="ignore", invalid="ignore"):
        r = residual / scale
        w = (1.0 - r * r) ** 2
    w[residual > 0.999 * scale] = 0.0
    w[residual <= 0.001 * scale] = 1.0
    return w


def _smooth_pass(
    x: np.ndarray,
    y: np.ndarray,
    ns: int,
    delta: float,
    robustness: np.ndarray | None,
    fitted: np.ndarray,
) -> None:
    n = x.size
    span = x[-1] - x[0]
    left, right = 0, ns - 1
    last = -1
    i = 0
    while True:
        while right < n - 1 and x[i] - x[left] > x[right + 1] - x[i]:
            left += 1
            right += 1
        value = _local_fit(x, y, x[i], left, right, span, robustness)
        fitted[i] = y[i] if value is None else value
        if last < i - 1:
            between = slice(last + 1, i)
            frac = (x[between] - x[last]) / (x[i] - x[last])
            fitted[between] = frac * fitted[i] + (1.0 - frac) * fitted[last]
        last = i
        cut = x[last] + delta
        j = last + 1
        while j < n and x[j] <= cut:
            if x[j] == x[last]:
                fitted[j] = fitted[last]
                last = j
            j += 1
        i = max(last + 1, j - 1)
        if last >= n - 1:
            return


def _local_fit(
    x: np.ndarray,
    y: np.ndarray,
    x0: float,
    left: int,
    right: int,
    span: float,
    robustness: np.ndarray | None,
) -> float | None:
    h = max(x0 - x[left], x[right] - x0)
    # candidates: the window and any points right of it within 0.999 h (ties of its edge)
    stop = int(np.searchsorted(x, x0 + h, side="right"))
    stop = max(stop, right + 1)
    xw = x[left:stop]
    dist = np.abs(xw - x0)
    inside = dist <= 0.999 * h
    w = np.zeros(xw.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        w[inside] = (1.0 - (dist[inside] / h) ** 3) ** 3
    w[dist <= 0.001 * h] = 1.0
    w[~inside] = 0.0
    if robustness is not None:
        w *= robustness[left:stop]
    total = w.sum()
    if total <= 0.0:
        return None
    w /= total
    if h > 0.0:
        center = np.dot(w, xw)
        spread = np.dot(w, (xw - center) ** 2)
        if np.sqrt(spread) > 0.001 * span:
            slope = (x0 - center) / spread
            w = w * (slope * (xw - center) + 1.0)
    return float(np.dot(w, y[left:stop]))
