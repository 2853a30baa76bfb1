"""Negative binomial kernels vectorized over genes: log-likelihoods and the dispersion posterior.

Arrays are (genes, samples). Dispersion ``alpha`` is per gene; ``size = 1 / alpha``.

Performance notes (see benchmarks/README.md): the dispersion line search evaluates the Cox-Reid
posterior dozens of times per gene, so :class:`DispersionPosterior` keeps what does not depend on
alpha (``y - mu``, row sums of ``y``) and uses identities that save transcendental calls, e.g.
``y log(mu + 1/alpha) = y log1p(mu alpha) - y log(alpha)``. The small symmetric p x p systems
(p = number of coefficients) are solved by a Cholesky factorization written out over the
gene axis, which for p <= ``SMALL_P`` avoids LAPACK's per-matrix call overhead.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

# up to this many coefficients the p x p algebra is unrolled over genes; above, LAPACK batches
SMALL_P = 8


def nb_logpmf(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Elementwise NB log-probability of counts ``y`` with means ``mu`` and per-gene ``alpha``."""
    size = (1.0 / alpha)[:, None]
    return (
        gammaln(y + size)
        - gammaln(size)
        - gammaln(y + 1.0)
        - size * np.log1p(mu / size)
        + y * (np.log(mu) - np.log(size + mu))
    )


def nb_deviance(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """DESeq2's deviance per gene: ``-2 * log-likelihood`` (not saturated-model relative)."""
    return -2.0 * nb_logpmf(y, mu, alpha).sum(axis=1)


class DistinctCounts:
    """Each gene's distinct count values and their multiplicities, flattened gene after gene.

    Terms such as ``lgamma(y + 1/alpha)`` depend on a count only through its value, so they are
    evaluated once per distinct value (typically 15-60 % of the samples) and weighted.
    """

    def __init__(self, y: np.ndarray):
        n, m = y.shape
        ys = np.sort(y, axis=1)
        first = np.ones((n, m), dtype=bool)
        np.not_equal(ys[:, 1:], ys[:, :-1], out=first[:, 1:])
        flat_first = np.flatnonzero(first)
        self.values = ys.ravel()[flat_first]
        self.multiplicity = np.diff(np.append(flat_first, n * m)).astype(float)
        self.n_distinct = first.sum(axis=1)
        self.starts = np.zeros(n, dtype=np.intp)
        np.cumsum(self.n_distinct[:-1], out=self.starts[1:])
        self.owner = np.repeat(np.arange(n), self.n_distinct)

    def subset(self, rows: np.ndarray) -> DistinctCounts:
        """The same structure for some genes only."""
        out = object.__new__(DistinctCounts)
        out.values, out.multiplicity, out.owner, out.starts = self.select(rows)
        out.n_distinct = self.n_distinct[rows]
        return out

    def select(self, rows: np.ndarray | None):
        """Values, multiplicities, owner (position in ``rows``) and run starts of some genes."""
        if rows is None:
            return self.values, self.multiplicity, self.owner, self.starts
        lens = self.n_distinct[rows]
        starts = np.zeros(lens.size, dtype=np.intp)
        np.cumsum(lens[:-1], out=starts[1:])
        idx = np.arange(starts[-1] + lens[-1]) + np.repeat(self.starts[rows] - starts, lens)
        owner = np.repeat(np.arange(lens.size), lens)
        return self.values[idx], self.multiplicity[idx], owner, starts

    def shifted_sum(self, rows: np.ndarray | None, shift: np.ndarray, func) -> np.ndarray:
        """Per gene ``sum_j func(y_j + shift) - func(shift)`` (``shift`` one value per gene);
        differenced count by count, which does not cancel badly when ``shift`` is large."""
        values, mult, owner, starts = self.select(rows)
        d = func(values + shift[owner])
        d -= func(shift)[owner]
        d *= mult
        return np.add.reduceat(d, starts)


def nb_loglik_constant(
    y: np.ndarray, alpha: np.ndarray, distinct: DistinctCounts | None = None
) -> np.ndarray:
    """Per gene, the part of the NB log-likelihood that does not depend on ``mu``:
    ``sum_j lgamma(y_j + 1/alpha) - lgamma(1/alpha) - lgamma(y_j + 1)``."""
    distinct = DistinctCounts(y) if distinct is None else distinct
    size = 1.0 / alpha
    out = distinct.shifted_sum(None, size, gammaln)
    log_factorials = gammaln(distinct.values + 1.0)
    log_factorials *= distinct.multiplicity
    out -= np.add.reduceat(log_factorials, distinct.starts)
    return out


def nb_loglik_mu_part(
    y: np.ndarray, mu: np.ndarray, alpha: np.ndarray, log_alpha_sum_y: np.ndarray
) -> np.ndarray:
    """Per gene, the ``mu``-dependent part of the NB log-likelihood.

    ``-size log1p(mu alpha) + y (log mu - log(size + mu))`` rewritten with
    ``log(size + mu) = log1p(mu alpha) - log(alpha)`` as
    ``-(y + size) log1p(mu alpha) + y log(mu) + y log(alpha)``; ``log_alpha_sum_y`` is
    ``log(alpha) * sum_j y_j`` (constant while alpha is fixed).
    """
    a = alpha[:, None]
    t = np.log1p(mu * a)
    t *= y + 1.0 / a
    lm = np.log(mu)
    lm *= y
    lm -= t
    return lm.sum(axis=1) + log_alpha_sum_y


class CrossProducts:
    """Precomputed products of design columns, so that ``X' diag(w) X`` for all genes is one
    matrix product ``w @ XX`` instead of a (genes, samples, p, p) einsum."""

    def __init__(self, x: np.ndarray):
        self.x = x
        p = x.shape[1]
        self.p = p
        self.iu = np.triu_indices(p)
        self.xx = np.ascontiguousarray(x[:, self.iu[0]] * x[:, self.iu[1]])  # (samples, k)
        # position of (i, j) in the flat upper triangle, for either order
        self.pos = np.zeros((p, p), dtype=int)
        self.pos[self.iu] = np.arange(self.iu[0].size)
        self.pos[self.iu[1], self.iu[0]] = np.arange(self.iu[0].size)
        # trace(A B) of symmetric A, B from their flat upper triangles: off-diagonals count twice
        self.trace_weights = np.where(self.iu[0] == self.iu[1], 1.0, 2.0)

    def gram_flat(self, w: np.ndarray) -> np.ndarray:
        """Upper triangles of ``X' diag(w_g) X`` for every gene g; (genes, p(p+1)/2)."""
        return w @ self.xx

    def unflatten(self, flat: np.ndarray) -> np.ndarray:
        out = np.empty((flat.shape[0], self.p, self.p))
        out[:, self.iu[0], self.iu[1]] = flat
        out[:, self.iu[1], self.iu[0]] = flat
        return out

    def gram(self, w: np.ndarray) -> np.ndarray:
        """``X' diag(w_g) X`` for every gene g; returns (genes, p, p)."""
        return self.unflatten(self.gram_flat(w))

    # ---- small symmetric positive definite systems, one per gene, from flat triangles
    def cholesky(self, flat: np.ndarray) -> list[list[np.ndarray | None]]:
        """Lower Cholesky factor entries ``L[i][j]`` (arrays over genes); NaN where not PD."""
        p, pos = self.p, self.pos
        low: list[list[np.ndarray | None]] = [[None] * p for _ in range(p)]
        with np.errstate(invalid="ignore", divide="ignore"):
            for j in range(p):
                s = flat[:, pos[j, j]].copy()
                for k in range(j):
                    s -= low[j][k] ** 2
                d = np.sqrt(np.where(s > 0, s, np.nan))
                low[j][j] = d
                for i in range(j + 1, p):
                    s = flat[:, pos[i, j]].copy()
                    for k in range(j):
                        s -= low[i][k] * low[j][k]
                    low[i][j] = s / d
        return low

    def logdet(self, flat: np.ndarray) -> np.ndarray:
        """``log det`` per gene; ``-inf`` where the matrix is not positive definite."""
        if self.p > SMALL_P:
            sign, ld = np.linalg.slogdet(self.unflatten(flat))
            return np.where(sign > 0, ld, -np.inf)
        low = self.cholesky(flat)
        out = np.zeros(flat.shape[0])
        for j in range(self.p):
            out += np.log(low[j][j])
        out *= 2.0
        return np.where(np.isnan(out), -np.inf, out)

    def inverse_flat(self, flat: np.ndarray) -> np.ndarray:
        """Upper triangles of the inverses (NaN where not positive definite)."""
        p, pos = self.p, self.pos
        if p > SMALL_P:
            inv = np.linalg.inv(self.unflatten(flat))
            return inv[:, self.iu[0], self.iu[1]]
        low = self.cholesky(flat)
        # m = L^-1 (lower triangular), then inverse = m' m
        m: list[list[np.ndarray | None]] = [[None] * p for _ in range(p)]
        for i in range(p):
            m[i][i] = 1.0 / low[i][i]
            for j in range(i):
                s = low[i][j] * m[j][j]
                for k in range(j + 1, i):
                    s = s + low[i][k] * m[k][j]
                m[i][j] = -s * m[i][i]
        out = np.empty_like(flat)
        for i, j in zip(*self.iu, strict=True):
            s = m[j][i] * m[j][j]
            for k in range(j + 1, p):
                s = s + m[k][i] * m[k][j]
            out[:, pos[i, j]] = s
        return out

    def solve(self, flat: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Solve ``A_g b_g = rhs_g`` for every gene (A symmetric positive definite)."""
        p = self.p
        if p > SMALL_P:
            return np.linalg.solve(self.unflatten(flat), rhs[..., None])[..., 0]
        low = self.cholesky(flat)
        z = [None] * p
        for i in range(p):
            s = rhs[:, i].copy()
            for k in range(i):
                s -= low[i][k] * z[k]
            z[i] = s / low[i][i]
        out = np.empty_like(rhs)
        for i in range(p - 1, -1, -1):
            s = z[i].copy()
            for k in range(i + 1, p):
                s -= low[k][i] * out[:, k]
            out[:, i] = s / low[i][i]
        return out

    def quad_rows(self, inv_flat: np.ndarray) -> np.ndarray:
        """``x_j' A_g x_j`` for every gene g and sample j from A's flat upper triangles."""
        return inv_flat @ (self.xx * self.trace_weights).T


class DispersionPosterior:
    """Cox-Reid adjusted log-likelihood of log dispersion (+ log-normal prior) for a block of
    genes, with what does not depend on alpha computed once.

    The count-only terms that do not depend on alpha (``lgamma(y+1)``) are dropped, as DESeq2.
    Methods take ``rows`` (indices into the block, or ``None`` for all) and ``log_alpha`` for
    those rows.
    """

    def __init__(
        self,
        y: np.ndarray,
        mu: np.ndarray,
        cp: CrossProducts,
        prior_mean: np.ndarray,
        prior_var: float,
        use_prior: bool,
        use_cr: bool = True,
    ):
        self.y = y
        self.mu = mu
        self.cp = cp
        self.prior_mean = prior_mean
        self.prior_var = prior_var
        self.use_prior = use_prior
        self.use_cr = use_cr
        self.resid = y - mu
        self.sum_y = y.sum(axis=1)
        # lgamma / digamma of y + 1/alpha are the costly per-count terms: per distinct count
        self.distinct = DistinctCounts(y)

    def subset(self, rows: np.ndarray) -> DispersionPosterior:
        """The posterior of some genes of this block only."""
        out = object.__new__(DispersionPosterior)
        out.__dict__.update(self.__dict__)
        for name in ("y", "mu", "prior_mean", "resid", "sum_y"):
            setattr(out, name, getattr(self, name)[rows])
        out.distinct = self.distinct.subset(rows)
        return out

    def _rows(self, rows, *arrays):
        if rows is None:
            return arrays
        return tuple(a[rows] for a in arrays)

    def value(self, rows: np.ndarray | None, log_alpha: np.ndarray) -> np.ndarray:
        y, mu, sum_y, prior_mean = self._rows(rows, self.y, self.mu, self.sum_y, self.prior_mean)
        alpha = np.exp(log_alpha)
        a = alpha[:, None]
        inv = 1.0 / alpha
        # sum_j lgamma(y + 1/a) - lgamma(1/a) - y log(mu + 1/a) - (1/a) log1p(mu a), with
        # log(mu + 1/a) = log1p(mu a) - log(a): one logarithm per count instead of two
        t = mu * a
        log1p_t = np.log1p(t)
        out = self.distinct.shifted_sum(rows, inv, gammaln)
        out -= np.einsum("ij,ij->i", log1p_t, y)
        out -= inv * log1p_t.sum(axis=1)
        out += log_alpha * sum_y
        if self.use_cr:
            # weights mu / (1 + mu a) = 1 / (1/mu + a)
            t += 1.0
            np.divide(mu, t, out=t)
            out -= 0.5 * self.cp.logdet(self.cp.gram_flat(t))
        if self.use_prior:
            out -= 0.5 * (log_alpha - prior_mean) ** 2 / self.prior_var
        return out

    def gradient(self, rows: np.ndarray | None, log_alpha: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`value` with respect to log alpha."""
        mu, resid, prior_mean = self._rows(rows, self.mu, self.resid, self.prior_mean)
        alpha = np.exp(log_alpha)
        a = alpha[:, None]
        inv = 1.0 / alpha
        # d/d alpha per count: digamma(1/a) - digamma(y + 1/a) + log1p(mu a) - mu a / (1 + mu a)
        #   + y / (mu + 1/a); the last two terms combine to a (y - mu) / (1 + mu a)
        u = mu * a
        d = np.log1p(u)
        u += 1.0
        r = resid * a
        r /= u
        d += r
        # the digammas are differenced count by count: summing them separately cancels badly
        # when 1/alpha is large
        dll = d.sum(axis=1)
        dll -= self.distinct.shifted_sum(rows, inv, digamma)
        dll /= alpha**2
        if self.use_cr:
            # d/d alpha of -0.5 log det B = -0.5 trace(B^-1 dB), dB = X' diag(-w^2) X
            np.divide(mu, u, out=u)
            b = self.cp.gram_flat(u)
            u *= u
            db = self.cp.gram_flat(u)
            tr = (self.cp.inverse_flat(b) * db) @ self.cp.trace_weights
            dll += 0.5 * tr
        out = dll * alpha
        if self.use_prior:
            out -= (log_alpha - prior_mean) / self.prior_var
        return out


def log_posterior(
    log_alpha: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    cp: CrossProducts,
    prior_mean: np.ndarray,
    prior_var: float,
    use_prior: bool,
    use_cr: bool = True,
) -> np.ndarray:
    """Cox-Reid adjusted log-likelihood of log dispersion (+ log-normal prior), per gene.

    The count-only terms that do not depend on alpha (``lgamma(y+1)``) are dropped, as in DESeq2.
    """
    prior_mean = np.broadcast_to(prior_mean, log_alpha.shape)
    post = DispersionPosterior(y, mu, cp, prior_mean, prior_var, use_prior, use_cr)
    return post.value(None, log_alpha)
