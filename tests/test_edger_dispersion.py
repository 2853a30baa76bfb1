"""edgeR's estimateDisp pieces (dgeflow.edger.dispersion, dgeflow.edger.glm) against edgeR
3.40.2 on MOV10: common and trended dispersions and AveLogCPM (references by
tests/r/make_edger_references.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow.edger.dispersion import estimate_dispersions
from dgeflow.edger.glm import ave_log_cpm, one_group_beta
from dgeflow.formula import design_matrix, parse_formula
from dgeflow.normalize import tmm_factors
from dgeflow.stats.filter_by_expr import filter_by_expr_mask

REF = Path(__file__).parent / "data" / "r_reference" / "edger"


@pytest.fixture(scope="module")
def mov10_dispersions(shared_data):
    d = shared_data / "mov10"
    counts = pd.read_csv(d / "Mov10_full_counts.txt", sep="\t", index_col=0)
    meta = pd.read_csv(d / "Mov10_full_meta.txt", sep="\t", index_col=0)
    dm = design_matrix(
        parse_formula("~ sampletype"), meta.loc[counts.columns], {"sampletype": "control"}
    )
    kept = counts.loc[filter_by_expr_mask(counts.to_numpy(float), dm.matrix)]
    lib = kept.sum().to_numpy(float) * tmm_factors(kept).to_numpy()
    return kept, estimate_dispersions(kept.to_numpy(float), dm.matrix, lib)


def test_common_and_trended_dispersions_equal_edger(mov10_dispersions):
    kept, disp = mov10_dispersions
    ref = pd.read_csv(REF / "mov10_dispersion.csv.gz", index_col=0)
    summary = pd.read_csv(REF / "mov10_dispersion_summary.csv").iloc[0]
    assert list(ref.index) == list(kept.index)
    assert disp.common == pytest.approx(summary["common"], rel=1e-9)
    assert disp.span == pytest.approx(summary["span"], rel=1e-12)
    np.testing.assert_allclose(disp.ave_log_cpm, ref["AveLogCPM"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(disp.trended, ref["trended"], rtol=1e-9)


def test_one_group_fit_is_the_weighted_mean_for_poisson():
    y = np.array([[1.0, 3.0, 5.0], [0.0, 0.0, 0.0]])
    offset = np.log(np.array([1.0, 2.0, 3.0]))
    beta = one_group_beta(y, offset, np.array([0.0, 0.0]))
    # Poisson MLE of a rate with exposures: total counts / total exposure
    assert beta[0] == pytest.approx(np.log(9.0 / 6.0), rel=1e-12)
    assert beta[1] == -np.inf


def test_ave_log_cpm_of_equal_proportions():
    lib = np.array([1e6, 2e6, 4e6])
    counts = np.array([[100.0, 200.0, 400.0]])
    # the prior count scales with library size, so the proportion stays 100 + 2 per 1e6 + 4
    expected = np.log2((100.0 + 2.0 / (7e6 / 3) * 1e6) / (1e6 + 4.0 / (7e6 / 3) * 1e6) * 1e6)
    assert ave_log_cpm(counts, lib, dispersion=0.0)[0] == pytest.approx(expected, rel=1e-10)
