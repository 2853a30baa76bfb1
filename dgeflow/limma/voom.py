"""limma's ``voom``: log-CPM values and precision weights from the mean-variance trend
(Law et al. 2014)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dgeflow.limma.linear_model import lm_fit
from dgeflow.stats.lowess import lowess


@dataclass
class Voom:
    """voom's output (limma's ``EList``): log-CPM ``E`` and ``weights`` (genes, samples), the
    library sizes used, and the fitted trend (``sx``, ``sy``, the lowess curve) for a plot."""

    E: np.ndarray
    weights: np.ndarray
    lib_size: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    trend_x: np.ndarray
    trend_y: np.ndarray


def log_cpm(counts: np.ndarray, lib_size: np.ndarray) -> np.ndarray:
    """voom's log2 counts per million: ``log2((count + 0.5) / (lib_size + 1) * 1e6)``."""
    return np.log2((counts + 0.5) / (lib_size + 1.0) * 1e6)


def _interpolator(x: np.ndarray, y: np.ndarray):
    """R's ``approxfun(x, y, rule = 2, ties = list("ordered", mean))``: linear, constant
    beyond the ends, tied x replaced by one point at the mean of their y."""
    ux, start = np.unique(x, return_index=True)
    if ux.size < x.size:
        sums = np.add.reduceat(y, start)
        y = sums / np.diff(np.append(start, x.size))
    return lambda v: np.interp(v, ux, y)


def voom(counts: np.ndarray, design: np.ndarray, lib_size: np.ndarray, span: float = 0.5) -> Voom:
    """Precision weights for log-CPM values (limma's ``voom`` with ``normalize.method="none"``).

    Parameters
    ----------
    counts
        Raw counts, (genes, samples).
    design
        Design matrix, (samples, p).
    lib_size
        Effective library sizes (library size x TMM factor), one per sample.
    span
        lowess span of the mean-variance trend.
    """
    counts = np.asarray(counts, dtype=float)
    lib_size = np.asarray(lib_size, dtype=float)
    y = log_cpm(counts, lib_size)
    fit = lm_fit(y, design)
    sx = fit.amean + np.mean(np.log2(lib_size + 1.0)) - np.log2(1e6)
    sy = np.sqrt(fit.sigma)
    expressed = counts.sum(axis=1) > 0
    trend_x, trend_y = lowess(sx[expressed], sy[expressed], f=span)
    trend = _interpolator(trend_x, trend_y)
    fitted_count = 1e-6 * np.exp2(fit.fitted_values()) * (lib_size + 1.0)
    weights = 1.0 / trend(np.log2(fitted_count)) ** 4
    return Voom(y, weights, lib_size, sx, sy, trend_x, trend_y)
