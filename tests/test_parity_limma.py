"""limma-voom (``dgeflow.fit(..., method="limma_voom")``) and ``dgeflow.filter_by_expr`` against
R (edgeR 3.40.2, limma 3.54.1): MOV10 from ../shared/data, and the simulated hard cases with
references by tests/r/make_limma_references.R (a numeric covariate; a contrast between two
non-reference levels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dgeflow

HARD = Path(__file__).parent / "data" / "r_reference" / "hard"
LIMMA = ["logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"]


def _check_top_table(res: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(res.columns) == LIMMA
    assert list(res.index) == list(ref.index)
    for col in ("logFC", "AveExpr", "t", "B"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-6, atol=1e-7, err_msg=col)
    for col in ("P.Value", "adj.P.Val"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-6, atol=0, err_msg=col)
    assert set(res.index[res["adj.P.Val"] < 0.05]) == set(ref.index[ref["adj.P.Val"] < 0.05])


@pytest.fixture(scope="module")
def mov10(shared_data):
    d = shared_data / "mov10"
    counts = pd.read_csv(d / "Mov10_full_counts.txt", sep="\t", index_col=0)
    meta = pd.read_csv(d / "Mov10_full_meta.txt", sep="\t", index_col=0)
    fit = dgeflow.fit(
        counts,
        meta,
        "~ sampletype",
        method="limma_voom",
        reference_levels={"sampletype": "control"},
    )
    return counts, meta, fit, d / "r_reference"


def test_mov10_filter_by_expr_keeps_edgers_genes(mov10):
    counts, meta, fit, ref_dir = mov10
    ref = pd.read_csv(ref_dir / "edger_filterByExpr_keep.csv.gz", index_col=0)["keep"]
    keep = dgeflow.filter_by_expr(
        counts, meta, "~ sampletype", reference_levels={"sampletype": "control"}
    )
    assert keep.dtype == bool
    assert (keep.loc[ref.index] == ref).all()
    assert keep.sum() == 15254
    assert (fit.keep == keep).all()


def test_mov10_tmm_of_kept_genes(mov10):
    _, _, fit, ref_dir = mov10
    ref = pd.read_csv(ref_dir / "edger_tmm_filtered.csv", index_col=0)
    np.testing.assert_array_equal(fit.lib_size.loc[ref.index], ref["lib.size"])
    np.testing.assert_allclose(fit.norm_factors.loc[ref.index], ref["norm.factors"], rtol=1e-6)


@pytest.mark.parametrize("level", ["MOV10_knockdown", "MOV10_overexpression"])
def test_mov10_voom(mov10, level):
    _, _, fit, ref_dir = mov10
    ref = pd.read_csv(ref_dir / f"limma_voom_{level}_vs_control.csv.gz", index_col=0)
    res = fit.results(("sampletype", level, "control"))
    _check_top_table(res, ref.loc[res.index])
    summary = pd.read_csv(ref_dir / "edger_limma_summary.csv")
    row = summary[(summary["method"] == "limma_voom") & summary["contrast"].str.startswith(level)]
    assert res.attrs["df_prior"] == pytest.approx(row["prior_df_median"].iloc[0], rel=1e-8)
    assert int((res["adj.P.Val"] < 0.05).sum()) == row["n_fdr_lt_0.05"].iloc[0]


@pytest.fixture(scope="module")
def lowcount():
    counts = pd.read_csv(HARD / "lowcount_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "lowcount_samples.csv", index_col=0)
    return dgeflow.fit(
        counts,
        samples,
        "~ rin + batch + condition",
        method="limma_voom",
        reference_levels={"condition": "control"},
    )


def test_covariate_design_filter_tmm_and_weights(lowcount):
    keep = pd.read_csv(HARD / "lowcount_voom_keep.csv.gz", index_col=0)["keep"]
    assert (lowcount.keep.loc[keep.index] == keep).all()
    tmm = pd.read_csv(HARD / "lowcount_voom_tmm.csv", index_col=0)
    np.testing.assert_allclose(lowcount.norm_factors, tmm["norm.factors"], rtol=1e-8)
    weights = pd.read_csv(HARD / "lowcount_voom_weights.csv.gz", index_col=0)
    np.testing.assert_allclose(lowcount.voom.weights, weights.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize(
    ("contrast", "ref_file"),
    [
        (("condition", "treated", "control"), "lowcount_voom_condition.csv.gz"),
        ("rin", "lowcount_voom_rin.csv.gz"),
    ],
)
def test_covariate_design_results(lowcount, contrast, ref_file):
    ref = pd.read_csv(HARD / ref_file, index_col=0)
    _check_top_table(lowcount.results(contrast), ref)


@pytest.mark.parametrize(
    ("contrast", "ref_file"),
    [
        (("condition", "B", "A"), "outliers_voom_B_vs_A.csv.gz"),
        # between two non-reference levels: limma's contrasts.fit
        (("condition", "C", "B"), "outliers_voom_C_vs_B.csv.gz"),
    ],
)
def test_three_levels(contrast, ref_file):
    counts = pd.read_csv(HARD / "outliers_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "outliers_samples.csv", index_col=0)
    fit = dgeflow.fit(counts, samples, "~ condition", method="limma_voom")
    ref = pd.read_csv(HARD / ref_file, index_col=0)
    _check_top_table(fit.results(contrast), ref)


def test_unknown_method_is_refused():
    counts = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=["g1", "g2"])
    samples = pd.DataFrame({"c": ["x", "y"]}, index=["a", "b"])
    with pytest.raises(ValueError, match="method must be one of deseq2, edger_ql, limma_voom"):
        dgeflow.fit(counts, samples, "~ c", method="voom")


def test_trend_moderation_covariate_design(lowcount):
    """eBayes(trend = TRUE): the prior variance follows a natural spline in AveExpr."""
    ref = pd.read_csv(HARD / "lowcount_voom_trend_condition.csv.gz", index_col=0)
    res = lowcount.results(("condition", "treated", "control"), trend=True)
    _check_top_table(res, ref)
    assert res.attrs["trend"] is True
    # the trend changes the answer: not the plain moderation's p-values
    plain = lowcount.results(("condition", "treated", "control"))
    assert not np.allclose(plain["P.Value"], res["P.Value"], rtol=1e-3)


def test_trend_moderation_three_levels():
    counts = pd.read_csv(HARD / "outliers_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "outliers_samples.csv", index_col=0)
    fit = dgeflow.fit(counts, samples, "~ condition", method="limma_voom")
    ref = pd.read_csv(HARD / "outliers_voom_trend_C_vs_A.csv.gz", index_col=0)
    _check_top_table(fit.results(("condition", "C", "A"), trend=True), ref)


def test_robust_moderation_gives_outliers_fewer_prior_df():
    counts = pd.read_csv(HARD / "outliers_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "outliers_samples.csv", index_col=0)
    fit = dgeflow.fit(counts, samples, "~ condition", method="limma_voom")
    res = fit.results(("condition", "B", "A"), robust=True)
    _check_top_table(res, pd.read_csv(HARD / "outliers_voom_robust_B_vs_A.csv.gz", index_col=0))
    ref = pd.read_csv(HARD / "outliers_voom_robust_df_prior.csv.gz", index_col=0)["df.prior"]
    df_prior = np.asarray(res.attrs["df_prior"])
    np.testing.assert_allclose(df_prior, ref.loc[res.index], rtol=1e-6)
    assert df_prior.min() < 0.5 * np.median(df_prior)  # some genes are shrunk less


def test_robust_moderation_covariate_design(lowcount):
    ref = pd.read_csv(HARD / "lowcount_voom_robust_condition.csv.gz", index_col=0)
    _check_top_table(lowcount.results(("condition", "treated", "control"), robust=True), ref)


def test_robust_and_trend_together():
    counts = pd.read_csv(HARD / "outliers_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "outliers_samples.csv", index_col=0)
    fit = dgeflow.fit(counts, samples, "~ condition", method="limma_voom")
    ref = pd.read_csv(HARD / "outliers_voom_robust_trend_B_vs_A.csv.gz", index_col=0)
    _check_top_table(fit.results(("condition", "B", "A"), robust=True, trend=True), ref)
