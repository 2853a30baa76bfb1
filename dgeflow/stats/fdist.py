"""limma's scaled-F fit of gene-wise variances (``fitFDist``): the prior of empirical Bayes
moderation, optionally trended in a covariate."""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, polygamma


def trigamma_inverse(x: float) -> float:
    """Solve ``trigamma(y) = x`` for y > 0 by Newton's method (limma's ``trigammaInverse``)."""
    if x > 1e7:
        return 1.0 / np.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(50):
        tri = polygamma(1, y)
        step = tri * (1.0 - tri / x) / polygamma(2, y)
        y += step
        if -step / y < 1e-8:
            break
    return float(y)


def spline_knots(x: np.ndarray, df: int) -> np.ndarray:
    """Knots of ``splines::ns(x, df, intercept = TRUE)``: the range and ``df - 2`` interior
    quantiles (R's type 7)."""
    return np.quantile(np.asarray(x, dtype=float), np.linspace(0.0, 1.0, df), method="linear")


def natural_spline_basis(x: np.ndarray, df: int, knots: np.ndarray | None = None) -> np.ndarray:
    """A basis of the natural cubic splines with ``df`` knots at the quantiles of ``x``
    (boundary knots at its range), the space of R's ``splines::ns(x, df, intercept = TRUE)``;
    with ``knots`` given (from :func:`spline_knots`), the same space evaluated at new ``x``
    (linear beyond the boundary knots, as ``predict`` of ``ns``).

    Built from the truncated-power form (Hastie, Tibshirani & Friedman, eq. 5.4-5.5); any basis
    of the same space gives the same least-squares fit, which is all limma uses it for.
    """
    x = np.asarray(x, dtype=float)
    knots = spline_knots(x, df) if knots is None else knots
    last = knots[-1]

    def d(k: int) -> np.ndarray:
        return (np.maximum(x - knots[k], 0.0) ** 3 - np.maximum(x - last, 0.0) ** 3) / (
            last - knots[k]
        )

    columns = [np.ones_like(x), x]
    columns += [d(k) - d(df - 2) for k in range(df - 2)]
    return np.column_stack(columns)


def fit_f_dist(
    x: np.ndarray, df1: np.ndarray, covariate: np.ndarray | None = None
) -> tuple[np.ndarray | float, float]:
    """Moment estimates of the scale and second degrees of freedom of a scaled F distribution
    fitted to variances ``x`` with ``df1`` degrees of freedom (limma's ``fitFDist``).

    With a ``covariate`` (limma-trend: the average log-expression) the scale follows a natural
    cubic spline in it (1-4 degrees of freedom by the number of genes, as limma), and one
    scale per gene is returned. Returns ``(scale, df2)``; ``df2`` may be ``inf``.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    df1 = np.broadcast_to(np.asarray(df1, dtype=float), x.shape)
    ok = np.isfinite(df1) & (df1 > 1e-15) & np.isfinite(x) & (x > -1e-15)
    n_ok = int(ok.sum())
    if n_ok == 0:
        return np.nan, np.nan
    if n_ok == 1:
        return float(x[ok][0]), 0.0
    spline_df = 1
    if covariate is not None:
        covariate = np.asarray(covariate, dtype=float)
        spline_df = 1 + (n_ok >= 3) + (n_ok >= 6) + (n_ok >= 30)
        spline_df = min(spline_df, np.unique(covariate[ok]).size)
        if spline_df < 2:
            scale, df2 = fit_f_dist(x, df1)
            return np.full(n, scale), df2
    x, df1 = np.maximum(x[ok], 0.0), df1[ok]
    m = np.median(x)
    if m == 0:
        m = 1.0  # limma warns: more than half of the variances are exactly zero
    x = np.maximum(x, 1e-5 * m)
    e = np.log(x) - digamma(df1 / 2) + np.log(df1 / 2)
    if covariate is None:
        emean = e.mean()
        evar = np.sum((e - emean) ** 2) / (n_ok - 1)
    else:
        # the trend is fitted on the usable genes and predicted for the others
        knots = spline_knots(covariate[ok], spline_df)
        basis = natural_spline_basis(covariate[ok], spline_df, knots)
        coef, *_ = np.linalg.lstsq(basis, e, rcond=None)
        fitted = basis @ coef
        rank = np.linalg.matrix_rank(basis)
        evar = np.sum((e - fitted) ** 2) / (n_ok - rank)
        emean = natural_spline_basis(covariate, spline_df, knots) @ coef
    evar -= np.mean(polygamma(1, df1 / 2))
    if evar > 0:
        df2 = 2.0 * trigamma_inverse(evar)
        scale = np.exp(emean + digamma(df2 / 2) - np.log(df2 / 2))
    else:
        df2 = np.inf
        scale = np.mean(x) if covariate is None else np.exp(emean)
    return (float(scale) if covariate is None else scale), df2
