"""edgeR's pieces used by dgeflow: ``filterByExpr``, ``locfitByCol``, ``maximizeInterpolant``
(TMM is in :mod:`dgeflow.normalize`); the quasi-likelihood engine is being built on them."""

from dgeflow.edger.filter_by_expr import filter_by_expr_mask, min_group_size
from dgeflow.edger.interpolate import maximize_interpolant
from dgeflow.edger.locfit import locfit_by_col

__all__ = ["filter_by_expr_mask", "locfit_by_col", "maximize_interpolant", "min_group_size"]
