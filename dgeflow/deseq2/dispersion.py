"""Dispersion estimation as DESeq2: gene-wise Cox-Reid MLE and MAP shrinkage towards the trend
(the trend and the prior variance are in :mod:`dgeflow.deseq2.trend`).

All functions work on genes that are not all-zero; the caller removes those first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dgeflow import threads
from dgeflow.deseq2.glm import fitted_means
from dgeflow.stats.nb import CrossProducts, DispersionPosterior, log_posterior

MIN_DISP = 1e-8
KAPPA_0 = 1.0
DISP_TOL = 1e-6
MAXIT = 100
MINMU = 0.5
OUTLIER_SD = 2.0


def linear_model_mu(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least-squares fitted values of each gene's row on the design (DESeq2's linearModelMu)."""
    q, _ = np.linalg.qr(x)
    return (y @ q) @ q.T


def rough_dispersion(normed: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Method-of-moments start from a linear fit to normalized counts."""
    m, p = x.shape
    mu = np.maximum(linear_model_mu(normed, x), 1.0)
    est = (((normed - mu) ** 2 - mu) / mu**2).sum(axis=1) / (m - p)
    return np.maximum(est, 0.0)


def moments_dispersion(normed: np.ndarray, xim: float) -> np.ndarray:
    """Method-of-moments dispersion ``(var - xim * mean) / mean^2`` of normalized counts.

    ``xim`` is DESeq2's ``mean(1 / colMeans(normalizationFactors))``, or ``mean(1 / sizeFactors)``:
    one number for all genes.
    """
    bm = normed.mean(axis=1)
    bv = normed.var(axis=1, ddof=1)
    return (bv - xim * bm) / bm**2


def design_is_groups(x: np.ndarray) -> bool:
    """True when the design has as many distinct rows as columns (a one-way layout)."""
    return np.unique(x, axis=0).shape[0] == x.shape[1]


@dataclass
class LineSearchResult:
    log_alpha: np.ndarray
    iterations: np.ndarray
    initial_lp: np.ndarray
    last_lp: np.ndarray

    @staticmethod
    def fields() -> tuple[str, ...]:
        return ("log_alpha", "iterations", "initial_lp", "last_lp")


def fit_log_dispersion(
    y: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    log_alpha_init: np.ndarray,
    prior_mean: np.ndarray,
    prior_var: float,
    use_prior: bool,
    *,
    min_log_alpha: float = np.log(MIN_DISP / 10),
    kappa_0: float = KAPPA_0,
    tol: float = DISP_TOL,
    maxit: int = MAXIT,
) -> LineSearchResult:
    """Maximize the (prior-penalized) Cox-Reid log-likelihood in log alpha by Armijo line search.

    The same gradient-ascent-with-backtracking as DESeq2's ``fitDisp``, run for a block of genes
    in lock-step: each iteration evaluates the posterior only for genes still moving. Blocks of
    genes (see :mod:`dgeflow.threads`) run in parallel; results do not depend on the blocking.
    """
    cp = CrossProducts(x)
    n = y.shape[0]
    log_alpha_init = np.broadcast_to(log_alpha_init, (n,)).astype(float)
    prior_mean = np.broadcast_to(prior_mean, (n,)).astype(float)

    def run(rows: slice) -> LineSearchResult:
        post = DispersionPosterior(y[rows], mu[rows], cp, prior_mean[rows], prior_var, use_prior)
        return _line_search(post, log_alpha_init[rows], min_log_alpha, kappa_0, tol, maxit)

    parts = threads.map_chunks(run, threads.chunk_slices(n, y.shape[1]))
    return LineSearchResult(
        *(threads.concat_rows([getattr(r, f) for r in parts]) for f in LineSearchResult.fields())
    )


def _line_search(
    post: DispersionPosterior,
    log_alpha_init: np.ndarray,
    min_log_alpha: float,
    kappa_0: float,
    tol: float,
    maxit: int,
) -> LineSearchResult:
    n = log_alpha_init.size
    a = log_alpha_init.copy()
    lp = post.value(None, a)
    dlp = post.gradient(None, a)
    initial_lp = lp.copy()
    kappa = np.full(n, kappa_0)
    iters = np.zeros(n, dtype=int)
    accepts = np.zeros(n, dtype=int)
    active = np.arange(n)
    # genes of the block that `post` currently holds: as genes converge it is shrunk to the
    # moving ones, so evaluations do not gather rows out of the full block every time
    held = active

    def local(idx):
        return None if idx.size == held.size else np.searchsorted(held, idx)

    for _ in range(maxit):
        if active.size == 0:
            break
        if active.size < 0.75 * held.size:
            post = post.subset(local(active))
            held = active
        iters[active] += 1
        aa, da, ka = a[active], dlp[active], kappa[active]
        proposal = aa + ka * da
        ka = np.where(proposal < -30.0, (-30.0 - aa) / da, ka)
        ka = np.where(proposal > 10.0, (10.0 - aa) / da, ka)
        proposal = aa + ka * da
        lp_proposal = post.value(local(active), proposal)
        theta_hat_kappa = -lp[active] - ka * 1e-4 * da**2
        accept = -lp_proposal <= theta_hat_kappa
        # rejected: halve the step
        kappa[active] = np.where(accept, ka, ka / 2.0)
        acc_pos = np.flatnonzero(accept)
        stop = np.zeros(active.size, dtype=bool)
        if acc_pos.size:
            acc_idx = active[acc_pos]
            accepts[acc_idx] += 1
            # the accepted point is the proposal, whose posterior is already known
            a_new = proposal[acc_pos]
            a[acc_idx] = a_new
            lp_new = lp_proposal[acc_pos]
            change = lp_new - lp[acc_idx]
            lp[acc_idx] = lp_new
            converged = change < tol
            too_small = ~converged & (a_new < min_log_alpha)
            cont = ~(converged | too_small)
            cont_idx = acc_idx[cont]
            if cont_idx.size:
                dlp[cont_idx] = post.gradient(local(cont_idx), a[cont_idx])
                k = np.minimum(kappa[cont_idx] * 1.1, kappa_0)
                kappa[cont_idx] = np.where(accepts[cont_idx] % 5 == 0, k / 2.0, k)
            stop[acc_pos[~cont]] = True
        active = active[~stop]
    return LineSearchResult(a, iters, initial_lp, lp)


def fit_log_dispersion_grid(
    y: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    prior_mean: np.ndarray,
    prior_var: float,
    use_prior: bool,
) -> np.ndarray:
    """Coarse-then-fine grid maximization of the posterior, for genes the line search missed."""
    cp = CrossProducts(x)
    n = y.shape[0]
    prior_mean = np.broadcast_to(prior_mean, (n,)).astype(float)
    grid = np.linspace(np.log(1e-8), np.log(max(10.0, x.shape[0])), 20)
    delta = grid[1] - grid[0]

    def best(grids):  # grids: (n, k)
        vals = np.column_stack(
            [
                log_posterior(grids[:, k], y, mu, cp, prior_mean, prior_var, use_prior)
                for k in range(grids.shape[1])
            ]
        )
        return grids[np.arange(n), np.nanargmax(vals, axis=1)]

    coarse = best(np.broadcast_to(grid, (n, grid.size)))
    fine = coarse[:, None] + np.linspace(-delta, delta, 20)[None, :]
    return best(fine)


@dataclass
class GeneDispersions:
    disp_gene_est: np.ndarray
    iterations: np.ndarray
    mu: np.ndarray


def moments_xim(sf: np.ndarray) -> float:
    """DESeq2's ``mean(1 / colMeans(normalizationFactors))`` of the genes given (factors
    (genes, samples), possibly size factors broadcast over genes)."""
    sf = np.asarray(sf)
    if sf.ndim == 1 or sf.strides[0] == 0:
        return float(np.mean(1.0 / np.atleast_2d(sf)[0]))
    return float(np.mean(1.0 / sf.mean(axis=0)))


def genewise_start(
    y: np.ndarray,
    sf: np.ndarray,
    x: np.ndarray,
    *,
    min_disp: float = MIN_DISP,
    xim: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Starting dispersions and the fitted means the gene-wise step works with (DESeq2's
    ``estimateDispersionsGeneEst``: moments start, then least-squares means for one-way designs
    or an NB GLM fit at the start dispersions otherwise, bounded below by 0.5).

    Deterministic per gene, so a caller that drops the means can compute them again.
    ``xim`` is :func:`moments_xim` of all the genes fitted together (a caller working on a
    block of them passes it; by default it is taken from ``sf``).
    """
    m, p = x.shape
    sf = np.broadcast_to(sf, y.shape)
    max_disp = max(10.0, m)
    groups = design_is_groups(x)
    alpha_init = np.empty(y.shape[0])
    mu = np.empty(y.shape) if groups else None

    # per-gene normalization factors enter through their column means, as DESeq2
    if xim is None:
        xim = moments_xim(sf)

    def start_values(rows: slice) -> None:
        # block-wise, so that normalized counts and their moments never exist for all genes
        normed = y[rows] / sf[rows]
        rough = rough_dispersion(normed, x)
        moments = moments_dispersion(normed, xim)
        init = np.clip(np.minimum(rough, moments), min_disp, max_disp)
        alpha_init[rows] = np.where(np.isfinite(init), init, min_disp)
        if groups:
            mu[rows] = linear_model_mu(normed, x) * sf[rows]

    threads.map_chunks(start_values, threads.chunk_slices(*y.shape))
    if not groups:
        mu = fitted_means(y, x, sf, alpha_init)
    np.maximum(mu, MINMU, out=mu)
    return alpha_init, mu


def estimate_genewise_dispersions(
    y: np.ndarray,
    sf: np.ndarray,
    x: np.ndarray,
    *,
    min_disp: float = MIN_DISP,
    maxit: int = MAXIT,
    xim: float | None = None,
) -> GeneDispersions:
    """DESeq2's ``estimateDispersionsGeneEst`` (niter = 1) for genes with some non-zero count.

    Parameters
    ----------
    y
        Counts (genes, samples), no all-zero rows.
    sf
        Normalization factors (genes, samples).
    x
        Design matrix.
    """
    m, p = x.shape
    if m <= p:
        raise ValueError("the number of samples equals the number of coefficients")
    max_disp = max(10.0, m)
    alpha_init, mu = genewise_start(y, sf, x, min_disp=min_disp, xim=xim)
    log_init = np.log(alpha_init)
    res = fit_log_dispersion(y, mu, x, log_init, log_init, 1.0, False, maxit=maxit)
    est = np.minimum(np.exp(res.log_alpha), max_disp)
    no_increase = res.last_lp < res.initial_lp + np.abs(res.initial_lp) / 1e6
    est = np.where(no_increase, alpha_init, est)
    conv = (res.iterations < maxit) & (res.iterations != 1)
    refit = ~conv & (est > min_disp * 10)
    if refit.any():
        est[refit] = np.exp(
            fit_log_dispersion_grid(y[refit], mu[refit], x, np.zeros(refit.sum()), 1.0, False)
        )
    est = np.clip(est, min_disp, max_disp)
    return GeneDispersions(est, res.iterations, mu)


@dataclass
class MAPDispersions:
    disp_map: np.ndarray
    dispersion: np.ndarray
    outlier: np.ndarray
    iterations: np.ndarray


def estimate_map_dispersions(
    y: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    disp_gene_est: np.ndarray,
    disp_fit: np.ndarray,
    var_log_disp_ests: float,
    prior_var: float,
    *,
    min_disp: float = MIN_DISP,
    maxit: int = MAXIT,
) -> MAPDispersions:
    """Shrink gene-wise dispersions towards the trend (DESeq2's ``estimateDispersionsMAP``).

    Genes more than ``2`` prior SDs above the trend keep their gene-wise estimate (outliers).
    """
    m = x.shape[0]
    max_disp = max(10.0, m)
    init = np.where(disp_gene_est > 0.1 * disp_fit, disp_gene_est, disp_fit)
    init = np.where(np.isfinite(init), init, disp_fit)
    log_fit = np.log(disp_fit)
    res = fit_log_dispersion(y, mu, x, np.log(init), log_fit, prior_var, True, maxit=maxit)
    disp_map = np.exp(res.log_alpha)
    refit = ~(res.iterations < maxit)
    if refit.any():
        disp_map[refit] = np.exp(
            fit_log_dispersion_grid(y[refit], mu[refit], x, log_fit[refit], prior_var, True)
        )
    disp_map = np.clip(disp_map, min_disp, max_disp)
    outlier = np.log(disp_gene_est) > log_fit + OUTLIER_SD * np.sqrt(var_log_disp_ests)
    final = np.where(outlier, disp_gene_est, disp_map)
    return MAPDispersions(disp_map, final, outlier, res.iterations)
