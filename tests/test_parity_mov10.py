"""Parity with R DESeq2 1.38.3 on the MOV10 data (../shared/data/mov10/r_reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from parity import assert_pvalues_close

import dgeflow

CONTRASTS = {
    "MOV10_overexpression_vs_control": ("sampletype", "MOV10_overexpression", "control"),
    "MOV10_knockdown_vs_control": ("sampletype", "MOV10_knockdown", "control"),
}


@pytest.fixture(scope="module")
def mov10(shared_data):
    d = shared_data / "mov10"
    counts = pd.read_csv(d / "Mov10_full_counts.txt", sep="\t", index_col=0)
    meta = pd.read_csv(d / "Mov10_full_meta.txt", sep="\t", index_col=0)
    fit = dgeflow.fit(
        counts, meta, "~ sampletype", reference_levels={"sampletype": "control"}, reduced="~ 1"
    )
    return fit, d / "r_reference"


def _ref(path):
    return pd.read_csv(path, index_col=0)


def jaccard(a: pd.Series, b: pd.Series) -> float:
    sa, sb = set(a.index[a < 0.05]), set(b.index[b < 0.05])
    return len(sa & sb) / len(sa | sb)


def check_results(ours: pd.DataFrame, ref: pd.DataFrame):
    ref = ref.loc[ours.index]
    expressed = ref["baseMean"] > 10
    lfc, rlfc = ours.loc[expressed, "log2FoldChange"], ref.loc[expressed, "log2FoldChange"]
    assert np.corrcoef(lfc, rlfc)[0, 1] > 0.999
    assert (lfc - rlfc).abs().max() < 0.01
    assert jaccard(ours["padj"], ref["padj"]) >= 0.99
    # exact agreement in practice: same NaN pattern (all-zero, Cook's, filtered) and values
    # within 1e-4 relative (measured: 2.6e-5)
    for col in ("pvalue", "padj"):
        assert (ours[col].isna() == ref[col].isna()).all(), col
        assert_pvalues_close(ours[col], ref[col], name=col)


def test_size_factors(mov10):
    fit, ref_dir = mov10
    ref = _ref(ref_dir / "deseq2_size_factors.csv")["sizeFactor"]
    np.testing.assert_allclose(fit.size_factors.loc[ref.index], ref, rtol=1e-6)


def test_dispersion_trend_and_prior(mov10):
    fit, ref_dir = mov10
    trend = _ref(ref_dir / "deseq2_dispersion_trend.csv").iloc[0]
    assert fit.trend.fit_type == "parametric"
    assert fit.trend.asympt_disp == pytest.approx(trend["asympDisp"], rel=1e-7)
    assert fit.trend.extra_pois == pytest.approx(trend["extraPois"], rel=1e-7)
    assert fit.var_log_disp_ests == pytest.approx(trend["varLogDispEsts"], rel=1e-6)
    assert fit.disp_prior_var == pytest.approx(trend["dispPriorVar"], rel=1e-6)
    assert fit.result_names == trend["resultsNames"].split(";")


def test_gene_fit(mov10):
    fit, ref_dir = mov10
    ref = _ref(ref_dir / "deseq2_gene_fit.csv.gz")
    ours = fit.gene_table.loc[ref.index]
    assert (ours["allZero"] == ref["allZero"]).all()
    nz = ~ref["allZero"]
    for col in ("dispFit", "dispersion", "deviance", "maxCooks"):
        rel = (ours.loc[nz, col] - ref.loc[nz, col]).abs() / ref.loc[nz, col].abs()
        assert rel.max() < 1e-5, col
    assert (ours.loc[nz, "dispOutlier"].astype(bool) == ref.loc[nz, "dispOutlier"]).all()
    # gene-wise estimates: 6 genes end their line search one step apart from R's (the last
    # step's gain, ~1e-11, is below the rounding of either program's log posterior), 1e-6 to
    # 1.2e-5 apart; one sits at the lower bound, where both values are rounding noise
    rel = (ours.loc[nz, "dispGeneEst"] - ref.loc[nz, "dispGeneEst"]).abs() / ref.loc[
        nz, "dispGeneEst"
    ]
    assert (rel > 1e-6).sum() <= 7
    assert (rel[ref.loc[nz, "dispGeneEst"] > 1e-6] > 2e-5).sum() == 0
    for name in fit.result_names:
        diff = (ours.loc[nz, f"coef_{name}"] - ref.loc[nz, f"coef_{name}"]).abs()
        assert diff.max() < 1e-3, name


@pytest.mark.parametrize("name", list(CONTRASTS))
def test_wald_results(mov10, name):
    fit, ref_dir = mov10
    res = fit.results(CONTRASTS[name])
    check_results(res, _ref(ref_dir / f"deseq2_results_{name}.csv.gz"))
    summary = _ref(ref_dir / "deseq2_summary.csv")
    assert res.attrs["filter_threshold"] == pytest.approx(
        summary.loc[name, "filterThreshold_baseMean"], rel=1e-6
    )
    assert int((res["padj"] < 0.05).sum()) == summary.loc[name, "n_padj_lt_0.05"]


@pytest.mark.parametrize("name", list(CONTRASTS))
def test_wald_without_independent_filtering(mov10, name):
    fit, ref_dir = mov10
    res = fit.results(CONTRASTS[name], independent_filtering=False)
    check_results(res, _ref(ref_dir / f"deseq2_results_{name}_no_indep_filter.csv.gz"))


def test_lrt(mov10):
    fit, ref_dir = mov10
    res = fit.results(test="lrt")
    ref = _ref(ref_dir / "deseq2_lrt_results.csv.gz")
    check_results(res, ref)
    ok = ref["stat"].notna()
    np.testing.assert_allclose(res.loc[ok, "stat"], ref.loc[ok, "stat"], rtol=1e-3, atol=1e-6)


def test_vst_blind(mov10):
    fit, ref_dir = mov10
    ours = fit.vst(blind=True)
    ref = _ref(ref_dir / "deseq2_vst_full_blind.csv.gz").loc[ours.index, ours.columns]
    assert np.abs(ours.to_numpy() - ref.to_numpy()).max() < 0.01


def test_rlog_blind(mov10):
    fit, ref_dir = mov10
    ours = fit.rlog(blind=True)
    ref = _ref(ref_dir / "deseq2_rlog_blind.csv.gz").loc[ours.index, ours.columns]
    assert np.abs(ours.to_numpy() - ref.to_numpy()).max() < 1e-3


def test_vst_nsub_equals_deseq2_vst(mov10):
    # DESeq2's vst(): the trend from 1,000 genes evenly spaced over the sorted means (> 5)
    fit, ref_dir = mov10
    ours = fit.vst(blind=True, nsub=1000)
    ref = _ref(ref_dir / "deseq2_vst_blind.csv.gz").loc[ours.index, ours.columns]
    full = _ref(ref_dir / "deseq2_vst_full_blind.csv.gz").loc[ours.index, ours.columns]
    err = np.abs(ours.to_numpy() - ref.to_numpy()).max()
    # the subset's trend is another trend: R's two transforms differ by far more than this
    assert err < 1e-5 < np.abs(full.to_numpy() - ref.to_numpy()).max()
    with pytest.raises(ValueError, match="nsub"):
        fit.vst(nsub=10**6)
