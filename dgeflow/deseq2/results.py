"""The steps of DESeq2's ``results()`` on a fit: the contrast's log2 fold change and its SE, the
Wald test or the LRT against a reduced design, contrasts of two all-zero levels, Cook's
outliers, independent filtering or plain BH, and the table itself.

:meth:`dgeflow.deseq2.model.DESeqFit.results` runs them in that order; shrinkage
(:mod:`dgeflow.deseq2.shrink`) adds its columns after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import is_level_contrast
from dgeflow.deseq2 import filtering
from dgeflow.deseq2.blocks import full_gene_array
from dgeflow.deseq2.cooks import cooks_cutoff
from dgeflow.deseq2.glm import GLMFit, fit_nb_glm
from dgeflow.deseq2.hypothesis import lrt_test, wald_test
from dgeflow.formula import DesignMatrix, FormulaError, design_matrix, parse_formula
from dgeflow.stats.multiple_testing import bh_adjust
from dgeflow.stats.nb import nb_deviance

LOG2 = np.log(2.0)
RESULT_COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
TESTS = ("wald", "lrt")


def check_test(test: str) -> str:
    """The test's name in lower case; ``ValueError`` unless it is ``"wald"`` or ``"lrt"``."""
    test = test.lower()
    if test not in TESTS:
        raise ValueError(f"test must be 'wald' or 'lrt', got {test!r}")
    return test


def contrast_statistics(
    glm: GLMFit,
    vec: np.ndarray,
    test: str,
    lfc_threshold: float,
    alt_hypothesis: str,
    reduced: tuple[GLMFit, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Log2 fold change, its SE, the test statistic and the p-value of contrast ``vec``.

    The Wald test uses ``lfc_threshold`` and ``alt_hypothesis``; the LRT needs ``reduced``,
    the reduced model's fit and the difference in degrees of freedom.
    """
    lfc = glm.beta @ vec / LOG2
    se = np.sqrt(np.einsum("i,gij,j->g", vec, glm.sigma, vec)) / LOG2
    if test == "wald":
        stat, pvalue = wald_test(lfc, se, lfc_threshold, alt_hypothesis)
    else:
        reduced_fit, df = reduced
        stat, pvalue = lrt_test(glm.deviance, reduced_fit.deviance, df)
    return lfc, se, stat, pvalue


def reduced_design(reduced: str, samples: pd.DataFrame, design: DesignMatrix) -> DesignMatrix:
    """The design matrix of the LRT's reduced formula; ``FormulaError`` unless it is nested in
    ``design`` with fewer columns."""
    rdm = design_matrix(parse_formula(reduced), samples, design.reference_levels)
    missing = set(rdm.columns) - set(design.columns)
    if missing or rdm.matrix.shape[1] >= design.matrix.shape[1]:
        raise FormulaError(
            f"reduced formula {reduced!r} must be nested in the full design "
            f"{design.formula.text!r} with fewer terms"
        )
    return rdm


def reduced_model_fit(
    y: np.ndarray, nf: np.ndarray, dispersion: np.ndarray, x: np.ndarray
) -> GLMFit:
    """The reduced model's GLM at the full model's dispersions, deviances only (no means or
    leverages: the LRT needs nothing else)."""
    if x.shape[1] == 1 and np.all(x == 1):
        fit = intercept_only_fit(y, nf, dispersion)
    else:
        fit = fit_nb_glm(y, x, nf, dispersion, with_hat=False)
    fit.mu = fit.hat_diagonals = None
    return fit


def intercept_only_fit(y: np.ndarray, nf: np.ndarray, alpha: np.ndarray) -> GLMFit:
    """DESeq2 takes the mean of normalized counts as the intercept-only fit (no IRLS)."""
    beta = np.log((y / nf).mean(axis=1))[:, None]
    mu = nf * np.exp(beta)
    n, m = y.shape
    return GLMFit(
        beta=beta,
        sigma=np.full((n, 1, 1), np.nan),
        mu=mu,
        hat_diagonals=np.full((n, m), np.nan),
        deviance=nb_deviance(y, mu, alpha),
        iterations=np.ones(n, dtype=int),
        converged=np.ones(n, dtype=bool),
    )


def level_contrast_all_zero(
    contrast: tuple[str, str, str],
    level_all_zero: dict[tuple[str, str], np.ndarray],
    samples: pd.DataFrame,
    fit_counts: Callable[[], np.ndarray],
) -> np.ndarray:
    """Genes whose counts are all zero in both levels of ``(factor, level, reference)``.

    From the fit's per-level masks; for a level without one, from the fitted counts
    (``fit_counts`` is called only then: it may read them back from a file).
    """
    factor, level, reference = contrast
    if (factor, level) in level_all_zero and (factor, reference) in level_all_zero:
        return level_all_zero[factor, level] & level_all_zero[factor, reference]
    values = samples[factor].astype(str).to_numpy()
    cols = (values == level) | (values == reference)
    return (fit_counts()[:, cols] == 0).all(axis=1)


def numeric_contrast_all_zero(
    vec: np.ndarray, design: np.ndarray, fit_counts: Callable[[], np.ndarray]
) -> np.ndarray:
    """Genes without a read in any sample the contrast involves, for a numeric contrast (or a
    plus/minus combination) with entries of both signs, as DESeq2's ``contrastAllZeroNumeric``:
    the samples are those whose design row meets a non-zero entry. A contrast of one sign
    (a single coefficient) marks no gene."""
    if np.all(vec >= 0) or np.all(vec <= 0):
        return np.zeros(0, dtype=bool)
    involved = design @ (vec != 0).astype(float) != 0
    return fit_counts()[:, involved].sum(axis=1) == 0


def zero_all_zero_genes(
    lfc: np.ndarray, stat: np.ndarray, pvalue: np.ndarray, zero: np.ndarray, test: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DESeq2 sets the LFC of genes with only zeros in both compared levels to 0 and, for the
    Wald test, their statistic to 0 and p-value to 1 (the LRT's stay as they are)."""
    lfc = np.where(zero, 0.0, lfc)
    if test == "wald":
        stat = np.where(zero, 0.0, stat)
        pvalue = np.where(zero, 1.0, pvalue)
    return lfc, stat, pvalue


def cooks_outliers(
    max_cooks: np.ndarray,
    n_above_cooks_max: np.ndarray,
    design: DesignMatrix,
    cutoff: float | bool | None,
) -> np.ndarray:
    """Genes whose p-value DESeq2 sets to NA for a Cook's distance above ``cutoff`` (``None``
    or ``True``: the 99% quantile of F(p, m - p))."""
    m, p = design.matrix.shape
    if m <= p:
        return np.zeros(max_cooks.size, dtype=bool)
    if cutoff is None or cutoff is True:
        cutoff = cooks_cutoff(m, p)
    with np.errstate(invalid="ignore"):
        outlier = max_cooks > cutoff
    outlier &= ~np.isnan(max_cooks)
    # DESeq2: in a one-factor two-level design, keep genes where 3+ counts exceed the count
    # at the largest Cook's distance (the "outlier" is then a low count, not a high one)
    variables = design.formula.variables
    if outlier.any() and len(variables) == 1 and len(design.levels.get(variables[0], [])) == 2:
        outlier &= n_above_cooks_max < 3
    return outlier


def results_frame(
    gene_ids: pd.Index,
    genes: np.ndarray,
    base_mean: np.ndarray,
    lfc: np.ndarray,
    se: np.ndarray,
    stat: np.ndarray,
    pvalue: np.ndarray,
) -> pd.DataFrame:
    """The results table of all genes before ``padj`` (NaN for the genes not fitted)."""
    n = len(gene_ids)
    res = pd.DataFrame(
        {
            "baseMean": base_mean,
            "log2FoldChange": full_gene_array(lfc, genes, n),
            "lfcSE": full_gene_array(se, genes, n),
            "stat": full_gene_array(stat, genes, n),
            "pvalue": full_gene_array(pvalue, genes, n),
        },
        index=gene_ids,
    )
    res.index.name = "gene_id"
    return res


def adjusted_pvalues(
    pvalue: np.ndarray, base_mean: np.ndarray, alpha: float, independent_filtering: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """BH-adjusted p-values, after independent filtering on ``base_mean`` when asked, and the
    filter's ``filter_threshold``, ``filter_theta`` and ``filter_curve`` (NaN, NaN and
    ``None`` without filtering) for the table's ``attrs``."""
    threshold = theta = np.nan
    curve = None
    if independent_filtering:
        padj, threshold, theta, curve_table = filtering.independent_filtering(
            pvalue, base_mean, alpha
        )
        # plain lists, not a DataFrame: pandas compares attrs when it concatenates or
        # merges tables, and a DataFrame there makes pd.concat and merge raise
        curve = curve_table.to_dict(orient="list")
    else:
        padj = bh_adjust(pvalue)
    return padj, {"filter_threshold": threshold, "filter_theta": theta, "filter_curve": curve}


def needs_releveling(vec: np.ndarray, contrast: Any) -> bool:
    """Whether shrinking ``contrast`` needs a refit with its reference as the baseline.

    A prior shrinks one coefficient: "level vs reference" between two non-baseline levels is
    a difference of two, so the fit is refitted with the contrast's reference as the factor's
    baseline, which makes it a single coefficient (the same model, reparametrized; what
    DESeq2 users do with ``relevel()``).
    """
    return bool(np.count_nonzero(vec) > 1 and is_level_contrast(contrast))
