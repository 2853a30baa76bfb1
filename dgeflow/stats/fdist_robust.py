"""limma's robust empirical Bayes (``fitFDistRobustly``; Phipson et al. 2016): the prior is
fitted to Winsorized log-variances, and genes whose variance is an outlier from it get fewer
prior degrees of freedom, so they are shrunk less."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from scipy.stats import rankdata

from dgeflow.stats.fdist import fit_f_dist
from dgeflow.stats.lowess import lowess
from dgeflow.stats.summaries import trimmed_mean

# Gauss-Legendre rule on [0, 1] (statmod's gauss.quad.prob(128, "uniform"))
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(128)
_NODES = (_NODES + 1.0) / 2.0
_WEIGHTS = _WEIGHTS / 2.0


@dataclass
class RobustFDist:
    scale: float | np.ndarray
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


def _approx_rule2(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """R's ``approx(x, y, xout = at, rule = 2, ties = mean)``."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    ux, start = np.unique(xs, return_index=True)
    means = np.add.reduceat(ys, start) / np.diff(np.append(start, xs.size))
    return np.interp(at, ux, means)


def _f_logsf(f, df1, df2):
    if np.isinf(df2):
        return stats.chi2.logsf(f * df1, df1)
    return stats.f.logsf(f, df1, df2)


def _f_logcdf(f, df1, df2):
    if np.isinf(df2):
        return stats.chi2.logcdf(f * df1, df1)
    return stats.f.logcdf(f, df1, df2)


def _f_isf_log(logp, df1, df2):
    if np.isinf(df2):
        return stats.chi2.isf(np.exp(logp), df1) / df1
    return stats.f.isf(np.exp(logp), df1, df2)


def _f_ppf_log(logp, df1, df2):
    if np.isinf(df2):
        return stats.chi2.ppf(np.exp(logp), df1) / df1
    return stats.f.ppf(np.exp(logp), df1, df2)


def fit_f_dist_robustly(
    x: np.ndarray,
    df1: float | np.ndarray,
    covariate: np.ndarray | None = None,
    winsor_tail_p: tuple[float, float] = (0.05, 0.1),
) -> RobustFDist:
    """limma's ``fitFDistRobustly``: scale (one value, or one per gene with a ``covariate``),
    prior df, and per-gene shrunken prior df. Genes with no residual df (``df1`` 0) take the
    fitted trend and the prior df."""
    x = np.asarray(x, dtype=float).copy()
    n = x.size
    df1 = np.broadcast_to(np.asarray(df1, dtype=float), (n,)).copy()
    if covariate is not None:
        covariate = np.asarray(covariate, dtype=float)
    ok = ~np.isnan(x) & np.isfinite(df1) & (df1 > 1e-6)
    if not ok.all():
        fit = fit_f_dist_robustly(
            x[ok], df1[ok], None if covariate is None else covariate[ok], winsor_tail_p
        )
        shrunk = np.full(n, fit.df2)
        shrunk[ok] = fit.df2_shrunk
        if covariate is None:
            return RobustFDist(fit.scale, fit.df2, shrunk)
        scale = np.empty(n)
        scale[ok] = fit.scale
        scale[~ok] = np.exp(_approx_rule2(covariate[ok], np.log(fit.scale), covariate[~ok]))
        return RobustFDist(scale, fit.df2, shrunk)
    tail_p = np.asarray(winsor_tail_p, dtype=float)
    m = np.median(x)
    if m <= 0:
        raise ValueError("variances are mostly <= 0: cannot fit the prior robustly")
    x[x < m * 1e-12] = m * 1e-12
    scale0, df2_0 = fit_f_dist(x, df1, covariate)
    if np.all(tail_p < 1.0 / n):
        return RobustFDist(scale0, df2_0, np.full(n, df2_0))
    # bring variances with fewer residual df to the largest df by their tail probability
    df1_max = df1.max()
    fewer = df1 < df1_max - 1e-14
    if fewer.any():
        s = scale0 if covariate is None else np.asarray(scale0)[fewer]
        f = x[fewer] / s
        upper = _f_logsf(f, df1[fewer], df2_0)
        lower = _f_logcdf(f, df1[fewer], df2_0)
        up = upper < lower
        f = np.where(up, _f_isf_log(upper, df1_max, df2_0), _f_ppf_log(lower, df1_max, df2_0))
        x[fewer] = f * s
    df1 = float(df1_max)
    z = np.log(x)
    if covariate is None:
        z_trend = float(trimmed_mean(z, tail_p[1]))
    else:
        order = np.argsort(covariate, kind="stable")
        _, smooth = lowess(covariate[order], z[order], f=0.4, iter=3)
        z_trend = np.empty(n)
        z_trend[order] = smooth
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
        return RobustFDist(_scale(corrected), np.inf, shrunk)
    if np.isinf(df2_0):
        return RobustFDist(scale0, df2_0, np.full(n, df2_0))

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
        return RobustFDist(_scale(corrected), df2, np.full(n, df2))
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
    return RobustFDist(_scale(corrected), df2, shrunk)


def _scale(corrected_trend: float | np.ndarray) -> float | np.ndarray:
    scale = np.exp(corrected_trend)
    return float(scale) if np.ndim(scale) == 0 else scale
