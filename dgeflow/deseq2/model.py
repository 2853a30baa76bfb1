"""The public DE API: ``fit()`` runs DESeq2's pipeline once per design; ``DESeqFit.results()``
tests contrasts on it.

``DESeqFit`` is a thin object over the pipeline's per-gene arrays: the numbers come from the
functions of :mod:`dgeflow.deseq2.pipeline` (fitting), :mod:`dgeflow.deseq2.results` (tests,
filtering) and :mod:`dgeflow.deseq2.transforms` (VST, rlog, Cook's distances per sample).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import contrast_vector, is_level_contrast
from dgeflow.deseq2.blocks import BLOCK_ELEMENTS, factors_of_rows, full_gene_array
from dgeflow.deseq2.gene_fit import GeneFit, fitted_counts, gene_table
from dgeflow.deseq2.glm import GLMFit
from dgeflow.deseq2.inputs import count_values, level_columns, resolve_factors, unpack_tximport
from dgeflow.deseq2.pipeline import DISPERSIONS, PipelineFit, fit_pipeline
from dgeflow.deseq2.results import (
    LOG2,
    RESULT_COLUMNS,
    adjusted_pvalues,
    check_test,
    contrast_statistics,
    cooks_outliers,
    level_contrast_all_zero,
    needs_releveling,
    numeric_contrast_all_zero,
    reduced_design,
    reduced_model_fit,
    results_frame,
    zero_all_zero_genes,
)
from dgeflow.deseq2.rlog import rlog_from_trend
from dgeflow.deseq2.shrink import shrink_lfc
from dgeflow.deseq2.transforms import VstSubsetError, cooks_by_sample, rlog, vst
from dgeflow.deseq2.trend import GENEWISE, DispersionTrend
from dgeflow.deseq2.vst import vst_from_trend
from dgeflow.errors import DataError
from dgeflow.fit_file import write_fit
from dgeflow.formula import DesignMatrix, fitted_design, parse_formula
from dgeflow.normalize.tx_lengths import TxImport

__all__ = ["BLOCK_ELEMENTS", "RESULT_COLUMNS", "DESeqFit", "VstSubsetError", "fit", "rlog", "vst"]

log = logging.getLogger(__name__)


class DESeqFit:
    """A DESeq2-style fit of one design: size factors, dispersions and the NB GLM.

    Create it with :func:`fit`. Attributes are pandas objects indexed by gene or sample id.
    """

    method = "deseq2"

    def __init__(
        self,
        counts: pd.DataFrame,
        samples: pd.DataFrame,
        design: DesignMatrix,
        size_factors: np.ndarray,
        trend: DispersionTrend,
        var_log_disp_ests: float,
        prior_var: float,
        base_mean: np.ndarray,
        base_var: np.ndarray,
        gene_fit: GeneFit,
        options: dict[str, Any],
    ):
        self._counts = counts
        self._counts_source: str | None = None
        # reads a counts file back (set by dgeflow.methods.load_fit for a fit saved without them)
        self.counts_loader: Callable[[str], pd.DataFrame] | None = None
        self.gene_ids = counts.index
        self.sample_ids = counts.columns
        self.samples = samples
        self.design = design
        self._sf = size_factors
        self.trend = trend
        self.var_log_disp_ests = var_log_disp_ests
        self.disp_prior_var = prior_var
        self._base_mean = base_mean
        self._base_var = base_var
        self._g = gene_fit
        self.options = options

    @classmethod
    def from_pipeline(
        cls,
        counts: pd.DataFrame,
        samples: pd.DataFrame,
        design: DesignMatrix,
        factors: np.ndarray,
        fitted: PipelineFit,
        test: str,
        reduced: str | None,
        min_replicates_for_replace: int | None,
        fit_type: str = "parametric",
        dispersion: str = "shrunken",
    ) -> DESeqFit:
        """The fit object over what :func:`dgeflow.deseq2.pipeline.fit_pipeline` returned,
        with the options of :func:`fit` that :meth:`results` and a refit need.

        ``fit_type`` is the trend fitted (after DESeq2's fallback from parametric to local),
        or the one asked for when the fit has no trend (gene-wise dispersions): the blind
        transformations fit that one."""
        genewise = fitted.trend.fit_type == GENEWISE
        options = dict(
            fit_type=fit_type if genewise else fitted.trend.fit_type,
            test=test.lower(),
            reduced=reduced,
            min_replicates_for_replace=min_replicates_for_replace,
            dispersion=dispersion,
        )
        return cls(
            counts,
            samples,
            design,
            factors,
            fitted.trend,
            fitted.var_log_disp_ests,
            fitted.disp_prior_var,
            fitted.base_mean,
            fitted.base_var,
            fitted.gene_fit,
            options,
        )

    # ------------------------------------------------------------------ accessors
    @property
    def counts(self) -> pd.DataFrame:
        """The raw counts of the fit (read back from its counts file for a fit saved without
        them, see :meth:`save`)."""
        if self._counts is None:
            if self._counts_source is None or self.counts_loader is None:
                raise ValueError(
                    "this fit was saved without its counts: load it with dgeflow.load_fit, "
                    "which reads them back from its counts file"
                )
            counts = self.counts_loader(self._counts_source)
            self._counts = counts.loc[self.gene_ids, self.sample_ids]
        return self._counts

    def _fit_counts(self) -> np.ndarray:
        """Counts of the fitted genes after outlier replacement (genes, samples)."""
        g = self._g
        if g.counts is None:
            g.counts = fitted_counts(g, self.counts)
        return g.counts

    @property
    def size_factors(self) -> pd.Series:
        """Size factor per sample (fits with per-gene normalization factors have none)."""
        if np.ndim(self._sf) == 2:
            raise ValueError(
                "this fit uses per-gene normalization factors (tximport lengths): see "
                "normalization_factors"
            )
        return pd.Series(self._sf, index=self.sample_ids, name="sizeFactor")

    @property
    def normalization_factors(self) -> pd.DataFrame:
        """Normalization factor per gene and sample (DESeq2's ``normalizationFactors``; the
        size factors repeated for every gene when the fit has no per-gene factors)."""
        nf = np.broadcast_to(self._sf, (len(self.gene_ids), len(self.sample_ids)))
        return pd.DataFrame(nf, index=self.gene_ids, columns=self.sample_ids)

    @property
    def result_names(self) -> list[str]:
        """Coefficient names, as DESeq2's ``resultsNames``."""
        return list(self.design.columns)

    def _full(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        return full_gene_array(values, self._g.genes, len(self.gene_ids), fill)

    @property
    def dispersions(self) -> pd.Series:
        """Final dispersion per gene (NaN for all-zero genes)."""
        return pd.Series(self._full(self._g.dispersion), index=self.gene_ids, name="dispersion")

    @property
    def coefficients(self) -> pd.DataFrame:
        """Fitted coefficients on the log2 scale (DESeq2's ``coef(dds)``)."""
        return pd.DataFrame(
            self._full(self._g.glm.beta / LOG2), index=self.gene_ids, columns=self.result_names
        )

    @property
    def gene_table(self) -> pd.DataFrame:
        """Per-gene fit summary with DESeq2's ``mcols(dds)`` names."""
        return gene_table(
            self._g, self.gene_ids, self._base_mean, self._base_var, self.coefficients
        )

    def cooks_by_sample(self) -> pd.DataFrame:
        """Distribution over genes of each sample's Cook's distances, on the log10 scale: the
        numbers behind DESeq2's ``boxplot(log10(assays(dds)[["cooks"]]), range=0)``.

        Quartiles are interpolated from a histogram the fit keeps (within 0.035 of the exact
        ones); see :func:`dgeflow.deseq2.transforms.cooks_by_sample` for which Cook's
        distances they are and how exact.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``sample_id``; columns ``n_genes`` (genes with a Cook's distance),
            ``min``, ``q25``, ``median``, ``q75``, ``max`` (log10 Cook's distance; NaN for a
            sample without any).
        """
        hist = self._g.cooks_histogram
        if hist is None:
            raise ValueError(
                "this fit was saved by a dgeflow version that did not keep Cook's distances "
                "per sample: fit the design again"
            )
        return cooks_by_sample(hist, self.sample_ids)

    # ------------------------------------------------------------------ contrasts
    def contrast_vector(self, contrast: Any = None) -> tuple[np.ndarray, str]:
        """Resolve a contrast to a coefficient vector and a label (see
        :func:`dgeflow.contrasts.contrast_vector`)."""
        return contrast_vector(self.design, contrast)

    # ------------------------------------------------------------------ results
    def results(
        self,
        contrast: Any = None,
        *,
        test: str | None = None,
        reduced: str | None = None,
        lfc_threshold: float = 0.0,
        alt_hypothesis: str = "greaterAbs",
        alpha: float = 0.1,
        independent_filtering: bool = True,
        cooks_cutoff: float | bool | None = None,
        shrink: str | None = None,
    ) -> pd.DataFrame:
        """Test a contrast, as DESeq2's ``results()``.

        Parameters
        ----------
        contrast
            ``(factor, level, reference)``, a coefficient name, a numeric vector, or ``None``
            for the last coefficient.
        test
            ``"wald"`` (default unless the fit was made with ``test="lrt"``) or ``"lrt"``.
        reduced
            Reduced formula for the LRT (default: the one given to :func:`fit`).
        lfc_threshold, alt_hypothesis
            Wald test against ``|LFC| > T`` (``greaterAbs``), ``|LFC| < T`` (``lessAbs``),
            ``LFC > T`` (``greater``) or ``LFC < -T`` (``less``).
        alpha
            FDR level that independent filtering optimizes (DESeq2's default 0.1).
        independent_filtering
            Filter on the mean of normalized counts before BH.
        cooks_cutoff
            ``None`` for the 99% quantile of F(p, m - p), a number, or ``False`` to disable.
        shrink
            ``None``, ``"normal"`` or ``"apeglm"``: adds ``log2FoldChange_shrunk`` and
            ``lfcSE_shrunk`` (the test columns stay the MLE's, as ``lfcShrink`` does).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``gene_id`` with DESeq2's columns. ``attrs`` hold ``filter_threshold``,
            ``filter_theta``, ``filter_curve``, ``alpha``, ``contrast`` and ``test``.
            ``filter_curve`` is DESeq2's ``metadata(res)$filterNumRej`` with its lowess
            curve (``lo.fit``), as a dict of lists, ``None`` without independent filtering;
            :func:`dgeflow.deseq2.filtering.filter_curve` makes it a DataFrame (see
            :func:`~dgeflow.deseq2.filtering.independent_filtering` for the columns).
        """
        test = check_test(test or self.options["test"])
        g = self._g
        vec, label = self.contrast_vector(contrast)
        reduced_fit = self._reduced_fit(self._lrt_formula(reduced)) if test == "lrt" else None
        lfc, se, stat, pvalue = contrast_statistics(
            g.glm, vec, test, lfc_threshold, alt_hypothesis, reduced_fit
        )
        if is_level_contrast(contrast):
            zero = level_contrast_all_zero(
                contrast, g.level_all_zero, self.samples, self._fit_counts
            )
            lfc, stat, pvalue = zero_all_zero_genes(lfc, stat, pvalue, zero, test)
        else:
            zero = numeric_contrast_all_zero(vec, self.design.matrix, self._fit_counts)
            if zero.any():
                lfc, stat, pvalue = zero_all_zero_genes(lfc, stat, pvalue, zero, test)
        pvalue = pvalue.copy()
        if cooks_cutoff is not False:
            outlier = cooks_outliers(g.max_cooks, g.n_above_cooks_max, self.design, cooks_cutoff)
            pvalue[outlier] = np.nan
        res = results_frame(self.gene_ids, g.genes, self._base_mean, lfc, se, stat, pvalue)
        padj, filter_attrs = adjusted_pvalues(
            res["pvalue"].to_numpy(), res["baseMean"].to_numpy(), alpha, independent_filtering
        )
        res["padj"] = padj
        if shrink:
            s_lfc, s_se = self._shrunken_lfc(contrast, vec, shrink)
            res["log2FoldChange_shrunk"] = self._full(s_lfc)
            res["lfcSE_shrunk"] = self._full(s_se)
        res.attrs.update(**filter_attrs, alpha=alpha, contrast=label, test=test)
        return res

    def _lrt_formula(self, reduced: str | None) -> str:
        reduced = reduced or self.options.get("reduced")
        if not reduced:
            raise ValueError("test='lrt' needs a reduced formula, e.g. reduced='~ 1'")
        return reduced

    def _reduced_fit(self, reduced: str) -> tuple[GLMFit, int]:
        """The reduced model's fit and the LRT's degrees of freedom (computed once)."""
        g = self._g
        if reduced not in g.reduced_fits:
            rdm = reduced_design(reduced, self.samples, self.design)
            y = self._fit_counts()
            nf = factors_of_rows(self._sf, g.genes, y.shape)
            df = self.design.matrix.shape[1] - rdm.matrix.shape[1]
            g.reduced_fits[reduced] = (reduced_model_fit(y, nf, g.dispersion, rdm.matrix), df)
        return g.reduced_fits[reduced]

    def _shrunken_lfc(
        self, contrast: Any, vec: np.ndarray, method: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shrunken LFCs and SDs of the contrast, on a releveled fit when it needs one (see
        :func:`dgeflow.deseq2.results.needs_releveling`)."""
        target, target_vec = self, vec
        if needs_releveling(vec, contrast):
            target = self._releveled(contrast[0], contrast[2])
            target_vec, _ = target.contrast_vector(contrast)
        return shrink_lfc(target, target_vec, method)

    def _releveled(self, factor: str, reference: str) -> DESeqFit:
        """This fit refitted with ``reference`` as the baseline of ``factor`` (cached)."""
        cache = self.__dict__.setdefault("_releveled_fits", {})
        if (factor, reference) not in cache:
            cache[(factor, reference)] = fit(
                self.counts,
                self.samples,
                self.design.formula.text,
                reference_levels={**self.design.reference_levels, factor: reference},
                **(
                    {"normalization_factors": self._sf}
                    if np.ndim(self._sf) == 2
                    else {"size_factors": pd.Series(self._sf, index=self.sample_ids)}
                ),
                fit_type=self.options["fit_type"],
                test=self.options["test"],
                reduced=self.options["reduced"],
                min_replicates_for_replace=self.options["min_replicates_for_replace"],
                # fits pickled before the option existed shrank their dispersions
                dispersion=self.options.get("dispersion", "shrunken"),
            )
        return cache[(factor, reference)]

    # ------------------------------------------------------------------ transforms
    def vst(self, blind: bool = True, nsub: int | None = None) -> pd.DataFrame:
        """Variance-stabilizing transformation (DESeq2's ``varianceStabilizingTransformation``,
        or its ``vst()`` with ``nsub``).

        ``blind=True`` refits the dispersion trend with the design ``~ 1`` (on ``nsub`` genes
        spread over the range of means when given, as DESeq2's ``vst()``); ``blind=False`` uses
        this fit's trend (a fit with gene-wise dispersions has none: a DataError).
        """
        if blind:
            fit_type = self.options.get("fit_type", self.trend.fit_type)
            return vst(self.counts, fit_type=fit_type, size_factors=self._sf, nsub=nsub)
        return vst_from_trend(self.counts, self._sf, self._fitted_trend("vst"))

    def rlog(self, blind: bool = True) -> pd.DataFrame:
        """Regularized log transformation (DESeq2's ``rlog``), log2 scale.

        ``blind=True`` refits the dispersion trend with the design ``~ 1``; ``blind=False``
        uses this fit's trend (a fit with gene-wise dispersions has none: a DataError). Slower
        than :meth:`vst`: a GLM with one coefficient per sample.
        """
        if blind:
            fit_type = self.options.get("fit_type", self.trend.fit_type)
            return rlog(self.counts, fit_type=fit_type, size_factors=self._sf)
        return rlog_from_trend(self.counts, self._sf, self._fitted_trend("rlog"))[0]

    def _fitted_trend(self, transform: str) -> DispersionTrend:
        """This fit's dispersion trend, for a transformation with ``blind=False``."""
        if self.trend.fit_type == GENEWISE:
            raise DataError(
                f"{transform}(blind=False) needs the fit's dispersion trend, and this fit has "
                "none: its final dispersions are the gene-wise estimates (de.dispersion: "
                f"genewise). Fix: use {transform}(blind=True), which fits a trend of its own."
            )
        return self.trend

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, counts_path: str | Path | None = None) -> None:
        """Pickle the fit (for the workflow's one-fit, many-contrasts jobs).

        With ``counts_path`` (the file the counts were read from, e.g. the workflow's
        validated counts), the pickle holds no count matrix: Wald and LRT results need only
        per-gene values; shrinkage and transformations read the counts back from that file.
        """
        state = self
        if counts_path is not None:
            state = copy.copy(self)
            state._counts = None
            state._counts_source = str(counts_path)
            state._g = dataclasses.replace(self._g, counts=None)
            state.__dict__.pop("_releveled_fits", None)
            state.counts_loader = None
        write_fit(path, self.method, state)


def fit(
    counts: pd.DataFrame | TxImport,
    samples: pd.DataFrame,
    design: str,
    *,
    reference_levels: dict[str, str] | None = None,
    size_factors: str | np.ndarray | pd.Series = "ratio",
    control_genes: np.ndarray | list | None = None,
    fit_type: str = "parametric",
    test: str = "wald",
    reduced: str | None = None,
    min_replicates_for_replace: int | None = 7,
    normalization_factors: pd.DataFrame | np.ndarray | None = None,
    block_elements: int | None = None,
    dispersion: str = "shrunken",
) -> DESeqFit:
    """Fit DESeq2's model: size factors, dispersions (gene-wise, trend, MAP) and the NB GLM.

    Parameters
    ----------
    counts
        Raw integer counts, genes x samples, gene ids as index.
    samples
        Sample sheet indexed by sample id (same ids as the count columns).
    design
        Formula such as ``"~ sex + strain + treatment"`` (parsed, never evaluated).
    reference_levels
        ``{factor: reference level}``; otherwise the first level in sorted order.
    size_factors
        ``"ratio"`` (median of ratios), ``"poscounts"``, or the factors themselves.
    control_genes
        Genes (ids or boolean mask) to estimate size factors from.
    fit_type
        Dispersion trend: ``"parametric"`` (falls back to ``"local"``), ``"local"``, ``"mean"``.
    test
        Default test of :meth:`DESeqFit.results`: ``"wald"`` or ``"lrt"``.
    reduced
        Reduced formula for the LRT.
    min_replicates_for_replace
        Replace Cook's outlier counts in design cells with at least this many samples and
        refit those genes (DESeq2's default 7); ``None`` disables replacement.
    normalization_factors
        Per gene and sample factors instead of size factors (DESeq2's
        ``normalizationFactors``). ``counts`` may also be a :class:`dgeflow.TxImport`: its
        counts are rounded and, with ``counts_from_abundance="no"``, its average transcript
        lengths become normalization factors, as ``DESeqDataSetFromTximport`` +
        ``estimateSizeFactors``.
    block_elements
        Genes x samples above which the fit works on blocks of genes, so that its memory
        stays bounded whatever the study's size (default ``BLOCK_ELEMENTS``, 40 million
        counts); the numbers do not depend on it.
    dispersion
        ``"shrunken"`` (DESeq2's ``DESeq()``: MAP dispersions shrunk towards the trend) or
        ``"genewise"``: the gene-wise estimates are the final dispersions, DESeq2's advice for
        data on which no trend can be fitted (``estimateDispersionsGeneEst``,
        ``dispersions(dds) <- mcols(dds)$dispGeneEst``, then ``nbinomWaldTest`` or
        ``nbinomLRT``). No trend, no MAP step and no Cook's outlier replacement (which only
        ``DESeq()`` does); Cook's distances still flag outliers in :meth:`DESeqFit.results`.

    Returns
    -------
    DESeqFit

    Raises
    ------
    DataError
        Data DESeq2 cannot fit as asked: every gene has a zero with ``size_factors="ratio"``,
        or no dispersion trend can be fitted with ``dispersion="shrunken"``; the message names
        the option that fixes it.
    """
    block_elements = BLOCK_ELEMENTS if block_elements is None else int(block_elements)
    if dispersion not in DISPERSIONS:
        raise ValueError(f"dispersion must be one of {', '.join(DISPERSIONS)}, got {dispersion!r}")
    counts, normalization_factors = unpack_tximport(counts, normalization_factors)
    samples, dm = fitted_design(counts, samples, design, reference_levels)
    if reduced:
        parse_formula(reduced)
    values = count_values(counts)
    progress = _progress_log()
    sf = resolve_factors(counts, values, size_factors, normalization_factors, control_genes)
    fitted = fit_pipeline(
        values,
        sf,
        dm.matrix,
        level_columns(samples, dm),
        fit_type=fit_type,
        lrt=test.lower() == "lrt",
        min_replicates_for_replace=min_replicates_for_replace,
        block_elements=block_elements,
        progress=progress,
        dispersion=dispersion,
    )
    return DESeqFit.from_pipeline(
        counts,
        samples,
        dm,
        sf,
        fitted,
        test,
        reduced,
        min_replicates_for_replace,
        fit_type=fit_type,
        dispersion=dispersion,
    )


def _progress_log() -> Callable[..., None]:
    """Progress of long fits, in the workflow's log: what was done, how many, how long (since
    this call)."""
    started = time.perf_counter()

    def stage(message: str, *args: Any) -> None:
        log.info("DESeq2 fit: " + message + " (%.1f s)", *args, time.perf_counter() - started)

    return stage
