"""Sample-level QC on transformed counts: PCA and which factor explains which PC, sample
correlation and clustering, low-correlation and swap flags, and PCA after removing the
design's nuisance terms."""

from dgeflow.qc.batch import (
    CORRECTED_PCA_COLUMNS,
    CORRECTED_VARIANCE_COLUMNS,
    NOTHING_REMOVED,
    NOTHING_REMOVED_NOTE,
    corrected_pca,
    corrected_pca_tables,
    nuisance_terms,
    remove_nuisance,
)
from dgeflow.qc.correlation import (
    cluster_order,
    correlation_linkage,
    correlation_summary,
    flag_low_correlation,
    sample_correlation,
)
from dgeflow.qc.pca import best_factor_per_pc, factor_pc_association, pca, top_variance_genes
from dgeflow.qc.swaps import FLAG_COLUMNS, SWAP_COLUMNS, flag_possible_swaps, sample_flags

__all__ = [
    "FLAG_COLUMNS",
    "SWAP_COLUMNS",
    "top_variance_genes",
    "pca",
    "factor_pc_association",
    "best_factor_per_pc",
    "sample_correlation",
    "correlation_summary",
    "correlation_linkage",
    "cluster_order",
    "flag_low_correlation",
    "flag_possible_swaps",
    "sample_flags",
    "CORRECTED_PCA_COLUMNS",
    "CORRECTED_VARIANCE_COLUMNS",
    "NOTHING_REMOVED",
    "NOTHING_REMOVED_NOTE",
    "nuisance_terms",
    "remove_nuisance",
    "corrected_pca",
    "corrected_pca_tables",
]
