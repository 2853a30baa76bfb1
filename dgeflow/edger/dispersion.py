"""edgeR's ``estimateDisp`` with a design (edgeR 3.40): the Cox-Reid adjusted profile
likelihood of every gene on a grid of 21 dispersions, its maximum summed over genes (common
dispersion), and its locfit trend against abundance (trended dispersion), which the
quasi-likelihood fit uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dgeflow.edger.glm import adjusted_profile_lik, ave_log_cpm, fit_glm
from dgeflow.edger.interpolate import maximize_interpolant
from dgeflow.edger.locfit import locfit_by_col

GRID = np.linspace(-10.0, 10.0, 21)  # log2(dispersion / 0.1)
GRID_DISPERSIONS = 0.1 * 2.0**GRID


@dataclass
class Dispersions:
    common: float
    trended: np.ndarray  # per gene
    ave_log_cpm: np.ndarray  # per gene, at the common dispersion
    span: float


def wleb_span(n_genes: int) -> float:
    """edgeR's default span of the dispersion trend."""
    return 1.0 if n_genes <= 50 else 0.25 + 0.75 * (50.0 / n_genes) ** 0.5


def _independent_columns(design: np.ndarray) -> np.ndarray:
    """Columns of ``design`` kept in order while they raise its rank (R's pivoted QR keeps
    these first)."""
    kept: list[int] = []
    for j in range(design.shape[1]):
        if np.linalg.matrix_rank(design[:, kept + [j]]) > len(kept):
            kept.append(j)
    return np.array(kept, dtype=int)


def grid_loglik(y: np.ndarray, design: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Adjusted profile log-likelihood of each gene (rows) at every grid dispersion (columns).

    Samples whose fitted value and count are both zero (at dispersion 0.05) are left out of a
    gene's likelihood, with the design reduced to the columns they leave estimable, as edgeR.
    """
    _, mu = fit_glm(y, design, offset, np.full(y.shape[0], 0.05))
    zero = (y < 1e-4) & (mu < 1e-4)
    loglik = np.zeros((y.shape[0], GRID.size))
    patterns, which = np.unique(zero, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):
        rows = np.flatnonzero(which.ravel() == k)
        cols = ~pattern
        if not cols.any():
            continue
        sub_design = design[cols]
        if not cols.all():
            sub_design = sub_design[:, _independent_columns(sub_design)]
            if sub_design.shape[0] == sub_design.shape[1]:
                continue
        y_sub = y[np.ix_(rows, np.flatnonzero(cols))]
        off_sub = offset[cols] if offset.ndim == 1 else offset[np.ix_(rows, np.flatnonzero(cols))]
        beta = None  # each grid point's fit starts from the previous one's, as edgeR
        for i, disp in enumerate(GRID_DISPERSIONS):
            loglik[rows, i], beta = adjusted_profile_lik(disp, y_sub, sub_design, off_sub, beta)
    return loglik


def estimate_dispersions(
    counts: np.ndarray,
    design: np.ndarray,
    lib_size: np.ndarray,
    min_row_sum: float = 5,
    offset: np.ndarray | None = None,
) -> Dispersions:
    """Common and trended NB dispersions (edgeR's ``estimateDisp(y, design)``; ``lib_size``
    the effective library sizes, library size x normalization factor; ``offset`` a genes x
    samples log offset when the DGEList has one, e.g. from tximport lengths — the abundance
    covariate still uses ``lib_size``, as edgeR)."""
    counts = np.asarray(counts, dtype=float)
    if design.shape[1] >= design.shape[0]:
        raise ValueError("no residual degrees of freedom: dispersions cannot be estimated")
    selected = counts.sum(axis=1) >= min_row_sum
    offset = np.log(lib_size) if offset is None else np.asarray(offset, dtype=float)[selected]
    loglik = grid_loglik(counts[selected], design, offset)
    common = 0.1 * 2.0 ** maximize_interpolant(GRID, loglik.sum(axis=0)[None])[0]
    abundance = ave_log_cpm(counts, lib_size, dispersion=common)
    span = wleb_span(int(selected.sum()))
    shared = locfit_by_col(loglik, abundance[selected], span)
    trend = 0.1 * 2.0 ** maximize_interpolant(GRID, shared)
    trended = np.full(counts.shape[0], trend[np.argmin(abundance[selected])])
    trended[selected] = trend
    return Dispersions(float(common), trended, abundance, span)
