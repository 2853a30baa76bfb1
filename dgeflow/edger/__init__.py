"""edgeR's pieces used by dgeflow: ``filterByExpr`` (TMM is in :mod:`dgeflow.normalize`)."""

from dgeflow.edger.filter_by_expr import filter_by_expr_mask, min_group_size

__all__ = ["filter_by_expr_mask", "min_group_size"]
