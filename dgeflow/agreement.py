"""Where DE methods agree: overlap of significant sets and fold-change concordance per contrast,
on each tool's own result tables (their columns from :mod:`dgeflow.methods`)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from dgeflow.methods import lfc_column
from dgeflow.methods import method as method_entry


def significant_genes(table: pd.DataFrame, method: str, alpha: float) -> pd.Index:
    """Genes with an adjusted p-value below ``alpha`` in a method's table."""
    padj = pd.to_numeric(table[method_entry(method).columns.padj], errors="coerce")
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
        lfc_a = pd.to_numeric(tables[a].loc[shared, lfc_column(tables[a], a)], errors="coerce")
        lfc_b = pd.to_numeric(tables[b].loc[shared, lfc_column(tables[b], b)], errors="coerce")
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
