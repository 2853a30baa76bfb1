"""What a DESeq2 fit keeps per gene: the arrays of :class:`GeneFit` (fitted genes only), and
the per-gene table of all genes DESeq2 calls ``mcols(dds)``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dgeflow.deseq2.blocks import full_gene_array
from dgeflow.deseq2.cooks import CooksHistogram
from dgeflow.deseq2.glm import GLMFit


@dataclass
class GeneFit:
    """Everything fitted for the non-all-zero genes (arrays aligned with ``genes``)."""

    genes: np.ndarray  # indices into the full gene list
    counts: np.ndarray | None  # counts used for the fit (after outlier replacement)
    disp_gene_est: np.ndarray
    disp_gene_iter: np.ndarray
    disp_fit: np.ndarray
    disp_map: np.ndarray
    dispersion: np.ndarray
    disp_outlier: np.ndarray
    glm: GLMFit
    cooks_argmax: np.ndarray  # sample with the largest Cook's distance, per gene
    max_cooks: np.ndarray
    replaced: np.ndarray  # genes with a count replaced (and refitted)
    replaced_counts: np.ndarray  # their counts after replacement (replaced genes, samples)
    cooks_flagged: np.ndarray  # DESeq2's ``replace``: a Cook's distance above the cutoff
    # per gene: how many counts exceed the count at the largest Cook's distance (DESeq2's
    # two-level rule in results() needs it; kept so results() works without the counts)
    n_above_cooks_max: np.ndarray
    # {(factor, level): genes with only zero counts in that level's samples}
    level_all_zero: dict[tuple[str, str], np.ndarray]
    reduced_fits: dict[str, tuple[GLMFit, int]] = field(default_factory=dict)
    # per-sample histogram of log10 Cook's distances (DESeq2's assays(dds)[["cooks"]]); None in
    # fits pickled before it was kept (a class default, so those still load)
    cooks_histogram: CooksHistogram | None = None


def empty_gene_fit(
    genes: np.ndarray,
    p: int,
    m: int,
    level_columns: dict[tuple[str, str], np.ndarray],
    disp_gene_est: np.ndarray,
    disp_gene_iter: np.ndarray,
    disp_fit: np.ndarray,
) -> GeneFit:
    """The per-gene arrays the pipeline's second pass fills (see
    :func:`dgeflow.deseq2.pipeline.final_pass`), with the first pass's dispersions in."""
    n = genes.size
    glm = GLMFit(
        beta=np.empty((n, p)),
        sigma=np.empty((n, p, p)),
        mu=None,
        hat_diagonals=None,
        deviance=np.empty(n),
        iterations=np.empty(n, dtype=int),
        converged=np.empty(n, dtype=bool),
    )
    return GeneFit(
        genes=genes,
        counts=None,
        disp_gene_est=disp_gene_est,
        disp_gene_iter=disp_gene_iter,
        disp_fit=disp_fit,
        disp_map=np.empty(n),
        dispersion=np.empty(n),
        disp_outlier=np.empty(n, dtype=bool),
        glm=glm,
        cooks_argmax=np.empty(n, dtype=int),
        max_cooks=np.empty(n),
        replaced=np.zeros(n, dtype=bool),
        replaced_counts=np.empty((0, m)),
        cooks_flagged=np.zeros(n, dtype=bool),
        n_above_cooks_max=np.empty(n, dtype=np.int32),
        level_all_zero={key: np.empty(n, dtype=bool) for key in level_columns},
        # Cook's distances per sample, summarized as they are computed: no genes x samples matrix
        cooks_histogram=CooksHistogram.empty(m),
    )


def fitted_counts(g: GeneFit, counts: pd.DataFrame) -> np.ndarray:
    """The counts the GLM was fitted to (genes, samples): the fitted genes' raw ``counts``,
    with the counts the fit replaced (Cook's outliers) as it replaced them."""
    y = counts.to_numpy(dtype=float)[g.genes]
    rows = np.flatnonzero(g.replaced)
    y[rows] = g.replaced_counts
    return y


def gene_table(
    g: GeneFit,
    gene_ids: pd.Index,
    base_mean: np.ndarray,
    base_var: np.ndarray,
    coefficients: pd.DataFrame,
) -> pd.DataFrame:
    """Per-gene fit summary of all genes with DESeq2's ``mcols(dds)`` names (NaN for the
    all-zero genes), the log2 ``coefficients`` last as ``coef_<name>``."""
    n = len(gene_ids)

    def full(values: np.ndarray) -> np.ndarray:
        return full_gene_array(values, g.genes, n)

    all_zero = np.ones(n, dtype=bool)
    all_zero[g.genes] = False
    table = pd.DataFrame(
        {
            "baseMean": base_mean,
            "baseVar": base_var,
            "allZero": all_zero,
            "dispGeneEst": full(g.disp_gene_est),
            "dispGeneIter": full(g.disp_gene_iter),
            "dispFit": full(g.disp_fit),
            "dispMAP": full(g.disp_map),
            "dispersion": full(g.dispersion),
            "dispOutlier": full(g.disp_outlier.astype(float)),
            "betaConv": full(g.glm.converged.astype(float)),
            "betaIter": full(g.glm.iterations),
            "deviance": full(g.glm.deviance),
            "maxCooks": full(g.max_cooks),
            "replace": full(g.cooks_flagged.astype(float)),
        },
        index=gene_ids,
    )
    return pd.concat([table, coefficients.add_prefix("coef_")], axis=1)
