"""Dispersion estimation as DESeq2: gene-wise Cox-Reid MLE, trend, and MAP shrinkage.

All functions work on genes that are not all-zero; the caller removes those first.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy.special import polygamma

from dgeflow import threads
from dgeflow.glm import fitted_means
from dgeflow.nb import CrossProducts, DispersionPosterior, log_posterior
from dgeflow.rrandom import RStream

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


def moments_dispersion(normed: np.ndarray, nf: np.ndarray) -> np.ndarray:
    xim = np.mean(1.0 / nf, axis=1) if nf.ndim == 2 else np.mean(1.0 / nf)
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


def estimate_genewise_dispersions(
    y: np.ndarray,
    sf: np.ndarray,
    x: np.ndarray,
    *,
    min_disp: float = MIN_DISP,
    maxit: int = MAXIT,
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
    sf = np.broadcast_to(sf, y.shape)
    max_disp = max(10.0, m)
    groups = design_is_groups(x)
    alpha_init = np.empty(y.shape[0])
    mu = np.empty(y.shape) if groups else None

    def start_values(rows: slice) -> None:
        # block-wise, so that normalized counts and their moments never exist for all genes
        normed = y[rows] / sf[rows]
        rough = rough_dispersion(normed, x)
        moments = moments_dispersion(normed, sf[rows])
        init = np.clip(np.minimum(rough, moments), min_disp, max_disp)
        alpha_init[rows] = np.where(np.isfinite(init), init, min_disp)
        if groups:
            mu[rows] = linear_model_mu(normed, x) * sf[rows]

    threads.map_chunks(start_values, threads.chunk_slices(*y.shape))
    if not groups:
        mu = fitted_means(y, x, sf, alpha_init)
    np.maximum(mu, MINMU, out=mu)
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


# ---------------------------------------------------------------- trend


@dataclass
class DispersionTrend:
    """A fitted mean-dispersion trend (plain data, so a fit pickles)."""

    fit_type: str
    asympt_disp: float = np.nan
    extra_pois: float = np.nan
    mean_disp: float = np.nan
    log_mean_grid: np.ndarray | None = None
    log_disp_grid: np.ndarray | None = None
    min_disp: float = MIN_DISP

    def __call__(self, means: np.ndarray) -> np.ndarray:
        means = np.asarray(means, dtype=float)
        if self.fit_type == "parametric":
            return self.asympt_disp + self.extra_pois / means
        if self.fit_type == "mean":
            return np.full(means.shape, self.mean_disp)
        if self.log_mean_grid is None:
            return np.full(means.shape, self.min_disp)
        return np.exp(np.interp(np.log(means), self.log_mean_grid, self.log_disp_grid))


class TrendFitError(RuntimeError):
    pass


def fit_parametric_trend(means: np.ndarray, disps: np.ndarray) -> tuple[float, float]:
    """Gamma-family GLM (identity link) of ``disp ~ a + b / mean``, iteratively dropping genes
    whose ratio to the current trend leaves (1e-4, 15), as DESeq2's parametricDispersionFit."""
    coefs = np.array([0.1, 1.0])
    for _ in range(11):
        residuals = disps / (coefs[0] + coefs[1] / means)
        good = (residuals > 1e-4) & (residuals < 15)
        exog = np.column_stack([np.ones(good.sum()), 1.0 / means[good]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sm.GLM(
                disps[good],
                exog,
                family=sm.families.Gamma(link=sm.families.links.Identity()),
            )
            try:
                result = model.fit(start_params=coefs, tol=1e-8, maxiter=100)
            except (ValueError, np.linalg.LinAlgError) as err:
                raise TrendFitError(str(err)) from err
        old = coefs
        coefs = np.asarray(result.params)
        if not (coefs > 0).all():
            raise TrendFitError("parametric dispersion fit failed: a coefficient is not positive")
        converged = bool(getattr(result, "converged", True))
        if np.sum(np.log(coefs / old) ** 2) < 1e-6 and converged:
            return float(coefs[0]), float(coefs[1])
    raise TrendFitError("parametric dispersion fit did not converge in 10 rounds")


def fit_local_trend(
    means: np.ndarray, disps: np.ndarray, min_disp: float = MIN_DISP
) -> DispersionTrend:
    """Local quadratic regression of log dispersion on log mean, weighted by the mean.

    DESeq2 uses locfit (nearest-neighbour fraction 0.7, degree 2, tricube kernel); this is the
    same local model evaluated on a grid and interpolated, not locfit's own vertex scheme, so
    values differ slightly from R's.
    """
    use = disps >= min_disp * 10
    if not use.any():
        return DispersionTrend("local", min_disp=min_disp)
    lx, ly, wt = np.log(means[use]), np.log(disps[use]), means[use]
    grid = np.linspace(lx.min(), lx.max(), 200)
    k = max(3, int(np.ceil(0.7 * lx.size)))
    fitted = np.empty(grid.size)
    for i, g0 in enumerate(grid):
        d = np.abs(lx - g0)
        h = np.partition(d, k - 1)[k - 1] if k <= d.size else d.max()
        h = max(h, 1e-12)
        kern = np.clip(1 - (d / h) ** 3, 0, None) ** 3 * wt
        design = np.column_stack([np.ones_like(lx), lx - g0, (lx - g0) ** 2])
        sw = np.sqrt(kern)
        coef, *_ = np.linalg.lstsq(design * sw[:, None], ly * sw, rcond=None)
        fitted[i] = coef[0]
    return DispersionTrend("local", log_mean_grid=grid, log_disp_grid=fitted, min_disp=min_disp)


def trimmed_mean(x: np.ndarray, trim: float, axis: int = -1) -> np.ndarray:
    """R's ``mean(x, trim=)``: drop ``floor(n * trim)`` values from each end."""
    x = np.sort(x, axis=axis)
    n = x.shape[axis]
    lo = int(np.floor(n * trim))
    if trim >= 0.5:
        return np.median(x, axis=axis)
    return np.take(x, np.arange(lo, n - lo), axis=axis).mean(axis=axis)


def fit_dispersion_trend(
    base_mean: np.ndarray,
    disp_gene_est: np.ndarray,
    fit_type: str = "parametric",
    min_disp: float = MIN_DISP,
) -> DispersionTrend:
    """Fit the mean-dispersion trend on genes whose gene-wise estimate exceeds ``100 * minDisp``.

    ``fit_type`` is ``parametric`` (falling back to ``local`` when the fit fails, as DESeq2),
    ``local`` or ``mean``.
    """
    use = disp_gene_est > 100 * min_disp
    if not use.any():
        raise TrendFitError(
            "all gene-wise dispersion estimates are within 2 orders of magnitude of the minimum "
            "(1e-8): the data look Poisson; the trend cannot be fitted"
        )
    means, disps = base_mean[use], disp_gene_est[use]
    if fit_type == "parametric":
        try:
            a, b = fit_parametric_trend(means, disps)
            return DispersionTrend("parametric", asympt_disp=a, extra_pois=b)
        except TrendFitError as err:
            warnings.warn(
                f"parametric dispersion trend failed ({err}); using a local regression fit",
                stacklevel=2,
            )
            fit_type = "local"
    if fit_type == "local":
        return fit_local_trend(base_mean, disp_gene_est, min_disp)
    if fit_type == "mean":
        mean_disp = float(trimmed_mean(disps, 0.001))
        return DispersionTrend("mean", mean_disp=mean_disp)
    raise ValueError(f"fit_type must be parametric, local or mean, got {fit_type!r}")


def mad(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def dispersion_prior_variance(
    disp_gene_est: np.ndarray,
    disp_fit: np.ndarray,
    n_samples: int,
    n_coefs: int,
    min_disp: float = MIN_DISP,
    seed: int = 2,
) -> tuple[float, float]:
    """Variance of the log-normal prior: residual variance minus expected sampling variance.

    Returns ``(var_log_disp_ests, prior_var)``. With 1 to 3 residual degrees of freedom the
    sampling distribution is too skewed for the subtraction; DESeq2 then matches the residual
    histogram by simulation, reproduced here with R's random stream.
    """
    above = disp_gene_est >= min_disp * 100
    resid = np.log(disp_gene_est[above]) - np.log(disp_fit[above])
    var_log = mad(resid) ** 2
    m, p = n_samples, n_coefs
    df = m - p
    if 0 < df <= 3:
        return var_log, _simulated_prior_variance(resid, df, seed)
    if df > 0:
        return var_log, max(var_log - float(polygamma(1, df / 2)), 0.25)
    return var_log, var_log


def _right_closed_density(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Histogram density with R's ``hist()`` convention: bins (a, b], the first [a, b]."""
    idx = np.searchsorted(breaks, values, side="left") - 1
    idx[values == breaks[0]] = 0
    counts = np.bincount(idx, minlength=breaks.size - 1)[: breaks.size - 1]
    return counts / (values.size * np.diff(breaks))


def _simulated_prior_variance(resid: np.ndarray, df: int, seed: int) -> float:
    """DESeq2's Monte-Carlo match of the log-dispersion residual histogram, drawn from R's own
    random stream after ``set.seed(seed)`` so the estimate equals DESeq2's."""
    stream = RStream(seed)
    brks = np.arange(-20, 21) / 2
    obs = resid[(resid > brks[0]) & (resid < brks[-1])]
    obs_density = _right_closed_density(obs, brks)
    grid = np.linspace(0, 8, 200)
    kl = np.empty(grid.size)
    for i, v in enumerate(grid):
        rand = (
            np.log(stream.chisq(10_000, df)) + stream.normals(10_000, 0, np.sqrt(v)) - np.log(df)
        )
        rand = rand[(rand > brks[0]) & (rand < brks[-1])]
        rand_density = _right_closed_density(rand, brks)
        z = np.concatenate([obs_density, rand_density])
        small = z[z > 0].min()
        kl[i] = np.sum(obs_density * (np.log(obs_density + small) - np.log(rand_density + small)))
    fine = np.linspace(0, 8, 1000)
    smooth = _loess_quadratic(grid, kl, fine, span=0.2)
    return max(float(fine[np.argmin(smooth)]), 0.25)


def _local_quadratic(x, y, at, span):
    """Value and slope at ``at`` of the tricube-weighted local quadratic fit on the
    ``floor(span * n)`` nearest points (R's loess local fit, degree 2)."""
    n = x.size
    k = int(np.floor(span * n))
    d = np.abs(x - at)
    h = np.partition(d, k - 1)[k - 1]
    wts = np.clip(1 - (d / h) ** 3, 0, None) ** 3
    design = np.column_stack([np.ones(n), x - at, (x - at) ** 2])
    sw = np.sqrt(wts)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    return coef[0], coef[1]


def _loess_quadratic(x, y, at, span):
    """R's ``loess(y ~ x, span)`` in one dimension with its default ``surface="interpolate"``:
    local fits at the vertices of a k-d tree (cells of at most ``floor(n * span * 0.2)`` points,
    split at the lower median), cubic Hermite interpolation between vertices."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    n = xs.size
    cell_max = int(np.floor(n * span * 0.2))
    margin = 0.005 * max(xs[-1] - xs[0], 1e-10 * max(abs(xs[0]), abs(xs[-1])) + 1e-30)
    vertices = {xs[0] - margin, xs[-1] + margin}
    stack = [(0, n - 1, xs[0] - margin, xs[-1] + margin)]
    while stack:
        lo, hi, left, right = stack.pop()
        if hi - lo + 1 <= cell_max:
            continue
        m = (lo + hi + 2) // 2 - 1  # Fortran's (l + u) / 2 on 1-based indices
        while m + 1 <= hi and xs[m] == xs[m + 1]:  # ties go with the upper cell
            m += 1
        cut = xs[m]
        if cut in (left, right) or m >= hi:
            continue
        vertices.add(cut)
        stack.append((lo, m, left, cut))
        stack.append((m + 1, hi, cut, right))
    vert = np.array(sorted(vertices))
    fits = np.array([_local_quadratic(xs, y[order], v, span) for v in vert])
    idx = np.clip(np.searchsorted(vert, at, side="left") - 1, 0, vert.size - 2)
    x0, x1 = vert[idx], vert[idx + 1]
    width = x1 - x0
    u = (at - x0) / width
    return (
        (1 - u) ** 2 * (1 + 2 * u) * fits[idx, 0]
        + u**2 * (3 - 2 * u) * fits[idx + 1, 0]
        + (u * (1 - u) ** 2 * fits[idx, 1] - u**2 * (1 - u) * fits[idx + 1, 1]) * width
    )


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
