"""Negative binomial GLM fitting by IRLS, batched over genes (DESeq2's ``fitNbinomGLMs``).

Coefficients are fitted on the natural-log scale with DESeq2's small ridge (``1e-6`` on the log2
scale) and reported on the log2 scale by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from dgeflow import threads
from dgeflow.stats.nb import (
    CrossProducts,
    nb_deviance,
    nb_loglik_constant,
    nb_loglik_mu_part,
    nb_logpmf,
)

LARGE_BETA = 30.0
RIDGE_LOG2 = 1e-6


@dataclass
class GLMFit:
    """Per-gene results of an NB GLM fit (natural-log coefficients)."""

    beta: np.ndarray  # (genes, p)
    sigma: np.ndarray  # (genes, p, p) sandwich covariance of beta
    mu: np.ndarray | None  # (genes, samples); dropped by the model once Cook's are computed
    hat_diagonals: np.ndarray | None  # (genes, samples); idem
    deviance: np.ndarray  # (genes,)
    iterations: np.ndarray  # (genes,)
    converged: np.ndarray  # (genes,) bool
    # IRLS stopped on a coefficient beyond +-30 (DESeq2 then restarts its optimizer refit from
    # the least-squares start, not from the IRLS estimate)
    too_large: np.ndarray | None = None  # (genes,) bool

    @staticmethod
    def fields() -> tuple[str, ...]:
        return (
            "beta",
            "sigma",
            "mu",
            "hat_diagonals",
            "deviance",
            "iterations",
            "converged",
            "too_large",
        )


def initial_beta(y: np.ndarray, x: np.ndarray, nf: np.ndarray) -> np.ndarray:
    """Least-squares start from log normalized counts (what DESeq2 uses when not warm-started)."""
    q, r = np.linalg.qr(x)
    logy = np.log(y / nf + 0.1)
    return np.linalg.solve(r, q.T @ logy.T).T


def fit_nb_glm(
    y: np.ndarray,
    x: np.ndarray,
    nf: np.ndarray,
    alpha: np.ndarray,
    *,
    ridge: np.ndarray | None = None,
    beta_init: np.ndarray | None = None,
    tol: float = 1e-8,
    maxit: int = 100,
    minmu: float = 0.5,
    use_optim: bool = True,
    with_hat: bool = True,
) -> GLMFit:
    """Fit ``log(mu) = log(nf) + x @ beta`` for every gene at once.

    Parameters
    ----------
    y
        Counts, (genes, samples).
    x
        Design matrix, (samples, p).
    nf
        Normalization factors (size factors broadcast per gene), (genes, samples).
    alpha
        Dispersion per gene.
    ridge
        Ridge penalty per coefficient on the natural-log scale; DESeq2's default when ``None``.
    beta_init
        Starting coefficients; least squares on log normalized counts when ``None``.
    tol, maxit
        IRLS stops when the relative deviance change falls below ``tol``.
    minmu
        Lower bound for fitted means (weights contain ``1/mu``).
    use_optim
        Refit genes whose IRLS did not converge by direct optimization (L-BFGS-B), as DESeq2.
    with_hat
        Compute the hat-matrix diagonals (leverages, for Cook's distances); ``hat_diagonals``
        is ``None`` without.
    """
    n_genes, m = y.shape
    p = x.shape[1]
    if ridge is None:
        ridge = np.full(p, RIDGE_LOG2 / np.log(2) ** 2)
    cp = CrossProducts(x)
    ridge_mat = np.diag(ridge)
    nf = np.broadcast_to(nf, y.shape)
    alpha = np.asarray(alpha, dtype=float)

    # outputs are allocated once and filled block by block: no per-block copies to join
    fit = _empty_fit(n_genes, m, p, with_hat)

    def run(rows: slice) -> None:
        start = None if beta_init is None else beta_init[rows]
        block = _irls_block(
            y[rows],
            x,
            nf[rows],
            alpha[rows],
            cp,
            ridge_mat,
            start,
            tol,
            maxit,
            minmu,
            with_hat=with_hat,
        )
        for name in GLMFit.fields():
            if getattr(fit, name) is not None:
                getattr(fit, name)[rows] = getattr(block, name)

    threads.map_chunks(run, threads.chunk_slices(n_genes, m))
    beta, sigma, converged = fit.beta, fit.sigma, fit.converged
    if use_optim:
        var_ok = (np.diagonal(sigma, axis1=1, axis2=2) > 0).all(axis=1)
        redo = np.flatnonzero(~converged | ~np.isfinite(beta).all(axis=1) | ~var_ok)
        if redo.size:
            _refit_by_optimization(fit, y, x, nf, alpha, ridge, redo, minmu, cp, ridge_mat, maxit)
    return fit


def _empty_fit(n_genes: int, m: int, p: int, with_hat: bool) -> GLMFit:
    """Uninitialized outputs of :func:`fit_nb_glm` for ``n_genes`` genes."""
    return GLMFit(
        beta=np.empty((n_genes, p)),
        sigma=np.empty((n_genes, p, p)),
        mu=np.empty((n_genes, m)),
        hat_diagonals=np.empty((n_genes, m)) if with_hat else None,
        deviance=np.empty(n_genes),
        iterations=np.empty(n_genes, dtype=int),
        converged=np.empty(n_genes, dtype=bool),
        too_large=np.empty(n_genes, dtype=bool),
    )


def fitted_means(
    y: np.ndarray,
    x: np.ndarray,
    nf: np.ndarray,
    alpha: np.ndarray,
    *,
    tol: float = 1e-8,
    maxit: int = 100,
    minmu: float = 0.5,
) -> np.ndarray:
    """Only the fitted means of :func:`fit_nb_glm` (what the gene-wise dispersion step needs),
    skipping the leverages; genes IRLS cannot fit are refitted by the optimizer as in
    DESeq2's ``fitNbinomGLMs``; (genes, samples)."""
    return fit_nb_glm(y, x, nf, alpha, tol=tol, maxit=maxit, minmu=minmu, with_hat=False).mu


def _irls_block(
    y, x, nf, alpha, cp, ridge_mat, beta_init, tol, maxit, minmu, with_hat=True
) -> GLMFit:
    """IRLS for one block of genes, all in lock-step (genes drop out as they converge)."""
    n_genes = y.shape[0]
    ridge_flat = ridge_mat[cp.iu]
    beta = initial_beta(y, x, nf) if beta_init is None else beta_init.copy()
    mu = np.maximum(nf * np.exp(beta @ x.T), minmu)
    # the deviance's lgamma terms do not change while alpha is fixed: computed once
    ll_const = nb_loglik_constant(y, alpha)
    log_alpha_sum_y = np.log(alpha) * y.sum(axis=1)
    iterations = np.zeros(n_genes, dtype=int)
    converged = np.zeros(n_genes, dtype=bool)
    diverged = np.zeros(n_genes, dtype=bool)
    too_large = np.zeros(n_genes, dtype=bool)
    dev_old = np.zeros(n_genes)
    active = np.arange(n_genes)
    for t in range(maxit):
        if active.size == 0:
            break
        if active.size == n_genes:
            ya, mua, nfa, aa = y, mu, nf, alpha
        else:
            ya, mua, aa = y[active], mu[active], alpha[active]
            # size factors broadcast over genes (stride 0) need no gathering: one row serves
            nfa = nf[:1] if nf.strides[0] == 0 else nf[active]
        iterations[active] += 1
        w = mua / (1.0 + aa[:, None] * mua)
        z = np.log(mua / nfa) + (ya - mua) / mua
        z *= w
        beta_new = cp.solve(cp.gram_flat(w) + ridge_flat, z @ x)
        big = (np.abs(beta_new) > LARGE_BETA).any(axis=1) | ~np.isfinite(beta_new).all(axis=1)
        beta_a = np.where(big[:, None], beta[active], beta_new)
        beta[active] = beta_a
        mua = np.maximum(nfa * np.exp(beta_a @ x.T), minmu)
        mu[active] = mua
        dev_a = -2.0 * (ll_const[active] + nb_loglik_mu_part(ya, mua, aa, log_alpha_sum_y[active]))
        conv_test = np.abs(dev_a - dev_old[active]) / (np.abs(dev_a) + 0.1)
        failed = big | np.isnan(conv_test)
        done = (t > 0) & (conv_test < tol) & ~failed
        diverged[active[failed]] = True
        too_large[active[big]] = True
        converged[active[done]] = True
        dev_old[active] = dev_a
        active = active[~(done | failed)]
    iterations[diverged] = maxit
    converged &= ~diverged

    # weights (covariance, leverage) use the bounded means, as DESeq2's C++ fit; the reported
    # means and deviance are recomputed from the coefficients without the bound, as its R side
    sigma, hat = _covariance_and_hat(x, cp, mu, alpha, ridge_mat, with_hat)
    mu = nf * np.exp(beta @ x.T)
    dev = -2.0 * (ll_const + nb_loglik_mu_part(y, mu, alpha, log_alpha_sum_y))
    return GLMFit(beta, sigma, mu, hat, dev, iterations, converged, too_large)


def _covariance_and_hat(x, cp, mu, alpha, ridge_mat, with_hat=True):
    w = mu / (1.0 + alpha[:, None] * mu)
    xtwx_flat = cp.gram_flat(w)
    inv_flat = cp.inverse_flat(xtwx_flat + ridge_mat[cp.iu])
    inv = cp.unflatten(inv_flat)
    sigma = inv @ cp.unflatten(xtwx_flat) @ inv
    if not with_hat:
        return sigma, None
    # hat diagonal h_j = w_j x_j' (X'WX + ridge)^-1 x_j
    hat = cp.quad_rows(inv_flat)
    hat *= w
    return sigma, hat


def _refit_by_optimization(fit, y, x, nf, alpha, ridge, rows, minmu, cp, ridge_mat, maxit):
    """Per-gene L-BFGS-B for the few genes IRLS could not fit (not a hot path), set up as
    DESeq2's ``optim(method = "L-BFGS-B")`` call so that it stops where R's does.

    R's optim gets no gradient, so it differences the objective centrally with steps of 1e-3
    (shortened at the bounds); its L-BFGS-B keeps 5 corrections and stops when the objective
    falls by less than ``factr * eps = 1e7 * 2.2e-16`` relative. The objective is the full
    negative log posterior (with the normal prior's constant), since that relative test
    depends on its magnitude. Optimizing more tightly moves these genes' coefficients by up to
    1e-3 from R's.
    """
    log2 = np.log(2)
    lam_log2 = ridge * log2**2
    prior_const = 0.5 * np.sum(np.log(2.0 * np.pi / lam_log2))
    bounds = [(-LARGE_BETA, LARGE_BETA)] * x.shape[1]
    for g in rows:
        yg, nfg, ag = y[g], nf[g], alpha[g : g + 1]
        # as DESeq2: start from the IRLS estimate when it is finite and within the bounds on the
        # log2 scale, else from the least-squares start -- which DESeq2 passes on its natural-log
        # scale to an objective on the log2 scale; the optimizer's stopping point depends on it
        start = fit.beta[g] / log2
        if fit.too_large[g] or not (np.isfinite(start).all() and (np.abs(start) < 30).all()):
            start = initial_beta(y[g : g + 1], x, nf[g : g + 1])[0]

        def objective(b2, yg=yg, nfg=nfg, ag=ag):
            # unbounded means here, as DESeq2's optim objective; log2-scale coefficients
            mu_g = nfg * np.exp2(x @ b2)
            ll = nb_logpmf(yg[None], mu_g[None], ag)[0].sum()
            value = -(ll - 0.5 * np.sum(lam_log2 * b2**2) - prior_const)
            return value if np.isfinite(value) else 1e300

        res = minimize(
            objective,
            start,
            jac=lambda b2, f=objective: _central_differences(f, b2, -LARGE_BETA, LARGE_BETA),
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxcor": 5, "ftol": 1e7 * np.finfo(float).eps, "gtol": 0.0, "maxiter": 100},
        )
        fit.converged[g] = res.success
        beta_g = res.x * log2
        fit.beta[g] = beta_g
        mu_g = nfg * np.exp(x @ beta_g)
        fit.mu[g] = mu_g
        # as DESeq2's optim refit: the log-likelihood (deviance) and the covariance use the
        # means bounded below by minmu, while the reported means are not bounded
        fit.deviance[g] = nb_deviance(yg[None], np.maximum(mu_g, minmu)[None], ag)[0]
    bounded = np.maximum(fit.mu[rows], minmu)
    # DESeq2 keeps the IRLS fit's hat diagonals (used for Cook's distances) for these genes
    fit.sigma[rows] = _covariance_and_hat(x, cp, bounded, alpha[rows], ridge_mat, False)[0]


def _central_differences(func, b: np.ndarray, lower: float, upper: float, step: float = 1e-3):
    """R optim's numerical gradient: central differences of ``step``, cut short at bounds."""
    grad = np.empty_like(b)
    for i in range(b.size):
        hi, lo = b.copy(), b.copy()
        hi[i] = min(b[i] + step, upper)
        lo[i] = max(b[i] - step, lower)
        grad[i] = (func(hi) - func(lo)) / (hi[i] - lo[i])
    return grad
