"""The limma-voom path behind ``dgeflow.fit(..., method="limma_voom")``: filterByExpr, TMM on
the kept genes, voom, weighted lmFit, and eBayes moderated t per contrast."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import dropped_coefficients
from dgeflow.filtered_fit import FilteredFit, filtered_tmm
from dgeflow.formula import DesignMatrix, fitted_design
from dgeflow.limma.ebayes import moderated_f, moderated_t, top_table
from dgeflow.limma.linear_model import LinearModelFit, contrast_fit, lm_fit
from dgeflow.limma.voom import Voom, voom
from dgeflow.normalize.tx_lengths import TxImport
from dgeflow.stats.multiple_testing import bh_adjust

LIMMA_COLUMNS = ["logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"]


class VoomFit(FilteredFit):
    """A limma-voom fit of one design. Create it with ``dgeflow.fit(..., method="limma_voom")``.

    Attributes
    ----------
    keep
        Boolean per gene of the input: kept by filterByExpr (all True when filtering is off).
    lib_size, norm_factors
        Library sizes of the kept genes and their TMM factors, per sample.
    voom, linear_model
        voom's log-CPM values, weights and trend; the weighted linear model.
    """

    method = "limma_voom"

    def __init__(
        self,
        counts: pd.DataFrame,
        samples: pd.DataFrame,
        design: DesignMatrix,
        keep: pd.Series,
        norm_factors: pd.Series,
        voom_result: Voom,
        linear_model: LinearModelFit,
    ):
        super().__init__(counts, samples, design, keep, norm_factors)
        self.voom = voom_result
        self.linear_model = linear_model

    def results(
        self,
        contrast: Any = None,
        *,
        trend: bool = False,
        robust: bool = False,
        reduced: str | None = None,
    ) -> pd.DataFrame:
        """limma's ``topTable`` for one contrast, indexed by gene id in input order.

        ``contrast`` is ``(factor, level, reference)``, a coefficient name, a numeric vector
        over :attr:`result_names`, or ``None`` for the last coefficient. ``trend=True`` lets
        the prior variance follow the average expression (``eBayes(trend = TRUE)``);
        ``robust=True`` protects against outlying variances (``eBayes(robust = TRUE)``). Columns
        ``logFC, AveExpr, t, P.Value, adj.P.Val, B``; only the fitted genes.

        With ``reduced`` (a formula), the moderated F-test of the coefficients the reduced
        design leaves out, as ``topTable(fit, coef = <them>)``: one column per coefficient
        (its name), ``AveExpr, F, P.Value, adj.P.Val``.
        """
        if reduced is not None:
            dropped = dropped_coefficients(self.design, self.samples, reduced)
            if len(dropped) > 1:
                return self._f_test(dropped, reduced, trend, robust)
            # one coefficient: topTable(coef = it) is its moderated t-test (t^2 is the F)
            contrast = self.result_names[dropped[0]]
        vec, label = self.contrast_vector(contrast)
        lm = self.linear_model
        estimate, stdev = self._contrast_fit(vec)
        mt = moderated_t(
            estimate,
            stdev,
            lm.sigma,
            lm.df_residual,
            covariate=lm.amean if trend else None,
            robust=robust,
        )
        res = pd.DataFrame(top_table(estimate, lm.amean, mt), index=self.genes)
        res.index.name = "gene_id"
        res.attrs.update(
            contrast=label, method=self.method, df_prior=mt.df_prior, trend=trend, robust=robust
        )
        return res

    def _contrast_fit(self, vec):
        """One contrast's estimate and unscaled standard deviation per gene."""
        return contrast_fit(self.linear_model, vec)

    def _f_test(self, dropped: list[int], reduced: str, trend: bool, robust: bool) -> pd.DataFrame:
        lm = self.linear_model
        cov = np.linalg.inv(lm.design.T @ lm.design)[np.ix_(dropped, dropped)]
        scale = np.sqrt(np.diag(cov))
        f_stat, p_value, _ = moderated_f(
            lm.coefficients[:, dropped],
            lm.stdev_unscaled[:, dropped],
            cov / np.outer(scale, scale),
            lm.sigma,
            lm.df_residual,
            covariate=lm.amean if trend else None,
            robust=robust,
        )
        columns = {self.result_names[j]: lm.coefficients[:, j] for j in dropped}
        res = pd.DataFrame(
            {
                **columns,
                "AveExpr": lm.amean,
                "F": f_stat,
                "P.Value": p_value,
                "adj.P.Val": bh_adjust(p_value),
            },
            index=self.genes,
        )
        res.index.name = "gene_id"
        res.attrs.update(contrast=f"{self.design.formula.text} vs {reduced}", method=self.method)
        return res


def fit_voom(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    *,
    reference_levels: dict[str, str] | None = None,
    filter_by_expr: bool = True,
    filter_options: dict[str, float] | None = None,
    span: float = 0.5,
) -> VoomFit:
    """limma-voom as its user guide runs it: ``filterByExpr(design)``, TMM factors of the kept
    genes with their own library sizes (``keep.lib.sizes = FALSE``), ``voom``, ``lmFit``.

    ``counts`` may be a :class:`dgeflow.TxImport`; its counts are used as they are (voom has no
    offsets: tximport's guide imports with ``counts_from_abundance="lengthScaledTPM"`` for it).
    """
    if isinstance(counts, TxImport):
        counts = counts.counts
    samples, dm = fitted_design(counts, samples, design, reference_levels)
    keep, kept, nf, lib = filtered_tmm(counts, dm, "limma-voom", filter_by_expr, filter_options)
    v = voom(kept.to_numpy(dtype=float), dm.matrix, lib, span=span)
    lm = lm_fit(v.E, dm.matrix, v.weights)
    return VoomFit(counts, samples, dm, keep, nf, v, lm)
