"""Where DE methods agree: overlap of significant sets and fold-change concordance per contrast,
on each tool's own result tables."""

from __future__ import annotations

from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

# each tool's column names for the quantities the workflow compares and plots
RESULT_COLUMNS = {
    "deseq2": {"mean": "baseMean", "lfc": "log2FoldChange", "pvalue": "pvalue", "padj": "padj"},
    "edger_ql": {"mean": "logCPM", "lfc": "logFC", "pvalue": "PValue", "padj": "FDR"},
    "limma_voom": {"mean": "AveExpr", "lfc": "logFC", "pvalue": "P.Value", "padj": "adj.P.Val"},
}
METHOD_LABELS = {"deseq2": "DESeq2", "edger_ql": "edgeR QL", "limma_voom": "limma-voom"}


def significant_genes(table: pd.DataFrame, method: str, alpha: float) -> pd.Index:
    """Genes with an adjusted p-value below ``alpha`` in a method's table."""
    padj = pd.to_numeric(table[RESULT_COLUMNS[method]["padj"]], errors="coerce")
    return table.index[padj.lt(alpha).to_numpy()]


def agreement_table(tables: dict[str, pd.DataFrame], contrast: str, alpha: float) -> pd.DataFrame:
    """One row per pair of methods: significant genes in each, shared, Jaccard index, and the
    Pearson correlation of log2 fold changes over the genes both tested.

    Parameters
    ----------
    tables
        ``{method: results table indexed by gene id}`` for one contrast.
    """
    rows = []
    for a, b in combinations(sorted(tables), 2):
        sig_a = set(significant_genes(tables[a], a, alpha))
        sig_b = set(significant_genes(tables[b], b, alpha))
        union = sig_a | sig_b
        shared = tables[a].index.intersection(tables[b].index)
        lfc_a = pd.to_numeric(tables[a].loc[shared, RESULT_COLUMNS[a]["lfc"]], errors="coerce")
        lfc_b = pd.to_numeric(tables[b].loc[shared, RESULT_COLUMNS[b]["lfc"]], errors="coerce")
        ok = lfc_a.notna() & lfc_b.notna()
        r = float(np.corrcoef(lfc_a[ok], lfc_b[ok])[0, 1]) if ok.sum() > 2 else np.nan
        rows.append(
            {
                "contrast": contrast,
                "method_a": a,
                "method_b": b,
                "significant_a": len(sig_a),
                "significant_b": len(sig_b),
                "significant_both": len(sig_a & sig_b),
                "jaccard": len(sig_a & sig_b) / len(union) if union else np.nan,
                "genes_in_both": int(ok.sum()),
                "lfc_pearson": r,
            }
        )
    return pd.DataFrame(rows)


def lfc_scatter(tables: dict[str, pd.DataFrame], contrast: str, alpha: float) -> Figure:
    """log2 fold changes of every pair of methods against each other, significant-in-both
    genes highlighted."""
    pairs = list(combinations(sorted(tables), 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.4), squeeze=False)
    for ax, (a, b) in zip(axes[0], pairs, strict=True):
        shared = tables[a].index.intersection(tables[b].index)
        x = pd.to_numeric(tables[a].loc[shared, RESULT_COLUMNS[a]["lfc"]], errors="coerce")
        y = pd.to_numeric(tables[b].loc[shared, RESULT_COLUMNS[b]["lfc"]], errors="coerce")
        both = shared.isin(significant_genes(tables[a], a, alpha)) & shared.isin(
            significant_genes(tables[b], b, alpha)
        )
        ax.scatter(x[~both], y[~both], s=4, color="#bbbbbb", linewidth=0, rasterized=True)
        ax.scatter(
            x[both],
            y[both],
            s=5,
            color="#c0392b",
            linewidth=0,
            rasterized=True,
            label=f"significant in both ({int(both.sum())})",
        )
        lim = np.nanmax(np.abs(np.r_[x.to_numpy(), y.to_numpy(), 1.0]))
        ax.plot([-lim, lim], [-lim, lim], color="black", lw=0.6)
        ax.set_xlabel(f"{METHOD_LABELS.get(a, a)} log2 fold change")
        ax.set_ylabel(f"{METHOD_LABELS.get(b, b)} log2 fold change")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{contrast}: fold changes by method", fontsize=11)
    fig.tight_layout()
    return fig
