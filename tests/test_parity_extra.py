"""Parity with R DESeq2 1.38.3 on data the engine was not developed against: airway and
pasilla from ../shared/data, references made by tests/r/make_references.R.

airway (8 samples, ``~ celltype + dex``) has 3 residual degrees of freedom, so DESeq2 estimates
the dispersion prior variance by its seeded Monte-Carlo procedure; pasilla has non-converging
IRLS genes that DESeq2 refits by optimization.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from parity import assert_pvalues_close

import dgeflow

REFS = Path(__file__).parent / "data" / "r_reference"


def _compare(res: pd.DataFrame, ref_file: str):
    ref = pd.read_csv(REFS / ref_file, index_col="gene_id")
    res = res.loc[ref.index]
    expressed = ref["baseMean"] > 10
    lfc, rlfc = res.loc[expressed, "log2FoldChange"], ref.loc[expressed, "log2FoldChange"]
    assert np.corrcoef(lfc, rlfc)[0, 1] > 0.999
    assert (lfc - rlfc).abs().max() < 0.01
    sig, rsig = set(res.index[res["padj"] < 0.05]), set(ref.index[ref["padj"] < 0.05])
    assert len(sig & rsig) / len(sig | rsig) >= 0.99
    for col in ("pvalue", "padj"):
        assert (res[col].isna() == ref[col].isna()).all(), col
        assert_pvalues_close(res[col], ref[col], name=col)


@pytest.fixture(scope="module")
def airway(shared_data):
    counts = pd.read_csv(shared_data / "airway" / "airway_rawcounts.csv", index_col=0)
    meta = pd.read_csv(shared_data / "airway" / "airway_metadata.csv", index_col=0)
    return dgeflow.fit(
        counts,
        meta,
        "~ celltype + dex",
        reference_levels={"dex": "control"},
        reduced="~ celltype",
    )


def test_airway_simulated_prior_variance(airway):
    info = pd.read_csv(REFS / "airway_info.csv").iloc[0]
    assert airway.disp_prior_var == pytest.approx(info["dispPriorVar"], rel=1e-9)


def test_airway_wald(airway):
    _compare(airway.results(("dex", "treated", "control")), "airway_dex_treated_vs_control.csv.gz")


def test_airway_lrt(airway):
    _compare(airway.results(test="lrt"), "airway_lrt_celltype.csv.gz")


def test_pasilla_wald(shared_data):
    d = shared_data / "pasilla"
    counts = pd.read_csv(d / "pasilla_gene_counts.tsv", sep="\t", index_col=0)
    ann = pd.read_csv(d / "pasilla_sample_annotation.csv", index_col=0)
    ann.index = ann.index.str.removesuffix("fb")
    ann["type"] = ann["type"].str.replace("-", "_")
    fit = dgeflow.fit(
        counts,
        ann.loc[counts.columns, ["condition", "type"]],
        "~ type + condition",
        reference_levels={"condition": "untreated"},
    )
    info = pd.read_csv(REFS / "pasilla_info.csv").iloc[0]
    assert fit.disp_prior_var == pytest.approx(info["dispPriorVar"], rel=1e-4)
    _compare(
        fit.results(("condition", "treated", "untreated")), "pasilla_treated_vs_untreated.csv.gz"
    )


@pytest.mark.parametrize(
    ("design", "contrast", "ref_file"),
    [
        ("~ group * condition", ("condition", "B", "A"), "wide_interaction_condition.csv.gz"),
        ("~ group * condition", "groupY.conditionB", "wide_interaction_term.csv.gz"),
        ("~ 0 + condition", ("condition", "B", "A"), "wide_no_intercept.csv.gz"),
    ],
)
def test_interaction_and_no_intercept_designs(shared_data, design, contrast, ref_file):
    d = shared_data / "pydeseq2_synthetic" / "r_reference" / "wide"
    counts = pd.read_csv(d / "test_counts.csv", index_col=0)
    meta = pd.read_csv(d / "test_metadata.csv", index_col=0)
    res = dgeflow.fit(counts, meta, design).results(contrast)
    ref = pd.read_csv(REFS / ref_file, index_col="gene_id")
    for col in ("log2FoldChange", "lfcSE", "pvalue", "padj"):
        np.testing.assert_allclose(res.loc[ref.index, col], ref[col], rtol=1e-4)
