"""The one entry point over the DE engines: ``dgeflow.fit(counts, samples, design, method=...)``,
and edgeR's ``filterByExpr`` on a sample sheet and formula."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dgeflow.deseq2.model import DESeqFit
from dgeflow.edger.model import QLFit
from dgeflow.formula import design_matrix, parse_formula
from dgeflow.limma.model import VoomFit
from dgeflow.methods import METHOD_NAMES as METHODS
from dgeflow.methods import load_fit
from dgeflow.methods import method as registered_method
from dgeflow.stats.filter_by_expr import filter_by_expr_mask

__all__ = ["METHODS", "filter_by_expr", "fit", "load_fit"]


def fit(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    method: str = "deseq2",
    **options: Any,
) -> DESeqFit | QLFit | VoomFit:
    """Fit a design with one DE method; ``.results(contrast=...)`` then tests contrasts.

    Parameters
    ----------
    counts
        Raw integer counts, genes x samples, gene ids as index.
    samples
        Sample sheet indexed by sample id.
    design
        Formula such as ``"~ batch + condition"`` (parsed, never evaluated).
    method
        ``"deseq2"`` (:func:`dgeflow.deseq2.model.fit`; DESeq2's column names), ``"edger_ql"``
        (:func:`dgeflow.edger.model.fit_edger_ql`; edgeR's) or ``"limma_voom"``
        (:func:`dgeflow.limma.model.fit_voom`; limma's).
    **options
        Passed to the method's fit, e.g. ``reference_levels``, ``test``/``reduced`` (DESeq2),
        ``filter_by_expr`` and ``robust`` (edgeR QL), ``filter_by_expr`` (limma-voom).
    """
    return registered_method(method).fit(counts, samples, design, **options)


def filter_by_expr(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    *,
    reference_levels: dict[str, str] | None = None,
    lib_size: pd.Series | None = None,
    min_count: float = 10,
    min_total_count: float = 15,
    large_n: int = 10,
    min_prop: float = 0.7,
) -> pd.Series:
    """edgeR's ``filterByExpr(y, design)``: a boolean per gene, True for genes worth testing.

    The group size comes from the design (``1 / max(leverage)``); library sizes are the column
    sums unless given (edgeR's DGEList method multiplies them by the normalization factors).
    """
    samples = samples.loc[list(counts.columns)]
    dm = design_matrix(parse_formula(design), samples, reference_levels)
    lib = None if lib_size is None else lib_size.reindex(counts.columns).to_numpy(dtype=float)
    keep = filter_by_expr_mask(
        counts.to_numpy(dtype=float),
        dm.matrix,
        lib,
        min_count=min_count,
        min_total_count=min_total_count,
        large_n=large_n,
        min_prop=min_prop,
    )
    return pd.Series(keep, index=counts.index, name="keep")
