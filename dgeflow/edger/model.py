"""The edgeR quasi-likelihood path behind ``dgeflow.fit(..., method="edger_ql")``, as edgeR 3.40
runs it by default: filterByExpr, TMM of the kept genes, ``estimateDisp`` (trended dispersion),
``glmQLFit`` (quasi-likelihood dispersions squeezed towards an abundance trend) and
``glmQLFTest`` per contrast (Lund et al. 2012; Chen, Lun & Smyth 2016)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dgeflow.contrasts import dropped_coefficients
from dgeflow.edger.dispersion import Dispersions, estimate_dispersions
from dgeflow.edger.glm import fit_glm, nb_deviance
from dgeflow.filtered_fit import FilteredFit, check_kept, filtered_tmm
from dgeflow.formula import fitted_design
from dgeflow.normalize import tmm_factors
from dgeflow.normalize.tx_lengths import TxImport
from dgeflow.stats.filter_by_expr import filter_by_expr_mask
from dgeflow.stats.multiple_testing import bh_adjust
from dgeflow.stats.squeeze_var import squeeze_var

EDGER_COLUMNS = ["logFC", "logCPM", "F", "PValue", "FDR"]
PRIOR_COUNT = 0.125  # glmFit's prior count for the reported log fold changes


def residual_df(zero: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Residual df per gene not counting samples whose fitted value and count are zero
    (edgeR's ``.residDF``)."""
    n, p = design.shape
    n_zero = zero.sum(axis=1)
    df = np.full(zero.shape[0], float(n - p))
    df[n_zero == n] = 0.0
    some = np.flatnonzero((n_zero > 0) & (n_zero < n))
    if some.size:
        patterns, which = np.unique(zero[some], axis=0, return_inverse=True)
        for k, pattern in enumerate(patterns):
            rank = np.linalg.matrix_rank(design[~pattern])
            rows = some[which.ravel() == k]
            df[rows] = max(n - pattern.sum() - rank, 0)
    return df


def _add_prior_count(y: np.ndarray, lib: np.ndarray, prior_count: float):
    # per gene when the offsets are (tximport's offset matrix), as edgeR's addPriorCount
    mean = lib.mean(axis=-1, keepdims=True) if lib.ndim == 2 else lib.mean()
    prior = prior_count * lib / mean
    return y + prior, np.log(lib + 2.0 * prior)


def _null_design(design: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """A basis of the design's column space under ``contrast' beta = 0``."""
    _, _, vt = np.linalg.svd(contrast[None, :])
    return design @ vt[1:].T


class QLFit(FilteredFit):
    """An edgeR quasi-likelihood fit of one design. Create it with
    ``dgeflow.fit(..., method="edger_ql")``.

    Attributes
    ----------
    keep, lib_size, norm_factors
        filterByExpr's genes, their library sizes and TMM factors.
    dispersions
        estimateDisp's common and trended dispersions and AveLogCPM (kept genes).
    df_prior, var_post, df_residual
        The QL fit: prior df, posterior QL dispersions, residual df without zero fits.
    """

    method = "edger_ql"

    def __init__(
        self, counts, samples, design, keep, norm_factors, dispersions, robust, offset=None
    ):
        super().__init__(counts, samples, design, keep, norm_factors)
        kept = counts.loc[keep.to_numpy()]
        self.dispersions = dispersions
        self.robust = robust
        y = kept.to_numpy(dtype=float)
        x = design.matrix
        if offset is None:
            self._offset = np.log(self.lib_size.to_numpy() * norm_factors.to_numpy())
        else:
            self._offset = offset
        disp = dispersions.trended
        self._beta_mle, self._mu = fit_glm(y, x, self._offset, disp)
        self._deviance = nb_deviance(y, self._mu, disp)
        y_prior, off_prior = _add_prior_count(y, np.exp(self._offset), PRIOR_COUNT)
        self._beta_shrunk, _ = fit_glm(y_prior, x, off_prior, disp)
        zero = (self._mu < 1e-4) & (y < 1e-4)
        self.df_residual = residual_df(zero, x)
        s2 = np.where(
            self.df_residual > 0,
            self._deviance / np.where(self.df_residual > 0, self.df_residual, 1.0),
            0.0,
        )
        s2 = np.maximum(s2, 0.0)
        self.raw_ql_dispersion = s2
        sq = squeeze_var(s2, self.df_residual, covariate=dispersions.ave_log_cpm, robust=robust)
        self.df_prior = sq.df_prior
        self.var_post = sq.var_post
        self._y = y

    def results(self, contrast: Any = None, *, reduced: str | None = None) -> pd.DataFrame:
        """edgeR's ``glmQLFTest`` + ``topTags`` for one contrast: columns ``logFC, logCPM, F,
        PValue, FDR``, the fitted genes in input order.

        With ``reduced`` (a formula), the QL F-test of the coefficients the reduced design
        leaves out, as ``glmQLFTest(fit, coef = <them>)``: one ``logFC`` column, or one
        ``logFC.<coefficient>`` per coefficient when there are several (R's names).
        """
        x = self.design.matrix
        y, disp = self._y, self.dispersions.trended
        if reduced is None:
            vec, label = self.contrast_vector(contrast)
            null = _null_design(x, vec)
            lfc = {"logFC": self._beta_shrunk @ vec / np.log(2.0)}
            df_test = 1
        else:
            dropped = dropped_coefficients(self.design, self.samples, reduced)
            null = np.delete(x, dropped, axis=1)
            names = [self.result_names[j] for j in dropped]
            label = f"{self.design.formula.text} vs {reduced}"
            lfc = {
                ("logFC" if len(dropped) == 1 else f"logFC.{name}"): self._beta_shrunk[:, j]
                / np.log(2.0)
                for j, name in zip(dropped, names, strict=True)
            }
            df_test = len(dropped)
        _, mu0 = fit_glm(y, null, self._offset, disp)
        lr = nb_deviance(y, mu0, disp) - self._deviance
        f_stat = lr / df_test / self.var_post
        df_total = np.minimum(
            np.asarray(self.df_prior) + self.df_residual, y.shape[0] * (x.shape[0] - x.shape[1])
        )
        pvalue = stats.f.sf(f_stat, df_test, df_total)
        # below the Poisson bound the QL F-test is anti-conservative: take the Poisson LRT's
        # p-value where it is larger (edgeR's poisson.bound)
        below = ((self._mu * disp[:, None] + 1.0) * self.var_post[:, None] < 1.0).any(axis=1)
        if below.any():
            zeros = np.zeros(int(below.sum()))
            off = self._offset[below] if np.ndim(self._offset) == 2 else self._offset
            _, mu_full = fit_glm(y[below], x, off, zeros)
            _, mu_null = fit_glm(y[below], null, off, zeros)
            lr_pois = nb_deviance(y[below], mu_null, zeros) - nb_deviance(y[below], mu_full, zeros)
            pvalue[below] = np.maximum(pvalue[below], stats.chi2.sf(lr_pois, df_test))
        res = pd.DataFrame(
            {
                **lfc,
                "logCPM": self.dispersions.ave_log_cpm,
                "F": f_stat,
                "PValue": pvalue,
                "FDR": bh_adjust(pvalue),
            },
            index=self.genes,
        )
        res.index.name = "gene_id"
        res.attrs.update(contrast=label, method=self.method)
        return res


def fit_edger_ql(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    *,
    reference_levels: dict[str, str] | None = None,
    filter_by_expr: bool = True,
    filter_options: dict[str, float] | None = None,
    robust: bool = False,
) -> QLFit:
    """edgeR quasi-likelihood as its user guide runs it: ``filterByExpr(design)``, TMM of the
    kept genes (``keep.lib.sizes = FALSE``), ``estimateDisp``, ``glmQLFit(robust=)``.

    ``counts`` may be a :class:`dgeflow.TxImport`: with ``counts_from_abundance="no"`` its
    average transcript lengths become offsets as in tximport's edgeR recipe (lengths over their
    per-gene geometric mean, times TMM effective library sizes of the length-corrected counts,
    through ``scaleOffset``), on the unrounded counts; otherwise its counts are used as they are.
    """
    if isinstance(counts, TxImport):
        txi = counts
        counts = txi.counts
        if txi.counts_from_abundance == "no":
            return _fit_with_length_offsets(
                txi, samples, design, reference_levels, filter_by_expr, filter_options, robust
            )
    samples, dm = fitted_design(counts, samples, design, reference_levels)
    keep, kept, nf, lib = filtered_tmm(counts, dm, "edgeR", filter_by_expr, filter_options)
    disp: Dispersions = estimate_dispersions(kept.to_numpy(dtype=float), dm.matrix, lib)
    return QLFit(counts, samples, dm, keep, nf, disp, robust)


def length_offsets(counts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """tximport's edgeR offsets: log of the lengths over their per-gene geometric mean times
    the TMM effective library sizes of the length-corrected counts, centred per gene on the
    mean log library size (edgeR's ``scaleOffset``); genes x samples."""
    norm = lengths / np.exp(np.log(lengths).mean(axis=1))[:, None]
    corrected = pd.DataFrame(counts / norm)
    effective = tmm_factors(corrected).to_numpy() * corrected.to_numpy().sum(axis=0)
    log_norm = np.log(norm * effective)
    lib = counts.sum(axis=0)
    return log_norm - log_norm.mean(axis=1, keepdims=True) + np.log(lib).mean()


def _fit_with_length_offsets(
    txi: TxImport, samples, design, reference_levels, filter_by_expr, filter_options, robust
) -> QLFit:
    counts = txi.counts
    samples, dm = fitted_design(counts, samples, design, reference_levels)
    y = counts.to_numpy(dtype=float)
    offset = length_offsets(y, txi.length.loc[counts.index, counts.columns].to_numpy(float))
    lib = y.sum(axis=0)  # the DGEList's library sizes, kept when genes are filtered
    if filter_by_expr:
        keep = filter_by_expr_mask(y, dm.matrix, lib, **(filter_options or {}))
    else:
        keep = y.sum(axis=1) > 0
    check_kept(keep, y, "edgeR", filter_by_expr, filter_options)
    disp = estimate_dispersions(y[keep], dm.matrix, lib, offset=offset[keep])
    ones = pd.Series(1.0, index=counts.columns)
    fit = QLFit(
        counts, samples, dm, pd.Series(keep, index=counts.index), ones, disp, robust, offset[keep]
    )
    fit.lib_size = pd.Series(lib, index=counts.columns)
    return fit
