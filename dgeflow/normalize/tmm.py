"""edgeR's TMM normalization factors (Robinson & Oshlack 2010), vectorized over blocks of
samples: each sample is trimmed against the reference on its own set of genes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dgeflow.normalize.checks import (
    as_counts,
    check_positive_totals,
    library_sizes,
    rows_any_positive,
)
from dgeflow.threads import chunk_slices


def _tmm_factors_against(
    obs: np.ndarray,
    ref: np.ndarray,
    lib_obs: np.ndarray,
    lib_ref: float,
    logratio_trim: float,
    sum_trim: float,
    do_weighting: bool,
    a_cutoff: float,
) -> np.ndarray:
    """TMM factors of a block of samples (columns of ``obs``) against the reference sample
    (before geometric rescaling), all columns at once."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p_obs = obs / lib_obs
        p_ref = (ref / lib_ref)[:, None]
        log_ratio = np.log2(p_obs / p_ref)  # M values
        abs_expr = (np.log2(p_obs) + np.log2(p_ref)) / 2  # A values
        # delta-method variance of M under binomial sampling, used as inverse weights
        variance = (lib_obs - obs) / lib_obs / obs + ((lib_ref - ref) / lib_ref / ref)[:, None]
    usable = np.isfinite(log_ratio) & np.isfinite(abs_expr) & (abs_expr > a_cutoff)
    log_ratio[~usable] = np.nan
    abs_expr[~usable] = np.nan
    n = usable.sum(axis=0)
    # trim by ranks (ties averaged) among each sample's usable genes, keeping ranks lo..hi on
    # both M and A
    lo_m = np.floor(n * logratio_trim) + 1
    hi_m = n + 1 - lo_m
    lo_a = np.floor(n * sum_trim) + 1
    hi_a = n + 1 - lo_a
    keep = np.zeros(usable.shape, dtype=bool)
    for j in range(obs.shape[1]):
        rows = np.flatnonzero(usable[:, j])
        if rows.size:
            keep[rows, j] = _ranks_within(log_ratio[rows, j], lo_m[j], hi_m[j]) & _ranks_within(
                abs_expr[rows, j], lo_a[j], hi_a[j]
            )
    m_kept = np.where(keep, log_ratio, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if do_weighting:
            weights = np.where(keep, 1.0 / variance, 0.0)
            mean_log_ratio = (m_kept * weights).sum(axis=0) / weights.sum(axis=0)
        else:
            mean_log_ratio = m_kept.sum(axis=0) / keep.sum(axis=0)
    factors = 2.0**mean_log_ratio
    # edgeR returns 1 for a sample sharing no positive gene with the reference, for one equal
    # to it, and when the trimmed mean is not finite
    max_abs_m = np.nanmax(np.where(usable, np.abs(log_ratio), -np.inf), axis=0)
    degenerate = (n == 0) | (max_abs_m < 1e-6) | ~keep.any(axis=0) | ~np.isfinite(factors)
    return np.where(degenerate, 1.0, factors)


def _ranks_within(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Whether each value's rank (ties averaged, as R's ``rank``) lies in ``[lo, hi]``.

    Two order statistics from a partial sort decide it: values strictly between the lo-th and
    hi-th smallest are inside; values equal to either are inside when their tie group's mean
    rank is.
    """
    n = values.size
    lo_i, hi_i = int(lo) - 1, int(hi) - 1
    if lo_i > hi_i or lo_i >= n:
        return np.zeros(n, dtype=bool)
    v_lo, v_hi = np.partition(values, [lo_i, hi_i])[[lo_i, hi_i]]
    keep = (values > v_lo) & (values < v_hi)
    for v in {v_lo, v_hi}:
        below = np.count_nonzero(values < v)
        ties = values == v
        mean_rank = below + (np.count_nonzero(ties) + 1) / 2
        if lo <= mean_rank <= hi:
            keep |= ties
    return keep


# samples per block of the vectorized TMM: bounds its (genes x block) temporaries
_TMM_BLOCK = 64


def tmm_factors(
    counts: pd.DataFrame,
    lib_sizes: pd.Series | np.ndarray | None = None,
    *,
    ref_column: str | int | None = None,
    logratio_trim: float = 0.3,
    sum_trim: float = 0.05,
    do_weighting: bool = True,
    a_cutoff: float = -1e10,
) -> pd.Series:
    """edgeR's TMM normalization factors (``calcNormFactors(method = "TMM")``).

    Algorithm (Robinson & Oshlack 2010, as implemented in edgeR): genes that are zero in every
    sample are dropped; the reference sample is the one whose upper-quartile factor
    (75th percentile of its counts / library size) is closest to the mean of those factors
    (the sample with the largest sum of square-root counts when their median is below 1e-20);
    for every sample, M = log2 ratio and A = mean log2 proportion against the reference are
    computed on genes with positive counts in both; genes outside the central
    ``1 - 2 * logratio_trim`` of M ranks or ``1 - 2 * sum_trim`` of A ranks are trimmed; the
    factor is 2 to the inverse-variance weighted mean of the kept M values. Finally the factors
    are rescaled to geometric mean 1.

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    lib_sizes
        Library sizes (Series by sample id or array in column order); default the column sums.
    ref_column
        Reference sample, by id or position; default chosen as above.
    logratio_trim, sum_trim
        Fraction trimmed from each end of the M values and of the A values.
    do_weighting
        Weight M values by their inverse asymptotic variance.
    a_cutoff
        Genes with A at or below this are ignored.

    Returns
    -------
    pandas.Series
        One factor per sample (index = sample ids, name ``norm_factor``); effective library size
        is ``lib_size * factor``.
    """
    counts = as_counts(counts)
    x = counts.to_numpy()
    n_samples = x.shape[1]
    libs = library_sizes(counts, lib_sizes)
    check_positive_totals(libs, counts.columns, "the library size")
    # genes with a read anywhere, indexed per block of samples below: no copy of the matrix
    rows = np.flatnonzero(rows_any_positive(x))
    if rows.size == 0 or n_samples == 1:
        return pd.Series(np.ones(n_samples), index=counts.columns, name="norm_factor")
    blocks = list(chunk_slices(n_samples, rows.size, elements=_TMM_BLOCK * 60_000))

    if ref_column is None:
        upper_quartile = np.empty(n_samples)
        for cols in blocks:  # R's quantile type 7
            upper_quartile[cols] = np.quantile(x[rows, cols], 0.75, axis=0) / libs[cols]
        if np.median(upper_quartile) < 1e-20:
            root_sums = np.concatenate([np.sqrt(x[rows, cols]).sum(axis=0) for cols in blocks])
            ref = int(np.argmax(root_sums))
        else:
            ref = int(np.argmin(np.abs(upper_quartile - upper_quartile.mean())))
    elif isinstance(ref_column, str | np.str_):
        ref = int(counts.columns.get_loc(ref_column))
    else:
        ref = int(ref_column)

    reference = x[rows, ref]
    factors = np.empty(n_samples)
    for start in range(0, n_samples, _TMM_BLOCK):
        cols = slice(start, min(start + _TMM_BLOCK, n_samples))
        factors[cols] = _tmm_factors_against(
            x[rows, cols],
            reference,
            libs[cols],
            libs[ref],
            logratio_trim,
            sum_trim,
            do_weighting,
            a_cutoff,
        )
    factors = factors / np.exp(np.mean(np.log(factors)))
    return pd.Series(factors, index=counts.columns, name="norm_factor")
