"""limma's ``eBayes``: moderated t-statistics on variances squeezed by
:func:`dgeflow.stats.squeeze_var.squeeze_var`, vectorized.

Smyth (2004): gene-wise residual variances are shrunk towards a common prior variance ``s0^2``
with ``d0`` prior degrees of freedom, both estimated from the variances' distribution (a scaled
F); moderated t-statistics then have ``d0 + d`` degrees of freedom. The B-statistic is the log
posterior odds of differential expression with a prior proportion of 1%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from dgeflow.stats.multiple_testing import bh_adjust
from dgeflow.stats.squeeze_var import squeeze_var


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
    df_prior: float | np.ndarray


def moderated_t(
    estimate: np.ndarray,
    stdev_unscaled: np.ndarray,
    sigma: np.ndarray,
    df_residual: np.ndarray,
    *,
    proportion: float = 0.01,
    stdev_coef_lim: tuple[float, float] = (0.1, 4.0),
    covariate: np.ndarray | None = None,
    robust: bool = False,
) -> ModeratedT:
    """Moderated t, its p-value and the B-statistic for one contrast (limma's ``eBayes``;
    ``covariate`` = the average expression for ``eBayes(trend = TRUE)``, ``robust`` for
    ``eBayes(robust = TRUE)``)."""
    sq = squeeze_var(sigma**2, df_residual, covariate, robust)
    df_total = np.minimum(df_residual + sq.df_prior, np.sum(df_residual))
    t = estimate / stdev_unscaled / np.sqrt(sq.var_post)
    p_value = 2 * stats.t.sf(np.abs(t), df_total)
    lim = np.square(stdev_coef_lim) / np.median(np.broadcast_to(sq.var_prior, t.shape))
    var_prior = _tmixture(t, stdev_unscaled, df_total, proportion, lim)
    if np.isnan(var_prior):
        var_prior = 1.0 / np.broadcast_to(sq.var_prior, t.shape)
    r = (stdev_unscaled**2 + var_prior) / stdev_unscaled**2
    t2 = t**2
    infinite_df = np.broadcast_to(np.asarray(sq.df_prior) > 1e6, t.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        finite_kernel = (1 + df_total) / 2 * np.log((t2 + df_total) / (t2 / r + df_total))
    kernel = np.where(infinite_df, t2 * (1 - 1 / r) / 2, finite_kernel)
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


def moderated_f(
    coefficients: np.ndarray,
    stdev_unscaled: np.ndarray,
    correlation: np.ndarray,
    sigma: np.ndarray,
    df_residual: np.ndarray,
    *,
    covariate: np.ndarray | None = None,
    robust: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """limma's moderated F of several coefficients and its p-value, as ``topTable(fit,
    coef = <several>)`` computes them (``classifyTestsF(fstat.only = TRUE)``): the moderated t
    of each coefficient, decorrelated with the eigen decomposition of their correlation (from
    the unweighted design), on ``df.prior + df.residual`` denominator degrees of freedom.

    Returns
    -------
    tuple
        ``(F, p_value, df1)``.
    """
    sq = squeeze_var(sigma**2, df_residual, covariate, robust)
    t = coefficients / stdev_unscaled / np.sqrt(sq.var_post)[:, None]
    if t.shape[1] == 1:
        f_stat, df1 = t[:, 0] ** 2, 1
    else:
        values, vectors = np.linalg.eigh(correlation)
        order = np.argsort(values)[::-1]  # R's eigen(): decreasing
        values, vectors = values[order], vectors[:, order]
        df1 = int(np.sum(values / values[0] > 1e-8))
        q = vectors[:, :df1] / np.sqrt(values[:df1]) / np.sqrt(df1)
        f_stat = ((t @ q) ** 2).sum(axis=1)
    df2 = np.broadcast_to(np.asarray(sq.df_prior) + df_residual, f_stat.shape)
    if df2[0] > 1e6:
        p_value = stats.chi2.sf(df1 * f_stat, df1)
    else:
        p_value = stats.f.sf(f_stat, df1, df2)
    return f_stat, p_value, df1
