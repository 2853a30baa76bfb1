"""LFC shrinkage against apeglm references (via DESeq2's lfcShrink) and basic properties."""

from __future__ import annotations

import numpy as np
import pytest
from pydeseq2_cases import reference, synthetic_case
from scipy.optimize import minimize_scalar

import dgeflow
from dgeflow.deseq2 import shrink

CASES = [
    ("single_factor", "~ condition", ("condition", "B", "A"), 0.02),
    ("multi_factor", "~ group + condition", ("condition", "B", "A"), 0.02),
    ("continuous", "~ group + condition + measurement", "measurement", 0.02),
    # R's L-BFGS-B stops short of the mode on these huge counts; see test below
    ("large_counts", "~ condition", ("condition", "B", "A"), 0.03),
]


@pytest.mark.parametrize(("case", "design", "contrast", "tol"), CASES)
def test_apeglm_matches_r(shared_data, case, design, contrast, tol):
    counts, meta = synthetic_case(shared_data, case)
    res = dgeflow.fit(counts, meta, design).results(contrast, shrink="apeglm")
    ref = reference(shared_data, case, "r_test_lfc_shrink_res.csv").loc[res.index]
    np.testing.assert_allclose(res["log2FoldChange_shrunk"], ref["log2FoldChange"], rtol=tol)
    np.testing.assert_allclose(res["lfcSE_shrunk"], ref["lfcSE"], rtol=0.005)
    # test columns stay those of the MLE
    plain = dgeflow.fit(counts, meta, design).results(contrast)
    np.testing.assert_allclose(res["pvalue"], plain["pvalue"])


def test_apeglm_mode_is_at_least_as_good_as_r(shared_data):
    counts, meta = synthetic_case(shared_data, "large_counts")
    fit = dgeflow.fit(counts, meta, "~ condition")
    g = fit._g
    x = fit.design.matrix
    off = np.broadcast_to(np.log(fit._sf), g.counts.shape)
    scale = np.sqrt(shrink.prior_variance(g.glm.beta[:, 1], np.sqrt(g.glm.sigma[:, 1, 1])))
    mode, _ = shrink.posterior_mode(g.counts, x, off, g.dispersion, g.glm.beta, 1, scale)
    ref = reference(shared_data, "large_counts", "r_test_lfc_shrink_res.csv")
    for i in range(len(ref)):
        sl = slice(i, i + 1)

        def post(b, sl=sl):
            return shrink._posterior(
                b, g.counts[sl], x, off[sl], g.dispersion[sl], 1, scale, True
            )[0][0]

        ours = post(mode[sl])
        r_slope = ref["log2FoldChange"].iloc[i] * np.log(2)
        best_at_r = -minimize_scalar(lambda b0, r=r_slope: -post(np.array([[b0, r]]))).fun
        assert ours >= best_at_r - 1e-9


def test_apeglm_no_adapt_scale_one(shared_data):
    counts, meta = synthetic_case(shared_data, "single_factor")
    fit = dgeflow.fit(counts, meta, "~ condition")
    g = fit._g
    off = np.broadcast_to(np.log(fit._sf), g.counts.shape)
    mode, sd = shrink.posterior_mode(
        g.counts, fit.design.matrix, off, g.dispersion, g.glm.beta, 1, 1.0
    )
    ref = reference(shared_data, "single_factor", "r_test_lfc_shrink_no_apeAdapt_res.csv")
    np.testing.assert_allclose(mode[:, 1] / np.log(2), ref["log2FoldChange"], rtol=0.02)
    np.testing.assert_allclose(sd / np.log(2), ref["lfcSE"], rtol=0.005)


@pytest.mark.parametrize("method", ["apeglm", "normal"])
def test_shrinkage_pulls_towards_zero(shared_data, method):
    counts, meta = synthetic_case(shared_data, "single_factor")
    res = dgeflow.fit(counts, meta, "~ condition").results(("condition", "B", "A"), shrink=method)
    assert (res["log2FoldChange_shrunk"].abs() <= res["log2FoldChange"].abs() + 1e-9).all()
    assert (np.sign(res["log2FoldChange_shrunk"]) == np.sign(res["log2FoldChange"])).all()


def test_prior_variance_recovers_spread():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 0.7, 20_000)
    se = rng.uniform(0.1, 0.5, truth.size)
    est = truth + rng.normal(0, se)
    assert shrink.prior_variance(est, se) == pytest.approx(0.49, rel=0.05)


def test_shrink_rejects_multi_coefficient_numeric_contrast(shared_data):
    counts, meta = synthetic_case(shared_data, "multi_factor")
    fit = dgeflow.fit(counts, meta, "~ group + condition")
    with pytest.raises(ValueError, match="single coefficient"):
        fit.results([0.0, 1.0, -1.0], shrink="apeglm")


def test_shrinking_a_non_reference_contrast_refits_with_that_reference(shared_data):
    counts, meta = synthetic_case(shared_data, "multi_factor", outliers=True)  # levels A, B, C
    fit = dgeflow.fit(counts, meta, "~ group + condition")
    res = fit.results(("condition", "B", "C"), shrink="apeglm")
    direct = dgeflow.fit(
        counts, meta, "~ group + condition", reference_levels={"condition": "C"}
    ).results(("condition", "B", "C"), shrink="apeglm")
    np.testing.assert_allclose(res["log2FoldChange_shrunk"], direct["log2FoldChange_shrunk"])
    # the MLE is the same model up to the ridge and IRLS tolerance
    np.testing.assert_allclose(res["log2FoldChange"], direct["log2FoldChange"], atol=1e-3)
