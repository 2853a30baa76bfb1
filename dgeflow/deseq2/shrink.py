"""Log2 fold change shrinkage: apeglm's adaptive Cauchy prior, and a normal prior.

Both return the posterior mode of one coefficient (or contrast) and its posterior SD, on the
log2 scale, for genes that are not all-zero. The p-values of :meth:`DESeqFit.results` stay the
MLE's, as with DESeq2's ``lfcShrink``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from dgeflow.deseq2.blocks import factors_of_rows
from dgeflow.stats.nb import CrossProducts, nb_logpmf

LOG2 = np.log(2.0)
NO_SHRINK_SD = 15.0  # apeglm's weak normal prior on the coefficients that are not shrunk


def prior_variance(mle: np.ndarray, se: np.ndarray, min_var=1e-6, max_var=400.0) -> float:
    """Normal prior variance of true effects from estimates and SEs (Efron & Morris 1975).

    Solves ``A = sum((X^2 - D) I(A)) / sum(I(A))`` with ``I(A) = 1 / (2 (A + D)^2)``, the
    estimator apeglm uses to adapt its prior scale.
    """
    ok = ~np.isnan(mle) & ~np.isnan(se)
    x2, d = mle[ok] ** 2, se[ok] ** 2

    def objective(a):
        inf = 1.0 / (2.0 * (a + d) ** 2)
        return np.sum((x2 - d) * inf) / np.sum(inf) - a

    if objective(min_var) < 0:
        return min_var
    return float(brentq(objective, min_var, max_var, xtol=1e-12))


def _posterior(beta, y, x, off, alpha, k, scale, cauchy):
    """Log posterior, gradient and Hessian for all genes; beta is natural-log (genes, p)."""
    eta = beta @ x.T + off
    mu = np.exp(eta)
    a = alpha[:, None]
    ll = nb_logpmf(y, mu, alpha).sum(axis=1)
    resid = (y - mu) / (1.0 + a * mu)
    grad = resid @ x
    # observed information of the NB log-likelihood in eta
    w = mu * (1.0 + a * y) / (1.0 + a * mu) ** 2
    hess = -CrossProducts(x).gram(w)
    p = x.shape[1]
    others = np.arange(p) != k
    # weak normal prior on the other coefficients
    ll = ll - 0.5 * np.sum(beta[:, others] ** 2, axis=1) / NO_SHRINK_SD**2
    grad[:, others] -= beta[:, others] / NO_SHRINK_SD**2
    idx = np.flatnonzero(others)
    hess[:, idx, idx] -= 1.0 / NO_SHRINK_SD**2
    b = beta[:, k]
    if cauchy:
        ll = ll - np.log1p((b / scale) ** 2)
        grad[:, k] -= 2.0 * b / (scale**2 + b**2)
        hess[:, k, k] -= 2.0 * (scale**2 - b**2) / (scale**2 + b**2) ** 2
    else:
        ll = ll - 0.5 * b**2 / scale**2
        grad[:, k] -= b / scale**2
        hess[:, k, k] -= 1.0 / scale**2
    return ll, grad, hess


def posterior_mode(
    y: np.ndarray,
    x: np.ndarray,
    offset: np.ndarray,
    alpha: np.ndarray,
    beta_init: np.ndarray,
    k: int,
    scale: float,
    cauchy: bool = True,
    maxit: int = 200,
    tol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximize the posterior over all genes by Levenberg-damped Newton steps.

    Returns the mode (natural log, genes x p) and the posterior SD of coefficient ``k`` from the
    inverse negative Hessian at the mode (the Laplace approximation apeglm reports).
    """
    beta = beta_init.copy()
    n, p = beta.shape
    lam = np.full(n, 1e-3)
    lp, grad, hess = _posterior(beta, y, x, offset, alpha, k, scale, cauchy)
    active = np.arange(n)
    eye = np.eye(p)
    for _ in range(maxit):
        if active.size == 0:
            break
        h = -hess[active] + lam[active, None, None] * eye
        step = np.linalg.solve(h, grad[active][..., None])[..., 0]
        trial = beta[active] + step
        lp_t, g_t, h_t = _posterior(
            trial, y[active], x, offset[active], alpha[active], k, scale, cauchy
        )
        better = lp_t >= lp[active]
        acc = active[better]
        beta[acc], grad[acc], hess[acc] = trial[better], g_t[better], h_t[better]
        gain = lp_t[better] - lp[acc]
        lp[acc] = lp_t[better]
        lam[acc] = np.maximum(lam[acc] / 10.0, 1e-12)
        lam[active[~better]] *= 10.0
        done = np.zeros(active.size, dtype=bool)
        done[better] = (gain < tol) & (np.abs(g_t[better]).max(axis=1) < 1e-6)
        done |= lam[active] > 1e12
        active = active[~done]
    cov = np.linalg.inv(-hess)
    return beta, np.sqrt(np.maximum(cov[:, k, k], 0.0))


def shrink_lfc(fit, contrast: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Shrunken log2 fold changes and their SDs for the genes of ``fit`` that are not all-zero.

    ``apeglm``: Cauchy prior whose scale adapts to the data (sqrt of :func:`prior_variance` of
    the MLEs), weak normal priors on the other coefficients, as ``lfcShrink(type="apeglm")``.
    ``normal``: a zero-mean normal prior with the same adaptive variance on the tested
    coefficient, fitted the same way (DESeq2's ``type="normal"`` refits all coefficients with
    a prior variance from an upper quantile of the MLEs; see the README for the difference).
    """
    if method not in ("apeglm", "normal"):
        raise ValueError(f"shrink must be 'apeglm' or 'normal', got {method!r}")
    nonzero = np.flatnonzero(contrast)
    if nonzero.size != 1 or contrast[nonzero[0]] != 1.0:
        raise ValueError(
            "shrinkage is defined for a single coefficient: pass a coefficient name or a "
            "(factor, level, reference) contrast whose reference is the design's reference level"
        )
    k = int(nonzero[0])
    g = fit._g
    x = fit.design.matrix
    beta_mle = g.glm.beta
    se_mle = np.sqrt(g.glm.sigma[:, k, k])
    scale = np.sqrt(prior_variance(beta_mle[:, k], se_mle))
    y = fit._fit_counts()
    offset = np.log(factors_of_rows(fit._sf, g.genes, y.shape))
    start = np.clip(beta_mle, -30, 30)
    mode, sd = posterior_mode(
        y, x, offset, g.dispersion, start, k, scale, cauchy=method == "apeglm"
    )
    return mode[:, k] / LOG2, sd / LOG2
