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

from dgeflow.errors import DataError
from dgeflow.normalize.checks import (
    aligned_lengths,
    as_counts,
    check_positive_totals,
    library_sizes,
)
from dgeflow.normalize.size_factors import size_factors
from dgeflow.normalize.tmm import tmm_factors
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


def scaling(
    counts: pd.DataFrame,
    method: str,
    lengths: pd.Series | pd.DataFrame | Mapping | None = None,
    size_factor_method: str = "ratio",
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
    size_factor_method
        Size factors of ``median_of_ratios``: ``"ratio"`` or ``"poscounts"`` (the workflow's
        ``de.size_factors``, as the DESeq2 fit).

    Returns
    -------
    Scaling
        Its :meth:`Scaling.apply` gives the normalized values.
    """
    _check_method(method, lengths)
    return _scaling_of_checked(as_counts(counts), method, lengths, size_factor_method)


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


def _scaling_of_checked(
    counts: pd.DataFrame, method: str, lengths, size_factor_method: str = "ratio"
) -> Scaling:
    """:func:`scaling` of counts already checked by :func:`as_counts`."""
    if method == "cpm":
        return _cpm_scaling(counts)
    if method == "tpm":
        return _tpm_scaling(counts, lengths)
    if method in ("rpkm", "fpkm"):
        return _rpkm_scaling(counts, lengths)
    if method == "median_of_ratios":
        return _median_of_ratios_scaling(counts, size_factor_method)
    return _tmm_scaling(counts)


def _median_of_ratios_scaling(counts: pd.DataFrame, size_factor_method: str) -> Scaling:
    try:
        return Scaling(size_factors(counts.to_numpy(), method=size_factor_method))
    except DataError as err:
        # the normalization step has a second way out: not computing this matrix at all
        raise DataError(
            f"median_of_ratios normalization: {err} Or drop median_of_ratios from "
            "`normalization.methods`."
        ) from err


def _cpm_scaling(counts: pd.DataFrame, lib_sizes=None) -> Scaling:
    totals = library_sizes(counts, lib_sizes)
    check_positive_totals(totals, counts.columns, "the library size")
    return Scaling(totals, multiplier=1e6)


def _tpm_scaling(counts: pd.DataFrame, lengths) -> Scaling:
    length_bp = aligned_lengths(counts, lengths)
    values = counts.to_numpy()
    rate_totals = np.zeros(counts.shape[1])
    for rows in chunk_slices(*values.shape, elements=1 << 22):
        rate_totals += (values[rows] / length_bp[rows, None]).sum(axis=0)
    check_positive_totals(rate_totals, counts.columns, "the total count")
    return Scaling(rate_totals, gene_divisor=length_bp, multiplier=1e6)


def _rpkm_scaling(counts: pd.DataFrame, lengths) -> Scaling:
    length_kb = aligned_lengths(counts, lengths) / 1e3
    return replace(_cpm_scaling(counts), gene_divisor=length_kb)


def _tmm_scaling(counts: pd.DataFrame, **tmm_options: object) -> Scaling:
    lib_sizes = library_sizes(counts, None)
    factors = tmm_factors(counts, lib_sizes, **tmm_options).to_numpy()
    return _cpm_scaling(counts, lib_sizes * factors)


def _scaled(counts: pd.DataFrame, scale: Scaling) -> pd.DataFrame:
    return pd.DataFrame(scale.apply(counts.to_numpy()), index=counts.index, columns=counts.columns)


def normalized_blocks(
    counts: pd.DataFrame,
    method: str,
    lengths: pd.Series | pd.DataFrame | Mapping | None = None,
    block_elements: int = 1 << 24,
    size_factor_method: str = "ratio",
) -> Iterator[pd.DataFrame]:
    """:func:`normalize`, a block of genes at a time: what the workflow writes, holding the
    counts and one block of values (not a float copy of the whole matrix).

    ``size_factor_method`` is :func:`scaling`'s (``median_of_ratios`` only).

    Yields
    ------
    pandas.DataFrame
        Consecutive blocks of rows of ``normalize(counts, method, lengths)``.
    """
    scale = scaling(counts, method, lengths, size_factor_method)
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
    counts = as_counts(counts)
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
    counts = as_counts(counts)
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
    counts = as_counts(counts)
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
    counts = as_counts(counts)
    return _scaled(counts, Scaling(size_factors(counts.to_numpy(), method=size_factor_method)))


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
    counts = as_counts(counts)
    return _scaled(counts, _tmm_scaling(counts, **tmm_options))


def normalize(
    counts: pd.DataFrame,
    method: str,
    lengths: pd.Series | pd.DataFrame | Mapping | None = None,
    size_factor_method: str = "ratio",
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
    size_factor_method
        ``"ratio"`` or ``"poscounts"``: the size factors of ``median_of_ratios``.

    Returns
    -------
    pandas.DataFrame
        Normalized values, same labels as ``counts``.
    """
    _check_method(method, lengths)
    counts = as_counts(counts)  # checked once, for the scaling and the values
    return _scaled(counts, _scaling_of_checked(counts, method, lengths, size_factor_method))


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
