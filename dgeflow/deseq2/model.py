"""The public DE API: ``fit()`` runs DESeq2's pipeline once per design; ``DESeqFit.results()``
tests contrasts on it."""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dgeflow.contrasts import contrast_vector, is_level_contrast
from dgeflow.deseq2 import cooks as cooks_mod
from dgeflow.deseq2 import filtering
from dgeflow.deseq2.dispersion import (
    estimate_genewise_dispersions,
    estimate_map_dispersions,
    genewise_start,
    moments_xim,
)
from dgeflow.deseq2.glm import GLMFit, fit_nb_glm
from dgeflow.deseq2.hypothesis import lrt_test, wald_test
from dgeflow.deseq2.rlog import rlog_from_trend
from dgeflow.deseq2.trend import DispersionTrend, dispersion_prior_variance, fit_dispersion_trend
from dgeflow.deseq2.vst import vst_from_trend
from dgeflow.fit_file import write_fit
from dgeflow.formula import (
    DesignMatrix,
    FormulaError,
    design_matrix,
    fitted_design,
    parse_formula,
)
from dgeflow.normalize.size_factors import size_factors as estimate_size_factors
from dgeflow.normalize.tx_lengths import TxImport, deseq2_normalization_factors
from dgeflow.stats.multiple_testing import bh_adjust
from dgeflow.stats.nb import nb_deviance
from dgeflow.threads import chunk_slices

LOG2 = np.log(2.0)
# counts (genes x samples) per block of the fit: each of its working arrays (counts, means,
# leverages) takes 320 MB at most; a study within one block is fitted in one go
BLOCK_ELEMENTS = 40_000_000
log = logging.getLogger(__name__)
RESULT_COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


@dataclass
class _GeneFit:
    """Everything fitted for the non-all-zero genes (arrays aligned with ``genes``)."""

    genes: np.ndarray  # indices into the full gene list
    counts: np.ndarray | None  # counts used for the fit (after outlier replacement)
    disp_gene_est: np.ndarray
    disp_gene_iter: np.ndarray
    disp_fit: np.ndarray
    disp_map: np.ndarray
    dispersion: np.ndarray
    disp_outlier: np.ndarray
    glm: GLMFit
    cooks_argmax: np.ndarray  # sample with the largest Cook's distance, per gene
    max_cooks: np.ndarray
    replaced: np.ndarray  # genes with a count replaced (and refitted)
    replaced_counts: np.ndarray  # their counts after replacement (replaced genes, samples)
    cooks_flagged: np.ndarray  # DESeq2's ``replace``: a Cook's distance above the cutoff
    # per gene: how many counts exceed the count at the largest Cook's distance (DESeq2's
    # two-level rule in results() needs it; kept so results() works without the counts)
    n_above_cooks_max: np.ndarray
    # {(factor, level): genes with only zero counts in that level's samples}
    level_all_zero: dict[tuple[str, str], np.ndarray]
    reduced_fits: dict[str, tuple[GLMFit, int]] = field(default_factory=dict)
    # per-sample histogram of log10 Cook's distances (DESeq2's assays(dds)[["cooks"]]); None in
    # fits pickled before it was kept (a class default, so those still load)
    cooks_histogram: cooks_mod.CooksHistogram | None = None


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
        gene_fit: _GeneFit,
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
            y = self.counts.to_numpy(dtype=float)[g.genes]
            rows = np.flatnonzero(g.replaced)
            y[rows] = g.replaced_counts
            g.counts = y
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

    def _full(self, values: np.ndarray, fill=np.nan) -> np.ndarray:
        out = np.full((len(self.gene_ids),) + values.shape[1:], fill, dtype=float)
        out[self._g.genes] = values
        return out

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
        g = self._g
        all_zero = np.ones(len(self.gene_ids), dtype=bool)
        all_zero[g.genes] = False
        table = pd.DataFrame(
            {
                "baseMean": self._base_mean,
                "baseVar": self._base_var,
                "allZero": all_zero,
                "dispGeneEst": self._full(g.disp_gene_est),
                "dispGeneIter": self._full(g.disp_gene_iter),
                "dispFit": self._full(g.disp_fit),
                "dispMAP": self._full(g.disp_map),
                "dispersion": self._full(g.dispersion),
                "dispOutlier": self._full(g.disp_outlier.astype(float)),
                "betaConv": self._full(g.glm.converged.astype(float)),
                "betaIter": self._full(g.glm.iterations),
                "deviance": self._full(g.glm.deviance),
                "maxCooks": self._full(g.max_cooks),
                "replace": self._full(g.cooks_flagged.astype(float)),
            },
            index=self.gene_ids,
        )
        coefs = self.coefficients.add_prefix("coef_")
        return pd.concat([table, coefs], axis=1)

    @property
    def normalized_counts(self) -> pd.DataFrame:
        return self.counts / self._sf

    def cooks_by_sample(self) -> pd.DataFrame:
        """Distribution over genes of each sample's Cook's distances, on the log10 scale.

        The numbers behind DESeq2's ``boxplot(log10(assays(dds)[["cooks"]]), range=0)``. The
        Cook's distances are the ones DESeq2 keeps in ``assays(dds)[["cooks"]]``: those of the
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
        n = hist.n_values
        quartiles = hist.quantiles([0.25, 0.5, 0.75])
        has = n > 0
        table = pd.DataFrame(
            {
                "n_genes": n,
                "min": np.where(has, hist.minimum, np.nan),
                "q25": quartiles[:, 0],
                "median": quartiles[:, 1],
                "q75": quartiles[:, 2],
                "max": np.where(has, hist.maximum, np.nan),
            },
            index=pd.Index(self.sample_ids, name="sample_id"),
        )
        return table

    # ------------------------------------------------------------------ contrasts
    def contrast_vector(self, contrast: Any = None) -> tuple[np.ndarray, str]:
        """Resolve a contrast to a coefficient vector and a label (see
        :func:`dgeflow.contrasts.contrast_vector`)."""
        return contrast_vector(self.design, contrast)

    # ------------------------------------------------------------------ results
    def _reduced_fit(self, reduced: str) -> tuple[GLMFit, int]:
        if reduced not in self._g.reduced_fits:
            rdm = design_matrix(parse_formula(reduced), self.samples, self.design.reference_levels)
            missing = set(rdm.columns) - set(self.design.columns)
            if missing or rdm.matrix.shape[1] >= self.design.matrix.shape[1]:
                raise FormulaError(
                    f"reduced formula {reduced!r} must be nested in the full design "
                    f"{self.design.formula.text!r} with fewer terms"
                )
            g = self._g
            y = self._fit_counts()
            nf = _sf_rows(self._sf, g.genes, y.shape)
            if rdm.matrix.shape[1] == 1 and np.all(rdm.matrix == 1):
                rfit = _intercept_only_fit(y, nf, g.dispersion)
            else:
                rfit = fit_nb_glm(y, rdm.matrix, nf, g.dispersion, with_hat=False)
            # the LRT needs the reduced model's deviance only
            rfit.mu = rfit.hat_diagonals = None
            df = self.design.matrix.shape[1] - rdm.matrix.shape[1]
            g.reduced_fits[reduced] = (rfit, df)
        return self._g.reduced_fits[reduced]

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
        test = (test or self.options["test"]).lower()
        if test not in ("wald", "lrt"):
            raise ValueError(f"test must be 'wald' or 'lrt', got {test!r}")
        g = self._g
        vec, label = self.contrast_vector(contrast)
        beta, sigma = g.glm.beta, g.glm.sigma
        lfc = beta @ vec / LOG2
        se = np.sqrt(np.einsum("i,gij,j->g", vec, sigma, vec)) / LOG2
        if test == "wald":
            stat, pvalue = wald_test(lfc, se, lfc_threshold, alt_hypothesis)
        else:
            reduced = reduced or self.options.get("reduced")
            if not reduced:
                raise ValueError("test='lrt' needs a reduced formula, e.g. reduced='~ 1'")
            rfit, df = self._reduced_fit(reduced)
            stat, pvalue = lrt_test(g.glm.deviance, rfit.deviance, df)
        if is_level_contrast(contrast):
            zero = self._contrast_all_zero(contrast)
            lfc = np.where(zero, 0.0, lfc)
            if test == "wald":
                stat = np.where(zero, 0.0, stat)
                pvalue = np.where(zero, 1.0, pvalue)
        pvalue = pvalue.copy()
        if cooks_cutoff is not False:
            outlier = self._cooks_outliers(cooks_cutoff)
            pvalue[outlier] = np.nan
        res = pd.DataFrame(
            {
                "baseMean": self._base_mean,
                "log2FoldChange": self._full(lfc),
                "lfcSE": self._full(se),
                "stat": self._full(stat),
                "pvalue": self._full(pvalue),
            },
            index=self.gene_ids,
        )
        res.index.name = "gene_id"
        threshold = theta = np.nan
        curve = None
        if independent_filtering:
            padj, threshold, theta, curve_table = filtering.independent_filtering(
                res["pvalue"].to_numpy(), res["baseMean"].to_numpy(), alpha
            )
            # plain lists, not a DataFrame: pandas compares attrs when it concatenates or
            # merges tables, and a DataFrame there makes pd.concat and merge raise
            curve = curve_table.to_dict(orient="list")
        else:
            padj = bh_adjust(res["pvalue"].to_numpy())
        res["padj"] = padj
        if shrink:
            from dgeflow.deseq2.shrink import shrink_lfc

            target, target_vec = self, vec
            if np.count_nonzero(vec) > 1 and is_level_contrast(contrast):
                # a prior shrinks one coefficient: refit with the contrast's reference as the
                # factor's baseline, which makes "level vs reference" a single coefficient (the
                # same model, reparametrized; what DESeq2 users do with relevel())
                target = self._releveled(contrast[0], contrast[2])
                target_vec, _ = target.contrast_vector(contrast)
            s_lfc, s_se = shrink_lfc(target, target_vec, shrink)
            res["log2FoldChange_shrunk"] = self._full(s_lfc)
            res["lfcSE_shrunk"] = self._full(s_se)
        res.attrs.update(
            filter_threshold=threshold,
            filter_theta=theta,
            filter_curve=curve,
            alpha=alpha,
            contrast=label,
            test=test,
        )
        return res

    def _releveled(self, factor: str, reference: str) -> DESeqFit:
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
            )
        return cache[(factor, reference)]

    def _contrast_all_zero(self, contrast) -> np.ndarray:
        factor, level, reference = contrast
        zero = self._g.level_all_zero
        if (factor, level) in zero and (factor, reference) in zero:
            return zero[factor, level] & zero[factor, reference]
        values = self.samples[factor].astype(str).to_numpy()
        cols = (values == level) | (values == reference)
        return (self._fit_counts()[:, cols] == 0).all(axis=1)

    def _cooks_outliers(self, cutoff: float | bool | None) -> np.ndarray:
        g = self._g
        m, p = self.design.matrix.shape
        if m <= p:
            return np.zeros(g.genes.size, dtype=bool)
        if cutoff is None or cutoff is True:
            cutoff = cooks_mod.cooks_cutoff(m, p)
        with np.errstate(invalid="ignore"):
            outlier = g.max_cooks > cutoff
        outlier &= ~np.isnan(g.max_cooks)
        # DESeq2: in a one-factor two-level design, keep genes where 3+ counts exceed the count
        # at the largest Cook's distance (the "outlier" is then a low count, not a high one)
        variables = self.design.formula.variables
        if (
            outlier.any()
            and len(variables) == 1
            and len(self.design.levels.get(variables[0], [])) == 2
        ):
            outlier &= g.n_above_cooks_max < 3
        return outlier

    # ------------------------------------------------------------------ transforms
    def vst(self, blind: bool = True, nsub: int | None = None) -> pd.DataFrame:
        """Variance-stabilizing transformation (DESeq2's ``varianceStabilizingTransformation``,
        or its ``vst()`` with ``nsub``).

        ``blind=True`` refits the dispersion trend with the design ``~ 1`` (on ``nsub`` genes
        spread over the range of means when given, as DESeq2's ``vst()``); ``blind=False`` uses
        this fit's trend.
        """
        if blind:
            return vst(self.counts, fit_type=self.trend.fit_type, size_factors=self._sf, nsub=nsub)
        return vst_from_trend(self.counts, self._sf, self.trend)

    def rlog(self, blind: bool = True) -> pd.DataFrame:
        """Regularized log transformation (DESeq2's ``rlog``), log2 scale.

        ``blind=True`` refits the dispersion trend with the design ``~ 1``; ``blind=False``
        uses this fit's trend. Slower than :meth:`vst`: a GLM with one coefficient per sample.
        """
        if blind:
            return rlog(self.counts, fit_type=self.trend.fit_type, size_factors=self._sf)
        return rlog_from_trend(self.counts, self._sf, self.trend)[0]

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


def _intercept_only_fit(y: np.ndarray, nf: np.ndarray, alpha: np.ndarray) -> GLMFit:
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


def _count_values(counts: pd.DataFrame) -> np.ndarray:
    """The counts as one array, checked; integer counts stay integers (no float copy of a
    large matrix: the fit converts block by block)."""
    integer_typed = all(pd.api.types.is_integer_dtype(t) for t in counts.dtypes)
    values = counts.to_numpy() if integer_typed else counts.to_numpy(dtype=float)
    for rows in _row_chunks(*values.shape):  # chunked: no full-size temporaries
        block = values[rows]
        if integer_typed:
            if block.min(initial=0) < 0:
                raise ValueError("counts must be non-negative")
            continue
        if not np.isfinite(block).all() or (block < 0).any():
            raise ValueError("counts must be finite and non-negative")
        if not np.array_equal(block, np.round(block)):
            raise ValueError("counts must be integers (round estimated counts first)")
    return values


def _row_chunks(n_rows: int, n_cols: int) -> list[slice]:
    return chunk_slices(n_rows, n_cols, elements=1 << 20)


def _sf_rows(sf: np.ndarray, rows, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The size factors (m,) or per-gene normalization factors (genes, m) of some genes."""
    if np.ndim(sf) == 2:
        return sf[rows]
    return sf if shape is None else np.broadcast_to(sf, shape)


def _normalized_mean_var(y: np.ndarray, sf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and variance of normalized counts, without a full normalized copy."""
    mean = np.empty(y.shape[0])
    var = np.empty(y.shape[0])
    for rows in _row_chunks(*y.shape):
        normed = y[rows] / _sf_rows(sf, rows)
        mean[rows] = normed.mean(axis=1)
        var[rows] = normed.var(axis=1, ddof=1)
    return mean, var


@dataclass
class _CooksPass:
    max_cooks: np.ndarray
    # the maximum over the samples whose outliers could not be replaced (see fit: DESeq2 uses
    # it instead of max_cooks unless every flagged gene became all-zero)
    max_unreplaceable: np.ndarray
    argmax: np.ndarray
    counts: np.ndarray
    replaced: np.ndarray  # a count of the gene was replaced
    flagged: np.ndarray  # a Cook's distance above the cutoff in any sample (DESeq2's replace)
    new_all_zero: np.ndarray  # replacement left the gene without reads


def _cooks_pass(y, sf, glm, x, replace_min: int | None, mu=None, histogram=None) -> _CooksPass:
    """Cook's distances chunk by chunk: per-gene maximum (DESeq2's maxCooks), the sample that
    holds it, and, where design cells have ``replace_min`` or more samples, outlier counts
    replaced by the trimmed mean (DESeq2's replaceOutliers).

    ``mu`` are the means in the Pearson residuals, by default the GLM's. DESeq2's LRT computes
    its Cook's distances before it stores the full model's means, so there they are the
    gene-wise dispersion step's (bounded below by 0.5); the caller passes those for LRT fits.
    ``histogram`` (a :class:`dgeflow.deseq2.cooks.CooksHistogram`) counts every Cook's
    distance per sample, before any replacement: the ones DESeq2 keeps in its ``cooks`` assay.
    """
    n, m = y.shape
    mu = glm.mu if mu is None else mu
    max_cooks = np.empty(n)
    max_unreplaceable = np.full(n, np.nan)
    argmax = np.empty(n, dtype=int)
    replaced = np.zeros(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)
    counts = y
    replaceable = (
        cooks_mod.n_or_more_in_cell(x, replace_min)
        if replace_min is not None
        else np.zeros(m, dtype=bool)
    )
    cutoff = cooks_mod.cooks_cutoff(*x.shape) if replaceable.any() else np.inf
    for rows in _row_chunks(n, m):
        nf = _sf_rows(sf, rows)
        c = cooks_mod.cooks_distance(y[rows], y[rows] / nf, mu[rows], glm.hat_diagonals[rows], x)
        argmax[rows] = np.argmax(np.nan_to_num(c, nan=-np.inf), axis=1)
        max_cooks[rows] = cooks_mod.max_cooks(c, x)
        if histogram is not None:
            histogram.add(c)
        if replaceable.any():
            with np.errstate(invalid="ignore"):
                flagged[rows] = (c > cutoff).any(axis=1)
            new, rep = cooks_mod.replace_outlier_counts(y[rows], nf, c, x, cutoff, replace_min)
            if rep.any():
                if counts is y:
                    counts = y.copy()
                counts[rows] = new
                replaced[rows] = rep
            # Cook's of replaceable samples no longer count: their outliers were replaced
            c[:, replaceable] = 0.0
            max_unreplaceable[rows] = np.nan if replaceable.all() else cooks_mod.max_cooks(c, x)
    new_all_zero = replaced & (counts.sum(axis=1) == 0)
    return _CooksPass(
        max_cooks, max_unreplaceable, argmax, counts, replaced, flagged, new_all_zero
    )


def _n_above(y: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Per gene, how many counts exceed the gene's count in ``column``."""
    out = np.empty(y.shape[0], dtype=np.int32)
    for rows in _row_chunks(*y.shape):
        block = y[rows]
        at = block[np.arange(block.shape[0]), column[rows]]
        out[rows] = (block > at[:, None]).sum(axis=1)
    return out


def _resolve_size_factors(size_factors, counts, y_all, control_genes) -> np.ndarray:
    if isinstance(size_factors, str):
        ctrl = None
        if control_genes is not None:
            ctrl = np.asarray(control_genes)
            if ctrl.dtype != bool:
                ctrl = counts.index.isin(ctrl)
        return estimate_size_factors(y_all, size_factors, ctrl)
    if isinstance(size_factors, pd.Series):
        sf = size_factors.reindex(counts.columns).to_numpy(dtype=float)
    else:
        sf = np.asarray(size_factors, dtype=float)
    if sf.shape != (counts.shape[1],) or not np.all(sf > 0):
        raise ValueError("size_factors must be one positive number per sample (no missing ones)")
    return sf


def _resolve_normalization_factors(factors, counts: pd.DataFrame) -> np.ndarray:
    if isinstance(factors, pd.DataFrame):
        factors = factors.reindex(index=counts.index, columns=counts.columns)
    nf = np.asarray(factors, dtype=float)
    if nf.shape != counts.shape or not np.all(np.isfinite(nf) & (nf > 0)):
        raise ValueError(
            "normalization_factors must be positive, one per gene and sample, shaped like the "
            "counts"
        )
    return nf


def _estimate_dispersions(
    y, sf_mat, x, base_mean, fit_type, trend=None, prior=None, keep_mu=False
):
    gene = estimate_genewise_dispersions(y, sf_mat, x)
    if trend is None:
        trend = fit_dispersion_trend(base_mean, gene.disp_gene_est, fit_type)
    disp_fit = trend(base_mean)
    if prior is None:
        prior = dispersion_prior_variance(gene.disp_gene_est, disp_fit, *x.shape)
    var_log, prior_var = prior
    mapd = estimate_map_dispersions(
        y, gene.mu, x, gene.disp_gene_est, disp_fit, var_log, prior_var
    )
    if not keep_mu:
        gene.mu = None  # a genes x samples array only an LRT fit's Cook's distances need
    return gene, trend, disp_fit, (var_log, prior_var), mapd


def fit(
    counts: pd.DataFrame,
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

    Returns
    -------
    DESeqFit
    """
    block_elements = BLOCK_ELEMENTS if block_elements is None else int(block_elements)
    if isinstance(counts, TxImport):
        txi = counts
        counts = txi.counts.round().astype(np.int64)
        if txi.counts_from_abundance == "no" and normalization_factors is None:
            normalization_factors = deseq2_normalization_factors(counts, txi.length)
    samples, dm = fitted_design(counts, samples, design, reference_levels)
    if reduced:
        parse_formula(reduced)
    values = _count_values(counts)
    x = dm.matrix
    m = x.shape[0]

    started = time.perf_counter()

    def stage(message: str, *args) -> None:
        # progress of long fits, in the workflow's log: what was done, how many, how long
        log.info("DESeq2 fit: " + message + " (%.1f s)", *args, time.perf_counter() - started)

    if normalization_factors is not None:
        sf = _resolve_normalization_factors(normalization_factors, counts)
    else:
        sf = _resolve_size_factors(size_factors, counts, values, control_genes)
    base_mean, base_var = _normalized_mean_var(values, sf)
    genes = np.flatnonzero(_row_sums(values) > 0)
    bm = base_mean[genes]
    stage("normalization for %d samples; %d of %d genes have reads", m, genes.size, len(counts))
    blocks = _gene_blocks(genes.size, m, block_elements)
    if len(blocks) > 1:
        stage("%d blocks of up to %d genes", len(blocks), blocks[0].stop)

    def block_counts(b: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = genes[b]
        y = values[rows].astype(float)
        return rows, y, _sf_rows(sf, rows, y.shape)

    lrt = test.lower() == "lrt"
    n = genes.size
    # the moments start uses the column means of all fitted genes' factors, in every block
    xim = moments_xim(sf) if np.ndim(sf) == 1 else _xim_of_rows(sf, genes)
    # pass 1: gene-wise dispersions, block by block; the trend and the prior need all genes
    disp_gene_est = np.empty(n)
    disp_gene_iter = np.empty(n, dtype=int)
    kept_mu = None
    for b in blocks:
        _, y, nf = block_counts(b)
        gene = estimate_genewise_dispersions(y, nf, x, xim=xim)
        disp_gene_est[b], disp_gene_iter[b] = gene.disp_gene_est, gene.iterations
        # one block: its means serve the MAP step; with several they are computed again
        kept_mu = gene.mu if len(blocks) == 1 else None
        del gene
    trend = fit_dispersion_trend(bm, disp_gene_est, fit_type)
    disp_fit = trend(bm)
    prior = dispersion_prior_variance(disp_gene_est, disp_fit, *x.shape)
    stage("gene-wise dispersions; trend %s, prior variance %.4g", trend.fit_type, prior[1])

    # pass 2: MAP dispersions, the GLM, Cook's distances and outlier refits, block by block
    p = x.shape[1]
    disp_map = np.empty(n)
    dispersion = np.empty(n)
    disp_outlier = np.empty(n, dtype=bool)
    glm = GLMFit(
        beta=np.empty((n, p)),
        sigma=np.empty((n, p, p)),
        mu=None,
        hat_diagonals=None,
        deviance=np.empty(n),
        iterations=np.empty(n, dtype=int),
        converged=np.empty(n, dtype=bool),
    )
    max_cooks = np.empty(n)
    max_unreplaceable = np.empty(n)
    cooks_argmax = np.empty(n, dtype=int)
    # Cook's distances per sample, summarized as they are computed: no genes x samples matrix
    cooks_histogram = cooks_mod.CooksHistogram.empty(m)
    replaced = np.zeros(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)
    new_all_zero = np.zeros(n, dtype=bool)
    n_above = np.empty(n, dtype=np.int32)
    level_columns = _level_columns(samples, dm)
    level_all_zero = {key: np.empty(n, dtype=bool) for key in level_columns}
    y_fit_whole = None
    replaced_counts = []
    replace_min = min_replicates_for_replace if m > p else None
    var_log, prior_var = prior
    for b in blocks:
        rows, y, nf = block_counts(b)
        mu_gene = kept_mu if kept_mu is not None else genewise_start(y, nf, x, xim=xim)[1]
        kept_mu = None
        mapd = estimate_map_dispersions(
            y, mu_gene, x, disp_gene_est[b], disp_fit[b], var_log, prior_var
        )
        block_glm = fit_nb_glm(y, x, nf, mapd.dispersion)
        # DESeq(test = "LRT") takes its Cook's distances with the gene-wise step's means
        sf_cooks = sf if np.ndim(sf) == 1 else nf
        cooks = _cooks_pass(
            y,
            sf_cooks,
            block_glm,
            x,
            replace_min,
            mu=mu_gene if lrt else None,
            histogram=cooks_histogram,
        )
        del mu_gene
        block_glm.mu = block_glm.hat_diagonals = None
        y_fit = cooks.counts
        rep = cooks.replaced
        refit_rows = np.flatnonzero(rep & (y_fit.sum(axis=1) > 0))
        if rep.any():
            bm_rep, bv_rep = _normalized_mean_var(y_fit[rep], _sf_rows(sf_cooks, rep))
            base_mean[rows[rep]], base_var[rows[rep]] = bm_rep, bv_rep
        if refit_rows.size:
            # as DESeq2's refitWithoutOutliers: new gene-wise and MAP dispersions against the
            # existing trend and prior, then a new GLM fit, for the genes with replaced counts
            gene_r, _, disp_fit_r, _, map_r = _estimate_dispersions(
                y_fit[refit_rows],
                nf[refit_rows],
                x,
                base_mean[rows[refit_rows]],
                fit_type,
                trend,
                prior,
            )
            idx = np.arange(b.start, b.stop)[refit_rows]
            disp_gene_est[idx] = gene_r.disp_gene_est
            disp_gene_iter[idx] = gene_r.iterations
            disp_fit[idx] = disp_fit_r
            for name in ("disp_map", "dispersion", "outlier"):
                getattr(mapd, name)[refit_rows] = getattr(map_r, name)
            refit = fit_nb_glm(y_fit[refit_rows], x, nf[refit_rows], map_r.dispersion)
            for name in ("beta", "sigma", "deviance", "iterations", "converged"):
                getattr(block_glm, name)[refit_rows] = getattr(refit, name)
        disp_map[b], dispersion[b], disp_outlier[b] = (
            mapd.disp_map,
            mapd.dispersion,
            mapd.outlier,
        )
        for name in ("beta", "sigma", "deviance", "iterations", "converged"):
            getattr(glm, name)[b] = getattr(block_glm, name)
        max_cooks[b], max_unreplaceable[b] = cooks.max_cooks, cooks.max_unreplaceable
        cooks_argmax[b], replaced[b], flagged[b] = cooks.argmax, rep, cooks.flagged
        new_all_zero[b] = cooks.new_all_zero
        n_above[b] = _n_above(y_fit, cooks.argmax)
        for key, cols in level_columns.items():
            level_all_zero[key][b] = ~(y_fit[:, cols] > 0).any(axis=1)
        replaced_counts.append(y_fit[rep])
        if len(blocks) == 1:
            y_fit_whole = y_fit
        if refit_rows.size:
            stage("%d genes refitted without their outliers", refit_rows.size)
    # DESeq2 refits the flagged genes (those whose counts did not change get the same numbers
    # again) and then, unless every flagged gene became all-zero, recomputes maxCooks over
    # the samples whose outliers could not be replaced
    if flagged.sum() > new_all_zero.sum():
        max_cooks = max_unreplaceable
    stage(
        "MAP dispersions (%d outliers), GLM (%d genes not converged), Cook's (%d genes with "
        "counts replaced)",
        int(disp_outlier.sum()),
        int((~glm.converged).sum()),
        int(replaced.sum()),
    )

    gene_fit = _GeneFit(
        genes=genes,
        counts=y_fit_whole,
        disp_gene_est=disp_gene_est,
        disp_gene_iter=disp_gene_iter,
        disp_fit=disp_fit,
        disp_map=disp_map,
        dispersion=dispersion,
        disp_outlier=disp_outlier,
        glm=glm,
        cooks_argmax=cooks_argmax,
        max_cooks=max_cooks,
        replaced=replaced,
        replaced_counts=np.concatenate(replaced_counts, axis=0),
        cooks_flagged=flagged,
        n_above_cooks_max=n_above,
        level_all_zero=level_all_zero,
        cooks_histogram=cooks_histogram,
    )
    options = dict(
        fit_type=trend.fit_type,
        test=test.lower(),
        reduced=reduced,
        min_replicates_for_replace=min_replicates_for_replace,
    )
    return DESeqFit(
        counts, samples, dm, sf, trend, prior[0], prior[1], base_mean, base_var, gene_fit, options
    )


def _gene_blocks(n_genes: int, n_samples: int, block_elements: int) -> list[slice]:
    """Blocks of genes for the fit's two passes: one block up to ``block_elements`` counts."""
    if n_genes * n_samples <= block_elements or n_genes == 0:
        return [slice(0, n_genes)]
    rows = max(16, block_elements // n_samples)
    return [slice(i, min(i + rows, n_genes)) for i in range(0, n_genes, rows)]


def _xim_of_rows(nf: np.ndarray, rows: np.ndarray) -> float:
    """:func:`moments_xim` of per-gene factors of some genes, summed in blocks of rows."""
    total = np.zeros(nf.shape[1])
    for chunk in _row_chunks(rows.size, nf.shape[1]):
        total += nf[rows[chunk]].sum(axis=0)
    return float(np.mean(1.0 / (total / rows.size)))


def _row_sums(values: np.ndarray) -> np.ndarray:
    out = np.empty(values.shape[0])
    for rows in _row_chunks(*values.shape):
        out[rows] = values[rows].sum(axis=1)
    return out


def _level_columns(samples: pd.DataFrame, dm: DesignMatrix) -> dict[tuple[str, str], np.ndarray]:
    """The samples of every level of every design factor."""
    out = {}
    for factor, levels in dm.levels.items():
        values = samples[factor].astype(str).to_numpy()
        for level in levels:
            out[factor, str(level)] = values == str(level)
    return out


def _blind_trend(
    counts: pd.DataFrame, fit_type: str, size_factors, nsub: int | None = None
) -> tuple[np.ndarray, object]:
    values = _count_values(counts)
    sf = estimate_size_factors(values) if size_factors is None else np.asarray(size_factors, float)
    nonzero = _row_sums(values) > 0
    if nsub is not None:
        nonzero = _vst_subset(values, sf, nsub)
    y = values[nonzero].astype(float)
    nf = _sf_rows(sf, nonzero, y.shape)
    gene = estimate_genewise_dispersions(y, nf, np.ones((y.shape[1], 1)))
    return sf, fit_dispersion_trend((y / nf).mean(axis=1), gene.disp_gene_est, fit_type)


VST_MIN_MEAN = 5.0


class VstSubsetError(ValueError):
    """Fewer genes with a mean above 5 than ``vst(nsub=...)`` asks for (DESeq2 stops too)."""


def _vst_subset(y: np.ndarray, sf: np.ndarray, nsub: int) -> np.ndarray:
    """The genes DESeq2's ``vst()`` fits its trend on: of those with a mean normalized count
    above 5, ``nsub`` evenly spaced in the order of their means (no randomness)."""
    base_mean, _ = _normalized_mean_var(y, sf)
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
    sf, trend = _blind_trend(counts, fit_type, size_factors, nsub)
    return vst_from_trend(counts, sf, trend)


def rlog(
    counts: pd.DataFrame,
    fit_type: str = "parametric",
    size_factors: np.ndarray | None = None,
) -> pd.DataFrame:
    """Blind regularized log transformation of a count matrix (DESeq2's ``rlog(blind=TRUE)``),
    log2 scale; all-zero genes are 0."""
    sf, trend = _blind_trend(counts, fit_type, size_factors)
    return rlog_from_trend(counts, sf, trend)[0]
