"""PCA of samples as DESeq2's ``plotPCA`` computes it, and which sample-sheet factor explains
which principal component (ANOVA for factors, linear regression for numeric columns).

``x`` is genes x samples on a log scale (e.g. the blind VST), ``samples`` the sample sheet
indexed by sample id. The PCA uses the top-variance genes, centred and not scaled, so that
percentages match what R users expect.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from dgeflow.threads import chunk_slices


def top_variance_genes(x: pd.DataFrame, n: int = 500) -> pd.Index:
    """Genes with the highest variance across samples.

    Parameters
    ----------
    x
        Log-scale expression, genes x samples.
    n
        Number of genes to keep (all genes when fewer exist), as DESeq2's ``ntop``.

    Returns
    -------
    pandas.Index
        Gene ids ordered by decreasing variance (ties keep the input order).
    """
    values = x.to_numpy()
    variance = np.empty(values.shape[0])
    # blocks of rows: no genes x samples temporaries
    for rows in chunk_slices(*values.shape, elements=1 << 20):
        variance[rows] = np.var(values[rows].astype(float), axis=1, ddof=1)
    order = np.argsort(-variance, kind="stable")
    return x.index[order[: min(n, len(order))]]


def pca(x: pd.DataFrame, n_components: int = 4, ntop: int = 500) -> tuple[pd.DataFrame, pd.Series]:
    """Principal components of samples, computed like DESeq2's ``plotPCA``.

    The ``ntop`` most variable genes are centred (not scaled) and decomposed by SVD.

    Parameters
    ----------
    x
        Log-scale expression, genes x samples.
    n_components
        Number of PC score columns to return (capped at the number of samples).
    ntop
        Number of top-variance genes used.

    Returns
    -------
    scores : pandas.DataFrame
        Samples x ``PC1``..``PCk`` coordinates.
    variance_ratio : pandas.Series
        Fraction of the total variance of the selected genes for *every* PC (sums to 1), as
        ``plotPCA``'s ``percentVar``; index ``PC1``.. .
    """
    genes = top_variance_genes(x, ntop)
    data = x.loc[genes].to_numpy(dtype=float).T  # samples x genes
    centred = data - data.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    # SVD signs are arbitrary; fix them so that each PC's largest loading is positive,
    # which makes plots reproducible across platforms.
    flip = np.sign(vt[np.arange(len(s)), np.argmax(np.abs(vt), axis=1)])
    flip[flip == 0] = 1.0
    u = u * flip
    all_scores = u * s
    power = s**2
    total = power.sum()
    names = [f"PC{i + 1}" for i in range(len(s))]
    ratio = power / total if total > 0 else np.zeros_like(power)
    variance_ratio = pd.Series(ratio, index=names, name="variance_ratio")
    k = min(n_components, len(s))
    scores = pd.DataFrame(all_scores[:, :k], index=x.columns, columns=names[:k])
    scores.index.name = "sample_id"
    return scores, variance_ratio


def is_numeric_factor(values: pd.Series) -> bool:
    """Whether a sheet column is a numeric covariate (booleans are levels, not numbers)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def anova_r2(y: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """R² (between / total sum of squares) and one-way ANOVA F-test p-value."""
    levels = pd.unique(labels)
    if len(levels) < 2 or len(y) <= len(levels):
        return np.nan, np.nan
    total_ss = float(((y - y.mean()) ** 2).sum())
    if total_ss <= 0:
        return np.nan, np.nan
    groups = [y[labels == level] for level in levels]
    between_ss = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # perfect separation gives F = inf, p = 0: fine
        pvalue = float(stats.f_oneway(*groups).pvalue)
    return float(between_ss / total_ss), pvalue


def _regression_r2(y: np.ndarray, covariate: np.ndarray) -> tuple[float, float]:
    """R² and p-value of a simple linear regression (the slope t-test equals the F-test)."""
    if len(y) < 3 or np.ptp(covariate) == 0 or np.ptp(y) == 0:
        return np.nan, np.nan
    fit = stats.linregress(covariate, y)
    return float(fit.rvalue**2), float(fit.pvalue)


def _association(y: np.ndarray, values: pd.Series) -> tuple[float, float]:
    keep = values.notna().to_numpy() & np.isfinite(y)
    if is_numeric_factor(values):
        return _regression_r2(y[keep], values.to_numpy(dtype=float)[keep])
    return anova_r2(y[keep], values.astype(str).to_numpy()[keep])


def factor_pc_association(
    scores: pd.DataFrame, samples: pd.DataFrame, factors: Iterable[str]
) -> pd.DataFrame:
    """How much of each PC each factor explains.

    Categorical factors are tested by one-way ANOVA of the PC scores on the factor levels,
    numeric factors by a linear regression; both give R² (share of the PC's variance) and the
    F-test p-value. Samples with a missing value for a factor are left out for that factor.

    Parameters
    ----------
    scores
        Samples x PCs, e.g. from :func:`pca`.
    samples
        Sample sheet indexed by sample id (must contain every sample in ``scores``).
    factors
        Columns of ``samples`` to test.

    Returns
    -------
    pandas.DataFrame
        Columns ``factor, pc, r2, pvalue``; one row per factor and PC (NaN when untestable,
        e.g. a factor with one level).
    """
    sheet = samples.loc[scores.index]
    rows = []
    for factor in factors:
        for pc in scores.columns:
            r2, pvalue = _association(scores[pc].to_numpy(dtype=float), sheet[factor])
            rows.append({"factor": factor, "pc": pc, "r2": r2, "pvalue": pvalue})
    return pd.DataFrame(rows, columns=["factor", "pc", "r2", "pvalue"])


def best_factor_per_pc(assoc: pd.DataFrame) -> pd.DataFrame:
    """The factor with the largest R² on each PC.

    Parameters
    ----------
    assoc
        Output of :func:`factor_pc_association`.

    Returns
    -------
    pandas.DataFrame
        Columns ``pc, factor, r2, pvalue`` in PC order; ``factor`` is NaN for a PC that no
        factor could be tested on.
    """
    rows = []
    for pc, block in assoc.groupby("pc", sort=False):
        valid = block.dropna(subset=["r2"])
        if valid.empty:
            rows.append({"pc": pc, "factor": np.nan, "r2": np.nan, "pvalue": np.nan})
            continue
        best = valid.loc[valid["r2"].idxmax()]
        rows.append(
            {"pc": pc, "factor": best["factor"], "r2": best["r2"], "pvalue": best["pvalue"]}
        )
    return pd.DataFrame(rows, columns=["pc", "factor", "r2", "pvalue"])
