"""limma's ``duplicateCorrelation`` for a blocking factor: the correlation between samples of
the same block (subject, batch of repeated measures), estimated gene by gene by REML and pooled
to one consensus value, as limma 3.54 does with statmod 1.5's ``mixedModel2Fit``.

statmod's REML fit of the two variance components is a gamma generalized linear model: with
``Q2`` an orthonormal basis of the design's residual space and ``Q2' Z = U D V'`` (Z the block
indicators), the rotated residuals ``u = U' Q2' y`` are independent with
``var(u_i) = s_residual + d_i s_block`` (``d_i`` the squared singular values, zero past
``rank(Q2' Z)``). The squares ``u_i^2`` are fitted by ``glmgam.fit``: a gamma GLM with identity
link by Levenberg-damped Fisher scoring. Everything here is vectorized over genes; the damping
loop runs for all genes still iterating at once.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# statmod's glmgam.fit as mixedModel2Fit calls it from duplicateCorrelation
GLMGAM_TOL = 1e-6
GLMGAM_MAXIT = 20
# limma bounds each gene's correlation before atanh, so that it stays finite
RHO_MAX = 0.99
RHO_MIN_MARGIN = 0.01


class DuplicateCorrelation(NamedTuple):
    """``duplicateCorrelation``'s ``consensus.correlation`` and ``atanh.correlations``."""

    consensus: float
    atanh_correlations: np.ndarray


def block_indicators(block: np.ndarray) -> np.ndarray:
    """The samples x blocks 0/1 matrix of a blocking factor (``model.matrix(~0 + factor(b))``),
    blocks in sorted order."""
    levels, codes = np.unique(np.asarray(block), return_inverse=True)
    return (codes.ravel()[:, None] == np.arange(levels.size)[None, :]).astype(float)


def _residual_basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal bases of the residual spaces of (stacked) full-rank designs: the columns of
    the complete Q past the rank, as the rows of ``lm.fit``'s effects past the rank."""
    q, _ = np.linalg.qr(x, mode="complete")
    return q[..., x.shape[-1] :]


def _gamma_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """statmod's gamma deviance per row: ``Inf`` when a mean is negative; pairs where both
    ``y`` and ``mu`` are below 1e-15 are left out."""
    left_out = (y < 1e-15) & (mu < 1e-15)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (y - mu) / mu - np.log(y / mu)
    dev = 2.0 * np.where(left_out, 0.0, terms).sum(axis=-1)
    return np.where((mu < 0).any(axis=-1), np.inf, dev)


def _r_or(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's scalar ``a || b`` on logical arrays given as floats (NaN = NA): the value, and
    where R would stop with 'missing value where TRUE/FALSE needed'."""
    value = (a == 1) | ((a == 0) & (b == 1)) | (np.isnan(a) & (b == 1))
    error = ~value & (np.isnan(a) | np.isnan(b))
    return value, error


def _as_logical(cond: np.ndarray, *operands: np.ndarray) -> np.ndarray:
    """A comparison as R's logical: NaN where an operand is NaN (numpy says False)."""
    out = cond.astype(float)
    for op in operands:
        out[np.isnan(op)] = np.nan
    return out


def _damped_step(state: dict[str, np.ndarray], rows: np.ndarray) -> None:
    """One outer iteration of ``glmgam.fit`` for the genes ``rows``: the Fisher information and
    score, then the damping loop that doubles lambda until the deviance does not increase."""
    d, y = state["d"][rows], state["y"][rows]
    mu = state["mu"][rows]
    v = mu**2
    # variances are floored at 1/1000 of the largest, as glmgam.fit does
    v = np.maximum(v, v.max(axis=1, keepdims=True) / 1e3)
    a11, a12, a22 = (1.0 / v).sum(axis=1), (d / v).sum(axis=1), (d * d / v).sum(axis=1)
    maxinfo = np.maximum(a11, a22)
    first = state["iter"][rows] == 0
    state["lam"][rows[first]] = np.abs((a11[first] + a22[first]) / 2.0) / 2.0
    r = (y - mu) / v
    dl1, dl2 = r.sum(axis=1), (d * r).sum(axis=1)
    beta_old, dev_old = state["beta"][rows].copy(), state["dev"][rows].copy()
    lam = state["lam"][rows]
    lev = np.zeros(rows.size, dtype=int)
    dbeta = np.zeros((rows.size, 2))
    pending = np.ones(rows.size, dtype=bool)
    damped_out = np.zeros(rows.size, dtype=bool)
    error = np.zeros(rows.size, dtype=bool)
    while pending.any():
        i = np.flatnonzero(pending)
        lev[i] += 1
        # chol(XVX + lambda I) and the two triangular solves, written out for 2 x 2
        b11, b22, b12 = a11[i] + lam[i], a22[i] + lam[i], a12[i]
        r11 = np.sqrt(b11)
        r12 = b12 / r11
        r22 = np.sqrt(b22 - r12 * r12)
        z1 = dl1[i] / r11
        z2 = (dl2[i] - r12 * z1) / r22
        step2 = z2 / r22
        step1 = (z1 - r12 * step2) / r11
        dbeta[i] = np.column_stack([step1, step2])
        beta = beta_old[i] + dbeta[i]
        mu_new = beta[:, :1] + beta[:, 1:] * d[i]
        dev = _gamma_deviance(y[i], mu_new)
        with np.errstate(divide="ignore", invalid="ignore"):
            tiny = dev / mu_new.max(axis=1)
        ok, err = _r_or(
            _as_logical(dev <= dev_old[i], dev, dev_old[i]), _as_logical(tiny < 1e-15, tiny)
        )
        error[i[err]] = True
        pending[i[err]] = False
        accept = i[ok & ~err]
        state["beta"][rows[accept]] = beta[ok & ~err]
        state["mu"][rows[accept]] = mu_new[ok & ~err]
        state["dev"][rows[accept]] = dev[ok & ~err]
        pending[accept] = False
        rest = i[~ok & ~err]
        give_up = lam[rest] / maxinfo[rest] > 1e15
        # too much damping: glmgam.fit keeps the old coefficients and stops
        damped_out[rest[give_up]] = True
        pending[rest[give_up]] = False
        state["beta"][rows[rest[give_up]]] = beta_old[rest[give_up]]
        lam[rest[~give_up]] *= 2.0
    state["iter"][rows] += 1
    # damping past 1e15 times the information ends the fit (after a give-up, or a step taken
    # at such a lambda)
    damped_out |= lam / maxinfo > 1e15
    lam[(lev == 1) & ~damped_out] /= 10.0
    state["lam"][rows] = lam
    with np.errstate(divide="ignore", invalid="ignore"):
        tiny = state["dev"][rows] / state["mu"][rows].max(axis=1)
        progress = dl1 * dbeta[:, 0] + dl2 * dbeta[:, 1]
    converged, err = _r_or(
        _as_logical(progress < GLMGAM_TOL, progress), _as_logical(tiny < 1e-15, tiny)
    )
    error |= err & ~damped_out
    done = damped_out | error | converged | (state["iter"][rows] > GLMGAM_MAXIT)
    state["active"][rows[done]] = False
    state["failed"][rows[error]] = True


def _glmgam_varcomp(d: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``mixedModel2Fit(..., only.varcomp = TRUE)$varcomp`` from the eigenvalues ``d`` and the
    squared rotated residuals ``dy`` (genes, mq): (genes, 2) residual and block variances,
    NaN where R's fit would stop with an error (``duplicateCorrelation`` makes those NA)."""
    mq = dy.shape[1]
    # the starting values: least squares of dy on (1, d)
    dbar = d.mean(axis=1, keepdims=True)
    ybar = dy.mean(axis=1, keepdims=True)
    sxx = ((d - dbar) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = ((d - dbar) * (dy - ybar)).sum(axis=1) / sxx
    # lm.fit's pivoting: a d column collinear with the intercept has an NA coefficient
    collinear = sxx <= (1e-7**2) * (d**2).sum(axis=1)
    slope[collinear] = np.nan
    start = np.column_stack([ybar[:, 0] - slope * dbar[:, 0], slope])
    varcomp = start.copy()
    var_d = sxx / max(mq - 1, 1)
    refine = (mq > 2) & ((np.abs(d) > 1e-15).sum(axis=1) > 1) & (var_d > 1e-15)
    if not refine.any():
        return varcomp
    rows = np.flatnonzero(refine)
    d, dy, start = d[rows], dy[rows], start[rows]
    fitted = start[:, :1] + start[:, 1:] * d
    negative = (fitted < 0).any(axis=1)
    start[negative] = np.column_stack([dy[negative].mean(axis=1), np.zeros(negative.sum())])
    mu = start[:, :1] + start[:, 1:] * d
    state = {
        "d": d,
        "y": dy,
        "beta": start,
        "mu": mu,
        "dev": _gamma_deviance(dy, mu),
        "lam": np.zeros(rows.size),
        "iter": np.zeros(rows.size, dtype=int),
        # all-zero responses: glmgam.fit returns zero coefficients at once
        "active": dy.max(axis=1) > 0,
        # negative starting means: glmgam.fit stops
        "failed": ((mu < 0) | np.isnan(mu)).any(axis=1),
    }
    state["active"] &= ~state["failed"]
    state["beta"][dy.max(axis=1) == 0] = 0.0
    while state["active"].any():
        _damped_step(state, np.flatnonzero(state["active"]))
    beta = state["beta"]
    beta[state["failed"]] = np.nan
    varcomp[rows] = beta
    return varcomp


def _rotated_squares(
    e: np.ndarray, design: np.ndarray, z: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues ``d`` and squared rotated residuals ``dy`` of every gene's REML problem
    (genes, mq). statmod scales ``y`` and the design by the square roots of the weights but
    not ``Z``, so a weighted gene has its own residual space."""
    n_genes, m = e.shape
    mq = m - design.shape[1]
    if weights is None:
        q2 = _residual_basis(design)  # (m, mq), shared by all genes
        u, s, _ = np.linalg.svd(q2.T @ z, full_matrices=True)
        d = np.zeros(mq)
        d[: s.size] = s**2
        uqy = e @ (q2 @ u)
        return np.broadcast_to(d, (n_genes, mq)).copy(), uqy**2
    d = np.empty((n_genes, mq))
    dy = np.empty((n_genes, mq))
    # genes in chunks: the per-gene projections of Z are (genes, samples, blocks)
    rows = max(16, _CHUNK_ELEMENTS // (m * max(z.shape[1], design.shape[1])))
    for start in range(0, n_genes, rows):
        part = slice(start, min(start + rows, n_genes))
        d[part], dy[part] = _rotated_squares_weighted(e[part], design, z, weights[part], mq)
    return d, dy


_CHUNK_ELEMENTS = 1 << 20


def _rotated_squares_weighted(
    e: np.ndarray, design: np.ndarray, z: np.ndarray, weights: np.ndarray, mq: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_rotated_squares` for weighted genes, without a full SVD per gene.

    The nonzero ``d`` are the eigenvalues of ``Z' P Z`` (``P`` the gene's residual projector)
    and their rotated residuals ``v' Z' P y / sqrt(d)``. The rest of the residual space is an
    eigenspace of ``d = 0``, in which statmod's basis is whatever the SVD returns; the gamma
    fit sees that space only through the sum of its squares (its terms share one mean), so
    each of its components is given the average square: the components in a basis that puts
    the residual on the space's diagonal.
    """
    sw = np.sqrt(weights)
    yw = sw * e
    q1, _ = np.linalg.qr(sw[:, :, None] * design[None, :, :])  # (genes, m, p)
    r = yw - (q1 @ (np.swapaxes(q1, 1, 2) @ yw[:, :, None]))[:, :, 0]
    rz = z[None, :, :] - q1 @ (np.swapaxes(q1, 1, 2) @ z)  # P Z, (genes, m, nz)
    lam, vec = np.linalg.eigh(np.swapaxes(rz, 1, 2) @ rz)
    lam, vec = lam[:, ::-1], vec[:, :, ::-1]  # largest first, as singular values
    proj = (np.swapaxes(vec, 1, 2) @ (np.swapaxes(rz, 1, 2) @ r[:, :, None]))[:, :, 0]
    k = min(lam.shape[1], mq)
    lam, proj = lam[:, :k], proj[:, :k]
    # eigenvalues at rounding level are the SVD's zero singular values
    nonzero = lam > 1e-10 * np.maximum(lam[:, :1], 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.where(nonzero, proj**2 / lam, 0.0)
    d = np.zeros((e.shape[0], mq))
    d[:, :k] = np.where(nonzero, lam, 0.0)
    is_zero = np.ones((e.shape[0], mq), dtype=bool)
    is_zero[:, :k] = ~nonzero
    n_zero = is_zero.sum(axis=1)
    rest = np.maximum((r**2).sum(axis=1) - sq.sum(axis=1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_zero = np.where(n_zero > 0, rest / n_zero, 0.0)
    dy = np.where(is_zero, mean_zero[:, None], 0.0)
    dy[:, :k] = np.where(nonzero, sq, dy[:, :k])
    return d, dy


def _trimmed_mean(x: np.ndarray, trim: float) -> float:
    """R's ``mean(x, trim = trim, na.rm = TRUE)``."""
    x = np.sort(x[~np.isnan(x)])
    n = x.size
    if n == 0:
        return math.nan
    if trim >= 0.5:
        return float(np.median(x))
    lo = int(math.floor(n * trim))
    kept = x[lo : n - lo] if trim > 0 else x
    return math.fsum(kept) / kept.size


def duplicate_correlation(
    e: np.ndarray,
    design: np.ndarray,
    block: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    trim: float = 0.15,
) -> DuplicateCorrelation:
    """The consensus within-block correlation (limma's ``duplicateCorrelation(e, design,
    block = block, weights = weights)``).

    Parameters
    ----------
    e
        Log-expression values, (genes, samples), all finite.
    design
        Full-rank design matrix, (samples, p).
    block
        Block label per sample (e.g. the subject).
    weights
        Positive precision weights (genes, samples), e.g. voom's; ``None`` for none.
    trim
        Fraction trimmed from each end of the genes' atanh correlations before averaging.

    Returns
    -------
    DuplicateCorrelation
        ``consensus`` (``tanh`` of the trimmed mean) and ``atanh_correlations`` per gene:
        NaN where limma's is NA, each correlation bounded to
        ``[1/(1 - largest block size) + 0.01, 0.99]`` before ``atanh``.
    """
    e = np.asarray(e, dtype=float)
    design = np.asarray(design, dtype=float)
    n_genes, m = e.shape
    z = block_indicators(block)
    if z.shape[0] != m or design.shape[0] != m:
        raise ValueError("block and design must have one entry per sample (column of e)")
    if not np.all(np.isfinite(e)):
        raise ValueError("duplicate_correlation needs finite values")
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != e.shape or not np.all(weights > 0) or not np.all(np.isfinite(weights)):
            raise ValueError("weights must be positive, finite and shaped like e")
    zero = DuplicateCorrelation(0.0, np.zeros(n_genes))
    max_block = int(z.sum(axis=0).max())
    if max_block == 1:
        return zero  # limma: blocks all of size 1, correlation zero
    p = np.linalg.matrix_rank(design)
    if p < design.shape[1]:
        raise ValueError("duplicate_correlation needs a full-rank design")
    # a block already in the design (a fixed effect) leaves nothing to correlate; limma tests
    # the indicators of all blocks but the first, as model.matrix(~factor(block)) codes them
    if np.abs(_residual_basis(design).T @ z[:, 1:]).max() < 1e-8:
        return zero
    n_blocks = z.shape[1]
    rho = np.full(n_genes, np.nan)
    if m > p + 2 and 1 < n_blocks < m - 1:
        d, dy = _rotated_squares(e, design, z, weights)
        s = _glmgam_varcomp(d, dy)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = s[:, 1] / s.sum(axis=1)
    rho_min = 1.0 / (1.0 - max_block) + RHO_MIN_MARGIN
    rho = np.where(rho < rho_min, rho_min, np.where(rho > RHO_MAX, RHO_MAX, rho))
    arho = np.arctanh(rho)
    return DuplicateCorrelation(math.tanh(_trimmed_mean(arho, trim)), arho)
