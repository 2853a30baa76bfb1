"""R's summary statistics where their exact definitions matter for parity."""

from __future__ import annotations

import numpy as np


def trimmed_mean(x: np.ndarray, trim: float, axis: int = -1) -> np.ndarray:
    """R's ``mean(x, trim=)``: drop ``floor(n * trim)`` values from each end."""
    x = np.sort(x, axis=axis)
    n = x.shape[axis]
    lo = int(np.floor(n * trim))
    if trim >= 0.5:
        return np.median(x, axis=axis)
    return np.take(x, np.arange(lo, n - lo), axis=axis).mean(axis=axis)
