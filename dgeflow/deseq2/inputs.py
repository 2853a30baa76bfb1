"""What :func:`dgeflow.deseq2.model.fit` is given, checked and put in the form the pipeline
works with: the count values, size factors or per-gene normalization factors, tximport data
and the samples of each design level."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dgeflow.deseq2.blocks import row_chunks
from dgeflow.formula import DesignMatrix
from dgeflow.normalize.size_factors import size_factors as estimate_size_factors
from dgeflow.normalize.tx_lengths import TxImport, deseq2_normalization_factors


def count_values(counts: pd.DataFrame) -> np.ndarray:
    """The counts as one array, checked; integer counts stay integers (no float copy of a
    large matrix: the fit converts block by block)."""
    integer_typed = all(pd.api.types.is_integer_dtype(t) for t in counts.dtypes)
    values = counts.to_numpy() if integer_typed else counts.to_numpy(dtype=float)
    for rows in row_chunks(*values.shape):  # chunked: no full-size temporaries
        block = values[rows]
        if integer_typed:
            if block.min(initial=0) < 0:
                raise ValueError("counts must be non-negative")
            continue
        if not np.isfinite(block).all() or (block < 0).any():
            raise ValueError("counts must be finite and non-negative")
        if not np.array_equal(block, np.round(block)):
            raise ValueError("counts must be integers (round estimated counts first)")
    return values


def unpack_tximport(
    counts: pd.DataFrame | TxImport, normalization_factors: pd.DataFrame | np.ndarray | None
) -> tuple[pd.DataFrame, pd.DataFrame | np.ndarray | None]:
    """The counts and normalization factors of a :class:`dgeflow.TxImport`, as DESeq2's
    ``DESeqDataSetFromTximport`` + ``estimateSizeFactors``: rounded counts and, with
    ``counts_from_abundance="no"``, factors from the average transcript lengths (unless
    factors are given). Plain counts come back unchanged."""
    if not isinstance(counts, TxImport):
        return counts, normalization_factors
    txi = counts
    counts = txi.counts.round().astype(np.int64)
    if txi.counts_from_abundance == "no" and normalization_factors is None:
        normalization_factors = deseq2_normalization_factors(counts, txi.length)
    return counts, normalization_factors


def resolve_factors(
    counts: pd.DataFrame,
    values: np.ndarray,
    size_factors: str | np.ndarray | pd.Series,
    normalization_factors: pd.DataFrame | np.ndarray | None,
    control_genes: np.ndarray | list | None,
) -> np.ndarray:
    """The fit's normalization: per gene and sample factors when given
    (:func:`resolve_normalization_factors`), otherwise size factors
    (:func:`resolve_size_factors`)."""
    if normalization_factors is not None:
        return resolve_normalization_factors(normalization_factors, counts)
    return resolve_size_factors(size_factors, counts, values, control_genes)


def resolve_size_factors(
    size_factors: str | np.ndarray | pd.Series,
    counts: pd.DataFrame,
    values: np.ndarray,
    control_genes: np.ndarray | list | None,
) -> np.ndarray:
    """Size factors per sample: estimated by the method named (``"ratio"``, ``"poscounts"``)
    from ``values`` (optionally on ``control_genes`` only), or the ones given, checked."""
    if isinstance(size_factors, str):
        ctrl = None
        if control_genes is not None:
            ctrl = np.asarray(control_genes)
            if ctrl.dtype != bool:
                ctrl = counts.index.isin(ctrl)
        return estimate_size_factors(values, size_factors, ctrl)
    if isinstance(size_factors, pd.Series):
        sf = size_factors.reindex(counts.columns).to_numpy(dtype=float)
    else:
        sf = np.asarray(size_factors, dtype=float)
    if sf.shape != (counts.shape[1],) or not np.all(sf > 0):
        raise ValueError("size_factors must be one positive number per sample (no missing ones)")
    return sf


def resolve_normalization_factors(
    factors: pd.DataFrame | np.ndarray, counts: pd.DataFrame
) -> np.ndarray:
    """Per gene and sample normalization factors aligned with ``counts``, checked."""
    if isinstance(factors, pd.DataFrame):
        factors = factors.reindex(index=counts.index, columns=counts.columns)
    nf = np.asarray(factors, dtype=float)
    if nf.shape != counts.shape or not np.all(np.isfinite(nf) & (nf > 0)):
        raise ValueError(
            "normalization_factors must be positive, one per gene and sample, shaped like the "
            "counts"
        )
    return nf


def level_columns(
    samples: pd.DataFrame, design: DesignMatrix
) -> dict[tuple[str, str], np.ndarray]:
    """The samples of every level of every design factor, as boolean masks over samples."""
    out = {}
    for factor, levels in design.levels.items():
        values = samples[factor].astype(str).to_numpy()
        for level in levels:
            out[factor, str(level)] = values == str(level)
    return out
