"""Normalization: per-sample size factors (DESeq2's median of ratios, edgeR's TMM) and the
normalized matrices (CPM, TPM, RPKM/FPKM, median of ratios, TMM)."""

from dgeflow.normalize.scaling import (
    LENGTH_METHODS,
    METHOD_NOTES,
    NORMALIZATION_METHODS,
    Scaling,
    cpm,
    fpkm,
    median_of_ratios,
    normalize,
    normalized_blocks,
    rpkm,
    sample_totals,
    scaling,
    tmm,
    tmm_factors,
    tpm,
)

__all__ = [
    "NORMALIZATION_METHODS",
    "LENGTH_METHODS",
    "METHOD_NOTES",
    "Scaling",
    "scaling",
    "normalized_blocks",
    "cpm",
    "tpm",
    "rpkm",
    "fpkm",
    "median_of_ratios",
    "tmm_factors",
    "tmm",
    "normalize",
    "sample_totals",
]
