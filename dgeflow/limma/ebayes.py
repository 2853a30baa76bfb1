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

from dgeflow.filtering import bh_adjust


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


def fit_f_dist(x: np.ndarray, df1: np.ndarray) -> tuple[float, float]:
    """Moment estimates of the scale and second degrees of freedom of a scaled F distribution
    fitted to variances ``x`` with ``df1`` degrees of freedom (limma's ``fitFDist`` without a
    covariate). Returns ``(scale, df2)``; ``df2`` may be ``inf``."""
    x = np.asarray(x, dtype=float)
    df1 = np.broadcast_to(np.asarray(df1, dtype=float), x.shape)
    ok = np.isfinite(df1) & (df1 > 1e-15) & np.isfinite(x) & (x > -1e-15)
    n_ok = int(ok.sum())
    if n_ok == 0:
        return np.nan, np.nan
    if n_ok == 1:
        return float(x[ok][0]), 0.0
    x, df1 = np.maximum(x[ok], 0.0), df1[ok]
    m = np.median(x)
    if m == 0:
        m = 1.0  # limma warns: more than half of the variances are exactly zero
    x = np.maximum(x, 1e-5 * m)
    e = np.log(x) - digamma(df1 / 2) + np.log(df1 / 2)
    emean = e.mean()
    evar = np.sum((e - emean) ** 2) / (n_ok - 1)
    evar -= np.mean(polygamma(1, df1 / 2))
    if evar > 0:
        df2 = 2.0 * trigamma_inverse(evar)
        return float(np.exp(emean + digamma(df2 / 2) - np.log(df2 / 2))), df2
    return float(np.mean(x)), np.inf


@dataclass
class SqueezedVariances:
    var_post: np.ndarray
    var_prior: float
    df_prior: float


def squeeze_var(var: np.ndarray, df: np.ndarray) -> SqueezedVariances:
    """Posterior variances ``(df var + d0 s0^2) / (df + d0)`` (limma's ``squeezeVar``)."""
    var_prior, df_prior = fit_f_dist(var, df)
    if np.isfinite(df_prior):
        post = (df * var + df_prior * var_prior) / (df + df_prior)
    else:
        post = np.full(np.shape(var), var_prior)
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
    s2_prior: float
    df_prior: float


def moderated_t(
    estimate: np.ndarray,
    stdev_unscaled: np.ndarray,
    sigma: np.ndarray,
    df_residual: np.ndarray,
    *,
    proportion: float = 0.01,
    stdev_coef_lim: tuple[float, float] = (0.1, 4.0),
) -> ModeratedT:
    """Moderated t, its p-value and the B-statistic for one contrast (limma's ``eBayes``)."""
    sq = squeeze_var(sigma**2, df_residual)
    df_total = np.minimum(df_residual + sq.df_prior, np.sum(df_residual))
    t = estimate / stdev_unscaled / np.sqrt(sq.var_post)
    p_value = 2 * stats.t.sf(np.abs(t), df_total)
    lim = np.square(stdev_coef_lim) / np.median(np.broadcast_to(sq.var_prior, t.shape))
    var_prior = _tmixture(t, stdev_unscaled, df_total, proportion, lim)
    if np.isnan(var_prior):
        var_prior = 1.0 / sq.var_prior
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
