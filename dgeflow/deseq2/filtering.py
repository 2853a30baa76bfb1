"""DESeq2's independent filtering on the mean count, its gene categories, and the optional count
pre-filter of the DESeq2 path."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dgeflow.errors import DataError
from dgeflow.stats.lowess import lowess
from dgeflow.stats.multiple_testing import bh_adjust


def r_quantile(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's default (type 7) quantiles; NumPy's ``linear`` method is the same definition."""
    return np.quantile(x, probs, method="linear")


FILTER_CURVE_COLUMNS = ("theta", "mean_count_threshold", "rejections", "lowess_fit", "chosen")


def independent_filtering(
    pvalues: np.ndarray,
    filter_stat: np.ndarray,
    alpha: float = 0.1,
    n_theta: int = 50,
) -> tuple[np.ndarray, float, float, pd.DataFrame]:
    """DESeq2's ``pvalueAdjustment`` with independent filtering.

    For 50 quantiles of the filter statistic (from the fraction of zeros to 0.95) BH is applied
    to the genes at or above each cutoff; a lowess curve (f = 1/5) of the rejections at
    ``alpha`` picks the first quantile whose rejections exceed the curve's maximum minus the
    root mean square of its residuals.

    Returns
    -------
    padj : numpy.ndarray
        Adjusted p-values at the chosen cutoff (NaN for the genes below it).
    filter_threshold, filter_theta : float
        The chosen cutoff of the filter statistic and its quantile (DESeq2's
        ``filterThreshold`` and ``filterTheta``).
    curve : pandas.DataFrame
        One row per quantile, DESeq2's ``filterNumRej`` and ``lo.fit``: ``theta`` (the
        quantile), ``mean_count_threshold`` (the filter statistic's value there, the mean of
        normalized counts in ``results()``), ``rejections`` (genes with ``padj < alpha`` when
        genes below it are filtered), ``lowess_fit`` (the lowess curve of ``rejections``) and
        ``chosen`` (the row of ``filter_theta``).
    """
    filter_stat = np.asarray(filter_stat, dtype=float)
    lower = float(np.mean(filter_stat == 0))
    upper = 0.95 if lower < 0.95 else 1.0
    theta = np.linspace(lower, upper, n_theta)
    cutoffs = r_quantile(filter_stat, theta)
    padj_all = np.full((pvalues.size, n_theta), np.nan)
    for i, cut in enumerate(cutoffs):
        use = filter_stat >= cut
        padj_all[use, i] = bh_adjust(pvalues[use])
    num_rej = np.sum(padj_all < alpha, axis=0)
    # R's lowess (DESeq2 calls lowess(numRej ~ theta, f = 1/5), also when it then ignores the
    # curve); theta is increasing, so the sorted order is the original one
    _, fitted = lowess(theta, num_rej.astype(float), f=1 / 5)
    if num_rej.max() <= 10:
        j = 0
    else:
        if np.all(num_rej == 0):
            residual = np.array([0.0])
        else:
            residual = num_rej[num_rej > 0] - fitted[num_rej > 0]
        thresh = fitted.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(num_rej > thresh)
        j = int(above[0]) if above.size else 0
    curve = pd.DataFrame(
        {
            "theta": theta,
            "mean_count_threshold": cutoffs,
            "rejections": num_rej.astype(np.int64),
            "lowess_fit": fitted,
            "chosen": np.arange(n_theta) == j,
        }
    )
    return padj_all[:, j], float(cutoffs[j]), float(theta[j]), curve


def filter_curve(results: pd.DataFrame) -> pd.DataFrame | None:
    """The independent-filtering curve of a DESeq2 results table, as a DataFrame.

    What DESeq2's vignette plots: ``rejections`` against ``theta`` with ``lowess_fit`` as a
    line and the ``chosen`` quantile marked (``metadata(res)$filterNumRej``, ``lo.fit`` and
    ``filterTheta``). Columns as :func:`independent_filtering`'s ``curve``; ``None`` for a
    table made without independent filtering.
    """
    curve = results.attrs.get("filter_curve")
    if curve is None:
        return None
    return pd.DataFrame(curve, columns=list(FILTER_CURVE_COLUMNS))


GENE_CATEGORIES = ("all_zero", "cooks_outlier", "low_counts", "tested")


def gene_categories(results: pd.DataFrame) -> pd.DataFrame:
    """Count a results table's genes in DESeq2's ``summary()`` categories.

    Every gene falls in exactly one: ``all_zero`` (zero counts everywhere), ``cooks_outlier``
    (p-value removed for a count outlier), ``low_counts`` (removed by independent filtering:
    p-value but no adjusted p-value) or ``tested``.

    Returns
    -------
    pandas.DataFrame
        Columns ``category``, ``n_genes``, ``detail``.
    """
    all_zero = results["baseMean"] == 0
    cooks = results["pvalue"].isna() & ~all_zero
    low = results["padj"].isna() & results["pvalue"].notna()
    tested = results["padj"].notna()
    if low.any():
        low_detail = (
            "independent filtering: mean normalized count up to "
            f"{results.loc[low, 'baseMean'].max():.4g}"
        )
    else:
        low_detail = "none removed by independent filtering"
    return pd.DataFrame(
        {
            "category": GENE_CATEGORIES,
            "n_genes": [int(all_zero.sum()), int(cooks.sum()), int(low.sum()), int(tested.sum())],
            "detail": [
                "zero counts in every sample",
                "p-value set to NA: a count outlier by Cook's distance",
                low_detail,
                "adjusted p-value computed",
            ],
        }
    )


def prefilter_counts(counts: pd.DataFrame, min_count: int, min_samples: int) -> pd.DataFrame:
    """Keep genes with at least ``min_count`` reads in at least ``min_samples`` samples.

    An explicit, optional pre-filter (edgeR-style); DESeq2 needs none, and removing genes
    changes its size factors, dispersion trend and multiple-testing burden. ``min_count`` of 0
    keeps every gene.

    Raises
    ------
    DataError
        The filter removes every gene (the message names ``filtering.min_count`` and
        ``filtering.min_samples``, the workflow's keys for the two arguments).
    """
    if min_count <= 0:
        return counts
    if min_samples < 1:
        raise ValueError("min_samples must be at least 1")
    values = counts.to_numpy()
    keep = (values >= min_count).sum(axis=1) >= min_samples
    if not keep.any():
        n_samples = values.shape[1]
        largest = f"{values.max():g}" if values.size else "none"
        more = f" (the study has {n_samples})" if min_samples > n_samples else ""
        raise DataError(
            f"the count pre-filter (filtering.min_count={min_count} reads in at least "
            f"filtering.min_samples={min_samples} samples{more}) removed all {len(counts)} genes "
            f"(largest count: {largest}). Fix: lower `filtering.min_count` or "
            "`filtering.min_samples` in the config (`filtering.min_count: 0` turns the "
            "pre-filter off)."
        )
    return counts.loc[keep]
