"""limma's empirical Bayes moderation (``squeezeVar``, ``fitFDist``, ``eBayes``), vectorized.

Smyth (2004): gene-wise residual variances are shrunk towards a common prior variance ``s0^2``
with ``d0`` prior degrees of freedom, both estimated from the variances' distribution (a scaled
F); moderated t-statistics then have ``d0 + d`` degrees of freedom. The B-statistic is the log
posterior odds of differential expression with a prior proportion of 1%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import digamma, polygamma

from dgeflow.multiple_testing import bh_adjust


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


def natural_spline_basis(x: np.ndarray, df: int) -> np.ndarray:
    """A basis of the natural cubic splines with ``df`` knots at the quantiles of ``x``
    (boundary knots at its range), the space of R's ``splines::ns(x, df, intercept = TRUE)``.

    Built from the truncated-power form (Hastie, Tibshirani & Friedman, eq. 5.4-5.5); any basis
    of the same space gives the same least-squares fit, which is all limma uses it for.
    """
    x = np.asarray(x, dtype=float)
    knots = np.quantile(x, np.linspace(0.0, 1.0, df), method="linear")
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
    if not ok.all() and covariate is not None:
        raise ValueError("fit_f_dist with a covariate needs finite variances and df > 0")
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
        basis = natural_spline_basis(covariate, spline_df)
        coef, *_ = np.linalg.lstsq(basis, e, rcond=None)
        emean = basis @ coef
        rank = np.linalg.matrix_rank(basis)
        evar = np.sum((e - emean) ** 2) / (n_ok - rank)
    evar -= np.mean(polygamma(1, df1 / 2))
    if evar > 0:
        df2 = 2.0 * trigamma_inverse(evar)
        scale = np.exp(emean + digamma(df2 / 2) - np.log(df2 / 2))
    else:
        df2 = np.inf
        scale = np.mean(x) if covariate is None else np.exp(emean)
    return (float(scale) if covariate is None else scale), df2


@dataclass
class SqueezedVariances:
    var_post: np.ndarray
    var_prior: float | np.ndarray
    df_prior: float


def squeeze_var(
    var: np.ndarray, df: np.ndarray, covariate: np.ndarray | None = None
) -> SqueezedVariances:
    """Posterior variances ``(df var + d0 s0^2) / (df + d0)`` (limma's ``squeezeVar``); with a
    ``covariate`` the prior variance ``s0^2`` is a trend in it."""
    var_prior, df_prior = fit_f_dist(var, df, covariate)
    if np.isfinite(df_prior):
        post = (df * var + df_prior * var_prior) / (df + df_prior)
    else:
        post = np.broadcast_to(var_prior, np.shape(var)).astype(float)
    return SqueezedVariances(post, var_prior, df_prior)


def _tmixture(
    tstat: np.ndarray, stdev_unscaled: np.ndarray, df: np.ndarray, proportion: float, lim
) -> float:
    """Prior variance of the non-zero effects from the top ``proportion`` of |t| (limma's
    ``tmixture.vector``)."""
    n = tstat.size
    n_target = int(np.ceil(proportion / 2 * n))
    if n_target < 1:
        return np.nan
    p = max(n_target / n, proportion)
    t = np.abs(tstat)
    df = df.astype(float).copy()
    max_df = df.max()
    lower = df < max_df
    if lower.any():
        # put every statistic on the scale of the largest df by its tail probability
        t[lower] = stats.t.isf(np.exp(stats.t.logsf(t[lower], df[lower])), max_df)
    order = np.argsort(-t, kind="stable")[:n_target]
    t, v1 = t[order], stdev_unscaled[order] ** 2
    r = np.arange(1, n_target + 1)
    p0 = 2 * stats.t.sf(t, max_df)
    p_target = ((r - 0.5) / n - (1 - p) * p0) / p
    v0 = np.zeros(n_target)
    pos = p_target > p0
    if pos.any():
        q_target = stats.t.isf(p_target[pos] / 2, max_df)
        v0[pos] = v1[pos] * ((t[pos] / q_target) ** 2 - 1)
    v0 = np.clip(v0, lim[0], lim[1])
    return float(v0.mean())


@dataclass
class ModeratedT:
    """One contrast's moderated statistics for every gene."""

    t: np.ndarray
    p_value: np.ndarray
    lods: np.ndarray
    df_total: np.ndarray
    s2_post: np.ndarray
    s2_prior: float | np.ndarray
    df_prior: float


def moderated_t(
    estimate: np.ndarray,
    stdev_unscaled: np.ndarray,
    sigma: np.ndarray,
    df_residual: np.ndarray,
    *,
    proportion: float = 0.01,
    stdev_coef_lim: tuple[float, float] = (0.1, 4.0),
    covariate: np.ndarray | None = None,
) -> ModeratedT:
    """Moderated t, its p-value and the B-statistic for one contrast (limma's ``eBayes``;
    ``covariate`` = the average expression for ``eBayes(trend = TRUE)``)."""
    sq = squeeze_var(sigma**2, df_residual, covariate)
    df_total = np.minimum(df_residual + sq.df_prior, np.sum(df_residual))
    t = estimate / stdev_unscaled / np.sqrt(sq.var_post)
    p_value = 2 * stats.t.sf(np.abs(t), df_total)
    lim = np.square(stdev_coef_lim) / np.median(np.broadcast_to(sq.var_prior, t.shape))
    var_prior = _tmixture(t, stdev_unscaled, df_total, proportion, lim)
    if np.isnan(var_prior):
        var_prior = 1.0 / np.broadcast_to(sq.var_prior, t.shape)
    r = (stdev_unscaled**2 + var_prior) / stdev_unscaled**2
    t2 = t**2
    if sq.df_prior > 1e6:
        kernel = t2 * (1 - 1 / r) / 2
    else:
        kernel = (1 + df_total) / 2 * np.log((t2 + df_total) / (t2 / r + df_total))
    lods = np.log(proportion / (1 - proportion)) - np.log(r) / 2 + kernel
    return ModeratedT(t, p_value, lods, df_total, sq.var_post, sq.var_prior, sq.df_prior)


def top_table(estimate: np.ndarray, amean: np.ndarray, mt: ModeratedT) -> dict[str, np.ndarray]:
    """limma's ``topTable`` columns for one contrast, in gene order (not sorted)."""
    return {
        "logFC": estimate,
        "AveExpr": amean,
        "t": mt.t,
        "P.Value": mt.p_value,
        "adj.P.Val": bh_adjust(mt.p_value),
        "B": mt.lods,
    }
