"""The regularized log transformation (DESeq2's ``rlog``).

Each gene gets a GLM with an intercept and one coefficient per sample; the sample coefficients
have a zero-centred normal prior whose variance is matched to the upper quantile of the
observed log fold changes from the gene mean, weighted by their expected precision. The rlog
value of a sample is intercept + its shrunken coefficient, on the log2 scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from dgeflow.deseq2.glm import fit_nb_glm

LOG2 = np.log(2.0)


def weighted_upper_quantile_variance(
    x: np.ndarray, weights: np.ndarray, upper_quantile: float = 0.05
) -> float:
    """Variance of the zero-centred normal whose ``1 - upper_quantile`` quantile of ``|x|``
    matches the weighted sample quantile (DESeq2's ``matchWeightedUpperQuantileForVariance``,
    with Hmisc's ``wtd.quantile(normwt=TRUE)`` definition of the weighted quantile)."""
    ax = np.abs(np.asarray(x, dtype=float)).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    w = w * ax.size / w.sum()
    values, inverse = np.unique(ax, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=w)
    cum = np.cumsum(sums)
    n = sums.sum()
    order = 1 + (n - 1) * (1 - upper_quantile)
    low = max(np.floor(order), 1.0)
    high = min(low + 1, n)
    frac = order % 1

    def at(t):  # the smallest value whose cumulative weight reaches t
        return values[min(np.searchsorted(cum, t, side="left"), values.size - 1)]

    quantile = (1 - frac) * at(low) + frac * at(high)
    return float((quantile / norm.ppf(1 - upper_quantile / 2)) ** 2)


def rlog_from_trend(
    counts: pd.DataFrame, size_factors: np.ndarray, trend, beta_prior_var: float | None = None
) -> tuple[pd.DataFrame, float]:
    """rlog values (genes x samples, log2 scale) given size factors and a dispersion trend.

    Returns the matrix and the prior variance used. All-zero genes are 0, as in DESeq2.
    """
    y_all = counts.to_numpy(dtype=float)
    sf = np.asarray(size_factors, dtype=float)
    genes = np.flatnonzero(y_all.sum(axis=1) > 0)
    y = y_all[genes]
    n, m = y.shape
    if sf.ndim == 2:  # per-gene normalization factors
        sf = sf[genes]
    normed = y / sf
    base_mean = normed.mean(axis=1)
    disp_fit = trend(base_mean)
    if beta_prior_var is None:
        lfc = np.log2(normed + 0.5) - np.log2(base_mean + 0.5)[:, None]
        precision = 1.0 / (1.0 / base_mean + disp_fit)
        beta_prior_var = weighted_upper_quantile_variance(
            lfc, np.broadcast_to(precision[:, None], lfc.shape)
        )
    # intercept plus one indicator per sample: not identifiable alone, the prior makes it so
    x = np.hstack([np.ones((m, 1)), np.eye(m)])
    lambda_log2 = np.concatenate([[1e-6], np.full(m, 1.0 / beta_prior_var)])
    beta_init = np.zeros((n, m + 1))
    beta_init[:, 0] = np.log(base_mean)
    fit = fit_nb_glm(
        y,
        x,
        np.broadcast_to(sf, y.shape),
        disp_fit,
        ridge=lambda_log2 / LOG2**2,
        beta_init=beta_init,
        tol=1e-4,
        use_optim=False,
    )
    out = np.zeros_like(y_all)
    out[genes] = fit.beta @ x.T / LOG2
    return pd.DataFrame(out, index=counts.index, columns=counts.columns), beta_prior_var
