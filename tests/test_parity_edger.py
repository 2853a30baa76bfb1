"""edgeR quasi-likelihood (``dgeflow.fit(..., method="edger_ql")``) against edgeR 3.40.2:
MOV10 from ../shared/data, and the simulated hard cases with references by
tests/r/make_edger_references.R (a numeric covariate; a contrast of two non-reference levels;
``glmQLFit(robust = TRUE)``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dgeflow

HARD = Path(__file__).parent / "data" / "r_reference" / "hard"
EDGER = ["logFC", "logCPM", "F", "PValue", "FDR"]


def check_qlf_table(res: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(res.columns) == EDGER
    ref = ref.loc[res.index]
    assert len(ref) == len(res)
    np.testing.assert_allclose(res["logFC"], ref["logFC"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(res["logCPM"], ref["logCPM"], rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(res["F"], ref["F"], rtol=1e-5, atol=1e-5)
    for col in ("PValue", "FDR"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-5, atol=0, err_msg=col)
    assert set(res.index[res["FDR"] < 0.05]) == set(ref.index[ref["FDR"] < 0.05])


@pytest.fixture(scope="module")
def mov10(shared_data):
    d = shared_data / "mov10"
    counts = pd.read_csv(d / "Mov10_full_counts.txt", sep="\t", index_col=0)
    meta = pd.read_csv(d / "Mov10_full_meta.txt", sep="\t", index_col=0)
    fit = dgeflow.fit(
        counts, meta, "~ sampletype", method="edger_ql", reference_levels={"sampletype": "control"}
    )
    return fit, d / "r_reference"


@pytest.mark.parametrize("level", ["MOV10_knockdown", "MOV10_overexpression"])
def test_mov10_ql_f_test(mov10, level):
    fit, ref_dir = mov10
    res = fit.results(("sampletype", level, "control"))
    check_qlf_table(
        res, pd.read_csv(ref_dir / f"edger_qlf_{level}_vs_control.csv.gz", index_col=0)
    )
    summary = pd.read_csv(ref_dir / "edger_limma_summary.csv")
    row = summary[(summary["method"] == "edgeR_QL") & summary["contrast"].str.startswith(level)]
    assert int((res["FDR"] < 0.05).sum()) == row["n_fdr_lt_0.05"].iloc[0]
    assert fit.dispersions.common == pytest.approx(row["common_dispersion"].iloc[0], rel=1e-8)
    assert np.median(fit.df_prior) == pytest.approx(row["prior_df_median"].iloc[0], rel=1e-8)


def test_mov10_tmm_and_filter(mov10):
    fit, ref_dir = mov10
    tmm = pd.read_csv(ref_dir / "edger_tmm_filtered.csv", index_col=0)
    np.testing.assert_allclose(fit.norm_factors.loc[tmm.index], tmm["norm.factors"], rtol=1e-6)
    keep = pd.read_csv(ref_dir / "edger_filterByExpr_keep.csv.gz", index_col=0)["keep"]
    assert (fit.keep.loc[keep.index] == keep).all()


@pytest.fixture(scope="module")
def lowcount():
    counts = pd.read_csv(HARD / "lowcount_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "lowcount_samples.csv", index_col=0)
    return dgeflow.fit(
        counts,
        samples,
        "~ rin + batch + condition",
        method="edger_ql",
        reference_levels={"condition": "control"},
    )


@pytest.mark.parametrize(
    ("contrast", "ref_file"),
    [
        (("condition", "treated", "control"), "lowcount_qlf_condition.csv.gz"),
        ("rin", "lowcount_qlf_rin.csv.gz"),
    ],
)
def test_covariate_design(lowcount, contrast, ref_file):
    """A design that is not a one-way layout: the general NB GLM fit, not group means."""
    ref = pd.read_csv(
        Path(__file__).parent / "data" / "r_reference" / "edger" / ref_file, index_col=0
    )
    check_qlf_table(lowcount.results(contrast), ref)


@pytest.mark.parametrize(
    ("contrast", "ref_file"),
    [
        (("condition", "B", "A"), "outliers_qlf_B_vs_A.csv.gz"),
        (("condition", "C", "B"), "outliers_qlf_C_vs_B.csv.gz"),  # glmQLFTest(contrast = )
    ],
)
def test_three_levels(contrast, ref_file):
    counts = pd.read_csv(HARD / "outliers_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "outliers_samples.csv", index_col=0)
    fit = dgeflow.fit(counts, samples, "~ condition", method="edger_ql")
    ref = pd.read_csv(
        Path(__file__).parent / "data" / "r_reference" / "edger" / ref_file, index_col=0
    )
    check_qlf_table(fit.results(contrast), ref)


def test_robust_ql_fit():
    """glmQLFit(robust = TRUE): outlying QL dispersions get fewer prior df, against the
    abundance trend (limma's fitFDistRobustly with a covariate)."""
    edger = Path(__file__).parent / "data" / "r_reference" / "edger"
    counts = pd.read_csv(HARD / "outliers_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "outliers_samples.csv", index_col=0)
    fit = dgeflow.fit(counts, samples, "~ condition", method="edger_ql", robust=True)
    res = fit.results(("condition", "B", "A"))
    check_qlf_table(res, pd.read_csv(edger / "outliers_qlf_robust_B_vs_A.csv.gz", index_col=0))
    ref = pd.read_csv(edger / "outliers_qlf_robust_df_prior.csv.gz", index_col=0)["df.prior"]
    np.testing.assert_allclose(np.asarray(fit.df_prior), ref.loc[res.index], rtol=1e-6)
    assert np.min(fit.df_prior) < 0.5 * np.median(fit.df_prior)


def test_robust_ql_fit_covariate_design(lowcount):
    edger = Path(__file__).parent / "data" / "r_reference" / "edger"
    counts = pd.read_csv(HARD / "lowcount_counts.csv.gz", index_col=0)
    samples = pd.read_csv(HARD / "lowcount_samples.csv", index_col=0)
    fit = dgeflow.fit(
        counts,
        samples,
        "~ rin + batch + condition",
        method="edger_ql",
        reference_levels={"condition": "control"},
        robust=True,
    )
    ref = pd.read_csv(edger / "lowcount_qlf_robust_condition.csv.gz", index_col=0)
    check_qlf_table(fit.results(("condition", "treated", "control")), ref)
