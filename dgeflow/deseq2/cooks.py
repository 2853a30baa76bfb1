"""Cook's distances for count outliers, and DESeq2's replacement of outlier counts: the kernels,
the fit's chunked pass over a block of genes (:func:`cooks_pass`) and the per-sample histogram
of Cook's distances the fit keeps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import f as f_dist

from dgeflow import threads
from dgeflow.deseq2.blocks import factors_of_rows, row_chunks
from dgeflow.deseq2.glm import GLMFit
from dgeflow.stats.summaries import trimmed_mean


def design_cells(x: np.ndarray) -> np.ndarray:
    """Integer label per sample: samples with identical design rows share a cell."""
    _, labels = np.unique(x, axis=0, return_inverse=True)
    return labels.ravel()


def n_or_more_in_cell(x: np.ndarray, n: int) -> np.ndarray:
    """Per sample: does its design cell hold at least ``n`` samples?"""
    cells = design_cells(x)
    counts = np.bincount(cells)
    return counts[cells] >= n


_TRIM_RATIO = np.array([1 / 3, 1 / 4, 1 / 8])
_TRIM_SCALE = np.array([2.04, 1.86, 1.51])


def _trim_bin(n: int) -> int:
    return 0 if n <= 3.5 else (1 if n <= 23.5 else 2)


def robust_dispersion(normed: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Robust method-of-moments dispersion used only for Cook's distances (floor 0.04).

    Variance is a scaled trimmed mean of squared deviations from trimmed cell means, maximized
    over the design cells with 3 or more samples (over all samples when no cell has 3).
    """
    cells = design_cells(x)
    sizes = np.bincount(cells)
    big_cells = np.flatnonzero(sizes >= 3)
    if big_cells.size:
        variances = []
        for cell in big_cells:
            sub = normed[:, cells == cell]
            k = _trim_bin(sub.shape[1])
            center = trimmed_mean(sub, _TRIM_RATIO[k], axis=1)
            sq = (sub - center[:, None]) ** 2
            variances.append(_TRIM_SCALE[k] * trimmed_mean(sq, _TRIM_RATIO[k], axis=1))
        v = np.max(variances, axis=0)
    else:
        center = trimmed_mean(normed, 1 / 8, axis=1)
        v = 1.51 * trimmed_mean((normed - center[:, None]) ** 2, 1 / 8, axis=1)
    m = normed.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = (v - m) / m**2
    return np.maximum(alpha, 0.04)


def cooks_distance(
    y: np.ndarray,
    normed: np.ndarray | None,
    mu: np.ndarray,
    hat: np.ndarray,
    x: np.ndarray,
    size_factors: np.ndarray | None = None,
) -> np.ndarray:
    """Cook's distance of every count: squared Pearson residual x leverage / (p (1 - h)^2).

    ``normed`` are the normalized counts; pass ``None`` and ``size_factors`` instead to have
    them computed block by block (saves a genes x samples array).
    """
    if normed is None and size_factors is None:
        raise ValueError("cooks_distance needs normalized counts or size factors")
    p = x.shape[1]
    out = np.empty(y.shape)

    def block(rows: slice) -> None:
        # gene blocks keep the temporaries small; the arithmetic per count is unchanged
        normed_rows = y[rows] / size_factors if normed is None else normed[rows]
        alpha = robust_dispersion(normed_rows, x)
        m = mu[rows]
        h = hat[rows]
        var = m + alpha[:, None] * m**2
        out[rows] = (y[rows] - m) ** 2 / var / p * h / (1 - h) ** 2

    threads.map_chunks(block, threads.chunk_slices(*y.shape))
    return out


def max_cooks(cooks: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per gene maximum over samples in cells with 3+ replicates (NaN when there are none)."""
    use = n_or_more_in_cell(x, 3)
    if not use.any():
        return np.full(cooks.shape[0], np.nan)
    if use.all():  # no column subset: avoids copying the whole matrix
        return cooks.max(axis=1)
    return cooks[:, use].max(axis=1)


def cooks_cutoff(n_samples: int, n_coefs: int) -> float:
    """DESeq2's default: the 99% quantile of F(p, m - p)."""
    return float(f_dist.ppf(0.99, n_coefs, n_samples - n_coefs))


def replace_outlier_counts(
    y: np.ndarray,
    sf: np.ndarray,
    cooks: np.ndarray,
    x: np.ndarray,
    cutoff: float,
    min_replicates: int = 7,
) -> tuple[np.ndarray, np.ndarray]:
    """Replace counts with Cook's distance above ``cutoff`` in cells of ``min_replicates``+
    samples by the gene's 20%-trimmed mean of normalized counts times the size factor.

    Returns the new counts and a per-gene mask of genes that had a count replaced.
    """
    samples_ok = n_or_more_in_cell(x, min_replicates)
    with np.errstate(invalid="ignore"):
        outlier = (cooks > cutoff) & samples_ok[None, :]
    replaced = outlier.any(axis=1)
    if not replaced.any():
        return y, replaced
    # only genes with an outlier change, so only their trimmed means are needed
    rows = np.flatnonzero(replaced)
    sf = sf[rows] if np.ndim(sf) == 2 else sf  # per-gene normalization factors
    trim_mean = trimmed_mean(y[rows] / sf, 0.2, axis=1)
    # as.integer truncation, as DESeq2 (with normalizationFactors when the fit has them)
    replacement = np.trunc(trim_mean[:, None] * sf)
    new = y.copy()
    new[rows] = np.where(outlier[rows], replacement, y[rows])
    return new, replaced


# log10 range and bins of the per-sample Cook's distance histogram: 400 bins of 0.035 from
# 1e-10 to 1e4 cover what DESeq2's vignette boxplot shows (outliers sit near the cutoff, about
# 1e0.5); values outside go to an underflow and an overflow count
COOKS_LOG10_RANGE = (-10.0, 4.0)
COOKS_BINS = 400


@dataclass
class CooksHistogram:
    """Per-sample histogram of log10 Cook's distances over genes, filled block by block.

    ``counts[s, 0]`` counts the values below ``lo`` (Cook's distance 0 included),
    ``counts[s, 1:-1]`` the ``n_bins`` equal bins from ``lo`` to ``hi``, ``counts[s, -1]`` the
    values at or above ``hi`` (infinite ones included). ``minimum`` and ``maximum`` are exact.
    NaN Cook's distances are not counted. Memory: ``n_samples x (n_bins + 2)`` integers, whatever
    the number of genes.
    """

    counts: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    lo: float = COOKS_LOG10_RANGE[0]
    hi: float = COOKS_LOG10_RANGE[1]

    @classmethod
    def empty(
        cls,
        n_samples: int,
        n_bins: int = COOKS_BINS,
        log10_range: tuple[float, float] = COOKS_LOG10_RANGE,
    ) -> CooksHistogram:
        return cls(
            counts=np.zeros((n_samples, n_bins + 2), dtype=np.int64),
            minimum=np.full(n_samples, np.inf),
            maximum=np.full(n_samples, -np.inf),
            lo=float(log10_range[0]),
            hi=float(log10_range[1]),
        )

    @property
    def n_bins(self) -> int:
        return self.counts.shape[1] - 2

    @property
    def bin_width(self) -> float:
        """Width of one bin on the log10 scale: the precision of :meth:`quantiles`."""
        return (self.hi - self.lo) / self.n_bins

    @property
    def n_values(self) -> np.ndarray:
        """Cook's distances counted per sample."""
        return self.counts.sum(axis=1)

    def add(self, cooks: np.ndarray) -> None:
        """Count a block of Cook's distances (genes x samples, the samples of the histogram)."""
        counts, low, high = log10_histogram(cooks, self.lo, self.hi, self.n_bins)
        self.counts += counts
        self.minimum = np.minimum(self.minimum, low)
        self.maximum = np.maximum(self.maximum, high)

    def quantiles(self, probs: np.ndarray | list[float]) -> np.ndarray:
        """Per sample (rows) and probability (columns), see :func:`histogram_quantiles`."""
        return histogram_quantiles(
            self.counts, self.minimum, self.maximum, self.lo, self.hi, np.asarray(probs)
        )


def log10_histogram(
    cooks: np.ndarray, lo: float, hi: float, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``cooks``: counts of log10 values in ``n_bins`` bins from ``lo`` to ``hi``
    plus an underflow (first) and an overflow (last) count, and the log10 minimum and maximum
    (+inf and -inf for a column without values). NaN values are skipped."""
    with np.errstate(divide="ignore"):  # a Cook's distance of 0 is log10 -inf: underflow
        logc = np.log10(cooks)
    ok = ~np.isnan(logc)
    # bin i + 1 holds [lo + i w, lo + (i + 1) w); clipping first keeps infinities castable
    scaled = np.clip((logc[ok] - lo) * (n_bins / (hi - lo)), -1.0, float(n_bins))
    index = np.floor(scaled).astype(np.int64) + 1
    n_samples = cooks.shape[1]
    column = np.broadcast_to(np.arange(n_samples), cooks.shape)[ok]
    flat = np.bincount(column * (n_bins + 2) + index, minlength=n_samples * (n_bins + 2))
    low = np.min(np.where(ok, logc, np.inf), axis=0, initial=np.inf)
    high = np.max(np.where(ok, logc, -np.inf), axis=0, initial=-np.inf)
    return flat.reshape(n_samples, n_bins + 2), low, high


def histogram_quantiles(
    counts: np.ndarray,
    minimum: np.ndarray,
    maximum: np.ndarray,
    lo: float,
    hi: float,
    probs: np.ndarray,
) -> np.ndarray:
    """Quantiles (R's type 7, NumPy's ``linear``) per row of a :func:`log10_histogram`.

    The order statistics on either side of each quantile are placed evenly within their bin,
    each bin narrowed to ``[minimum, maximum]`` (the underflow bin reaches down to the
    minimum, the overflow bin up to the maximum), then interpolated as type 7 does. Since an
    order statistic and its estimate share a bin, the error is at most one bin width (within
    the range ``lo``..``hi``; the width of the narrowed under- or overflow bin outside it);
    the smallest and largest values are exact, so quantiles 0 and 1 are too. NaN for rows
    without values.
    """
    n_bins = counts.shape[1] - 2
    width = (hi - lo) / n_bins
    left = np.concatenate([[-np.inf], lo + width * np.arange(n_bins), [hi]])
    right = np.concatenate([[lo], lo + width * np.arange(1, n_bins + 1), [np.inf]])
    n = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    rows = np.arange(counts.shape[0])

    def order_statistic(k: np.ndarray) -> np.ndarray:
        # the k-th smallest value (0-based) lies in the first bin whose cumulative count
        # exceeds k, as the (k - values before that bin)-th of the bin's values
        b = np.minimum((cum <= k[:, None]).sum(axis=1), n_bins + 1)
        before = cum[rows, b] - counts[rows, b]
        frac = (k - before + 0.5) / np.maximum(counts[rows, b], 1)
        a = np.maximum(left[b], minimum)
        z = np.minimum(right[b], maximum)
        with np.errstate(invalid="ignore"):
            est = a + frac * (z - a)
        # an infinite edge (Cook's distance 0 or infinite) is all that is known there
        est = np.where(np.isinf(a), a, np.where(np.isinf(z), z, est))
        # the smallest and the largest value are known exactly
        return np.where(k == 0, minimum, np.where(k == n - 1, maximum, est))

    out = np.full((counts.shape[0], probs.size), np.nan)
    has = n > 0
    for j, q in enumerate(probs):
        h = (np.maximum(n, 1) - 1) * q
        k0 = np.floor(h)
        k1 = np.minimum(k0 + 1, np.maximum(n - 1, 0))
        x0, x1 = order_statistic(k0), order_statistic(k1)
        with np.errstate(invalid="ignore"):
            value = np.where(x0 == x1, x0, x0 + (h - k0) * (x1 - x0))
        out[has, j] = value[has]
    return out


@dataclass
class CooksPass:
    """What :func:`cooks_pass` finds in a block of genes (arrays aligned with its genes)."""

    max_cooks: np.ndarray
    # the maximum over the samples whose outliers could not be replaced (see
    # dgeflow.deseq2.pipeline: DESeq2 uses it instead of max_cooks unless every flagged gene
    # became all-zero)
    max_unreplaceable: np.ndarray
    argmax: np.ndarray
    counts: np.ndarray
    replaced: np.ndarray  # a count of the gene was replaced
    flagged: np.ndarray  # a Cook's distance above the cutoff in any sample (DESeq2's replace)
    new_all_zero: np.ndarray  # replacement left the gene without reads


def cooks_pass(
    y: np.ndarray,
    sf: np.ndarray,
    glm: GLMFit,
    x: np.ndarray,
    replace_min: int | None,
    mu: np.ndarray | None = None,
    histogram: CooksHistogram | None = None,
) -> CooksPass:
    """Cook's distances chunk by chunk: per-gene maximum (DESeq2's maxCooks), the sample that
    holds it, and, where design cells have ``replace_min`` or more samples, outlier counts
    replaced by the trimmed mean (DESeq2's replaceOutliers).

    ``sf`` are the size factors ``(m,)`` or the block's normalization factors
    ``(genes, m)``. ``mu`` are the means in the Pearson residuals, by default the GLM's.
    DESeq2's LRT computes its Cook's distances before it stores the full model's means, so
    there they are the gene-wise dispersion step's (bounded below by 0.5); the caller passes
    those for LRT fits. ``histogram`` counts every Cook's distance per sample, before any
    replacement: the ones DESeq2 keeps in its ``cooks`` assay.
    """
    n, m = y.shape
    mu = glm.mu if mu is None else mu
    gene_max = np.empty(n)
    max_unreplaceable = np.full(n, np.nan)
    argmax = np.empty(n, dtype=int)
    replaced = np.zeros(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)
    counts = y
    replaceable = (
        n_or_more_in_cell(x, replace_min) if replace_min is not None else np.zeros(m, dtype=bool)
    )
    cutoff = cooks_cutoff(*x.shape) if replaceable.any() else np.inf
    for rows in row_chunks(n, m):
        nf = factors_of_rows(sf, rows)
        c = cooks_distance(y[rows], y[rows] / nf, mu[rows], glm.hat_diagonals[rows], x)
        argmax[rows] = np.argmax(np.nan_to_num(c, nan=-np.inf), axis=1)
        gene_max[rows] = max_cooks(c, x)
        if histogram is not None:
            histogram.add(c)
        if replaceable.any():
            with np.errstate(invalid="ignore"):
                flagged[rows] = (c > cutoff).any(axis=1)
            new, rep = replace_outlier_counts(y[rows], nf, c, x, cutoff, replace_min)
            if rep.any():
                if counts is y:
                    counts = y.copy()
                counts[rows] = new
                replaced[rows] = rep
            # Cook's of replaceable samples no longer count: their outliers were replaced
            c[:, replaceable] = 0.0
            max_unreplaceable[rows] = np.nan if replaceable.all() else max_cooks(c, x)
    new_all_zero = replaced & (counts.sum(axis=1) == 0)
    return CooksPass(gene_max, max_unreplaceable, argmax, counts, replaced, flagged, new_all_zero)


def n_counts_above(y: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Per gene, how many counts exceed the gene's count in ``column`` (one sample per gene)."""
    out = np.empty(y.shape[0], dtype=np.int32)
    for rows in row_chunks(*y.shape):
        block = y[rows]
        at = block[np.arange(block.shape[0]), column[rows]]
        out[rows] = (block > at[:, None]).sum(axis=1)
    return out
