"""The count side of DESeq2 outside the test: blind VST and rlog of a count matrix (a trend
fitted with the design ``~ 1``), and the per-sample summary of a fit's Cook's distances."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dgeflow.deseq2.blocks import factors_of_rows, normalized_mean_var, row_sums
from dgeflow.deseq2.cooks import CooksHistogram
from dgeflow.deseq2.dispersion import estimate_genewise_dispersions
from dgeflow.deseq2.inputs import count_values
from dgeflow.deseq2.rlog import rlog_from_trend
from dgeflow.deseq2.trend import DispersionTrend, NoTrendError, fit_dispersion_trend
from dgeflow.deseq2.vst import vst_from_trend
from dgeflow.errors import DataError
from dgeflow.normalize.size_factors import size_factors as estimate_size_factors

# DESeq2's vst() fits its trend on genes with a mean normalized count above this
VST_MIN_MEAN = 5.0
# what fixes a blind transformation without a trend, by NoTrendError.kind: the design is
# ~ 1, so gene-wise dispersions (the DE fit's way out) are no option here
_BLIND_TREND_FIXES = {
    "flat": (
        "The blind {transform} (the sample QC's transformation) needs that trend, and DESeq2 "
        "has no gene-wise alternative for it. Fix: no qc setting avoids it: check the counts "
        "(samples that differ by Poisson noise only, e.g. technical replicates or simulated "
        "Poisson counts, or a study with very few genes)."
    ),
    "locfit": "Fix: set `de.fit_type: mean` in the config (the blind {transform} uses it).",
}


class VstSubsetError(ValueError):
    """Fewer genes with a mean above 5 than ``vst(nsub=...)`` asks for (DESeq2 stops too)."""


def vst(
    counts: pd.DataFrame,
    fit_type: str = "parametric",
    size_factors: np.ndarray | None = None,
    nsub: int | None = None,
) -> pd.DataFrame:
    """Blind variance-stabilizing transformation of a count matrix (design ``~ 1``).

    Size factors are median-of-ratios unless given. With ``nsub=None`` the dispersion trend is
    fitted on all genes (DESeq2's ``varianceStabilizingTransformation(blind=TRUE)``); with
    ``nsub=1000`` on 1,000 genes spread over the range of means, as DESeq2's ``vst()`` does
    (much faster on large studies; the values differ slightly).
    """
    sf, trend = blind_trend(counts, fit_type, size_factors, nsub, transform="vst")
    return vst_from_trend(counts, sf, trend)


def rlog(
    counts: pd.DataFrame,
    fit_type: str = "parametric",
    size_factors: np.ndarray | None = None,
) -> pd.DataFrame:
    """Blind regularized log transformation of a count matrix (DESeq2's ``rlog(blind=TRUE)``),
    log2 scale; all-zero genes are 0."""
    sf, trend = blind_trend(counts, fit_type, size_factors, transform="rlog")
    return rlog_from_trend(counts, sf, trend)[0]


def blind_trend(
    counts: pd.DataFrame,
    fit_type: str,
    size_factors: np.ndarray | None,
    nsub: int | None = None,
    transform: str = "vst",
) -> tuple[np.ndarray, DispersionTrend]:
    """Size factors (median-of-ratios unless given) and the dispersion trend of the design
    ``~ 1``: on every gene with reads, or on :func:`vst_subset` of ``nsub`` genes.

    Raises
    ------
    DataError
        No trend can be fitted (DESeq2's ``vst`` and ``rlog`` stop too); the message names
        ``transform`` and what can be changed.
    """
    values = count_values(counts)
    sf = estimate_size_factors(values) if size_factors is None else np.asarray(size_factors, float)
    nonzero = row_sums(values) > 0
    if nsub is not None:
        nonzero = vst_subset(values, sf, nsub)
    y = values[nonzero].astype(float)
    nf = factors_of_rows(sf, nonzero, y.shape)
    gene = estimate_genewise_dispersions(y, nf, np.ones((y.shape[1], 1)))
    try:
        trend = fit_dispersion_trend((y / nf).mean(axis=1), gene.disp_gene_est, fit_type)
    except NoTrendError as err:
        fix = _BLIND_TREND_FIXES[err.kind].format(transform=transform)
        raise DataError(f"{transform} (design ~ 1): {err} {fix}") from err
    return sf, trend


def vst_subset(y: np.ndarray, sf: np.ndarray, nsub: int) -> np.ndarray:
    """The genes DESeq2's ``vst()`` fits its trend on: of those with a mean normalized count
    above 5, ``nsub`` evenly spaced in the order of their means (no randomness)."""
    base_mean, _ = normalized_mean_var(y, sf)
    candidates = np.flatnonzero(base_mean > VST_MIN_MEAN)
    n = candidates.size
    if n < nsub:
        raise VstSubsetError(
            f"only {n} genes have a mean normalized count above 5, fewer than nsub={nsub}: use "
            "all genes for the trend (nsub=None, DESeq2's varianceStabilizingTransformation)"
        )
    order = candidates[np.argsort(base_mean[candidates], kind="stable")]
    # R: o[round(seq(from = 1, to = n, length = nsub))], seq's interior points as from + k * by
    by = (n - 1) / (nsub - 1)
    positions = np.concatenate([[1.0], 1.0 + np.arange(1, nsub - 1) * by, [float(n)]])
    chosen = np.zeros(y.shape[0], dtype=bool)
    chosen[order[np.round(positions).astype(int) - 1]] = True
    return chosen


def cooks_by_sample(histogram: CooksHistogram, sample_ids: pd.Index) -> pd.DataFrame:
    """Per sample: how many genes have a Cook's distance, and the minimum, quartiles and
    maximum of their log10 (:meth:`dgeflow.deseq2.model.DESeqFit.cooks_by_sample`).

    The Cook's distances are the ones DESeq2 keeps in ``assays(dds)[["cooks"]]``: those of the
    first GLM fit, before outlier counts are replaced and their genes refitted (DESeq2's
    ``refitWithoutOutliers`` puts them back), taken with the gene-wise dispersion step's
    means in an LRT fit, as ``DESeq(test = "LRT")``. All-zero genes have none (NA in
    DESeq2) and are not counted.

    The fit keeps a histogram per sample instead of the genes x samples matrix (400 bins
    from -10 to 4, plus a count below and one above; see
    :class:`dgeflow.deseq2.cooks.CooksHistogram`), so the quartiles are interpolated from
    it: within one bin width, 0.035 on the log10 scale, of the exact ones (NumPy's
    ``linear`` and R's default quantile; R's boxplot draws Tukey's hinges, which lie
    between the same two neighbouring values as these quartiles). ``min`` and
    ``max`` are exact. A Cook's distance of 0 counts as -inf.
    """
    n = histogram.n_values
    quartiles = histogram.quantiles([0.25, 0.5, 0.75])
    has = n > 0
    return pd.DataFrame(
        {
            "n_genes": n,
            "min": np.where(has, histogram.minimum, np.nan),
            "q25": quartiles[:, 0],
            "median": quartiles[:, 1],
            "q75": quartiles[:, 2],
            "max": np.where(has, histogram.maximum, np.nan),
        },
        index=pd.Index(sample_ids, name="sample_id"),
    )
