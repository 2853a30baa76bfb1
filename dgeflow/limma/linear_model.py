"""limma's gene-wise linear models (``lmFit``, ``contrasts.fit``), weighted, vectorized over genes.

Every gene has its own weights (voom's precision weights), so each gets its own ``X' W X``: the
small p x p systems are solved for all genes at once with :class:`dgeflow.stats.nb.CrossProducts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dgeflow.stats.nb import CrossProducts


@dataclass
class LinearModelFit:
    """Per-gene least-squares fits, as limma's ``MArrayLM``."""

    coefficients: np.ndarray  # (genes, p)
    stdev_unscaled: np.ndarray  # (genes, p): sqrt(diag((X' W X)^-1))
    sigma: np.ndarray  # (genes,): residual standard deviation
    df_residual: np.ndarray  # (genes,)
    amean: np.ndarray  # (genes,): mean of each gene's values (limma's Amean)
    design: np.ndarray  # (samples, p)

    def fitted_values(self) -> np.ndarray:
        """``coefficients %*% t(design)``: (genes, samples)."""
        return self.coefficients @ self.design.T


def lm_fit(y: np.ndarray, design: np.ndarray, weights: np.ndarray | None = None) -> LinearModelFit:
    """Fit ``y[g] ~ design`` by (weighted) least squares for every gene g (limma's ``lmFit``).

    Parameters
    ----------
    y
        Expression values, (genes, samples), no missing values.
    design
        Full-rank design matrix, (samples, p).
    weights
        Positive precision weights, (genes, samples); unweighted when ``None``.
    """
    y = np.asarray(y, dtype=float)
    n_genes, m = y.shape
    p = design.shape[1]
    if m <= p:
        raise ValueError("lm_fit needs more samples than coefficients (no residual df)")
    if np.linalg.matrix_rank(design) < p:
        raise ValueError("the design matrix is not of full rank")
    amean = y.mean(axis=1)
    if weights is None:
        q, r = np.linalg.qr(design)
        coef = np.linalg.solve(r, q.T @ y.T).T
        resid = y - coef @ design.T
        sigma2 = (resid**2).sum(axis=1) / (m - p)
        unscaled = np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
        stdev = np.broadcast_to(unscaled, (n_genes, p)).copy()
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != y.shape or not np.all(w > 0):
            raise ValueError("weights must be positive and shaped like y")
        cp = CrossProducts(design)
        gram = cp.gram_flat(w)
        coef = cp.solve(gram, (w * y) @ design)
        resid = y - coef @ design.T
        sigma2 = (w * resid**2).sum(axis=1) / (m - p)
        inv = cp.inverse_flat(gram)
        stdev = np.sqrt(inv[:, [cp.pos[j, j] for j in range(p)]])
    return LinearModelFit(
        coefficients=coef,
        stdev_unscaled=stdev,
        sigma=np.sqrt(sigma2),
        df_residual=np.full(n_genes, float(m - p)),
        amean=amean,
        design=design,
    )


def contrast_fit(fit: LinearModelFit, contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One contrast's estimate and unscaled standard deviation per gene (limma's
    ``contrasts.fit``).

    As limma, the coefficients' correlation is taken from the unweighted design,
    ``cov2cor((X'X)^-1)``, and combined with each gene's own unscaled standard deviations; a
    contrast of one coefficient is that coefficient exactly.
    """
    c = np.asarray(contrast, dtype=float)
    estimate = fit.coefficients @ c
    if np.count_nonzero(c) == 1:
        j = int(np.flatnonzero(c)[0])
        return estimate, fit.stdev_unscaled[:, j] * abs(c[j])
    cov = np.linalg.inv(fit.design.T @ fit.design)
    d = np.sqrt(np.diag(cov))
    corr = cov / np.outer(d, d)
    scaled = fit.stdev_unscaled * c  # (genes, p)
    var = np.einsum("gi,ij,gj->g", scaled, corr, scaled)
    return estimate, np.sqrt(var)
