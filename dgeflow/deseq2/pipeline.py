"""DESeq2's fitting pipeline, as ``DESeq()`` runs it: normalized means -> gene-wise dispersions
-> dispersion trend and prior -> MAP dispersions -> NB GLM -> Cook's distances, outlier
replacement and refit.

Large studies are fitted in blocks of genes so that memory stays bounded, in two passes: the
trend and the prior need every gene's gene-wise dispersion (pass 1), everything after them is
per gene (pass 2). The numbers do not depend on the blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dgeflow.deseq2.blocks import (
    factors_of_rows,
    gene_blocks,
    normalized_mean_var,
    row_chunks,
    row_sums,
)
from dgeflow.deseq2.cooks import CooksPass, cooks_pass, n_counts_above
from dgeflow.deseq2.dispersion import (
    GeneDispersions,
    MAPDispersions,
    estimate_genewise_dispersions,
    estimate_map_dispersions,
    genewise_start,
    moments_xim,
)
from dgeflow.deseq2.gene_fit import GeneFit, empty_gene_fit
from dgeflow.deseq2.glm import GLMFit, fit_nb_glm
from dgeflow.deseq2.trend import (
    GENEWISE,
    DispersionTrend,
    NoTrendError,
    dispersion_prior_variance,
    fit_dispersion_trend,
)
from dgeflow.errors import DataError

# a progress report: a %-format message and its arguments (see dgeflow.deseq2.model.fit)
Progress = Callable[..., None]
# the per-gene GLM results a block or a refit writes into the whole fit's arrays
GLM_PER_GENE = ("beta", "sigma", "deviance", "iterations", "converged")
# final dispersions: DESeq2's MAP shrinkage towards the trend, or the gene-wise estimates
# as they are (DESeq2's advice when the trend cannot be fitted)
DISPERSIONS = ("shrunken", GENEWISE)
# what fixes a study on which no trend can be fitted, by NoTrendError.kind
_TREND_FIXES = {
    "flat": (
        "Fix: set `de.dispersion: genewise` in the config to use the gene-wise estimates as "
        'final dispersions, as DESeq2 advises (dispersion="genewise" in dgeflow.fit).'
    ),
    "locfit": (
        "Fix: set `de.fit_type: mean` (one dispersion for every gene) or `de.dispersion: "
        "genewise` in the config."
    ),
}


@dataclass
class PipelineFit:
    """What :func:`fit_pipeline` returns: the per-gene fit and the study-wide values."""

    gene_fit: GeneFit
    trend: DispersionTrend
    var_log_disp_ests: float
    disp_prior_var: float
    base_mean: np.ndarray  # all genes; after outlier replacement, as DESeq2's mcols
    base_var: np.ndarray


@dataclass
class StudyBlocks:
    """The counts the two passes read block by block, and what every block shares."""

    values: np.ndarray  # all genes' counts (integers stay integers: blocks become floats)
    genes: np.ndarray  # the fitted genes: those with some reads
    factors: np.ndarray  # size factors (m,) or per-gene normalization factors (genes, m)
    x: np.ndarray  # design matrix
    blocks: list[slice]  # into ``genes``
    # the moments start uses the column means of all fitted genes' factors, in every block
    xim: float
    # pass 1's means of a one-block study, handed to pass 2, which drops them after the
    # block's Cook's pass: held here, since a variable of the caller would keep this genes x
    # samples array alive through the whole of pass 2
    genewise_mu: np.ndarray | None = None

    def counts(self, block: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gene indices, float counts and normalization factors (genes, m) of a block."""
        rows = self.genes[block]
        y = self.values[rows].astype(float)
        return rows, y, factors_of_rows(self.factors, rows, y.shape)


def fit_pipeline(
    values: np.ndarray,
    factors: np.ndarray,
    x: np.ndarray,
    level_columns: dict[tuple[str, str], np.ndarray],
    *,
    fit_type: str,
    lrt: bool,
    min_replicates_for_replace: int | None,
    block_elements: int,
    progress: Progress,
    dispersion: str = "shrunken",
) -> PipelineFit:
    """Run DESeq2's pipeline on checked counts and resolved normalization.

    Parameters
    ----------
    values
        Counts, genes x samples (integer or float array).
    factors
        Size factors ``(m,)`` or normalization factors ``(genes, m)``.
    x
        Design matrix ``(m, p)``.
    level_columns
        Samples of every design factor level (see :func:`dgeflow.deseq2.inputs.level_columns`),
        for the genes with only zero counts in a level.
    fit_type, lrt, min_replicates_for_replace, block_elements, dispersion
        As :func:`dgeflow.deseq2.model.fit` (``lrt``: its ``test`` is ``"lrt"``).
    progress
        Called with a %-format message and its arguments after each stage.

    Raises
    ------
    DataError
        No dispersion trend can be fitted (DESeq2 stops there too); the message names the
        config change that fixes it.
    """
    m, p = x.shape
    base_mean, base_var = normalized_mean_var(values, factors)
    genes = np.flatnonzero(row_sums(values) > 0)
    bm = base_mean[genes]
    progress("normalization for %d samples; %d of %d genes have reads", m, genes.size, len(values))
    blocks = gene_blocks(genes.size, m, block_elements)
    if len(blocks) > 1:
        progress("%d blocks of up to %d genes", len(blocks), blocks[0].stop)
    xim = moments_xim(factors) if np.ndim(factors) == 1 else _moments_xim_of_rows(factors, genes)
    study = StudyBlocks(values, genes, factors, x, blocks, xim)

    disp_gene_est, disp_gene_iter = genewise_pass(study)
    if dispersion == GENEWISE:
        # DESeq2's recipe for data without a trend: estimateDispersionsGeneEst, then
        # dispersions(dds) <- dispGeneEst and nbinomWaldTest / nbinomLRT (no MAP step, no
        # outlier replacement, which only DESeq() does)
        trend, prior = DispersionTrend(GENEWISE), (np.nan, np.nan)
        min_replicates_for_replace = None
        progress("gene-wise dispersions, used as final ones")
    else:
        trend = _fit_trend(bm, disp_gene_est, fit_type)
        prior = dispersion_prior_variance(disp_gene_est, trend(bm), *x.shape)
        progress("gene-wise dispersions; trend %s, prior variance %.4g", trend.fit_type, prior[1])
    disp_fit = trend(bm)

    g = empty_gene_fit(genes, p, m, level_columns, disp_gene_est, disp_gene_iter, disp_fit)
    final_pass(
        study,
        g,
        trend,
        prior,
        base_mean,
        base_var,
        level_columns,
        lrt=lrt,
        replace_min=min_replicates_for_replace if m > p else None,
        progress=progress,
    )
    progress(
        "MAP dispersions (%d outliers), GLM (%d genes not converged), Cook's (%d genes with "
        "counts replaced)",
        int(g.disp_outlier.sum()),
        int((~g.glm.converged).sum()),
        int(g.replaced.sum()),
    )
    return PipelineFit(g, trend, prior[0], prior[1], base_mean, base_var)


def _fit_trend(base_mean: np.ndarray, disp_gene_est: np.ndarray, fit_type: str) -> DispersionTrend:
    """The dispersion trend; where DESeq2 would stop, a DataError that names the fix."""
    try:
        return fit_dispersion_trend(base_mean, disp_gene_est, fit_type)
    except NoTrendError as err:
        raise DataError(f"{err} {_TREND_FIXES[err.kind]}") from err


def genewise_pass(study: StudyBlocks) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1: gene-wise dispersions and their iterations, block by block.

    A one-block study keeps the gene-wise step's means in ``study.genewise_mu`` (the MAP step
    and an LRT fit's Cook's distances use them); with several blocks pass 2 computes them
    again, block by block.
    """
    n = study.genes.size
    disp_gene_est = np.empty(n)
    disp_gene_iter = np.empty(n, dtype=int)
    for b in study.blocks:
        _, y, nf = study.counts(b)
        gene = estimate_genewise_dispersions(y, nf, study.x, xim=study.xim)
        disp_gene_est[b], disp_gene_iter[b] = gene.disp_gene_est, gene.iterations
        study.genewise_mu = gene.mu if len(study.blocks) == 1 else None
        del gene
    return disp_gene_est, disp_gene_iter


def final_pass(
    study: StudyBlocks,
    g: GeneFit,
    trend: DispersionTrend,
    prior: tuple[float, float],
    base_mean: np.ndarray,
    base_var: np.ndarray,
    level_columns: dict[tuple[str, str], np.ndarray],
    *,
    lrt: bool,
    replace_min: int | None,
    progress: Progress,
) -> None:
    """Pass 2, block by block, into ``g``: MAP dispersions, the GLM, Cook's distances and the
    refit of genes with replaced counts; ``base_mean`` and ``base_var`` of those genes become
    the replaced counts' (as DESeq2's)."""
    n = g.genes.size
    max_unreplaceable = np.empty(n)
    new_all_zero = np.zeros(n, dtype=bool)
    replaced_counts = []
    for b in study.blocks:
        rows, y, nf = study.counts(b)
        mu_gene = study.genewise_mu
        study.genewise_mu = None
        if mu_gene is None:
            mu_gene = genewise_start(y, nf, study.x, xim=study.xim)[1]
        factors_cooks = study.factors if np.ndim(study.factors) == 1 else nf
        mapd, block_glm, cooks = _map_glm_cooks(
            y, nf, factors_cooks, study.x, mu_gene, g, b, prior, lrt, replace_min
        )
        del mu_gene
        y_fit, rep = cooks.counts, cooks.replaced
        refit_rows = np.flatnonzero(rep & (y_fit.sum(axis=1) > 0))
        if rep.any():  # DESeq2's baseMean and baseVar are those of the replaced counts
            bm_rep, bv_rep = normalized_mean_var(y_fit[rep], factors_of_rows(factors_cooks, rep))
            base_mean[rows[rep]], base_var[rows[rep]] = bm_rep, bv_rep
        if refit_rows.size:
            refit = _refit_without_outliers(
                y_fit, nf, refit_rows, study.x, base_mean[rows[refit_rows]], trend, prior
            )
            _store_refit(g, b.start + refit_rows, refit_rows, mapd, block_glm, refit)
        _store_block(g, b, mapd, block_glm, cooks, level_columns)
        max_unreplaceable[b], new_all_zero[b] = cooks.max_unreplaceable, cooks.new_all_zero
        replaced_counts.append(y_fit[rep])
        if len(study.blocks) == 1:
            g.counts = y_fit
        if refit_rows.size:
            progress("%d genes refitted without their outliers", refit_rows.size)
    g.replaced_counts = np.concatenate(replaced_counts, axis=0)
    # DESeq2 refits the flagged genes (those whose counts did not change get the same numbers
    # again) and then, unless every flagged gene became all-zero, recomputes maxCooks over
    # the samples whose outliers could not be replaced
    if g.cooks_flagged.sum() > new_all_zero.sum():
        g.max_cooks = max_unreplaceable


def _map_glm_cooks(
    y: np.ndarray,
    nf: np.ndarray,
    factors_cooks: np.ndarray,
    x: np.ndarray,
    mu_gene: np.ndarray,
    g: GeneFit,
    b: slice,
    prior: tuple[float, float],
    lrt: bool,
    replace_min: int | None,
) -> tuple[MAPDispersions, GLMFit, CooksPass]:
    """MAP dispersions, the GLM and the Cook's pass of one block (before any refit)."""
    var_log, prior_var = prior
    if np.isnan(prior_var):  # gene-wise dispersions are the final ones
        mapd = _genewise_as_final(g.disp_gene_est[b])
    else:
        mapd = estimate_map_dispersions(
            y, mu_gene, x, g.disp_gene_est[b], g.disp_fit[b], var_log, prior_var
        )
    block_glm = fit_nb_glm(y, x, nf, mapd.dispersion)
    cooks = cooks_pass(
        y,
        factors_cooks,
        block_glm,
        x,
        replace_min,
        # DESeq(test = "LRT") takes its Cook's distances with the gene-wise step's means
        mu=mu_gene if lrt else None,
        histogram=g.cooks_histogram,
    )
    # genes x samples arrays the rest of the fit does not need
    block_glm.mu = block_glm.hat_diagonals = None
    return mapd, block_glm, cooks


def _genewise_as_final(disp_gene_est: np.ndarray) -> MAPDispersions:
    """The gene-wise estimates as final dispersions: no MAP estimate (NaN), no outliers."""
    n = disp_gene_est.size
    return MAPDispersions(
        np.full(n, np.nan), disp_gene_est.copy(), np.zeros(n, dtype=bool), np.zeros(n, int)
    )


@dataclass
class Refit:
    """New dispersions and GLM of the genes whose counts were replaced."""

    genewise: GeneDispersions
    disp_fit: np.ndarray
    map: MAPDispersions
    glm: GLMFit


def _refit_without_outliers(
    y_fit: np.ndarray,
    nf: np.ndarray,
    refit_rows: np.ndarray,
    x: np.ndarray,
    base_mean: np.ndarray,
    trend: DispersionTrend,
    prior: tuple[float, float],
) -> Refit:
    """As DESeq2's ``refitWithoutOutliers``, for the genes of a block at ``refit_rows`` (counts
    ``y_fit`` after replacement): new gene-wise and MAP dispersions against the existing trend
    and prior, then a new GLM fit. ``base_mean`` is theirs, after replacement."""
    y, nf = y_fit[refit_rows], nf[refit_rows]
    gene = estimate_genewise_dispersions(y, nf, x)
    disp_fit = trend(base_mean)
    var_log, prior_var = prior
    refit_map = estimate_map_dispersions(
        y, gene.mu, x, gene.disp_gene_est, disp_fit, var_log, prior_var
    )
    gene.mu = None  # a genes x samples array the refit does not need
    return Refit(gene, disp_fit, refit_map, fit_nb_glm(y, x, nf, refit_map.dispersion))


def _store_refit(
    g: GeneFit,
    genes: np.ndarray,
    rows: np.ndarray,
    mapd: MAPDispersions,
    block_glm: GLMFit,
    refit: Refit,
) -> None:
    """Write a refit over the first fit: pass 1's values at ``genes`` (indices into the whole
    fit's arrays) and the block's MAP and GLM results at ``rows`` (into the block)."""
    g.disp_gene_est[genes] = refit.genewise.disp_gene_est
    g.disp_gene_iter[genes] = refit.genewise.iterations
    g.disp_fit[genes] = refit.disp_fit
    for name in ("disp_map", "dispersion", "outlier"):
        getattr(mapd, name)[rows] = getattr(refit.map, name)
    for name in GLM_PER_GENE:
        getattr(block_glm, name)[rows] = getattr(refit.glm, name)


def _store_block(
    g: GeneFit,
    b: slice,
    mapd: MAPDispersions,
    block_glm: GLMFit,
    cooks: CooksPass,
    level_columns: dict[tuple[str, str], np.ndarray],
) -> None:
    """Write a block's final per-gene values into the whole fit's arrays."""
    g.disp_map[b], g.dispersion[b], g.disp_outlier[b] = (
        mapd.disp_map,
        mapd.dispersion,
        mapd.outlier,
    )
    for name in GLM_PER_GENE:
        getattr(g.glm, name)[b] = getattr(block_glm, name)
    g.max_cooks[b], g.cooks_argmax[b] = cooks.max_cooks, cooks.argmax
    g.replaced[b], g.cooks_flagged[b] = cooks.replaced, cooks.flagged
    y_fit = cooks.counts
    g.n_above_cooks_max[b] = n_counts_above(y_fit, cooks.argmax)
    for key, cols in level_columns.items():
        g.level_all_zero[key][b] = ~(y_fit[:, cols] > 0).any(axis=1)


def _moments_xim_of_rows(nf: np.ndarray, rows: np.ndarray) -> float:
    """:func:`moments_xim` of per-gene factors of some genes, summed in chunks of rows."""
    total = np.zeros(nf.shape[1])
    for chunk in row_chunks(rows.size, nf.shape[1]):
        total += nf[rows[chunk]].sum(axis=0)
    return float(np.mean(1.0 / (total / rows.size)))
