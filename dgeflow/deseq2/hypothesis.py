"""Wald and likelihood-ratio tests on fitted NB GLMs."""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2, norm

ALT_HYPOTHESES = ("greaterAbs", "lessAbs", "greater", "less")


def wald_test(
    lfc: np.ndarray,
    se: np.ndarray,
    lfc_threshold: float = 0.0,
    alt_hypothesis: str = "greaterAbs",
) -> tuple[np.ndarray, np.ndarray]:
    """Wald statistic and p-value of log2 fold changes, optionally against a threshold.

    ``greaterAbs``: |LFC| > T (two-sided); ``lessAbs``: |LFC| < T; ``greater``: LFC > T;
    ``less``: LFC < -T. With ``T = 0`` and ``greaterAbs`` this is the usual two-sided test.
    """
    t = float(lfc_threshold)
    if t < 0:
        raise ValueError("lfc_threshold must be non-negative")
    if alt_hypothesis not in ALT_HYPOTHESES:
        raise ValueError(f"alt_hypothesis must be one of {ALT_HYPOTHESES}, got {alt_hypothesis!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        if alt_hypothesis == "greaterAbs":
            z = (np.abs(lfc) - t) / se
            stat = np.sign(lfc) * np.maximum(z, 0)
            pvalue = np.minimum(1.0, 2.0 * norm.sf(z))
        elif alt_hypothesis == "lessAbs":
            if t == 0:
                raise ValueError("alt_hypothesis 'lessAbs' needs lfc_threshold > 0")
            above = (t - lfc) / se
            below = (lfc + t) / se
            stat = np.minimum(np.maximum(above, 0), np.maximum(below, 0))
            pvalue = np.maximum(norm.sf(above), norm.sf(below))
        elif alt_hypothesis == "greater":
            z = (lfc - t) / se
            stat = np.maximum(z, 0)
            pvalue = norm.sf(z)
        else:
            z = (lfc + t) / se
            stat = np.minimum(z, 0)
            pvalue = norm.sf(-z)
    return stat, pvalue


def lrt_test(
    deviance_full: np.ndarray, deviance_reduced: np.ndarray, df: int
) -> tuple[np.ndarray, np.ndarray]:
    """Likelihood-ratio statistic (difference of deviances) and its chi-squared p-value."""
    stat = deviance_reduced - deviance_full
    return stat, chi2.sf(stat, df)
