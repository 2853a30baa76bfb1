"""limma's ``squeezeVar``: empirical Bayes moderation of gene-wise variances towards a prior
(Smyth 2004; robust: Phipson et al. 2016). edgeR's quasi-likelihood F-test calls it as
well, as R's edgeR calls limma's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dgeflow.stats.fdist import fit_f_dist
from dgeflow.stats.fdist_robust import fit_f_dist_robustly


@dataclass
class SqueezedVariances:
    var_post: np.ndarray
    var_prior: float | np.ndarray
    df_prior: float | np.ndarray


def squeeze_var(
    var: np.ndarray,
    df: np.ndarray,
    covariate: np.ndarray | None = None,
    robust: bool = False,
    winsor_tail_p: tuple[float, float] = (0.05, 0.1),
) -> SqueezedVariances:
    """Posterior variances ``(df var + d0 s0^2) / (df + d0)`` (limma's ``squeezeVar``); with a
    ``covariate`` the prior variance ``s0^2`` is a trend in it; ``robust`` gives outlying
    variances their own, smaller prior df ``d0`` (an array then)."""
    df = np.asarray(df, dtype=float)
    if df.ndim:
        var = np.where(df == 0, 0.0, var)  # as limma: no residual df, no variance
    if robust:
        fit = fit_f_dist_robustly(var, df, covariate, winsor_tail_p)
        var_prior, df_prior = fit.scale, fit.df2_shrunk
    else:
        var_prior, df_prior = fit_f_dist(var, df, covariate)
    df_prior_arr = np.broadcast_to(df_prior, np.shape(var))
    finite = np.isfinite(df_prior_arr)
    post = np.broadcast_to(var_prior, np.shape(var)).astype(float)
    with np.errstate(invalid="ignore"):
        mixed = (df * var + df_prior_arr * var_prior) / (df + df_prior_arr)
    post = np.where(finite, mixed, post)
    return SqueezedVariances(post, var_prior, df_prior)
