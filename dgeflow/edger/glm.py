"""edgeR's negative binomial GLM pieces, vectorized over genes: the one-group Newton fit
(``mglmOneGroup``), one-way layouts (``mglmOneWay``), general designs, the deviance, the
adjusted profile likelihood (``adjustedProfileLik``) and ``aveLogCPM``.

Offsets are per sample on the log scale (log effective library sizes); dispersions per gene.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from dgeflow.stats.nb import CrossProducts

LOW_VALUE = 1e-10


def one_group_beta(
    y: np.ndarray,
    offset: np.ndarray,
    dispersion: np.ndarray,
    maxit: int = 50,
    tol: float = 1e-10,
) -> np.ndarray:
    """Per gene, the MLE of ``log(mu / exp(offset))`` for a single group (edgeR's
    ``mglmOneGroup``): Newton from the log mean of ``y / exp(offset)``; ``-inf`` for all-zero
    rows. ``offset`` is (samples,) or (genes, samples)."""
    y = np.asarray(y, dtype=float)
    offset = np.broadcast_to(offset, y.shape)
    disp = np.broadcast_to(np.asarray(dispersion, dtype=float).reshape(-1, 1), (y.shape[0], 1))
    positive = y > LOW_VALUE
    nonzero = positive.any(axis=1)
    with np.errstate(divide="ignore"):
        beta = np.log(np.where(positive, y / np.exp(offset), 0.0).sum(axis=1) / y.shape[1])
    active = np.flatnonzero(nonzero)
    for _ in range(maxit):
        if active.size == 0:
            break
        mu = np.exp(beta[active, None] + offset[active])
        denom = 1.0 + mu * disp[active]
        step = ((y[active] - mu) / denom).sum(axis=1) / (mu / denom).sum(axis=1)
        beta[active] += step
        active = active[np.abs(step) >= tol]
    beta[~nonzero] = -np.inf
    return beta


def ave_log_cpm(
    counts: np.ndarray,
    lib_size: np.ndarray,
    prior_count: float = 2.0,
    dispersion: float | np.ndarray = 0.05,
) -> np.ndarray:
    """edgeR's ``aveLogCPM``: log2 CPM of a one-group NB fit to counts plus a prior count scaled
    by library size (the library sizes grow by twice that prior)."""
    counts = np.asarray(counts, dtype=float)
    lib = np.asarray(lib_size, dtype=float)
    prior = prior_count * lib / lib.mean()
    offset = np.log(lib + 2.0 * prior)
    beta = one_group_beta(counts + prior, offset, dispersion)
    return (beta + np.log(1e6)) / np.log(2.0)


def design_groups(design: np.ndarray) -> np.ndarray:
    """Group index per sample: samples with identical design rows share a group (in order of
    first appearance)."""
    _, first, inverse = np.unique(design, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.ravel()]


def fit_one_way(
    y: np.ndarray, design: np.ndarray, offset: np.ndarray, dispersion: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """edgeR's ``mglmOneWay`` for a design with one column per group: each group's mean by
    :func:`one_group_beta`, coefficients by solving the design. Returns ``(beta, mu)``; zero
    groups get fitted values of exactly 0."""
    groups = design_groups(design)
    n_groups = groups.max() + 1
    offset = np.broadcast_to(offset, y.shape)
    group_beta = np.empty((y.shape[0], n_groups))
    for g in range(n_groups):
        cols = groups == g
        group_beta[:, g] = one_group_beta(y[:, cols], offset[:, cols], dispersion)
    group_beta = np.maximum(group_beta, -1e8)
    mu = np.exp(group_beta[:, groups] + offset)
    first = np.array([np.flatnonzero(groups == g)[0] for g in range(n_groups)])
    beta = np.linalg.solve(design[first], group_beta.T).T
    return beta, mu


def levenberg_start(
    y: np.ndarray, design: np.ndarray, offset: np.ndarray, dispersion: np.ndarray
) -> np.ndarray:
    """edgeR's "null" start: coefficients of a constant log mean, the weighted average of
    ``y / exp(offset)`` with weights ``N / (1 + dispersion N)``."""
    n_lib = np.exp(np.broadcast_to(offset, y.shape))
    w = n_lib / (1.0 + dispersion[:, None] * n_lib)
    level = np.log((y * w / n_lib).sum(axis=1) / w.sum(axis=1))
    q, r = np.linalg.qr(design)
    return np.linalg.solve(r, q.T @ np.ones(design.shape[0]))[None, :] * level[:, None]


def fit_levenberg(
    y: np.ndarray,
    design: np.ndarray,
    offset: np.ndarray,
    dispersion: np.ndarray,
    start: np.ndarray | None = None,
    maxit: int = 250,
    tol: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """edgeR's ``mglmLevenberg``, step for step and vectorized over genes: Fisher scoring with
    Levenberg-Marquardt damping (``lambda`` starts at 1e-6 of the largest information, doubles
    while a step raises the deviance, falls tenfold after a first-try step), stopping once the
    Newton decrement ``dl . dbeta`` drops below ``tol``. It stops short of the exact maximum,
    and where it stops is what edgeR reports, so this is what dgeflow reports too."""
    y = np.asarray(y, dtype=float)
    n, p = y.shape[0], design.shape[1]
    offset = np.broadcast_to(offset, y.shape)
    disp = np.broadcast_to(np.asarray(dispersion, dtype=float).reshape(-1), (n,))
    beta = levenberg_start(y, design, offset, disp) if start is None else start.astype(float)
    beta = beta.copy()
    mu = np.exp(beta @ design.T + offset)
    ymax = y.max(axis=1)
    dev = nb_deviance(y, mu, disp)
    cp = CrossProducts(design)
    eye = np.zeros(cp.iu[0].size)
    eye[[cp.pos[j, j] for j in range(p)]] = 1.0
    max_info = np.full(n, -1.0)
    lam = np.zeros(n)
    active = np.flatnonzero(ymax >= LOW_VALUE)
    mu[ymax < LOW_VALUE] = 0.0
    beta[ymax < LOW_VALUE] = np.nan
    for it in range(1, maxit + 1):
        if active.size == 0:
            break
        ya, mua, da = y[active], mu[active], disp[active][:, None]
        denom = 1.0 + mua * da
        dl = ((ya - mua) / denom) @ design
        xwx = cp.gram_flat(mua / denom)
        max_info[active] = np.maximum(max_info[active], xwx[:, eye > 0].max(axis=1))
        if it == 1:
            lam[active] = np.maximum(max_info[active] * 1e-6, 1e-13)
        # inner Levenberg loop, per gene until a step does not raise the deviance
        pending = np.arange(active.size)
        first_try = np.ones(active.size, dtype=bool)
        step = np.zeros((active.size, p))
        failed = np.zeros(active.size, dtype=bool)
        low_dev = np.zeros(active.size, dtype=bool)
        tries = 0
        while pending.size:
            tries += 1
            g = active[pending]
            damped = xwx[pending] + lam[g][:, None] * eye
            dbeta = cp.solve(damped, dl[pending])
            bad = ~np.isfinite(dbeta).all(axis=1)
            while bad.any():  # Cholesky failed: more damping
                lam[g[bad]] *= 10.0
                damped[bad] = xwx[pending][bad] + lam[g[bad]][:, None] * eye
                dbeta[bad] = cp.solve(damped[bad], dl[pending][bad])
                bad = ~np.isfinite(dbeta).all(axis=1)
            beta_new = beta[g] + dbeta
            mu_new = np.exp(beta_new @ design.T + offset[g])
            dev_new = nb_deviance(y[g], mu_new, disp[g])
            low = dev_new / ymax[g] < 1e-13
            accept = (dev_new <= dev[g]) | low
            acc = pending[accept]
            beta[g[accept]], mu[g[accept]], dev[g[accept]] = (
                beta_new[accept],
                mu_new[accept],
                dev_new[accept],
            )
            step[acc] = dbeta[accept]
            low_dev[acc] = low[accept]
            if tries > 1:
                first_try[acc] = False
            rej = pending[~accept]
            gr = active[rej]
            lam[gr] *= 2.0
            give_up = lam[gr] / max_info[gr] > 1e13
            failed[rej[give_up]] = True
            step[rej[give_up]] = dbeta[~accept][give_up]
            first_try[rej] = False
            pending = rej[~give_up]
        divergence = np.einsum("gj,gj->g", dl, step)
        stop = failed | low_dev | (divergence < tol)
        keep_going = ~stop
        lam[active[keep_going & first_try]] /= 10.0
        active = active[keep_going]
    return beta, mu


def fit_glm(
    y: np.ndarray,
    design: np.ndarray,
    offset: np.ndarray,
    dispersion: np.ndarray,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """NB GLM fit of every gene as edgeR's ``glmFit``: group means for a one-way layout, else
    the Levenberg fit (from ``start`` when given). Returns ``(beta, mu)``."""
    y = np.asarray(y, dtype=float)
    disp = np.broadcast_to(np.asarray(dispersion, dtype=float).reshape(-1), (y.shape[0],))
    if design_groups(design).max() + 1 == design.shape[1]:
        return fit_one_way(y, design, offset, disp)
    return fit_levenberg(y, design, offset, disp, start)


# edgeR's unit deviance adds this to counts and means (so a zero count has a finite log) and
# switches formulas at these dispersions and products mean x dispersion
_MILDLY_LOW = 1e-8
_POISSON_LIKE_DISP = 1e-4
_GAMMA_LIKE_PRODUCT = 1e6


def unit_nb_deviance(y: np.ndarray, mu: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """edgeR's ``nbinomUnitDeviance`` (its C++ ``compute_unit_nb_deviance``), case for case.

    Counts and means gain 1e-8; below dispersion 1e-4 a second-order expansion around the
    Poisson deviance, where mean x dispersion exceeds 1e6 the gamma limit, otherwise the exact
    NB deviance. The expansion's ``2/3`` is an integer division in edgeR's C++ (zero), so its
    last term is ``dispersion * (1 - dispersion * y)``: reproduced, since the QL F-test divides
    deviances of near-Poisson genes (small studies, where edgeR's dispersion bottoms out at
    about 1e-4) and the exact NB deviance differs there by 1e-4 relative.
    ``dispersion`` is per gene (genes,) and broadcast over samples.
    """
    y = np.asarray(y, dtype=float) + _MILDLY_LOW
    mu = np.asarray(mu, dtype=float) + _MILDLY_LOW
    phi = np.broadcast_to(np.asarray(dispersion, dtype=float).reshape(-1, 1), y.shape)
    log_ratio = np.log(y / mu)
    resid = y - mu
    product = mu * phi
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv = 1.0 / phi
        poisson_like = 2.0 * (
            y * log_ratio - resid - 0.5 * resid * resid * phi * (1.0 + phi * (0.0 * resid - y))
        )
        gamma_like = 2.0 * (resid / mu - log_ratio) * mu / (1.0 + product)
        nb = 2.0 * (y * log_ratio + (y + inv) * np.log((mu + inv) / (y + inv)))
    return np.where(
        phi < _POISSON_LIKE_DISP,
        poisson_like,
        np.where(product > _GAMMA_LIKE_PRODUCT, gamma_like, nb),
    )


def nb_deviance(y: np.ndarray, mu: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """Per gene NB deviance (edgeR's ``nbinomDeviance``): the sum of
    :func:`unit_nb_deviance` over samples; a dispersion of 0 gives the Poisson deviance."""
    return unit_nb_deviance(y, mu, dispersion).sum(axis=1)


def adjusted_profile_lik(
    dispersion: float | np.ndarray,
    y: np.ndarray,
    design: np.ndarray,
    offset: np.ndarray,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cox-Reid adjusted profile log-likelihood of each gene at its dispersion (edgeR's
    ``adjustedProfileLik``): NB log-likelihood at the fitted means minus half the log
    determinant of ``X' W X``, with LDL pivots below 1e-10 counted as 1e-10. Returns the
    values and the fitted coefficients (edgeR starts the next grid point's fit from them)."""
    y = np.asarray(y, dtype=float)
    disp = np.broadcast_to(np.asarray(dispersion, dtype=float).reshape(-1), (y.shape[0],))
    beta, mu = fit_glm(y, design, offset, disp, start)
    d = disp[:, None]
    r = 1.0 / d
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mu_r = np.log(mu + r)
        ll = (
            y * np.log(mu)
            - y * log_mu_r
            + r * np.log(r)
            - r * log_mu_r
            + gammaln(y + r)
            - gammaln(y + 1.0)
            - gammaln(r)
        )
    ll = np.where(mu == 0, 0.0, ll).sum(axis=1)
    w = mu / (1.0 + d * mu)
    if design.shape[1] == 1:
        adj = np.log(np.abs(w.sum(axis=1))) / 2.0
    else:
        cp = CrossProducts(design)
        gram = cp.gram_flat(w)
        pivots = _ldl_pivots(cp, gram)
        logs = np.where((pivots < LOW_VALUE) | ~np.isfinite(pivots), np.log(LOW_VALUE), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(logs == 0.0, np.log(pivots), logs)
        adj = logs.sum(axis=1) / 2.0
    return ll - adj, beta


def _ldl_pivots(cp: CrossProducts, flat: np.ndarray) -> np.ndarray:
    """Diagonal of D in ``A = L D L'`` for every gene (no pivoting needed for these
    diagonally dominant information matrices)."""
    p = cp.p
    a = cp.unflatten(flat)
    d = np.empty((a.shape[0], p))
    low = np.zeros_like(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(p):
            d[:, j] = a[:, j, j] - np.einsum("gk,gk,gk->g", low[:, j, :j], low[:, j, :j], d[:, :j])
            for i in range(j + 1, p):
                s = a[:, i, j] - np.einsum("gk,gk,gk->g", low[:, i, :j], low[:, j, :j], d[:, :j])
                low[:, i, j] = s / d[:, j]
    return d
