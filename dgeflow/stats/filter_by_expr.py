"""edgeR's ``filterByExpr``: keep genes with enough reads in enough samples to be worth
testing (Chen, Lun & Smyth 2016)."""

from __future__ import annotations

import numpy as np


def min_group_size(design: np.ndarray) -> float:
    """The smallest group size the design implies: ``1 / max(leverage)`` (edgeR's rule for a
    design matrix; for a one-way layout it is the smallest group's size)."""
    q, _ = np.linalg.qr(design)
    leverage = (q**2).sum(axis=1)
    return float(1.0 / leverage.max())


def filter_by_expr_mask(
    counts: np.ndarray,
    design: np.ndarray | None = None,
    lib_size: np.ndarray | None = None,
    *,
    min_count: float = 10,
    min_total_count: float = 15,
    large_n: int = 10,
    min_prop: float = 0.7,
) -> np.ndarray:
    """Boolean per gene: edgeR 3.40's ``filterByExpr`` on a count matrix.

    A gene is kept when its CPM reaches ``min_count`` reads at the median library size in at
    least ``n`` samples, ``n`` being the smallest group size (``1 / max(leverage)`` of the
    design; all samples without one), moved towards ``large_n`` by ``min_prop`` for large
    groups, and when its total count is at least ``min_total_count``.
    """
    y = np.asarray(counts, dtype=float)
    lib = y.sum(axis=0) if lib_size is None else np.asarray(lib_size, dtype=float)
    n = float(y.shape[1]) if design is None else min_group_size(np.asarray(design, float))
    if n > large_n:
        n = large_n + (n - large_n) * min_prop
    cutoff = min_count / np.median(lib) * 1e6
    cpm = y / lib * 1e6
    tol = 1e-14
    keep_cpm = (cpm >= cutoff).sum(axis=1) >= n - tol
    keep_total = y.sum(axis=1) >= min_total_count - tol
    return keep_cpm & keep_total
