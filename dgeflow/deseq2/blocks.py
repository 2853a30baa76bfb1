"""Gene blocks and row chunks: how the DESeq2 fit walks a large count matrix in bounded memory.

The lowest module of :mod:`dgeflow.deseq2`: the pipeline, the Cook's pass, the transforms and
shrinkage all slice counts and normalization factors with these helpers, so it imports none of
them.
"""

from __future__ import annotations

import numpy as np

from dgeflow.threads import chunk_slices

# counts (genes x samples) per block of the fit: each of its working arrays (counts, means,
# leverages) takes 320 MB at most; a study within one block is fitted in one go
BLOCK_ELEMENTS = 40_000_000
# elements per row chunk of the helpers below (8 MB of floats): their temporaries stay small
# whatever the size of the matrix
ROW_CHUNK_ELEMENTS = 1 << 20


def row_chunks(n_rows: int, n_cols: int) -> list[slice]:
    """Row slices of about a million elements each, covering ``n_rows`` rows."""
    return chunk_slices(n_rows, n_cols, elements=ROW_CHUNK_ELEMENTS)


def gene_blocks(n_genes: int, n_samples: int, block_elements: int) -> list[slice]:
    """Blocks of genes for the fit's two passes: one block up to ``block_elements`` counts."""
    if n_genes * n_samples <= block_elements or n_genes == 0:
        return [slice(0, n_genes)]
    rows = max(16, block_elements // n_samples)
    return [slice(i, min(i + rows, n_genes)) for i in range(0, n_genes, rows)]


def factors_of_rows(
    factors: np.ndarray, rows: slice | np.ndarray, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """The size factors ``(m,)`` or per-gene normalization factors ``(genes, m)`` of some genes.

    Size factors are the same for every gene: they come back as they are, or broadcast to
    ``shape`` (a read-only view, no copy) when the caller needs one row per gene.
    """
    if np.ndim(factors) == 2:
        return factors[rows]
    return factors if shape is None else np.broadcast_to(factors, shape)


def row_sums(values: np.ndarray) -> np.ndarray:
    """Per-row sums, chunk by chunk."""
    out = np.empty(values.shape[0])
    for rows in row_chunks(*values.shape):
        out[rows] = values[rows].sum(axis=1)
    return out


def normalized_mean_var(y: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and variance of normalized counts, without a full normalized copy."""
    mean = np.empty(y.shape[0])
    var = np.empty(y.shape[0])
    for rows in row_chunks(*y.shape):
        normed = y[rows] / factors_of_rows(factors, rows)
        mean[rows] = normed.mean(axis=1)
        var[rows] = normed.var(axis=1, ddof=1)
    return mean, var


def full_gene_array(
    values: np.ndarray, genes: np.ndarray, n_genes: int, fill: float = np.nan
) -> np.ndarray:
    """Per-gene ``values`` of the fitted ``genes`` spread over all ``n_genes`` genes; the others
    (all-zero genes, which the fit skips) get ``fill``."""
    out = np.full((n_genes,) + values.shape[1:], fill, dtype=float)
    out[genes] = values
    return out
