"""Parity with R DESeq2 on PyDESeq2's synthetic reference cases (../shared/data).

The issue's bar is 2% relative (PyDESeq2's own tolerance); we hold ourselves to 0.1%.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydeseq2_cases import reference, synthetic_case

import dgeflow

REL_TOL = 1e-5
COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


def assert_close(ours, theirs, columns, rel=REL_TOL, skip_zero_stat=False):
    for col in columns:
        a = ours[col].to_numpy(dtype=float)
        b = theirs.loc[ours.index, col].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{col}: NaN pattern differs"
        ok = ~np.isnan(b)
        if skip_zero_stat:
            ok &= theirs["stat"].to_numpy() != 0
        err = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300)
        assert err.max(initial=0) < rel, f"{col}: max relative difference {err.max():.2e}"


CASES = [
    # case, design, contrast, outliers, reference file, fit kwargs, results kwargs
    ("single_factor", "~ condition", ("condition", "B", "A"), False, "r_test_res.csv", {}, {}),
    (
        "single_factor",
        "~ condition",
        ("condition", "B", "A"),
        False,
        "r_test_res_no_independent_filtering.csv",
        {},
        {"independent_filtering": False},
    ),
    (
        "single_factor",
        "~ condition",
        ("condition", "B", "A"),
        False,
        "r_test_res_mean_curve.csv",
        {"fit_type": "mean"},
        {},
    ),
    (
        "multi_factor",
        "~ group + condition",
        ("condition", "B", "A"),
        False,
        "r_test_res.csv",
        {},
        {},
    ),
    (
        "multi_factor",
        "~ group + condition",
        ("condition", "B", "A"),
        True,
        "r_test_res_outliers.csv",
        {},
        {},
    ),
    (
        "continuous",
        "~ group + condition + measurement",
        "measurement",
        False,
        "r_test_res.csv",
        {},
        {},
    ),
    (
        "continuous",
        "~ group + condition + measurement",
        "measurement",
        True,
        "r_test_res_outliers.csv",
        {},
        {},
    ),
    ("wide", "~ group + condition", ("condition", "B", "A"), False, "r_test_res.csv", {}, {}),
    ("large_counts", "~ condition", ("condition", "B", "A"), False, "r_test_res.csv", {}, {}),
]


@pytest.mark.parametrize(
    ("case", "design", "contrast", "outliers", "ref_file", "fit_kw", "res_kw"), CASES
)
def test_results_match_r(shared_data, case, design, contrast, outliers, ref_file, fit_kw, res_kw):
    counts, meta = synthetic_case(shared_data, case, outliers)
    res = dgeflow.fit(counts, meta, design, **fit_kw).results(contrast, **res_kw)
    assert_close(res, reference(shared_data, case, ref_file), COLUMNS)


@pytest.mark.parametrize("alt", ["greater", "greaterAbs", "less", "lessAbs"])
def test_lfc_threshold_alternatives(shared_data, alt):
    counts, meta = synthetic_case(shared_data, "single_factor")
    res = dgeflow.fit(counts, meta, "~ condition").results(
        ("condition", "B", "A"), lfc_threshold=0.5, alt_hypothesis=alt
    )
    ref = reference(shared_data, "single_factor", f"r_test_res_{alt}.csv")
    assert_close(res, ref, ["log2FoldChange", "lfcSE"])
    assert_close(res, ref, ["stat", "pvalue"], skip_zero_stat=True)


@pytest.mark.parametrize(
    ("case", "design"),
    [
        ("single_factor", "~ condition"),
        ("multi_factor", "~ group + condition"),
        ("continuous", "~ group + condition + measurement"),
        ("wide", "~ group + condition"),
        ("large_counts", "~ condition"),
    ],
)
def test_size_factors_and_dispersions(shared_data, case, design):
    counts, meta = synthetic_case(shared_data, case)
    fit = dgeflow.fit(counts, meta, design)
    sf = reference(shared_data, case, "r_test_size_factors.csv").iloc[:, 0]
    np.testing.assert_allclose(fit.size_factors.to_numpy(), sf.to_numpy(), rtol=1e-6)
    disp = reference(shared_data, case, "r_test_dispersions.csv").iloc[:, 0]
    np.testing.assert_allclose(fit.dispersions.to_numpy(), disp.to_numpy(), rtol=1e-4)


def test_poscounts_size_factors(shared_data):
    counts, _ = synthetic_case(shared_data, "single_factor")
    ref = reference(shared_data, "single_factor", "r_test_size_factors_poscount.csv").iloc[:, 0]
    sf = dgeflow.size_factors(counts.to_numpy(), method="poscounts")
    np.testing.assert_allclose(sf, ref.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("ref_file", "fit_type", "blind"),
    [
        ("r_vst.csv", "parametric", True),
        ("r_vst_with_design.csv", "parametric", False),
        ("r_mean_vst.csv", "mean", True),
    ],
)
def test_vst(shared_data, ref_file, fit_type, blind):
    counts, meta = synthetic_case(shared_data, "single_factor")
    fit = dgeflow.fit(counts, meta, "~ condition", fit_type=fit_type)
    ours = fit.vst(blind=blind)
    ref = reference(shared_data, "single_factor", ref_file)
    np.testing.assert_allclose(ours.to_numpy(), ref.loc[ours.index, ours.columns], rtol=1e-4)
