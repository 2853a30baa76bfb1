"""edgeR's quasi-likelihood engine (edgeR 3.40): ``estimateDisp``, ``glmQLFit``,
``glmQLFTest``, with ``locfitByCol`` and ``maximizeInterpolant`` under them. ``filterByExpr``
and ``squeezeVar`` are in :mod:`dgeflow.stats`, TMM in :mod:`dgeflow.normalize`."""

from dgeflow.edger.interpolate import maximize_interpolant
from dgeflow.edger.locfit import locfit_by_col

__all__ = ["locfit_by_col", "maximize_interpolant"]
