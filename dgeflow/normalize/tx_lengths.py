"""Gene-level results of tximport and what the engines make of their average transcript lengths:
DESeq2's normalization factors (edgeR's offsets are the edgeR engine's own)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dgeflow.normalize.size_factors import size_factors


@dataclass
class TxImport:
    """Gene-level ``counts``, ``abundance`` (TPM) and ``length`` (genes x samples), as
    tximport's list; ``counts_from_abundance`` says how counts were made."""

    counts: pd.DataFrame
    abundance: pd.DataFrame
    length: pd.DataFrame
    counts_from_abundance: str = "no"


def deseq2_normalization_factors(counts: pd.DataFrame, length: pd.DataFrame) -> pd.DataFrame:
    """DESeq2's normalization factors for tximport counts (``DESeqDataSetFromTximport`` then
    ``estimateSizeFactors``): average transcript lengths divided by their per-gene geometric
    mean, times median-of-ratios size factors of the length-corrected counts, again divided by
    the per-gene geometric mean. ``counts`` are the rounded counts."""
    with np.errstate(divide="ignore"):
        lengths = length.to_numpy(float)
        norm = lengths / np.exp(np.log(lengths).mean(axis=1))[:, None]
        sf = size_factors(counts.to_numpy(float) / norm)
        nf = norm * sf
        nf = nf / np.exp(np.log(nf).mean(axis=1))[:, None]
    return pd.DataFrame(nf, index=length.index, columns=length.columns)
