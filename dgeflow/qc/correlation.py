"""Sample-to-sample Pearson correlation of log-scale expression, its per-sample summary, the
average-linkage clustering heatmaps are ordered by, and the low-correlation flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from dgeflow.threads import chunk_slices


def sample_correlation(
    x: pd.DataFrame, ordered: bool = False, block_elements: int = 1 << 24
) -> pd.DataFrame:
    """Pearson correlation between samples over all genes with finite values.

    Computed from centred cross-products accumulated over blocks of genes, so at 10,000 samples
    it holds the samples x samples result and one block, not a centred float64 copy of the data.

    Parameters
    ----------
    x
        Log-scale expression, genes x samples.
    ordered
        Reorder rows and columns by :func:`cluster_order`.
    block_elements
        Values per block of genes.

    Returns
    -------
    pandas.DataFrame
        Samples x samples correlation matrix.
    """
    values = x.to_numpy()
    n_samples = values.shape[1]
    blocks = list(chunk_slices(*values.shape, elements=block_elements))
    finite = np.zeros(values.shape[0], dtype=bool)
    sums = np.zeros(n_samples)
    for rows in blocks:
        block = values[rows].astype(float, copy=False)
        finite[rows] = np.isfinite(block).all(axis=1)
        sums += block[finite[rows]].sum(axis=0)
    means = sums / max(1, int(finite.sum()))
    cross = np.zeros((n_samples, n_samples))
    for rows in blocks:
        centred = values[rows][finite[rows]].astype(float) - means
        cross += centred.T @ centred
    scale = np.sqrt(np.diag(cross))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(cross / scale[:, None] / scale[None, :], -1.0, 1.0)
    corr = pd.DataFrame(r, index=x.columns, columns=x.columns)
    corr.index.name = "sample_id"
    if ordered:
        order = cluster_order(corr)
        corr = corr.loc[order, order]
    return corr


def correlation_summary(corr: pd.DataFrame) -> pd.DataFrame:
    """Per sample: the median and the minimum correlation to the other samples, and the
    sample it correlates best with (what a reader scans for outliers and swaps).

    Parameters
    ----------
    corr
        Samples x samples correlation (:func:`sample_correlation`).

    Returns
    -------
    pandas.DataFrame
        Columns ``sample_id``, ``median r to others``, ``min r``, ``closest sample``,
        ``r to closest``, in the order of ``corr``.
    """
    values = corr.to_numpy(dtype=float).copy()
    np.fill_diagonal(values, np.nan)
    if len(corr) < 2:
        return pd.DataFrame(
            columns=["sample_id", "median r to others", "min r", "closest sample", "r to closest"]
        )
    closest = np.nanargmax(values, axis=1)
    return pd.DataFrame(
        {
            "sample_id": corr.index.astype(str),
            "median r to others": np.nanmedian(values, axis=1),
            "min r": np.nanmin(values, axis=1),
            "closest sample": corr.columns.astype(str)[closest],
            "r to closest": values[np.arange(len(values)), closest],
        }
    )


def correlation_linkage(corr: pd.DataFrame) -> np.ndarray:
    """Average-linkage hierarchical clustering of samples on the distance ``1 - r``.

    Parameters
    ----------
    corr
        Samples x samples correlation matrix.

    Returns
    -------
    numpy.ndarray
        SciPy linkage matrix (usable by ``seaborn.clustermap`` and ``dendrogram``).
    """
    distance = np.clip(1.0 - corr.to_numpy(dtype=float), 0.0, 2.0)
    distance = (distance + distance.T) / 2.0  # guard against rounding asymmetry
    np.fill_diagonal(distance, 0.0)
    return hierarchy.linkage(squareform(distance, checks=False), method="average")


def cluster_order(corr: pd.DataFrame) -> list[str]:
    """Sample order of the leaves of :func:`correlation_linkage` (for heatmaps and tables)."""
    if len(corr) < 3:
        return list(corr.index)
    leaves = hierarchy.leaves_list(correlation_linkage(corr))
    return [corr.index[i] for i in leaves]


def flag_low_correlation(corr: pd.DataFrame, min_correlation: float = 0.80) -> pd.DataFrame:
    """Samples that correlate poorly with the rest of the experiment.

    The statistic is each sample's *median* Pearson correlation to the other samples. The
    median, unlike the mean, is not dragged down by one or two bad partners: a good sample stays
    unflagged when another sample is broken, while a broken sample is far from most samples and
    its median falls.

    Parameters
    ----------
    corr
        Samples x samples correlation matrix.
    min_correlation
        Samples whose median correlation is below this value are flagged.

    Returns
    -------
    pandas.DataFrame
        Columns ``sample_id, flag, median_correlation, detail``; ``flag`` is
        ``low_correlation``; one row per flagged sample (empty when none).
    """
    values = corr.to_numpy(dtype=float).copy()
    np.fill_diagonal(values, np.nan)
    rows = []
    if len(corr) >= 2:
        medians = np.nanmedian(values, axis=1)
        for sample, median in zip(corr.index, medians, strict=True):
            if median < min_correlation:
                rows.append(
                    {
                        "sample_id": sample,
                        "flag": "low_correlation",
                        "median_correlation": float(median),
                        "detail": (
                            f"median Pearson correlation to the other samples is {median:.3f} "
                            f"(< {min_correlation:g}); check library quality or exclude"
                        ),
                    }
                )
    return pd.DataFrame(rows, columns=["sample_id", "flag", "median_correlation", "detail"])
