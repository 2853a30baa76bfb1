"""The mean-dispersion trend and the dispersion prior variance, as DESeq2.

``parametric`` (``asymptDisp + extraPois / mean``, a gamma GLM refitted without outliers),
``local`` (R's locfit, :mod:`dgeflow.deseq2.locfit`) and ``mean`` trends; the prior variance
from the residual spread minus the expected sampling variance, or by DESeq2's seeded simulation
for 1-3 residual degrees of freedom.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import polygamma

from dgeflow.deseq2.dispersion import MIN_DISP
from dgeflow.deseq2.locfit import LocalFit, LocfitError, fit_locfit
from dgeflow.errors import DataError
from dgeflow.stats.rng import RStream
from dgeflow.stats.summaries import trimmed_mean

# the fit type of a fit without a trend: gene-wise dispersions used as final ones
GENEWISE = "genewise"


@dataclass
class DispersionTrend:
    """A fitted mean-dispersion trend (plain data, so a fit pickles)."""

    fit_type: str
    asympt_disp: float = np.nan
    extra_pois: float = np.nan
    mean_disp: float = np.nan
    # a local trend: R's locfit of log dispersion on log mean; fits pickled by dgeflow versions
    # before it hold an approximation on a grid of log means instead
    local_fit: LocalFit | None = None
    log_mean_grid: np.ndarray | None = None
    log_disp_grid: np.ndarray | None = None
    min_disp: float = MIN_DISP

    def __call__(self, means: np.ndarray) -> np.ndarray:
        means = np.asarray(means, dtype=float)
        if self.fit_type == GENEWISE:  # no trend was fitted
            return np.full(means.shape, np.nan)
        if self.fit_type == "parametric":
            return self.asympt_disp + self.extra_pois / means
        if self.fit_type == "mean":
            return np.full(means.shape, self.mean_disp)
        if self.local_fit is not None:
            with np.errstate(divide="ignore", over="ignore"):
                return np.exp(self.local_fit(np.log(means)))
        if self.log_mean_grid is None:
            return np.full(means.shape, self.min_disp)
        return np.exp(np.interp(np.log(means), self.log_mean_grid, self.log_disp_grid))


class TrendFitError(RuntimeError):
    """The parametric trend failed; DESeq2 then falls back to a local fit (not a user error)."""


class NoTrendError(DataError):
    """No dispersion trend can be fitted on these data, as DESeq2 would stop too.

    The message says what was found; the fix depends on the caller (the DE fit or the sample
    QC's blind transformation), which adds it. ``kind`` is ``"flat"`` (every gene-wise
    estimate within 2 orders of magnitude of the minimum) or ``"locfit"`` (R's locfit, the
    local trend DESeq2 falls back to, stops on these genes, e.g. on 2 genes).
    """

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _gamma_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(-2.0 * (np.log(np.where(y == 0, 1.0, y / mu)) - (y - mu) / mu)))


def fit_gamma_identity_glm(
    y: np.ndarray, x: np.ndarray, start: np.ndarray, maxit: int = 25, epsilon: float = 1e-8
) -> tuple[np.ndarray, bool]:
    """Gamma GLM with identity link by IRLS from ``start``, stepping as R's ``glm.fit``.

    Exactly R's iteration, so that DESeq2's trend matches to rounding: convergence when
    ``|dev - dev_old| / (|dev| + 0.1) < epsilon`` (unscaled deviance; R stops there, short of
    the exact optimum), at most ``maxit`` iterations, and a step that gives a non-finite
    deviance or a non-positive mean is halved back towards the previous coefficients.
    statsmodels' IRLS neither halves steps nor uses this criterion, and its coefficients
    differ from R's by up to 1e-4 relative when a first step overshoots.

    Returns
    -------
    coefficients, converged
    """
    coef_old = np.asarray(start, dtype=float)
    mu = x @ coef_old
    if not (np.all(np.isfinite(mu)) and np.all(mu > 0)):
        raise TrendFitError("parametric dispersion fit failed: invalid starting values")
    dev_old = _gamma_deviance(y, mu)
    coef = coef_old
    for _ in range(maxit):
        # identity link: working response y, working weights 1 / mu^2
        w = 1.0 / mu
        coef, *_ = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)
        mu = x @ coef
        dev = _gamma_deviance(y, mu)
        halvings = 0
        while not (np.isfinite(dev) and np.all(np.isfinite(mu)) and np.all(mu > 0)):
            halvings += 1
            if halvings > maxit:
                raise TrendFitError("parametric dispersion fit failed: no valid step")
            coef = (coef + coef_old) / 2.0
            mu = x @ coef
            dev = _gamma_deviance(y, mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            return coef, True
        dev_old, coef_old = dev, coef
    return coef, False


def fit_parametric_trend(means: np.ndarray, disps: np.ndarray) -> tuple[float, float]:
    """Gamma-family GLM (identity link) of ``disp ~ a + b / mean``, iteratively dropping genes
    whose ratio to the current trend leaves (1e-4, 15), as DESeq2's parametricDispersionFit."""
    coefs = np.array([0.1, 1.0])
    for _ in range(11):
        residuals = disps / (coefs[0] + coefs[1] / means)
        good = (residuals > 1e-4) & (residuals < 15)
        exog = np.column_stack([np.ones(good.sum()), 1.0 / means[good]])
        # R's glm() gives an NA coefficient for a rank-deficient fit (one gene, or genes of
        # one mean), and DESeq2's test of the coefficients then fails: the local fallback
        if good.sum() < 2 or np.linalg.matrix_rank(exog) < 2:
            raise TrendFitError("parametric dispersion fit failed: fewer than 2 distinct means")
        try:
            new, converged = fit_gamma_identity_glm(disps[good], exog, coefs)
        except np.linalg.LinAlgError as err:
            raise TrendFitError(str(err)) from err
        old, coefs = coefs, new
        if not (coefs > 0).all():
            raise TrendFitError("parametric dispersion fit failed: a coefficient is not positive")
        if np.sum(np.log(coefs / old) ** 2) < 1e-6 and converged:
            return float(coefs[0]), float(coefs[1])
    raise TrendFitError("parametric dispersion fit did not converge in 10 rounds")


def fit_local_trend(
    means: np.ndarray, disps: np.ndarray, min_disp: float = MIN_DISP
) -> DispersionTrend:
    """DESeq2's ``localDispersionFit``: R's locfit of log dispersion on log mean, weighted by
    the mean, on the genes given with a dispersion of at least ``10 * min_disp``
    (:func:`dgeflow.deseq2.locfit.fit_locfit`).

    ``means`` and ``disps`` are the genes DESeq2 fits a trend on (gene-wise estimate above
    ``100 * min_disp``).

    Raises
    ------
    LocfitError
        Where locfit stops (e.g. on 2 genes).
    """
    use = disps >= min_disp * 10
    if not use.any():
        return DispersionTrend("local", min_disp=min_disp)
    fit = fit_locfit(np.log(means[use]), np.log(disps[use]), means[use])
    return DispersionTrend("local", local_fit=fit, min_disp=min_disp)


def _flat_dispersions(n_genes: int, min_disp: float) -> NoTrendError:
    return NoTrendError(
        f"the gene-wise dispersion estimates of all {n_genes} genes are within 2 orders of "
        f"magnitude of the minimum {min_disp:g} (none above {100 * min_disp:g}): the counts "
        "vary no more than Poisson noise between replicates, so no mean-dispersion trend can be "
        "fitted "
        "(DESeq2 stops too: 'all gene-wise dispersion estimates are within 2 orders of "
        "magnitude from the minimum value').",
        "flat",
    )


def _locfit_stops(n_genes: int, fit_type: str, err: LocfitError) -> NoTrendError:
    why = "the parametric trend failed and " if fit_type == "parametric" else ""
    return NoTrendError(
        f"{why}the local dispersion trend (R's locfit, nearest-neighbour fraction 0.7) cannot "
        f"be fitted on the {n_genes} genes with a gene-wise dispersion above 100 x the minimum "
        f"(DESeq2 stops in locfit too: {str(err).split(': ', 1)[-1]}).",
        "locfit",
    )


def fit_dispersion_trend(
    base_mean: np.ndarray,
    disp_gene_est: np.ndarray,
    fit_type: str = "parametric",
    min_disp: float = MIN_DISP,
) -> DispersionTrend:
    """Fit the mean-dispersion trend on genes whose gene-wise estimate exceeds ``100 * minDisp``.

    ``fit_type`` is ``parametric`` (falling back to ``local`` when the fit fails, as DESeq2),
    ``local`` or ``mean`` (the trimmed mean of the estimates above ``10 * minDisp``, as
    DESeq2).

    Raises
    ------
    NoTrendError
        Where DESeq2 stops too: no gene-wise estimate above ``100 * minDisp``, or a local fit
        that R's locfit cannot make (e.g. on 2 such genes: each one's nearest neighbourhood is
        itself).
    """
    if fit_type not in ("parametric", "local", "mean"):
        raise ValueError(f"fit_type must be parametric, local or mean, got {fit_type!r}")
    use = disp_gene_est > 100 * min_disp
    if not use.any():
        raise _flat_dispersions(disp_gene_est.size, min_disp)
    means, disps = base_mean[use], disp_gene_est[use]
    requested = fit_type
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
        try:
            return fit_local_trend(means, disps, min_disp)
        except LocfitError as err:
            raise _locfit_stops(int(use.sum()), requested, err) from err
    # DESeq2's mean trend averages every estimate above 10 * minDisp, not only the trend's genes
    mean_disp = float(trimmed_mean(disp_gene_est[disp_gene_est > 10 * min_disp], 0.001))
    return DispersionTrend("mean", mean_disp=mean_disp)


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
