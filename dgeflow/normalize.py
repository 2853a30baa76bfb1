"""Count normalizations: CPM, TPM, RPKM/FPKM, DESeq2 median-of-ratios and edgeR TMM.

Every function takes a genes x samples DataFrame of raw counts (gene ids as the index, sample
ids as the columns) and returns a DataFrame of the same shape and labels, so the outputs can be
written as TSV tables directly. All work is vectorized over genes; only TMM loops over samples,
because each sample is trimmed against the reference on its own set of genes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dgeflow.deseq2.size_factors import size_factors
from dgeflow.threads import chunk_slices

NORMALIZATION_METHODS = ("cpm", "tpm", "rpkm", "fpkm", "median_of_ratios", "tmm")
LENGTH_METHODS = ("tpm", "rpkm", "fpkm")

METHOD_NOTES: dict[str, str] = {
    "cpm": (
        "Counts per million: each count divided by its sample's total count, times 1e6. "
        "Corrects for sequencing depth only (not gene length or library composition); "
        "good for filtering and quick looks, not for DE."
    ),
    "tpm": (
        "Transcripts per million: counts divided by gene length (kb), then scaled so every "
        "sample sums to 1e6. Corrects for depth and gene length; suited to comparing genes "
        "within a sample, not to between-sample DE (no composition correction)."
    ),
    "rpkm": (
        "Reads per kilobase per million: counts divided by the sample's total (millions) and "
        "the gene length (kb). Corrects for depth and gene length, but sample totals differ, "
        "so values are not comparable between samples; prefer TPM within a sample."
    ),
    "fpkm": (
        "Fragments per kilobase per million: the RPKM computation applied to fragment "
        "(read-pair) counts, identical for gene-level counts. Like RPKM, not comparable "
        "between samples."
    ),
    "median_of_ratios": (
        "DESeq2's median-of-ratios: counts divided by per-sample size factors (median ratio "
        "to the per-gene geometric mean). Corrects for depth and library composition; fit "
        "for between-sample comparisons and DE, not for within-sample gene comparisons."
    ),
    "tmm": (
        "edgeR's trimmed mean of M-values: CPM with library sizes scaled by TMM factors. "
        "Corrects for depth and library composition; fit for between-sample comparisons "
        "and DE, not for within-sample gene comparisons."
    ),
}


# --- input checks -----------------------------------------------------------------------------


def _as_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Return ``counts`` after checking it is finite and non-negative, in its own dtype when
    that is numeric (integer counts are not copied to floats: at 60,000 x 10,000 that copy alone
    is 4.8 GB)."""
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(
            f"counts must be a pandas DataFrame (genes x samples), got {type(counts).__name__}"
        )
    values = counts.to_numpy()
    if values.dtype.kind not in "iuf":
        values = counts.to_numpy(dtype=float)
    n_missing = n_negative = 0
    for rows in chunk_slices(*values.shape, elements=1 << 22):
        block = values[rows]
        if block.dtype.kind == "f":
            n_missing += int((~np.isfinite(block)).sum())
        n_negative += int((block < 0).sum())
    if n_missing:
        raise ValueError(f"counts contain {n_missing} missing or infinite values")
    if n_negative:
        raise ValueError(f"counts contain {n_negative} negative values")
    return pd.DataFrame(values, index=counts.index, columns=counts.columns, copy=False)


def _rows_any_positive(values: np.ndarray) -> np.ndarray:
    out = np.empty(values.shape[0], dtype=bool)
    for rows in chunk_slices(*values.shape, elements=1 << 22):
        out[rows] = (values[rows] > 0).any(axis=1)
    return out


def _check_positive_totals(totals: np.ndarray, samples: pd.Index, what: str) -> None:
    bad = samples[~(totals > 0)]
    if len(bad):
        raise ValueError(
            f"{what} is zero for {len(bad)} sample(s) ({_few(bad)}); "
            "remove empty samples before normalizing"
        )


def _few(ids: pd.Index | list, k: int = 5) -> str:
    """Up to ``k`` ids as a comma-separated string, with an ellipsis when there are more."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:k])
    return shown + (", ..." if len(ids) > k else "")


def _aligned_lengths(
    counts: pd.DataFrame, lengths: pd.Series | pd.DataFrame | Mapping
) -> np.ndarray:
    """Gene lengths (bp) in the order of ``counts.index``; errors name the genes lacking one."""
    if lengths is None:
        raise ValueError("this method needs gene lengths (bp); pass lengths=")
    if isinstance(lengths, pd.DataFrame):
        if "length" in lengths.columns:
            lengths = lengths["length"]
        elif lengths.shape[1] == 1:
            lengths = lengths.iloc[:, 0]
        else:
            raise ValueError(
                "lengths DataFrame must have a 'length' column or exactly one column, "
                f"got columns {list(lengths.columns)}"
            )
    elif not isinstance(lengths, pd.Series):
        lengths = pd.Series(lengths)
    missing = counts.index.difference(lengths.index, sort=False)
    if len(missing):
        raise ValueError(
            f"gene lengths are missing for {len(missing)} of {len(counts.index)} genes "
            f"({_few(missing)}); provide a length for every gene in the count matrix"
        )
    aligned = pd.to_numeric(lengths.loc[counts.index], errors="coerce").to_numpy(dtype=float)
    bad = counts.index[~(np.isfinite(aligned) & (aligned > 0))]
    if len(bad):
        raise ValueError(
            f"gene lengths must be positive numbers; {len(bad)} gene(s) are not ({_few(bad)})"
        )
    return aligned


# --- scalings: what every method is ---------------------------------------------------------


@dataclass(frozen=True)
class Scaling:
    """A normalization as one divisor per gene and one per sample:
    ``counts / gene_divisor / sample_divisor * multiplier``.

    Every method here is of this form, so once the per-sample divisors are known (from the
    whole matrix) the values of any block of genes come from that block alone
    (:func:`normalized_blocks`).
    """

    sample_divisor: np.ndarray
    gene_divisor: np.ndarray | None = None
    multiplier: float = 1.0

    def apply(self, counts: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """Normalized values of ``counts``, the genes ``rows`` of the matrix scaled."""
        values = counts.astype(float)  # a copy, also of float input
        if self.gene_divisor is not None:
            values /= self.gene_divisor[rows, None]
        values /= self.sample_divisor
        if self.multiplier != 1.0:
            values *= self.multiplier
        return values


def _library_sizes(counts: pd.DataFrame, lib_sizes: pd.Series | np.ndarray | None) -> np.ndarray:
    if lib_sizes is None:
        # integer sums are exact; summed in blocks, float input matches a whole-matrix sum
        totals = np.zeros(counts.shape[1])
        values = counts.to_numpy()
        for rows in chunk_slices(*values.shape, elements=1 << 22):
            totals += values[rows].sum(axis=0, dtype=float if values.dtype.kind == "f" else None)
        return totals
    if isinstance(lib_sizes, pd.Series):
        return lib_sizes.reindex(counts.columns).to_numpy(dtype=float)
    totals = np.asarray(lib_sizes, dtype=float)
    if totals.shape != (counts.shape[1],):
        raise ValueError(
            f"lib_sizes has shape {totals.shape}; expected one value per sample "
            f"({counts.shape[1]})"
        )
    return totals


def scaling(
    counts: pd.DataFrame,
    method: str,
    lengths: pd.Series | pd.DataFrame | Mapping | None = None,
) -> Scaling:
    """The per-gene and per-sample divisors of a normalization method of ``counts``.

    Parameters
    ----------
    counts
        Raw counts, genes x samples (integer counts are used as they are, not copied).
    method
        One of :data:`NORMALIZATION_METHODS`.
    lengths
        Gene lengths in bp (Series by gene id); required for :data:`LENGTH_METHODS`.

    Returns
    -------
    Scaling
        Its :meth:`Scaling.apply` gives the normalized values.
    """
    _check_method(method, lengths)
    return _scaling_of_checked(_as_counts(counts), method, lengths)


def _check_method(method: str, lengths) -> None:
    if method not in NORMALIZATION_METHODS:
        raise ValueError(
            f"unknown normalization method {method!r}; choose one of "
            f"{', '.join(NORMALIZATION_METHODS)}"
        )
    if method in LENGTH_METHODS and lengths is None:
        raise ValueError(
            f"normalization method {method!r} needs gene lengths (bp); provide a "
            "gene_lengths table or drop this method"
        )


def _scaling_of_checked(counts: pd.DataFrame, method: str, lengths) -> Scaling:
    """:func:`scaling` of counts already checked by :func:`_as_counts`."""
    if method == "cpm":
        return _cpm_scaling(counts)
    if method == "tpm":
        return _tpm_scaling(counts, lengths)
    if method in ("rpkm", "fpkm"):
        return _rpkm_scaling(counts, lengths)
    if method == "median_of_ratios":
        return Scaling(size_factors(counts.to_numpy()))
    return _tmm_scaling(counts)


def _cpm_scaling(counts: pd.DataFrame, lib_sizes=None) -> Scaling:
    totals = _library_sizes(counts, lib_sizes)
    _check_positive_totals(totals, counts.columns, "the library size")
    return Scaling(totals, multiplier=1e6)


def _tpm_scaling(counts: pd.DataFrame, lengths) -> Scaling:
    length_bp = _aligned_lengths(counts, lengths)
    values = counts.to_numpy()
    rate_totals = np.zeros(counts.shape[1])
    for rows in chunk_slices(*values.shape, elements=1 << 22):
        rate_totals += (values[rows] / length_bp[rows, None]).sum(axis=0)
    _check_positive_totals(rate_totals, counts.columns, "the total count")
    return Scaling(rate_totals, gene_divisor=length_bp, multiplier=1e6)


def _rpkm_scaling(counts: pd.DataFrame, lengths) -> Scaling:
    length_kb = _aligned_lengths(counts, lengths) / 1e3
    return replace(_cpm_scaling(counts), gene_divisor=length_kb)


def _tmm_scaling(counts: pd.DataFrame, **tmm_options: object) -> Scaling:
    lib_sizes = _library_sizes(counts, None)
    factors = tmm_factors(counts, lib_sizes, **tmm_options).to_numpy()
    return _cpm_scaling(counts, lib_sizes * factors)


def _scaled(counts: pd.DataFrame, scale: Scaling) -> pd.DataFrame:
    return pd.DataFrame(scale.apply(counts.to_numpy()), index=counts.index, columns=counts.columns)


def normalized_blocks(
    counts: pd.DataFrame,
    method: str,
    lengths: pd.Series | pd.DataFrame | Mapping | None = None,
    block_elements: int = 1 << 24,
) -> Iterator[pd.DataFrame]:
    """:func:`normalize`, a block of genes at a time: what the workflow writes, holding the
    counts and one block of values (not a float copy of the whole matrix).

    Yields
    ------
    pandas.DataFrame
        Consecutive blocks of rows of ``normalize(counts, method, lengths)``.
    """
    scale = scaling(counts, method, lengths)
    values = counts.to_numpy()
    for rows in chunk_slices(*values.shape, elements=block_elements):
        yield pd.DataFrame(
            scale.apply(values[rows], rows), index=counts.index[rows], columns=counts.columns
        )


# --- depth and length normalizations ----------------------------------------------------------


def cpm(counts: pd.DataFrame, lib_sizes: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """Counts per million.

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    lib_sizes
        Library size per sample (a Series indexed by sample id, or an array in column order).
        Defaults to the column sums; pass effective library sizes (lib size x TMM factor) to get
        edgeR's ``cpm(y)``.

    Returns
    -------
    pandas.DataFrame
        ``counts / lib_size * 1e6``, same labels as ``counts``.
    """
    counts = _as_counts(counts)
    return _scaled(counts, _cpm_scaling(counts, lib_sizes))


def tpm(counts: pd.DataFrame, lengths: pd.Series | pd.DataFrame | Mapping) -> pd.DataFrame:
    """Transcripts per million.

    Reads per base (count / length) rescaled so that every sample sums to 1e6.

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    lengths
        Gene length in bp, a Series indexed by gene id (extra genes are ignored; a missing one is
        an error). A DataFrame with a ``length`` column is accepted too.

    Returns
    -------
    pandas.DataFrame
        TPM values; each column sums to 1e6.
    """
    counts = _as_counts(counts)
    return _scaled(counts, _tpm_scaling(counts, lengths))


def rpkm(counts: pd.DataFrame, lengths: pd.Series | pd.DataFrame | Mapping) -> pd.DataFrame:
    """Reads per kilobase of gene per million reads.

    ``count / (library size / 1e6) / (length / 1e3)`` with the library size the column sum
    (edgeR's ``rpkm()`` on a DGEList without normalization factors).

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    lengths
        Gene length in bp, a Series indexed by gene id (see :func:`tpm`).

    Returns
    -------
    pandas.DataFrame
        RPKM values. Column sums differ between samples, which is why RPKM is not comparable
        between samples.
    """
    counts = _as_counts(counts)
    return _scaled(counts, _rpkm_scaling(counts, lengths))


def fpkm(counts: pd.DataFrame, lengths: pd.Series | pd.DataFrame | Mapping) -> pd.DataFrame:
    """Fragments per kilobase of gene per million fragments.

    For gene-level counts this is the same computation as :func:`rpkm`; the name only says the
    counts are fragments (read pairs) rather than reads. Provided so both names exist in tables.

    Parameters
    ----------
    counts
        Raw counts (fragments), genes x samples.
    lengths
        Gene length in bp, a Series indexed by gene id (see :func:`tpm`).

    Returns
    -------
    pandas.DataFrame
        FPKM values, identical to ``rpkm(counts, lengths)``.
    """
    return rpkm(counts, lengths)


# --- between-sample normalizations ------------------------------------------------------------


def median_of_ratios(counts: pd.DataFrame, size_factor_method: str = "ratio") -> pd.DataFrame:
    """DESeq2's normalized counts: counts divided by median-of-ratios size factors.

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    size_factor_method
        ``"ratio"`` (DESeq2's default) or ``"poscounts"``, passed to
        :func:`dgeflow.deseq2.size_factors.size_factors`.

    Returns
    -------
    pandas.DataFrame
        ``counts(dds, normalized=TRUE)`` equivalent.
    """
    counts = _as_counts(counts)
    return _scaled(counts, Scaling(size_factors(counts.to_numpy(), method=size_factor_method)))


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
    counts = _as_counts(counts)
    x = counts.to_numpy()
    n_samples = x.shape[1]
    libs = _library_sizes(counts, lib_sizes)
    _check_positive_totals(libs, counts.columns, "the library size")
    # genes with a read anywhere, indexed per block of samples below: no copy of the matrix
    rows = np.flatnonzero(_rows_any_positive(x))
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


def tmm(counts: pd.DataFrame, **tmm_options: object) -> pd.DataFrame:
    """TMM-normalized CPM: edgeR's ``cpm(y)`` after ``calcNormFactors(y)``.

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    **tmm_options
        Passed to :func:`tmm_factors` (e.g. ``ref_column``).

    Returns
    -------
    pandas.DataFrame
        ``counts / (lib_size * norm_factor) * 1e6``.
    """
    counts = _as_counts(counts)
    return _scaled(counts, _tmm_scaling(counts, **tmm_options))


def normalize(
    counts: pd.DataFrame,
    method: str,
    lengths: pd.Series | pd.DataFrame | Mapping | None = None,
) -> pd.DataFrame:
    """Normalize counts by name.

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    method
        One of :data:`NORMALIZATION_METHODS`.
    lengths
        Gene lengths in bp (Series by gene id); required for :data:`LENGTH_METHODS`.

    Returns
    -------
    pandas.DataFrame
        Normalized values, same labels as ``counts``.
    """
    _check_method(method, lengths)
    counts = _as_counts(counts)  # checked once, for the scaling and the values
    return _scaled(counts, _scaling_of_checked(counts, method, lengths))


def sample_totals(
    normalized: Mapping[str, pd.DataFrame | pd.Series], significant_digits: int | None = None
) -> pd.DataFrame:
    """Column sums of each normalized matrix.

    Shows the classic point that TPM sums to 1e6 in every sample while RPKM/FPKM totals
    differ between samples (and CPM sums to 1e6 by construction).

    Parameters
    ----------
    normalized
        Method name -> normalized DataFrame (genes x samples), or its column sums already
        taken (a Series by sample, e.g. from :func:`dgeflow.io.matrix.matrix_column_sums`).
    significant_digits
        Round the totals to this many significant digits: for matrices stored in single
        precision (7 digits), whose sums carry rounding noise in the last digits.

    Returns
    -------
    pandas.DataFrame
        Samples x methods, index named ``sample_id``, columns in the mapping's order.
    """
    # summed in double precision whatever the stored precision of the matrices
    totals = pd.DataFrame(
        {
            method: values if isinstance(values, pd.Series) else values.astype(float).sum(axis=0)
            for method, values in normalized.items()
        }
    )
    totals.index.name = "sample_id"
    if significant_digits is not None:
        totals = totals.map(lambda v: float(f"{v:.{significant_digits}g}"))
    return totals
