"""R's ``locfit(y ~ x, weights = w)`` with its defaults, and its ``predict()``: the local trend
DESeq2 fits with ``fitType = "local"`` and falls back to when the parametric trend fails.

The defaults are a local quadratic (degree 2) weighted least-squares fit with the tricube
kernel, a nearest-neighbour bandwidth (fraction 0.7) and locfit's "tree" evaluation: locfit
fits only at the vertices of a tree over the data range and interpolates between them. The
steps, as locfit 1.5 takes them in one dimension:

- the bandwidth at a point is the distance to its ``int(0.7 n + 1e-12)``-th nearest data
  point (0 when that is none: then only points at distance 0 have a weight);
- a vertex's fit starts from the weighted mean and takes one Newton step of the weighted
  least-squares problem on the basis ``1, dx, dx^2 / 2``, solved through a Jacobi
  eigen-decomposition of the correlation form of ``X' W X`` where components with an
  eigenvalue at or below 1e-8 of the largest are left undivided (so degenerate local fits,
  e.g. a neighbourhood of one point, come out as locfit's and not as a least-squares
  minimum-norm solution); the vertex keeps the value and the slope;
- the tree starts from ``[min(x), max(x)]`` and halves a cell while its length exceeds 0.8
  times the smaller positive bandwidth of its two ends (twice its share of the data range
  when both are 0); locfit has room for 19 vertices and stops beyond ("newsplit: out of
  vertex space");
- locfit first fits one weighted quadratic to all the data (its "parametric component") and
  interpolates the vertices' differences from it, adding it back: ``predict`` interpolates a
  cell's two vertices by cubic Hermite polynomials (value and slope), which reproduce a
  quadratic, and beyond the data range extends the end vertex's value and slope linearly,
  plus the parametric component's curvature.

The edgeR engine has its own degree-0 version of the same tree (``dgeflow.edger.locfit``);
the engines do not share code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAREST_FRACTION = 0.7
CUT = 0.8
# locfit's vertex space for alpha 0.7 and cut 0.8 (atree_guessnv: (5 / 0.7 / 0.8 + 1) * 2)
MAX_VERTICES = 19
EIGEN_TOL = 1e-8
JACOBI_SWEEPS = 20


class LocfitError(ValueError):
    """locfit stops on these data (R's message is in the text)."""


@dataclass
class LocalFit:
    """A fitted local regression: the tree's vertices in increasing order, with the fit's
    value and slope at each (plain arrays, so a fit pickles)."""

    vertices: np.ndarray
    value: np.ndarray
    slope: np.ndarray
    # the dx^2 coefficient of the parametric component, which extrapolation keeps
    curvature: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """R's ``predict(fit, data.frame(x = x))``."""
        x = np.asarray(x, dtype=float)
        v = self.vertices
        if v.size == 1:
            return np.full(x.shape, self.value[0])
        cell = np.clip(np.searchsorted(v, x, side="right") - 1, 0, v.size - 2)
        a, b = v[cell], v[cell + 1]
        width = b - a
        t = (x - a) / width
        f0, f1 = self.value[cell], self.value[cell + 1]
        d0, d1 = self.slope[cell] * width, self.slope[cell + 1] * width
        h1 = t * t * (3 - 2 * t)
        inside = (1 - h1) * f0 + h1 * f1 + t * (1 - t) ** 2 * d0 + t * t * (t - 1) * d1
        # beyond the ends: linear in the end vertex's slope (locfit's hermite2 for h < 0, h > 1)
        # for the difference from the parametric component, which then adds its curvature
        left = f0 + t * d0 + self.curvature * (x - a) ** 2
        right = f1 + (t - 1) * d1 + self.curvature * (x - b) ** 2
        return np.where(t < 0, left, np.where(t > 1, right, inside))


def _bandwidth(x: np.ndarray, at: float, k: int) -> float:
    if k == 0:
        return 0.0
    return float(np.partition(np.abs(x - at), k - 1)[k - 1])


def _tricube(distance: np.ndarray, h: float) -> np.ndarray:
    if h == 0:
        return (distance == 0).astype(float)
    u = distance / h
    return np.where(u > 1, 0.0, (1 - u**3) ** 3)


def _jacobi_eigen(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """locfit's ``eig_dec``: cyclic Jacobi rotations on a symmetric matrix (a copy), until
    every off-diagonal square is at most 1e-15 of the product of its two diagonal entries.
    Returns the rotated matrix (eigenvalues on its diagonal) and the rotations."""
    a = a.copy()
    d = a.shape[0]
    p = np.eye(d)
    for _ in range(JACOBI_SWEEPS):
        moved = False
        for i in range(d):
            for j in range(i + 1, d):
                if a[i, j] ** 2 <= 1e-15 * abs(a[i, i] * a[j, j]):
                    continue
                c = (a[j, j] - a[i, i]) / 2
                s = -a[i, j]
                r = np.sqrt(c * c + s * s)
                c /= r
                s = np.sqrt((1 - c) / 2) * (1.0 if s > 0 else -1.0)
                c = np.sqrt((1 + c) / 2)
                ri, rj = a[i].copy(), a[j].copy()
                a[i], a[j] = ri * c + rj * s, rj * c - ri * s
                ci, cj = a[:, i].copy(), a[:, j].copy()
                a[:, i], a[:, j] = ci * c + cj * s, cj * c - ci * s
                a[i, j] = a[j, i] = 0.0
                pi, pj = p[:, i].copy(), p[:, j].copy()
                p[:, i], p[:, j] = pi * c + pj * s, pj * c - pi * s
                moved = True
        if not moved:
            break
    return a, p


def _solve(z: np.ndarray, f1: np.ndarray) -> np.ndarray:
    """locfit's ``jacob_solve`` (method ``JAC_EIGD``): ``(X' W X)^{-1} f1`` on the correlation
    scale; components with an eigenvalue at or below 1e-8 of the largest stay undivided."""
    diag = np.diag(z)
    dg = np.where(diag <= 0, 0.0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)))
    rotated, q = _jacobi_eigen(z * np.outer(dg, dg))
    eig = np.diag(rotated)
    w = q.T @ (f1 * dg)
    big = eig > EIGEN_TOL * eig.max()
    w[big] /= eig[big]
    return (q @ w) * dg


def _fit_at(
    x: np.ndarray, y: np.ndarray, prior: np.ndarray, at: float, h: float | None
) -> np.ndarray | None:
    """Coefficients (value, slope, second derivative) of the local quadratic fit at ``at``
    with bandwidth ``h`` (``None``: every point with weight 1, the parametric component);
    ``None`` when no point has a weight."""
    dx = x - at
    kernel = np.ones(x.size) if h is None else _tricube(np.abs(dx), h)
    use = kernel > 0
    wt = kernel[use] * prior[use]
    if wt.sum() == 0:
        return None
    dx, yy = dx[use], y[use]
    start = float(np.sum(wt * yy) / np.sum(wt))
    basis = np.column_stack([np.ones(dx.size), dx, dx * dx / 2])
    z = basis.T @ (basis * wt[:, None])
    f1 = basis.T @ (wt * (yy - start))
    step = _solve(z, f1)
    step[0] += start
    return step


def fit_locfit(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> LocalFit:
    """R's ``locfit(y ~ x, weights = weights)`` (degree 2, nn 0.7, tricube, tree evaluation).

    Raises
    ------
    LocfitError
        Where locfit stops: the tree needs more than its 19 vertices (e.g. on 2 points, whose
        nearest neighbourhood is each point alone).
    """
    x, y, w = (np.asarray(a, dtype=float) for a in (x, y, weights))
    k = int(x.size * NEAREST_FRACTION + 1e-12)
    lo, hi = float(x.min()), float(x.max())
    # the parametric component: one fit at the weighted mean of x, every point weight 1
    last = _fit_at(x, y, w, float(np.sum(w * x) / np.sum(w)), None)
    curvature = float(last[2] / 2)
    fits: dict[float, tuple[float, float]] = {}

    def vertex(at: float) -> float:
        nonlocal last
        if len(fits) == MAX_VERTICES:
            raise LocfitError("locfit stops: 'newsplit: out of vertex space'")
        h = _bandwidth(x, at, k)
        # a vertex without a weighted point (its nearest neighbours all at distance h) only
        # warns in locfit, and keeps the coefficients of the fit before it
        coef = _fit_at(x, y, w, at, h)
        last = last if coef is None else coef
        fits[at] = (last[0], last[1])
        return h

    if hi == lo:  # one point (or all tied): one vertex, the fit is constant
        vertex(lo)
        cells = []
    else:
        cells = [(lo, hi, vertex(lo), vertex(hi))]
    while cells:
        a, b, ha, hb = cells.pop()
        positive = [h for h in (ha, hb) if h > 0]
        score = (b - a) / min(positive) if positive else 2 * (b - a) / (hi - lo)
        if not score > CUT:
            continue
        mid = (a + b) / 2
        hm = vertex(mid)
        # locfit grows the left half first; the order does not change the vertices
        cells += [(mid, b, hm, hb), (a, mid, ha, hm)]
    at = np.array(sorted(fits))
    table = np.array([fits[v] for v in at])
    return LocalFit(at, table[:, 0], table[:, 1], curvature)
