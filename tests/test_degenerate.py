"""Degenerate data gets a decision, never a traceback (issue #19): R's numbers where R has an
answer, otherwise a :class:`dgeflow.errors.DataError` that says what was found and which config
key fixes it.

References by tests/r/make_degenerate_references.R (R 4.2.2, DESeq2 1.38.3, edgeR 3.40.2,
limma 3.54.1, locfit 1.5-9.7), which also draws the data sets; ``messages.csv`` holds the first
line of R's error where R stops. Tolerances are those of tests/test_parity_hard.py,
tests/test_parity_edger.py and tests/test_parity_limma.py.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from parity import assert_pvalues_close

import dgeflow
from dgeflow.deseq2.filtering import prefilter_counts
from dgeflow.deseq2.locfit import LocfitError, fit_locfit
from dgeflow.edger.glm import unit_nb_deviance
from dgeflow.errors import DataError
from dgeflow.methods import method
from dgeflow.normalize import normalize

REF = Path(__file__).parent / "data" / "r_reference" / "degenerate"
CONTRAST = ("condition", "treated", "control")
CONTROL = {"condition": "control"}


def _study(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    counts = pd.read_csv(REF / f"{name}_counts.csv", index_col=0)
    samples = pd.read_csv(REF / f"{name}_samples.csv", index_col=0)
    return counts, samples


def _tiny(k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first ``k`` expressed genes of the tiny study with its two all-zero genes."""
    counts, samples = _study("tiny")
    return counts.iloc[[*range(k), 3, 4]], samples


def _r_message(case: str) -> str:
    messages = pd.read_csv(REF / "messages.csv", index_col="case")["message"]
    return messages[case]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float((np.abs(a - b) / np.maximum(np.abs(b), 1e-300)).max(initial=0.0))


def _check_gene_fit(fit: dgeflow.DESeqFit, ref_file: str) -> None:
    """mcols(dds) against R at the bars of tests/test_parity_hard.py."""
    ref = pd.read_csv(REF / ref_file, index_col="gene_id")
    got = fit.gene_table.loc[ref.index]
    for col, bar in {
        "baseMean": 1e-6,
        "dispGeneEst": 1e-6,
        "dispFit": 1e-6,
        "dispersion": 5e-6,
        "deviance": 1e-5,
        "maxCooks": 1e-5,
    }.items():
        if col in ref:
            ok = ref[col].notna()
            assert (got[col].notna() == ok).all(), col
            assert _rel(got.loc[ok, col], ref.loc[ok, col]) < bar, col
    for col in [c for c in ref.columns if c.startswith("coef_")]:
        assert (got[col] - ref[col]).abs().max() < 1e-4, col


def _check_results(res: pd.DataFrame, ref_file: str) -> None:
    """results() against R at the bars of tests/test_parity_hard.py."""
    ref = pd.read_csv(REF / ref_file, index_col="gene_id")
    res = res.loc[ref.index]
    for col in ("pvalue", "padj"):
        assert (res[col].isna() == ref[col].isna()).all(), f"{col}: NA pattern"
        assert_pvalues_close(res[col], ref[col], name=col)
    ok = ref["baseMean"] > 0
    assert _rel(res["baseMean"], ref["baseMean"]) < 1e-6
    assert (res.loc[ok, "log2FoldChange"] - ref.loc[ok, "log2FoldChange"]).abs().max() < 1e-4
    assert _rel(res.loc[ok, "lfcSE"], ref.loc[ok, "lfcSE"]) < 1e-4


def _check_matrix(got: pd.DataFrame, ref_file: str, bar: float) -> None:
    ref = pd.read_csv(REF / ref_file, index_col="gene_id")
    assert np.abs(got.loc[ref.index, ref.columns].to_numpy() - ref.to_numpy()).max() < bar


# ---------------------------------------------------------------------------------------------
# 1. every gene has a zero: median of ratios is impossible, poscounts is R's answer


def test_every_gene_with_a_zero_stops_and_names_poscounts():
    counts, samples = _study("allzero")
    assert ((counts == 0).any(axis=1)).all()
    r_says = _r_message("allzero_ratio")
    assert r_says == "every gene contains at least one zero, cannot compute log geometric means"
    expected = (
        "every one of the 150 genes has a zero count in at least one of the 8 samples, so "
        f"median-of-ratios size factors cannot be computed (DESeq2: '{r_says}'). Fix: set "
        "`de.size_factors: poscounts` in the config (DESeq2's estimateSizeFactors(type = \""
        'poscounts"); size_factors="poscounts" in dgeflow.fit, vst and rlog).'
    )
    for call in (
        lambda: dgeflow.fit(counts, samples, "~ condition"),
        lambda: dgeflow.vst(counts),
        lambda: dgeflow.rlog(counts),
        lambda: dgeflow.size_factors(counts.to_numpy()),
    ):
        with pytest.raises(DataError) as err:
            call()
        assert str(err.value) == expected
    # the normalization step has one more way out
    with pytest.raises(DataError, match=r"Or drop median_of_ratios from `normalization.methods`"):
        normalize(counts, "median_of_ratios")


def test_poscounts_size_factors_and_normalization_equal_r():
    counts, _ = _study("allzero")
    ref = pd.read_csv(REF / "allzero_size_factors.csv", index_col="sample")["sizeFactor"]
    sf = dgeflow.size_factors(counts.to_numpy(), method="poscounts")
    np.testing.assert_allclose(sf, ref.loc[counts.columns], rtol=1e-12)
    # counts(dds, normalized = TRUE), the median_of_ratios matrix with de.size_factors
    normalized = normalize(counts, "median_of_ratios", size_factor_method="poscounts")
    np.testing.assert_allclose(normalized, counts / ref.loc[counts.columns].to_numpy(), rtol=1e-12)


@pytest.fixture(scope="module")
def poscounts_fit():
    counts, samples = _study("allzero")
    return dgeflow.fit(
        counts, samples, "~ condition", size_factors="poscounts", reference_levels=CONTROL
    )


def test_poscounts_deseq_equals_r(poscounts_fit):
    fit = poscounts_fit
    trend = pd.read_csv(REF / "allzero_trend.csv").iloc[0]
    assert fit.trend.fit_type == "parametric"
    assert fit.trend.asympt_disp == pytest.approx(trend["asymptDisp"], rel=1e-8)
    assert fit.trend.extra_pois == pytest.approx(trend["extraPois"], rel=1e-8)
    assert fit.var_log_disp_ests == pytest.approx(trend["varLogDispEsts"], rel=1e-8)
    assert fit.disp_prior_var == pytest.approx(trend["dispPriorVar"], rel=1e-8)
    _check_gene_fit(fit, "allzero_gene_fit.csv.gz")
    _check_results(fit.results(CONTRAST), "allzero_wald.csv.gz")


def test_poscounts_blind_vst_and_rlog_equal_r(poscounts_fit):
    # R's vst() (nsub = 1000) stops on 150 genes and recommends what dgeflow's QC then runs
    assert _r_message("allzero_vst_nsub") == "less than 'nsub' rows,"
    with pytest.raises(ValueError, match="nsub=1000"):
        poscounts_fit.vst(nsub=1000)
    _check_matrix(poscounts_fit.vst(blind=True), "allzero_vst.csv.gz", 1e-6)
    _check_matrix(poscounts_fit.rlog(blind=True), "allzero_rlog.csv.gz", 1e-6)


# ---------------------------------------------------------------------------------------------
# 2. no dispersion trend: DESeq2 stops and advises gene-wise dispersions (de.dispersion)

FLAT = (
    "the gene-wise dispersion estimates of all {n} genes are within 2 orders of magnitude of "
    "the minimum 1e-08 (none above 1e-06): the counts vary no more than Poisson noise between "
    "replicates, so no mean-dispersion trend can be fitted (DESeq2 stops too: 'all gene-wise "
    "dispersion estimates are within 2 orders of magnitude from the minimum value')."
)
GENEWISE_FIX = (
    " Fix: set `de.dispersion: genewise` in the config to use the gene-wise estimates as final "
    'dispersions, as DESeq2 advises (dispersion="genewise" in dgeflow.fit).'
)


@pytest.mark.parametrize("test", ["wald", "lrt"])
def test_poisson_like_counts_stop_and_name_genewise(test):
    counts, samples = _study("poissonlike")
    assert _r_message("poissonlike_deseq") in FLAT
    with pytest.raises(DataError) as err:
        dgeflow.fit(counts, samples, "~ condition", test=test, reduced="~ 1")
    assert str(err.value) == FLAT.format(n=150) + GENEWISE_FIX


@pytest.fixture(scope="module")
def genewise_fits():
    counts, samples = _study("poissonlike")
    options = {"reference_levels": CONTROL, "dispersion": "genewise"}
    wald = dgeflow.fit(counts, samples, "~ condition", **options)
    lrt = dgeflow.fit(counts, samples, "~ condition", test="lrt", reduced="~ 1", **options)
    return wald, lrt


def test_genewise_dispersions_equal_r_nbinom_wald_and_lrt(genewise_fits):
    wald, lrt = genewise_fits
    _check_gene_fit(wald, "poissonlike_gene_fit.csv.gz")
    _check_results(wald.results(CONTRAST), "poissonlike_wald.csv.gz")
    _check_results(lrt.results(), "poissonlike_lrt.csv.gz")


def test_genewise_fit_has_no_trend_and_replaces_no_outliers(genewise_fits):
    fit = genewise_fits[0]
    table = fit.gene_table
    assert (table["dispersion"] == table["dispGeneEst"]).all()
    assert table[["dispFit", "dispMAP"]].isna().all().all()
    assert not table["dispOutlier"].astype(bool).any()
    assert not table["replace"].astype(bool).any()
    assert fit.options["dispersion"] == "genewise"
    assert np.isnan(fit.disp_prior_var)
    with pytest.raises(DataError, match=re.escape("Fix: use vst(blind=True)")):
        fit.vst(blind=False)
    with pytest.raises(DataError, match=re.escape("Fix: use rlog(blind=True)")):
        fit.rlog(blind=False)
    # the sample QC's blind VST has a trend on these data (design ~ 1): R's numbers
    _check_matrix(fit.vst(blind=True), "poissonlike_vst.csv.gz", 1e-6)


def test_genewise_fit_in_blocks_equals_fit_in_one(genewise_fits):
    counts, samples = _study("poissonlike")
    blocks = dgeflow.fit(
        counts,
        samples,
        "~ condition",
        reference_levels=CONTROL,
        dispersion="genewise",
        block_elements=40 * counts.shape[1],
    )
    a, b = genewise_fits[0].gene_table, blocks.gene_table
    assert (a.isna() == b.isna()).all().all()
    for col in ("dispersion", "deviance", "maxCooks"):
        assert _rel(b[col].dropna(), a[col].dropna()) < 1e-9, col


def test_config_key_reaches_the_fit():
    de = {
        "size_factors": "ratio",
        "fit_type": "parametric",
        "test": "wald",
        "reduced": None,
        "min_replicates_for_replace": 7,
    }
    assert method("deseq2").fit_options(de)["dispersion"] == "shrunken"
    assert method("deseq2").fit_options(de | {"dispersion": "genewise"})["dispersion"] == (
        "genewise"
    )
    counts, samples = _study("poissonlike")
    with pytest.raises(ValueError, match="dispersion must be one of shrunken, genewise"):
        dgeflow.fit(counts, samples, "~ condition", dispersion="gene-wise")


@pytest.mark.parametrize("transform", ["vst", "rlog"])
def test_blind_transform_without_a_trend_stops(transform):
    counts, _ = _study("flat")
    assert _r_message(f"flat_{transform}") in FLAT
    with pytest.raises(DataError) as err:
        getattr(dgeflow, transform)(counts)
    assert str(err.value) == (
        f"{transform} (design ~ 1): {FLAT.format(n=40)} The blind {transform} (the sample QC's "
        "transformation) needs that trend, and DESeq2 has no gene-wise alternative for it. Fix: "
        "no qc setting avoids it: check the counts (samples that differ by Poisson noise only, "
        "e.g. technical replicates or simulated Poisson counts, or a study with very few genes)."
    )


def test_independent_filtering_keeps_every_gene_without_rejections():
    # DESeq2 filters only when more than 10 genes are rejected, so it never removes them all
    counts, samples = _study("flat")
    res = dgeflow.fit(counts, samples, "~ condition", dispersion="genewise").results()
    assert (res["padj"] < 0.1).sum() <= 10
    assert res["padj"].notna().equals(res["pvalue"].notna())
    assert res.attrs["filter_theta"] == 0.0


# ---------------------------------------------------------------------------------------------
# 3. very few genes: R's parametric trend, its locfit fallback, and where they stop


def test_one_gene_stops_and_genewise_equals_r():
    counts, samples = _tiny(1)
    assert _r_message("tiny1_deseq") in FLAT
    with pytest.raises(DataError) as err:
        dgeflow.fit(counts, samples, "~ condition")
    assert str(err.value) == FLAT.format(n=1) + GENEWISE_FIX
    fit = dgeflow.fit(
        counts, samples, "~ condition", reference_levels=CONTROL, dispersion="genewise"
    )
    _check_results(fit.results(CONTRAST), "tiny1_genewise_wald.csv.gz")


@pytest.mark.parametrize("k", [2, 3])
def test_few_genes_fall_back_to_r_locfit(k):
    # 2 genes: one estimate above 1e-6, so the parametric fit has one point and locfit's trend
    # is that gene's dispersion; 3 genes: locfit's neighbourhoods hold one point each
    counts, samples = _tiny(k)
    assert _r_message(f"tiny{k}_deseq") == "no error"
    with pytest.warns(UserWarning, match="parametric dispersion trend failed"):
        fit = dgeflow.fit(counts, samples, "~ condition", reference_levels=CONTROL)
    assert fit.trend.fit_type == "local"
    _check_gene_fit(fit, f"tiny{k}_gene_fit.csv.gz")
    _check_results(fit.results(CONTRAST), f"tiny{k}_wald.csv.gz")


def test_vst_of_two_genes_stops_and_names_mean_fit_type():
    counts, _ = _tiny(2)
    r_says = _r_message("tiny2_vst")
    assert r_says == "newsplit: out of vertex space"
    with warnings.catch_warnings(), pytest.raises(DataError) as err:
        warnings.simplefilter("ignore", UserWarning)
        dgeflow.vst(counts)
    assert str(err.value) == (
        "vst (design ~ 1): the parametric trend failed and the local dispersion trend (R's "
        "locfit, nearest-neighbour fraction 0.7) cannot be fitted on the 2 genes with a "
        f"gene-wise dispersion above 100 x the minimum (DESeq2 stops in locfit too: '{r_says}'). "
        "Fix: set `de.fit_type: mean` in the config (the blind vst uses it)."
    )
    _check_matrix(dgeflow.vst(counts, fit_type="mean"), "tiny2_vst_mean.csv.gz", 1e-6)


def test_locfit_on_two_trend_genes_stops_and_names_mean_fit_type():
    counts, samples = _study("twotrend")
    r_says = _r_message("twotrend_deseq")
    assert r_says == "newsplit: out of vertex space"
    with warnings.catch_warnings(), pytest.raises(DataError) as err:
        warnings.simplefilter("ignore", UserWarning)
        dgeflow.fit(counts, samples, "~ condition")
    assert str(err.value) == (
        "the parametric trend failed and the local dispersion trend (R's locfit, "
        "nearest-neighbour fraction 0.7) cannot be fitted on the 2 genes with a gene-wise "
        f"dispersion above 100 x the minimum (DESeq2 stops in locfit too: '{r_says}'). Fix: set "
        "`de.fit_type: mean` (one dispersion for every gene) or `de.dispersion: genewise` in "
        "the config."
    )
    fit = dgeflow.fit(counts, samples, "~ condition", fit_type="mean", reference_levels=CONTROL)
    _check_gene_fit(fit, "twotrend_mean_gene_fit.csv.gz")
    _check_results(fit.results(CONTRAST), "twotrend_mean_wald.csv.gz")


def test_counts_of_at_most_three_fall_back_to_r_locfit():
    counts, samples = _study("sparse")
    assert counts.to_numpy().max() <= 3
    with pytest.warns(UserWarning, match="parametric dispersion trend failed"):
        fit = dgeflow.fit(counts, samples, "~ condition", reference_levels=CONTROL)
    assert fit.trend.fit_type == "local"
    # genes below 1e-6 lie outside the trend's range too: locfit's extrapolation
    _check_gene_fit(fit, "sparse_gene_fit.csv.gz")
    _check_results(fit.results(CONTRAST), "sparse_wald.csv.gz")
    _check_matrix(fit.vst(blind=True), "sparse_vst.csv.gz", 1e-6)


def test_locfit_equals_r_inside_and_beyond_the_data():
    cases = pd.read_csv(REF / "locfit_cases.csv.gz")
    for case, rows in cases.groupby("case"):
        data = rows.dropna(subset=["logMeans"])
        fit = fit_locfit(data["logMeans"], data["logDisps"], np.exp(data["logMeans"]))
        got = fit(rows["at"].to_numpy())
        np.testing.assert_allclose(got, rows["predicted"], rtol=1e-8, atol=1e-8, err_msg=case)
    with pytest.raises(LocfitError, match="newsplit: out of vertex space"):
        fit_locfit(np.array([1.0, 2.0]), np.array([-2.0, -3.0]), np.array([3.0, 7.0]))


def test_edger_unit_deviance_equals_r():
    # below dispersion 1e-4 edgeR uses an expansion whose 2/3 is C++ integer division
    ref = pd.read_csv(REF / "edger_unit_deviance.csv")
    got = unit_nb_deviance(
        ref[["y"]].to_numpy(), ref[["mu"]].to_numpy(), ref["dispersion"].to_numpy()
    )[:, 0]
    np.testing.assert_allclose(got, ref["deviance"], rtol=1e-13)


@pytest.mark.parametrize("k", [2, 3])
def test_edger_and_voom_on_few_genes_equal_r(k):
    counts, samples = _tiny(k)
    ql = dgeflow.fit(counts, samples, "~ condition", method="edger_ql", reference_levels=CONTROL)
    res = ql.results(CONTRAST)
    ref = pd.read_csv(REF / f"tiny{k}_qlf.csv", index_col="gene_id").loc[res.index]
    np.testing.assert_allclose(res["logFC"], ref["logFC"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(res["logCPM"], ref["logCPM"], rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(res["F"], ref["F"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res["PValue"], ref["PValue"], rtol=1e-5, atol=0)
    np.testing.assert_allclose(ql.var_post, ref["var.post"], rtol=1e-6)
    np.testing.assert_allclose(np.broadcast_to(ql.df_prior, len(ref)), ref["df.prior"], rtol=1e-6)
    voom = dgeflow.fit(
        counts, samples, "~ condition", method="limma_voom", reference_levels=CONTROL
    )
    res = voom.results(CONTRAST)
    ref = pd.read_csv(REF / f"tiny{k}_voom.csv", index_col="gene_id").loc[res.index]
    for col in ("logFC", "AveExpr", "t", "B"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-6, atol=1e-7, err_msg=col)
    for col in ("P.Value", "adj.P.Val"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-6, atol=0, err_msg=col)


FILTER_BY_EXPR = (
    "edgeR's filterByExpr (min.count 10 reads at the median library size in the smallest "
    "group's number of samples, min.total.count 15) kept {kept} of the {n} genes"
)


def test_edger_and_voom_on_one_gene_stop():
    counts, samples = _tiny(1)
    # R: glmQLFit on one gene gives no F statistic or p-value; voom stops
    assert pd.read_csv(REF / "tiny1_qlf.csv")[["F", "PValue"]].isna().all().all()
    voom_says = _r_message("tiny1_voom")
    assert voom_says == "Need at least two genes to fit a mean-variance trend"
    too_few = (
        ". Fix: the study has too few genes with reads for this method: check the counts, or "
        "remove it from `de.methods`."
    )
    for name, label, why in (
        (
            "edger_ql",
            "edgeR",
            "edgeR's glmQLFit has no second gene to share a prior with: its F statistic and "
            "p-value are NaN",
        ),
        ("limma_voom", "limma-voom", f"limma's voom stops: '{voom_says}'"),
    ):
        with pytest.raises(DataError) as err:
            dgeflow.fit(counts, samples, "~ condition", method=name)
        assert str(err.value) == (
            FILTER_BY_EXPR.format(kept=1, n=3)
            + f", and {label} needs at least 2 ({why})"
            + too_few
        )


# ---------------------------------------------------------------------------------------------
# 4. a filter that removes every gene


def test_prefilter_removing_every_gene_names_its_keys():
    counts, _ = _study("sparse")
    with pytest.raises(DataError) as err:
        prefilter_counts(counts, 10, 3)
    assert str(err.value) == (
        "the count pre-filter (filtering.min_count=10 reads in at least filtering.min_samples=3 "
        "samples) removed all 120 genes (largest count: 3). Fix: lower `filtering.min_count` or "
        "`filtering.min_samples` in the config (`filtering.min_count: 0` turns the pre-filter "
        "off)."
    )
    with pytest.raises(DataError, match=re.escape("min_samples=7 samples (the study has 6)")):
        prefilter_counts(counts, 1, 7)
    assert len(prefilter_counts(counts, 3, 1)) == int((counts >= 3).any(axis=1).sum())


@pytest.mark.parametrize(("name", "label"), [("edger_ql", "edgeR"), ("limma_voom", "limma-voom")])
def test_filter_by_expr_removing_every_gene_names_its_key(name, label):
    counts, samples = _study("sparse")
    with pytest.raises(DataError) as err:
        dgeflow.fit(counts, samples, "~ condition", method=name)
    assert str(err.value) == (
        FILTER_BY_EXPR.format(kept=0, n=120) + f", so {label} has nothing to fit. Fix: set "
        "`de.filter_by_expr: false` in the config (fits the 119 genes with a read), or check the "
        "counts."
    )
    fit = dgeflow.fit(counts, samples, "~ condition", method=name, filter_by_expr=False)
    assert fit.keep.sum() == 119 == (counts.sum(axis=1) > 0).sum()


def test_no_gene_with_a_read_for_the_filtered_methods():
    counts, samples = _tiny(1)
    with pytest.raises(DataError) as err:
        dgeflow.fit(
            counts.iloc[1:], samples, "~ condition", method="edger_ql", filter_by_expr=False
        )
    assert str(err.value) == (
        "0 of the 2 genes have a read, so edgeR has nothing to fit. Fix: the study has too few "
        "genes with reads for this method: check the counts, or remove it from `de.methods`."
    )
