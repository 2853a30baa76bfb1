"""Comparisons of dgeflow's numbers with R's that the parity tests share."""

from __future__ import annotations

import numpy as np

# Below this a p-value's precision is in its exponent: near p = 1e-130 (Wald statistic 24) a
# statistic 4e-6 off, the size of a dispersion line-search endpoint that moves with the CPU's
# vectorized exp/log (AVX2 vs AVX-512 builds of numpy's loops), changes p by 2e-3 relative.
TINY_P = 1e-12


def pvalue_errors(got, ref) -> tuple[float, float]:
    """Largest relative error of p-values at or above ``TINY_P``, and of ``-log(p)`` below it
    (pairs where R's value is missing are skipped)."""
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    ok = ~np.isnan(ref)
    got, ref = got[ok], ref[ok]
    large = ref >= TINY_P
    rel = np.abs(got[large] - ref[large]) / ref[large]
    # p-values that underflow to 0 (R's too) compare at the smallest normal double
    floor = np.finfo(float).tiny
    log_got = -np.log(np.maximum(got[~large], floor))
    log_ref = -np.log(np.maximum(ref[~large], floor))
    rel_log = np.abs(log_got - log_ref) / log_ref
    return float(rel.max(initial=0.0)), float(rel_log.max(initial=0.0))


def assert_pvalues_close(got, ref, rel: float = 1e-4, rel_log: float = 1e-5, name: str = "p"):
    """p-values within ``rel`` relative where R's are >= 1e-12, ``-log p`` within ``rel_log``
    relative where they are smaller."""
    err, err_log = pvalue_errors(got, ref)
    assert err < rel, f"{name}: relative error {err:.2e} (p >= {TINY_P:g})"
    assert err_log < rel_log, f"{name}: relative error of -log p {err_log:.2e} (p < {TINY_P:g})"
