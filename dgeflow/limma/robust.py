"""limma's robust empirical Bayes (``fitFDistRobustly``; Phipson et al. 2016): the prior is
fitted to Winsorized log-variances, and genes whose variance is an outlier from it get fewer
prior degrees of freedom, so they are shrunk less."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from scipy.stats import rankdata

from dgeflow.limma.fdist import fit_f_dist
from dgeflow.rstats import trimmed_mean

# Gauss-Legendre rule on [0, 1] (statmod's gauss.quad.prob(128, "uniform"))
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(128)
_NODES = (_NODES + 1.0) / 2.0
_WEIGHTS = _WEIGHTS / 2.0


@dataclass
class RobustFDist:
    scale: float
    df2: float
    df2_shrunk: np.ndarray  # per gene: the prior df, smaller for outlying variances


def _f_ppf(p: np.ndarray, df1: float, df2: float) -> np.ndarray:
    if np.isinf(df2):
        return stats.chi2.ppf(p, df1) / df1
    return stats.f.ppf(p, df1, df2)


def _f_pdf(x: np.ndarray, df1: float, df2: float) -> np.ndarray:
    if np.isinf(df2):
        return df1 * stats.chi2.pdf(x * df1, df1)
    return stats.f.pdf(x, df1, df2)


def _winsorized_moments(df1: float, df2: float, tail_p: np.ndarray) -> tuple[float, float]:
    """Mean and variance of the Winsorized log-F(df1, df2) distribution, by quadrature on the
    ``F / (1 + F)`` scale."""
    fq = _f_ppf(np.array([tail_p[0], 1.0 - tail_p[1]]), df1, df2)
    zq = np.log(fq)
    q = fq / (1.0 + fq)
    nodes = q[0] + (q[1] - q[0]) * _NODES
    f_nodes = nodes / (1.0 - nodes)
    z_nodes = np.log(f_nodes)
    density = _f_pdf(f_nodes, df1, df2) / (1.0 - nodes) ** 2
    width = q[1] - q[0]
    mean = width * np.sum(_WEIGHTS * density * z_nodes) + np.sum(zq * tail_p)
    var = width * np.sum(_WEIGHTS * density * (z_nodes - mean) ** 2) + np.sum(
        (zq - mean) ** 2 * tail_p
    )
    return float(mean), float(var)


def fit_f_dist_robustly(
    x: np.ndarray, df1: float, winsor_tail_p: tuple[float, float] = (0.05, 0.1)
) -> RobustFDist:
    """limma's ``fitFDistRobustly`` for variances ``x`` with one residual df ``df1`` (no
    covariate): scale, prior df, and per-gene shrunken prior df."""
    x = np.asarray(x, dtype=float).copy()
    n = x.size
    tail_p = np.asarray(winsor_tail_p, dtype=float)
    m = np.median(x)
    if m <= 0:
        raise ValueError("variances are mostly <= 0: cannot fit the prior robustly")
    x[x < m * 1e-12] = m * 1e-12
    scale0, df2_0 = fit_f_dist(x, df1)
    if np.all(tail_p < 1.0 / n):
        return RobustFDist(float(scale0), df2_0, np.full(n, df2_0))
    z = np.log(x)
    z_trend = float(trimmed_mean(z, tail_p[1]))
    z_resid = z - z_trend
    lo, hi = np.quantile(z_resid, [tail_p[0], 1.0 - tail_p[1]], method="linear")
    z_wins = np.clip(z_resid, lo, hi)
    zw_mean = z_wins.mean()
    zw_var = np.mean((z_wins - zw_mean) ** 2) * n / (n - 1)

    mean_inf, var_inf = _winsorized_moments(df1, np.inf, tail_p)
    value_inf = np.log(zw_var / var_inf)
    if value_inf <= 0:
        corrected = z_trend + zw_mean - mean_inf
        f_stat = np.exp(z - corrected)
        tail = stats.chi2.sf(f_stat * df1, df1)
        empirical = (n - rankdata(f_stat) + 0.5) / n
        not_outlier = np.minimum(tail / empirical, 1.0)
        shrunk = np.full(n, np.inf)
        outlier = not_outlier < 1
        if outlier.any():
            shrunk[outlier] = not_outlier[outlier] * n * df1
            order = np.argsort(tail, kind="stable")
            shrunk[order] = np.maximum.accumulate(shrunk[order])
        return RobustFDist(float(np.exp(corrected)), np.inf, shrunk)
    if np.isinf(df2_0):
        return RobustFDist(float(scale0), df2_0, np.full(n, df2_0))

    def excess(u: float) -> float:
        if u >= 1.0:
            return value_inf
        return np.log(zw_var / _winsorized_moments(df1, u / (1.0 - u), tail_p)[1])

    u0 = df2_0 / (1.0 + df2_0)
    value_low = excess(u0)
    if value_low >= 0:
        df2 = df2_0
    else:
        root = optimize.brentq(excess, u0, 1.0, xtol=1e-14, rtol=1e-14)
        df2 = root / (1.0 - root)
    mean, _ = _winsorized_moments(df1, df2, tail_p)
    corrected = z_trend + zw_mean - mean
    f_stat = np.exp(z - corrected)
    log_tail = stats.f.logsf(f_stat, df1, df2)
    log_empirical = np.log(n - rankdata(f_stat) + 0.5) - np.log(n)
    log_not_outlier = np.minimum(log_tail - log_empirical, 0.0)
    if not (log_not_outlier < 0).any():
        return RobustFDist(float(np.exp(corrected)), df2, np.full(n, df2))
    not_outlier = np.exp(log_not_outlier)
    is_outlier = -np.expm1(log_not_outlier)
    min_log_tail = log_tail.min()
    if min_log_tail == -np.inf:
        shrunk = not_outlier * df2
    else:
        df2_outlier = np.log(0.5) / min_log_tail * df2
        new_log_tail = stats.f.logsf(f_stat.max(), df1, df2_outlier)
        df2_outlier = np.log(0.5) / new_log_tail * df2_outlier
        shrunk = not_outlier * df2 + is_outlier * df2_outlier
    # monotone in the tail probability, pooled from the most outlying end
    order = np.argsort(log_tail, kind="stable")
    ordered = shrunk[order]
    running = np.cumsum(ordered) / np.arange(1, n + 1)
    first_min = int(np.argmin(running))
    ordered[: first_min + 1] = running[first_min]
    shrunk[order] = np.maximum.accumulate(ordered)
    return RobustFDist(float(np.exp(corrected)), df2, shrunk)
