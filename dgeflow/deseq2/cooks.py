"""Cook's distances for count outliers, and DESeq2's replacement of outlier counts."""

from __future__ import annotations

import numpy as np
from scipy.stats import f as f_dist

from dgeflow import threads
from dgeflow.rstats import trimmed_mean


def design_cells(x: np.ndarray) -> np.ndarray:
    """Integer label per sample: samples with identical design rows share a cell."""
    _, labels = np.unique(x, axis=0, return_inverse=True)
    return labels.ravel()


def n_or_more_in_cell(x: np.ndarray, n: int) -> np.ndarray:
    """Per sample: does its design cell hold at least ``n`` samples?"""
    cells = design_cells(x)
    counts = np.bincount(cells)
    return counts[cells] >= n


_TRIM_RATIO = np.array([1 / 3, 1 / 4, 1 / 8])
_TRIM_SCALE = np.array([2.04, 1.86, 1.51])


def _trim_bin(n: int) -> int:
    return 0 if n <= 3.5 else (1 if n <= 23.5 else 2)


def robust_dispersion(normed: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Robust method-of-moments dispersion used only for Cook's distances (floor 0.04).

    Variance is a scaled trimmed mean of squared deviations from trimmed cell means, maximized
    over the design cells with 3 or more samples (over all samples when no cell has 3).
    """
    cells = design_cells(x)
    sizes = np.bincount(cells)
    big_cells = np.flatnonzero(sizes >= 3)
    if big_cells.size:
        variances = []
        for cell in big_cells:
            sub = normed[:, cells == cell]
            k = _trim_bin(sub.shape[1])
            center = trimmed_mean(sub, _TRIM_RATIO[k], axis=1)
            sq = (sub - center[:, None]) ** 2
            variances.append(_TRIM_SCALE[k] * trimmed_mean(sq, _TRIM_RATIO[k], axis=1))
        v = np.max(variances, axis=0)
    else:
        center = trimmed_mean(normed, 1 / 8, axis=1)
        v = 1.51 * trimmed_mean((normed - center[:, None]) ** 2, 1 / 8, axis=1)
    m = normed.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = (v - m) / m**2
    return np.maximum(alpha, 0.04)


def cooks_distance(
    y: np.ndarray,
    normed: np.ndarray | None,
    mu: np.ndarray,
    hat: np.ndarray,
    x: np.ndarray,
    size_factors: np.ndarray | None = None,
) -> np.ndarray:
    """Cook's distance of every count: squared Pearson residual x leverage / (p (1 - h)^2).

    ``normed`` are the normalized counts; pass ``None`` and ``size_factors`` instead to have
    them computed block by block (saves a genes x samples array).
    """
    if normed is None and size_factors is None:
        raise ValueError("cooks_distance needs normalized counts or size factors")
    p = x.shape[1]
    out = np.empty(y.shape)

    def block(rows: slice) -> None:
        # gene blocks keep the temporaries small; the arithmetic per count is unchanged
        normed_rows = y[rows] / size_factors if normed is None else normed[rows]
        alpha = robust_dispersion(normed_rows, x)
        m = mu[rows]
        h = hat[rows]
        var = m + alpha[:, None] * m**2
        out[rows] = (y[rows] - m) ** 2 / var / p * h / (1 - h) ** 2

    threads.map_chunks(block, threads.chunk_slices(*y.shape))
    return out


def max_cooks(cooks: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per gene maximum over samples in cells with 3+ replicates (NaN when there are none)."""
    use = n_or_more_in_cell(x, 3)
    if not use.any():
        return np.full(cooks.shape[0], np.nan)
    if use.all():  # no column subset: avoids copying the whole matrix
        return cooks.max(axis=1)
    return cooks[:, use].max(axis=1)


def cooks_cutoff(n_samples: int, n_coefs: int) -> float:
    """DESeq2's default: the 99% quantile of F(p, m - p)."""
    return float(f_dist.ppf(0.99, n_coefs, n_samples - n_coefs))


def replace_outlier_counts(
    y: np.ndarray,
    sf: np.ndarray,
    cooks: np.ndarray,
    x: np.ndarray,
    cutoff: float,
    min_replicates: int = 7,
) -> tuple[np.ndarray, np.ndarray]:
    """Replace counts with Cook's distance above ``cutoff`` in cells of ``min_replicates``+
    samples by the gene's 20%-trimmed mean of normalized counts times the size factor.

    Returns the new counts and a per-gene mask of genes that had a count replaced.
    """
    samples_ok = n_or_more_in_cell(x, min_replicates)
    with np.errstate(invalid="ignore"):
        outlier = (cooks > cutoff) & samples_ok[None, :]
    replaced = outlier.any(axis=1)
    if not replaced.any():
        return y, replaced
    # only genes with an outlier change, so only their trimmed means are needed
    rows = np.flatnonzero(replaced)
    sf = sf[rows] if np.ndim(sf) == 2 else sf  # per-gene normalization factors
    trim_mean = trimmed_mean(y[rows] / sf, 0.2, axis=1)
    # as.integer truncation, as DESeq2 (with normalizationFactors when the fit has them)
    replacement = np.trunc(trim_mean[:, None] * sf)
    new = y.copy()
    new[rows] = np.where(outlier[rows], replacement, y[rows])
    return new, replaced
