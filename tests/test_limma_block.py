"""limma's blocking for repeated measures (``duplicateCorrelation``, ``voom`` and ``lmFit`` with
``block`` and ``correlation``) against R (limma 3.54.1, statmod 1.5.0), with references made by
tests/r/make_block_references.R: a study of 2 groups x 3 subjects x 2 timepoints, where the
group varies between subjects and only a blocked fit can use the pairing within subjects; and
a kernel case with unbalanced blocks, a covariate and genes at limma's correlation bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from parity import assert_pvalues_close

import dgeflow
from dgeflow.errors import DataError
from dgeflow.formula import design_matrix
from dgeflow.limma.blocked import (
    BlockedVoomFit,
    block_correlation_matrix,
    contrast_fit_blocked,
    fit_voom_blocked,
    lm_fit_blocked,
)
from dgeflow.limma.dup_correlation import duplicate_correlation
from dgeflow.limma.ebayes import moderated_t
from dgeflow.limma.model import fit_voom
from dgeflow.limma.voom import log_cpm

BLOCK = Path(__file__).parent / "data" / "r_reference" / "block"
LIMMA = ["logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"]
DESIGN = "~ 0 + condition"
# over the cell means conditionctrl_post, conditionctrl_pre, conditiontrt_post, conditiontrt_pre
CONTRASTS = {
    # the groups' difference averaged over both timepoints: between subjects
    "between": np.array([-0.5, -0.5, 0.5, 0.5]),
    # the treated group's change over time: within subjects
    "within": ("condition", "trt_post", "trt_pre"),
}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(BLOCK / name, index_col=0)


def _check_top_table(res: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(res.columns) == LIMMA
    assert list(res.index) == list(ref.index)
    for col in ("logFC", "AveExpr", "t", "B"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-8, atol=1e-9, err_msg=col)
    for col in ("P.Value", "adj.P.Val"):
        assert_pvalues_close(res[col], ref[col], rel=1e-8, rel_log=1e-9, name=col)
    assert set(res.index[res["adj.P.Val"] < 0.05]) == set(ref.index[ref["adj.P.Val"] < 0.05])


@pytest.fixture(scope="module")
def study() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _read("repeated_counts.csv.gz"), _read("repeated_samples.csv")


@pytest.fixture(scope="module")
def blocked(study) -> BlockedVoomFit:
    counts, samples = study
    return fit_voom_blocked(counts, samples, DESIGN, "subject")


def test_consensus_correlation_of_both_rounds(blocked):
    ref = pd.read_csv(BLOCK / "repeated_consensus.csv")["consensus"].to_numpy()
    np.testing.assert_allclose(blocked.consensus_correlation, ref, rtol=1e-10)
    assert blocked.linear_model.correlation == blocked.consensus_correlation[1]


def test_per_gene_correlations_weights_and_sigma(blocked):
    ref = _read("repeated_correlations.csv.gz")
    assert list(blocked.genes) == list(ref.index)
    got = blocked.atanh_correlations.to_numpy()
    np.testing.assert_allclose(got, ref["atanh_round2"], rtol=1e-8, atol=1e-9)
    # limma's bounds: rho = 0.99 is reached by some genes of this study
    assert np.isclose(got.max(), np.arctanh(0.99))
    # the blocked voom's weights and the blocked lmFit's residual standard deviations
    np.testing.assert_allclose(blocked.voom.weights.sum(axis=1), ref["weight_sum"], rtol=1e-8)
    np.testing.assert_allclose(blocked.linear_model.sigma, ref["sigma"], rtol=1e-8)


def test_first_round_correlations(study, blocked):
    """duplicateCorrelation on the plain voom's weights (the guide's first round)."""
    counts, samples = study
    plain = fit_voom(counts, samples, DESIGN)
    ref = _read("repeated_correlations.csv.gz")["atanh_round1"]
    block = samples.loc[counts.columns, "subject"].to_numpy()
    dc = duplicate_correlation(plain.voom.E, plain.design.matrix, block, plain.voom.weights)
    np.testing.assert_allclose(dc.atanh_correlations, ref, rtol=1e-8, atol=1e-9)
    assert dc.consensus == pytest.approx(blocked.consensus_correlation[0], rel=1e-12)


@pytest.mark.parametrize("name", list(CONTRASTS))
def test_top_table(blocked, name):
    res = blocked.results(CONTRASTS[name])
    _check_top_table(res, _read(f"repeated_{name}.csv.gz"))
    assert res.attrs["block"] == "subject"
    assert res.attrs["correlation"] == blocked.consensus_correlation[1]


def test_blocking_changes_the_answer(study, blocked):
    """The same study unblocked (dgeflow's VoomFit): same genes and AveExpr, other tests."""
    counts, samples = study
    plain = fit_voom(counts, samples, DESIGN)
    a, b = plain.results(CONTRASTS["between"]), blocked.results(CONTRASTS["between"])
    assert list(a.index) == list(b.index)
    np.testing.assert_array_equal(a["AveExpr"], b["AveExpr"])
    assert not np.allclose(a["t"], b["t"], rtol=1e-2)


def test_log_cpm_kernel_without_weights(study, blocked):
    """duplicateCorrelation of the log-CPM values alone (no weights)."""
    counts, samples = study
    e = log_cpm(
        counts.loc[blocked.genes].to_numpy(dtype=float),
        (blocked.lib_size * blocked.norm_factors).to_numpy(),
    )
    dc = duplicate_correlation(e, blocked.design.matrix, samples["subject"].to_numpy())
    ref = _read("repeated_logcpm_dupcor.csv.gz")["atanh"]
    np.testing.assert_allclose(dc.atanh_correlations, ref, rtol=1e-8, atol=1e-9)
    cons = pd.read_csv(BLOCK / "repeated_logcpm_consensus.csv")["consensus"].iloc[0]
    assert dc.consensus == pytest.approx(cons, rel=1e-10)


@pytest.fixture(scope="module")
def kernel() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = _read("kernel_values.csv.gz").to_numpy()
    samples = _read("kernel_samples.csv")
    return e, design_matrix("~ group + dose", samples).matrix, samples["block"].to_numpy()


@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_unbalanced_blocks(kernel, weighted):
    e, x, block = kernel
    # the weights the R script made from the values
    w = np.round(1.0 / (1.0 + (e - 5.0) ** 2 / 20.0), 6) if weighted else None
    dc = duplicate_correlation(e, x, block, w)
    ref = _read("kernel_dupcor.csv.gz")["atanh_weighted" if weighted else "atanh"]
    np.testing.assert_allclose(dc.atanh_correlations, ref, rtol=1e-8, atol=1e-9)
    cons = pd.read_csv(BLOCK / "kernel_consensus.csv")["consensus"].iloc[int(weighted)]
    assert dc.consensus == pytest.approx(cons, rel=1e-10)
    # the largest block has 3 samples: correlations are bounded below at -1/2 + 0.01
    assert np.isclose(dc.atanh_correlations.min(), np.arctanh(-0.49))


def test_kernel_gls_without_weights(kernel):
    """lmFit(block, correlation) without weights, and eBayes on its covariate."""
    e, x, block = kernel
    cons = pd.read_csv(BLOCK / "kernel_consensus.csv")["consensus"].iloc[0]
    ref = _read("kernel_gls.csv.gz")
    fit = lm_fit_blocked(e, x, block, cons)
    np.testing.assert_allclose(fit.coefficients[:, 2], ref["coef_dose"], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fit.stdev_unscaled[:, 2], ref["stdev_dose"], rtol=1e-8)
    np.testing.assert_allclose(fit.sigma, ref["sigma"], rtol=1e-8)
    estimate, stdev = contrast_fit_blocked(fit, np.array([0.0, 0.0, 1.0]))
    mt = moderated_t(estimate, stdev, fit.sigma, fit.df_residual)
    np.testing.assert_allclose(mt.t, ref["t_dose"], rtol=1e-8, atol=1e-9)
    assert_pvalues_close(mt.p_value, ref["p_dose"], rel=1e-8, rel_log=1e-9)


def test_weighted_gls_is_generalized_least_squares(kernel):
    """Each gene's fit solves X' V^-1 X b = X' V^-1 y with V = W^-1/2 C W^-1/2."""
    e, x, block = kernel
    rng = np.random.default_rng(3)
    w = rng.uniform(0.2, 3.0, e.shape)
    fit = lm_fit_blocked(e, x, block, 0.4, w)
    c = block_correlation_matrix(block, 0.4)
    for g in (0, 17, 99):
        vinv = np.linalg.inv(c / np.sqrt(np.outer(w[g], w[g])))
        a = x.T @ vinv @ x
        b = np.linalg.solve(a, x.T @ vinv @ e[g])
        np.testing.assert_allclose(fit.coefficients[g], b, rtol=1e-10)
        np.testing.assert_allclose(fit.stdev_unscaled[g], np.sqrt(np.diag(np.linalg.inv(a))))
        resid = e[g] - x @ b
        assert fit.sigma[g] ** 2 == pytest.approx(resid @ vinv @ resid / (len(e[g]) - 3))


def test_correlations_do_not_depend_on_sample_order(kernel):
    e, x, block = kernel
    w = np.round(1.0 / (1.0 + (e - 5.0) ** 2 / 20.0), 6)
    order = np.random.default_rng(5).permutation(e.shape[1])
    a = duplicate_correlation(e, x, block, w)
    b = duplicate_correlation(e[:, order], x[order], block[order], w[:, order])
    np.testing.assert_allclose(a.atanh_correlations, b.atanh_correlations, rtol=1e-9, atol=1e-12)


def test_blocks_of_one_or_in_the_design_give_zero(kernel):
    """limma's two early exits: every block of size 1, or the block a fixed effect."""
    e, x, _ = kernel
    singles = np.arange(e.shape[1])
    assert duplicate_correlation(e, x, singles).consensus == 0.0
    pairs = np.repeat(np.arange(7), 2)
    fixed = np.column_stack([x, (pairs[:, None] == np.arange(1, 7)).astype(float)])
    dc = duplicate_correlation(e, fixed[:, [0, *range(3, 9)]], pairs)
    assert dc.consensus == 0.0
    assert not dc.atanh_correlations.any()


def test_save_and_load(blocked, tmp_path):
    blocked.save(tmp_path / "fit.pkl")
    loaded = dgeflow.load_fit(tmp_path / "fit.pkl")
    assert isinstance(loaded, BlockedVoomFit)
    pd.testing.assert_frame_equal(
        loaded.results(CONTRASTS["within"]), blocked.results(CONTRASTS["within"])
    )


def test_refused_blocks(study):
    counts, samples = study
    with pytest.raises(DataError, match="'patient' is not in the sample sheet"):
        fit_voom_blocked(counts, samples, DESIGN, "patient")
    with pytest.raises(DataError, match="both in the design and the block"):
        fit_voom_blocked(counts, samples, "~ time + subject", "subject")
    gappy = samples.astype({"subject": object})
    gappy.loc["S03", "subject"] = None
    with pytest.raises(DataError, match="no value for samples S03"):
        fit_voom_blocked(counts, gappy, DESIGN, "subject")
    # 6 samples, 4 coefficients: too little residual room for a correlation (limma's voom
    # stops on the NA consensus)
    few = counts[["S01", "S02", "S03", "S04", "S07", "S08"]]
    with pytest.raises(DataError, match="more than p \\+ 2 = 6 samples \\(there are 6\\)"):
        fit_voom_blocked(few, samples, DESIGN, "subject")


def test_refused_kernel_inputs(kernel):
    e, x, block = kernel
    with pytest.raises(ValueError, match="weights must be positive"):
        duplicate_correlation(e, x, block, np.zeros_like(e))
    with pytest.raises(ValueError, match="one entry per sample"):
        duplicate_correlation(e, x, block[:-1])
    with pytest.raises(ValueError, match="correlation must lie in"):
        lm_fit_blocked(e, x, block, 1.0)
