"""limma-voom with a blocking factor for repeated measures (subjects measured more than once),
as the limma User's Guide runs it:

.. code-block:: r

    v <- voom(y, design)
    corfit <- duplicateCorrelation(v, design, block = subject)
    v <- voom(y, design, block = subject, correlation = corfit$consensus)
    corfit <- duplicateCorrelation(v, design, block = subject)
    fit <- lmFit(v, design, block = subject, correlation = corfit$consensus)

Samples of one block share a correlation ``rho``; ``lmFit`` then fits each gene by generalized
least squares (limma's ``gls.series``). This is the only way to test a factor that varies
between subjects (a patient group) while also using the pairing within subjects: the subject
cannot be a fixed effect beside a factor it is nested in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.errors import DataError
from dgeflow.filtered_fit import filtered_tmm
from dgeflow.formula import DesignMatrix, fitted_design
from dgeflow.limma.dup_correlation import block_indicators, duplicate_correlation
from dgeflow.limma.linear_model import LinearModelFit
from dgeflow.limma.model import VoomFit
from dgeflow.limma.voom import Voom, _interpolator, log_cpm, voom
from dgeflow.normalize.tx_lengths import TxImport
from dgeflow.stats.lowess import lowess


@dataclass
class BlockedLinearModelFit(LinearModelFit):
    """A :class:`LinearModelFit` by generalized least squares with a within-block correlation.

    ``cov_coefficients`` is limma's ``cov.coefficients`` of such a fit,
    ``(X' C^-1 X)^-1`` for the block correlation matrix ``C`` without weights: the
    coefficients' correlation that ``contrasts.fit`` uses.
    """

    cov_coefficients: np.ndarray  # (p, p)
    correlation: float


def block_correlation_matrix(block: np.ndarray, correlation: float) -> np.ndarray:
    """gls.series' samples x samples matrix: ``correlation`` between samples of the same block,
    1 on the diagonal, 0 elsewhere."""
    z = block_indicators(block)
    c = correlation * (z @ z.T)
    np.fill_diagonal(c, 1.0)
    return c


def _whitener(block: np.ndarray, correlation: float) -> np.ndarray:
    """``L^-1`` for the Cholesky factor ``C = L L'`` of the block correlation matrix: limma's
    ``backsolve(chol(V), ., transpose = TRUE)``. With weights ``w`` the factor of
    ``V = W^-1/2 C W^-1/2`` is ``W^-1/2 L``, so each gene is whitened by ``L^-1 (sqrt(w) * .)``
    and one triangular inverse serves every gene."""
    if not -1.0 < correlation < 1.0:
        raise ValueError(f"the block correlation must lie in (-1, 1), got {correlation!r}")
    lower = np.linalg.cholesky(block_correlation_matrix(block, correlation))
    return np.linalg.solve(lower, np.eye(lower.shape[0]))


def lm_fit_blocked(
    y: np.ndarray,
    design: np.ndarray,
    block: np.ndarray,
    correlation: float,
    weights: np.ndarray | None = None,
) -> BlockedLinearModelFit:
    """Fit every gene by generalized least squares with a within-block correlation (limma's
    ``lmFit(y, design, block = block, correlation = correlation, weights = weights)``).

    Parameters
    ----------
    y
        Expression values, (genes, samples), no missing values.
    design
        Full-rank design matrix, (samples, p).
    block
        Block label per sample.
    correlation
        The within-block correlation (``duplicateCorrelation``'s consensus), in (-1, 1).
    weights
        Positive precision weights, (genes, samples); ``None`` for none.

    Returns
    -------
    BlockedLinearModelFit
        ``coefficients``, ``stdev_unscaled`` and ``sigma`` of the whitened least-squares fit,
        ``df_residual`` = samples - p, ``amean`` the plain row means of ``y``.
    """
    y = np.asarray(y, dtype=float)
    design = np.asarray(design, dtype=float)
    n_genes, m = y.shape
    p = design.shape[1]
    if m <= p:
        raise ValueError("lm_fit_blocked needs more samples than coefficients (no residual df)")
    if np.linalg.matrix_rank(design) < p:
        raise ValueError("the design matrix is not of full rank")
    if len(block) != m:
        raise ValueError("block must have one label per sample (column of y)")
    linv = _whitener(np.asarray(block), correlation)
    x_white = linv @ design
    q, r = np.linalg.qr(x_white)
    r_inv = np.linalg.solve(r, np.eye(p))
    cov = r_inv @ r_inv.T
    if weights is None:
        y_white = y @ linv.T
        coef = (y_white @ q) @ r_inv.T
        resid = y_white - coef @ x_white.T
        stdev = np.broadcast_to(np.sqrt(np.diag(cov)), (n_genes, p)).copy()
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != y.shape or not np.all(w > 0):
            raise ValueError("weights must be positive and shaped like y")
        sw = np.sqrt(w)
        y_white = (sw * y) @ linv.T
        # (genes, m, p): each gene's own whitened design
        xg = linv @ (sw[:, :, None] * design)
        qg, rg = np.linalg.qr(xg)
        rg_inv = np.linalg.solve(rg, np.broadcast_to(np.eye(p), rg.shape))
        effects = np.swapaxes(qg, 1, 2) @ y_white[:, :, None]  # (genes, p, 1)
        coef = (rg_inv @ effects)[:, :, 0]
        resid = y_white - (xg @ coef[:, :, None])[:, :, 0]
        stdev = np.sqrt(np.einsum("gij,gij->gi", rg_inv, rg_inv))
    sigma2 = (resid**2).sum(axis=1) / (m - p)
    return BlockedLinearModelFit(
        coefficients=coef,
        stdev_unscaled=stdev,
        sigma=np.sqrt(sigma2),
        df_residual=np.full(n_genes, float(m - p)),
        amean=y.mean(axis=1),
        design=design,
        cov_coefficients=cov,
        correlation=float(correlation),
    )


def contrast_fit_blocked(
    fit: BlockedLinearModelFit, contrast: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One contrast's estimate and unscaled standard deviation per gene (limma's
    ``contrasts.fit`` on a blocked fit).

    As limma, the coefficients' correlation is ``cov2cor(cov.coefficients)`` of the
    correlated, unweighted design, combined with each gene's own unscaled standard deviations;
    when that correlation is nil (below 1e-14) the variances simply add.
    """
    c = np.asarray(contrast, dtype=float)
    estimate = fit.coefficients @ c
    d = np.sqrt(np.diag(fit.cov_coefficients))
    corr = fit.cov_coefficients / np.outer(d, d)
    scaled = fit.stdev_unscaled * c  # (genes, p)
    if np.all(np.abs(corr[np.tril_indices_from(corr, -1)]) < 1e-14):
        return estimate, np.sqrt((scaled**2).sum(axis=1))
    return estimate, np.sqrt(np.einsum("gi,ij,gj->g", scaled, corr, scaled))


def voom_blocked(
    counts: np.ndarray,
    design: np.ndarray,
    lib_size: np.ndarray,
    block: np.ndarray,
    correlation: float,
    span: float = 0.5,
) -> Voom:
    """voom's weights from a blocked fit (limma's ``voom(counts, design, lib.size, block =
    block, correlation = correlation)``): the trend is fitted to the residual standard
    deviations of the generalized least-squares fit, the weights predicted from its fitted
    values; the log-CPM values are those of :func:`dgeflow.limma.voom.voom`.

    Parameters
    ----------
    counts
        Raw counts, (genes, samples).
    design
        Design matrix, (samples, p).
    lib_size
        Effective library sizes (library size x TMM factor), one per sample.
    block, correlation
        Block label per sample and the within-block correlation.
    span
        lowess span of the mean-variance trend.
    """
    counts = np.asarray(counts, dtype=float)
    lib_size = np.asarray(lib_size, dtype=float)
    y = log_cpm(counts, lib_size)
    fit = lm_fit_blocked(y, design, block, correlation)
    sx = fit.amean + np.mean(np.log2(lib_size + 1.0)) - np.log2(1e6)
    sy = np.sqrt(fit.sigma)
    expressed = counts.sum(axis=1) > 0
    trend_x, trend_y = lowess(sx[expressed], sy[expressed], f=span)
    trend = _interpolator(trend_x, trend_y)
    fitted_count = 1e-6 * np.exp2(fit.fitted_values()) * (lib_size + 1.0)
    weights = 1.0 / trend(np.log2(fitted_count)) ** 4
    return Voom(y, weights, lib_size, sx, sy, trend_x, trend_y)


class BlockedVoomFit(VoomFit):
    """A limma-voom fit with a blocking factor (repeated measures). Create it with
    :func:`fit_voom_blocked`.

    Attributes
    ----------
    block
        The block label of each sample: the sample-sheet column the fit was blocked on (its
        ``name``), as text.
    consensus_correlation
        ``duplicateCorrelation``'s consensus of both rounds: after the plain voom, and after
        the blocked voom (the one the linear model uses).
    atanh_correlations
        Each fitted gene's ``atanh`` correlation of the last round (NaN where limma's is NA).
    """

    def __init__(
        self,
        counts: pd.DataFrame,
        samples: pd.DataFrame,
        design: DesignMatrix,
        keep: pd.Series,
        norm_factors: pd.Series,
        voom_result: Voom,
        linear_model: BlockedLinearModelFit,
        block: pd.Series,
        consensus: tuple[float, float],
        atanh_correlations: np.ndarray,
    ):
        super().__init__(counts, samples, design, keep, norm_factors, voom_result, linear_model)
        self.block = block
        self.consensus_correlation = consensus
        self.atanh_correlations = pd.Series(atanh_correlations, index=self.genes)

    @property
    def sample_table(self) -> pd.DataFrame:
        """Per sample: library size, TMM factor, effective library size, the sample's block and
        the consensus within-block correlation of the final duplicateCorrelation round."""
        table = super().sample_table
        table["block"] = self.block.reindex(table.index).to_numpy()
        table["block_correlation"] = float(self.consensus_correlation[-1])
        return table

    def results(
        self,
        contrast: Any = None,
        *,
        trend: bool = False,
        robust: bool = False,
        reduced: str | None = None,
    ) -> pd.DataFrame:
        """limma's ``topTable`` for one contrast of the blocked fit, indexed by gene id in
        input order; arguments and columns as :meth:`VoomFit.results`, but no F-test
        (``reduced``) of a blocked fit."""
        if reduced is not None:
            raise DataError(
                "a blocked limma-voom fit is tested with contrasts, not a reduced design: "
                "use coefficient: or plus: instead of test: lrt"
            )
        res = super().results(contrast, trend=trend, robust=robust)
        res.attrs.update(block=self.block.name, correlation=self.linear_model.correlation)
        return res

    def _contrast_fit(self, vec):
        # limma's contrasts.fit with the blocked fit's own cov.coefficients
        return contrast_fit_blocked(self.linear_model, vec)


def _block_labels(samples: pd.DataFrame, block: str, design: DesignMatrix) -> pd.Series:
    """The block column of the sample sheet, checked: present, complete, and not a column of
    the design (a block that is a fixed effect is fitted, not correlated)."""
    if block not in samples.columns:
        raise DataError(
            f"the block column {block!r} is not in the sample sheet (columns: "
            f"{', '.join(map(str, samples.columns))}). Fix: name the column that says which "
            "subject (or unit measured repeatedly) each sample comes from."
        )
    labels = samples[block]
    if labels.isna().any():
        bad = ", ".join(map(str, samples.index[labels.isna()][:5]))
        raise DataError(f"the block column {block!r} has no value for samples {bad}")
    if block in design.formula.variables:
        raise DataError(
            f"{block!r} is both in the design and the block: a blocking factor is the random "
            "effect of units the design does not fit. Fix: remove it from the design (or do "
            "not block on it)."
        )
    return labels.astype(str)


def fit_voom_blocked(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    block: str,
    *,
    reference_levels: dict[str, str] | None = None,
    filter_by_expr: bool = True,
    filter_options: dict[str, float] | None = None,
    span: float = 0.5,
) -> BlockedVoomFit:
    """limma-voom with a blocking factor, as the limma User's Guide runs it for repeated
    measures: the front of :func:`dgeflow.limma.model.fit_voom` (filterByExpr, TMM of the kept
    genes, voom), then ``duplicateCorrelation``, voom again with the block and that
    correlation, ``duplicateCorrelation`` again and the blocked ``lmFit``.

    Parameters
    ----------
    counts
        Raw counts, genes x samples (or a :class:`dgeflow.TxImport`, whose counts are used).
    samples
        Sample sheet indexed by sample id.
    design
        Design formula (without the block).
    block
        The sample-sheet column naming each sample's block (e.g. ``"subject"``).
    reference_levels, filter_by_expr, filter_options, span
        As :func:`dgeflow.limma.model.fit_voom`.

    Returns
    -------
    BlockedVoomFit
        ``results(contrast, trend=False, robust=False)`` gives limma's ``topTable`` columns;
        ``consensus_correlation`` holds both rounds' consensus.

    Raises
    ------
    DataError
        When the block column is missing, incomplete or in the design, or when no gene has
        a correlation to estimate (too few samples beside the coefficients and blocks).
    """
    if isinstance(counts, TxImport):
        counts = counts.counts
    samples, dm = fitted_design(counts, samples, design, reference_levels)
    labels = _block_labels(samples, block, dm)
    blocks = labels.to_numpy()
    keep, kept, nf, lib = filtered_tmm(counts, dm, "limma-voom", filter_by_expr, filter_options)
    x = dm.matrix
    k = kept.to_numpy(dtype=float)
    v = voom(k, x, lib, span=span)
    first = duplicate_correlation(v.E, x, blocks, v.weights)
    _check_consensus(first.consensus, block, x.shape, len(set(blocks)))
    v = voom_blocked(k, x, lib, blocks, first.consensus, span=span)
    last = duplicate_correlation(v.E, x, blocks, v.weights)
    _check_consensus(last.consensus, block, x.shape, len(set(blocks)))
    lm = lm_fit_blocked(v.E, x, blocks, last.consensus, v.weights)
    consensus = (first.consensus, last.consensus)
    return BlockedVoomFit(
        counts, samples, dm, keep, nf, v, lm, labels, consensus, last.atanh_correlations
    )


def _check_consensus(consensus: float, block: str, shape: tuple[int, int], n_blocks: int) -> None:
    """Stop when no gene gave a correlation (limma's voom then stops on the NA)."""
    if np.isfinite(consensus):
        return
    m, p = shape
    raise DataError(
        f"no gene's within-{block!r} correlation could be estimated: limma's "
        f"duplicateCorrelation needs more than p + 2 = {p + 2} samples (there are {m}) and "
        f"between 2 and {m - 2} blocks (there are {n_blocks}). Fix: fit without the block, "
        "or with more samples per block."
    )
