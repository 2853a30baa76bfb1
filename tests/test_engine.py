"""Unit tests of the DE engine's building blocks and API contracts (no reference data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dgeflow
from dgeflow.formula import (
    FormulaError,
    check_design,
    coefficient_table,
    design_matrix,
    parse_formula,
)
from dgeflow.io.matrix import write_matrix
from dgeflow.stats.multiple_testing import bh_adjust


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(7)
    n_genes, n = 400, 12
    samples = pd.DataFrame(
        {
            "condition": ["ctrl", "trtA", "trtB"] * 4,
            "batch": ["b1"] * 6 + ["b2"] * 6,
            "dose": np.linspace(0.0, 2.0, n),
        },
        index=[f"s{i:02d}" for i in range(n)],
    )
    mean = rng.lognormal(4, 1.5, n_genes)
    effect = np.where(rng.random(n_genes) < 0.2, rng.normal(0, 1.5, n_genes), 0.0)
    lfc = np.outer(effect, (samples["condition"] == "trtA").to_numpy())
    mu = mean[:, None] * 2.0**lfc
    disp = 0.05 + 1.0 / mean
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + mu * disp[:, None]))
    counts[0] = 0  # an all-zero gene
    genes = [f"g{i}" for i in range(n_genes)]
    return pd.DataFrame(counts, index=genes, columns=samples.index), samples


def test_parse_formula_terms():
    f = parse_formula("~ sex + strain*treatment")
    assert f.terms == (("sex",), ("strain",), ("treatment",), ("strain", "treatment"))
    assert f.intercept
    assert not parse_formula("~ 0 + condition").intercept
    assert parse_formula("~ `odd name` + x").variables == ["odd name", "x"]


@pytest.mark.parametrize(
    "bad", ["", "condition", "~", "~ a + ", "~ a - b", "~ __import__('os')", "~ a:a", "~ a + 2"]
)
def test_parse_formula_rejects(bad):
    with pytest.raises(FormulaError):
        parse_formula(bad)


def test_design_matrix_names_and_reference(toy):
    _, samples = toy
    dm = design_matrix("~ batch + condition", samples, {"condition": "trtB"})
    assert dm.columns == [
        "Intercept",
        "batch_b2_vs_b1",
        "condition_ctrl_vs_trtB",
        "condition_trtA_vs_trtB",
    ]
    table = coefficient_table(dm)
    assert table["coefficient"].tolist() == dm.columns
    assert "trtA vs trtB" in table.loc[3, "meaning"]


def test_design_checks_name_the_problem(toy):
    _, samples = toy
    with pytest.raises(FormulaError, match="not columns of the sample sheet"):
        design_matrix("~ genotype", samples)
    confounded = samples.assign(site=samples["batch"].map({"b1": "x", "b2": "y"}))
    with pytest.raises(FormulaError, match="site_y_vs_x"):
        check_design(design_matrix("~ batch + site", confounded))
    tiny = samples.iloc[:3]
    with pytest.raises(FormulaError, match="no residual"):
        check_design(design_matrix("~ condition", tiny))
    with pytest.raises(FormulaError, match="reference level"):
        design_matrix("~ condition", samples, {"condition": "placebo"})


def test_bh_matches_definition():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.5])
    adj = bh_adjust(p)
    # by hand: sorted 0.01, 0.03, 0.04, 0.5 with n = 4
    expected = [0.04, 0.04 * 4 / 3, np.nan, 0.04 * 4 / 3, 0.5]
    np.testing.assert_allclose(adj, expected)


def test_fit_api_contract(toy, tmp_path):
    counts, samples = toy
    fit = dgeflow.fit(
        counts, samples, "~ batch + condition", reference_levels={"condition": "ctrl"}
    )
    res = fit.results(("condition", "trtA", "ctrl"))
    assert list(res.columns) == ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
    assert res.index.name == "gene_id" and res.index.equals(counts.index)
    assert res.loc["g0"].drop("baseMean").isna().all() and res.loc["g0", "baseMean"] == 0
    assert (res["padj"] < 0.1).sum() > 10
    assert fit.size_factors.index.equals(counts.columns)
    path = tmp_path / "fit.pkl"
    fit.save(path)
    again = dgeflow.load_fit(path).results(("condition", "trtA", "ctrl"))
    pd.testing.assert_frame_equal(res, again)


def test_contrast_between_non_reference_levels(toy):
    counts, samples = toy
    a = dgeflow.fit(counts, samples, "~ batch + condition", reference_levels={"condition": "ctrl"})
    b = dgeflow.fit(counts, samples, "~ batch + condition", reference_levels={"condition": "trtB"})
    ra = a.results(("condition", "trtA", "trtB"), independent_filtering=False)
    rb = b.results(("condition", "trtA", "trtB"), independent_filtering=False)
    ok = ra["pvalue"].notna()
    np.testing.assert_allclose(
        ra.loc[ok, "log2FoldChange"], rb.loc[ok, "log2FoldChange"], atol=1e-4
    )
    np.testing.assert_allclose(ra.loc[ok, "lfcSE"], rb.loc[ok, "lfcSE"], rtol=1e-3)
    # the reversed contrast flips the sign
    rev = a.results(("condition", "trtB", "trtA"), independent_filtering=False)
    np.testing.assert_allclose(rev["log2FoldChange"], -ra["log2FoldChange"], atol=1e-12)


def test_coefficient_name_and_numeric_contrast_agree(toy):
    counts, samples = toy
    fit = dgeflow.fit(
        counts, samples, "~ batch + condition", reference_levels={"condition": "ctrl"}
    )
    by_name = fit.results("condition_trtA_vs_ctrl")
    vec = np.zeros(len(fit.result_names))
    vec[fit.result_names.index("condition_trtA_vs_ctrl")] = 1
    by_vec = fit.results(vec)
    pd.testing.assert_series_equal(by_name["stat"], by_vec["stat"])
    with pytest.raises(ValueError, match="not in the design"):
        fit.results("condition_trtC_vs_ctrl")
    with pytest.raises(ValueError, match="not a level"):
        fit.results(("condition", "trtC", "ctrl"))


def test_numeric_covariate_and_lrt(toy):
    counts, samples = toy
    fit = dgeflow.fit(counts, samples, "~ batch + dose", reduced="~ batch")
    assert fit.result_names[-1] == "dose"
    res = fit.results(test="lrt")
    assert res.attrs["test"] == "lrt"
    assert (res["stat"].dropna() >= -1e-6).all()


@pytest.mark.parametrize("fit_type", ["parametric", "local", "mean"])
def test_fit_types_and_vst(toy, fit_type):
    counts, samples = toy
    fit = dgeflow.fit(counts, samples, "~ condition", fit_type=fit_type)
    assert fit.trend.fit_type == fit_type
    v = fit.vst()
    assert v.shape == counts.shape and np.isfinite(v.to_numpy()).all()
    # monotone in the normalized count within a sample
    norm = counts["s00"] / fit.size_factors["s00"]
    order = np.argsort(norm.to_numpy(), kind="stable")
    assert np.all(np.diff(v["s00"].to_numpy()[order]) >= -1e-9)


def test_bad_counts_rejected(toy):
    counts, samples = toy
    with pytest.raises(ValueError, match="integers"):
        dgeflow.fit(counts + 0.5, samples, "~ condition")
    with pytest.raises(ValueError, match="no row in the sample sheet"):
        dgeflow.fit(counts, samples.iloc[1:], "~ condition")


def test_cooks_replacement_with_seven_replicates():
    rng = np.random.default_rng(3)
    n = 16
    samples = pd.DataFrame({"g": ["a"] * 8 + ["b"] * 8}, index=[f"s{i}" for i in range(n)])
    mu = rng.lognormal(5, 1, 300)
    counts = rng.negative_binomial(10, 10 / (10 + mu[:, None]), size=(300, n))
    counts[5, 2] = 50 * int(counts[5].max() + 1)  # one wild count
    fit = dgeflow.fit(
        pd.DataFrame(counts, index=[f"g{i}" for i in range(300)], columns=samples.index),
        samples,
        "~ g",
    )
    table = fit.gene_table
    assert table.loc["g5", "replace"] == 1
    assert table["replace"].sum() < 10
    res = fit.results(("g", "b", "a"))
    # replaced and refitted: the gene keeps a p-value
    assert not np.isnan(res.loc["g5", "pvalue"])
    disabled = dgeflow.fit(
        pd.DataFrame(counts, index=table.index, columns=samples.index),
        samples,
        "~ g",
        min_replicates_for_replace=None,
    ).results(("g", "b", "a"))
    assert np.isnan(disabled.loc["g5", "pvalue"])


def test_gene_categories_partition_results(toy):
    from dgeflow.deseq2.filtering import gene_categories

    counts, samples = toy
    res = dgeflow.fit(counts, samples, "~ condition").results(("condition", "trtA", "ctrl"))
    table = gene_categories(res).set_index("category")
    assert table["n_genes"].sum() == len(res)
    assert table.loc["all_zero", "n_genes"] == 1
    assert table.loc["tested", "n_genes"] == res["padj"].notna().sum()


def test_prefilter_counts(toy):
    from dgeflow.deseq2.filtering import prefilter_counts

    counts, _ = toy
    assert prefilter_counts(counts, 0, 1) is counts
    kept = prefilter_counts(counts, 10, 3)
    assert ((kept >= 10).sum(axis=1) >= 3).all()
    dropped = counts.index.difference(kept.index)
    assert ((counts.loc[dropped] >= 10).sum(axis=1) < 3).all()
    assert "g0" in dropped


def test_user_size_factors_and_control_genes(toy):
    counts, samples = toy
    sf = pd.Series(np.linspace(0.5, 1.5, counts.shape[1]), index=counts.columns)
    fit = dgeflow.fit(counts, samples, "~ condition", size_factors=sf[::-1])
    np.testing.assert_allclose(fit.size_factors, sf)  # aligned by sample id, not position
    ctrl = counts.index[50:150]
    by_ctrl = dgeflow.fit(counts, samples, "~ condition", control_genes=ctrl).size_factors
    expected = dgeflow.size_factors(counts.loc[ctrl].to_numpy())
    np.testing.assert_allclose(by_ctrl, expected)
    with pytest.raises(ValueError, match="one positive number per sample"):
        dgeflow.fit(counts, samples, "~ condition", size_factors=np.ones(3))


def test_levels_with_spaces_and_dashes(toy):
    counts, samples = toy
    odd = samples.assign(
        condition=samples["condition"].map({"ctrl": "no drug", "trtA": "drug-A", "trtB": "drug B"})
    )
    fit = dgeflow.fit(counts, odd, "~ condition", reference_levels={"condition": "no drug"})
    assert "condition_drug.A_vs_no.drug" in fit.result_names
    res = fit.results(("condition", "drug-A", "no drug"))
    plain = dgeflow.fit(counts, samples, "~ condition", reference_levels={"condition": "ctrl"})
    np.testing.assert_allclose(
        res["log2FoldChange"], plain.results(("condition", "trtA", "ctrl"))["log2FoldChange"]
    )


def test_level_names_that_clash_after_cleaning(toy):
    _, samples = toy
    clash = samples.assign(
        condition=samples["condition"].map({"ctrl": "ctrl", "trtA": "drug A", "trtB": "drug-A"})
    )
    with pytest.raises(FormulaError, match="same name"):
        design_matrix("~ condition", clash)


def test_weighted_upper_quantile_variance_equal_weights():
    from scipy.stats import norm

    from dgeflow.deseq2.rlog import weighted_upper_quantile_variance

    x = np.random.default_rng(1).normal(0, 2, 1001)
    expected = (np.quantile(np.abs(x), 0.95) / norm.ppf(0.975)) ** 2
    assert weighted_upper_quantile_variance(x, np.full(x.size, 3.0)) == pytest.approx(expected)
    assert expected == pytest.approx(4.0, rel=0.15)


def test_rlog_of_all_zero_gene_is_zero(toy):
    counts, _ = toy
    r = dgeflow.rlog(counts)
    assert (r.loc["g0"] == 0).all()
    assert np.isfinite(r.to_numpy()).all()


def test_fit_logs_its_stages_with_counts_and_times(caplog):
    import logging

    from dgeflow.simulate import simulate_nb

    counts, samples, _ = simulate_nb(300, 8, seed=5)
    with caplog.at_level(logging.INFO, logger="dgeflow.deseq2.model"):
        dgeflow.fit(counts, samples, "~ batch + condition")
    messages = [r.getMessage() for r in caplog.records]
    assert any("genes have reads" in m and " s)" in m for m in messages)
    assert any(m.startswith("DESeq2 fit: gene-wise dispersions; trend") for m in messages)
    assert any("Cook's (0 genes with counts replaced)" in m for m in messages)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dgeflow.deseq2.model"):
        dgeflow.fit(counts, samples, "~ batch + condition", block_elements=800)
    assert any("3 blocks of up to 100 genes" in r.getMessage() for r in caplog.records)


def test_fit_saved_without_counts_gives_the_same_results(toy, tmp_path):
    counts, samples = toy
    counts_path = tmp_path / "counts.parquet"
    write_matrix(counts, counts_path)
    fit = dgeflow.fit(
        counts, samples, "~ batch + condition", reference_levels={"condition": "ctrl"}
    )
    slim, full = tmp_path / "slim.pkl", tmp_path / "full.pkl"
    fit.save(slim, counts_path=counts_path)
    fit.save(full)
    # the slim pickle holds per-gene values only: neither the input counts nor the fitted ones
    assert full.stat().st_size - slim.stat().st_size > 0.95 * 2 * counts.size * 8
    loaded = dgeflow.load_fit(slim)
    assert loaded._counts is None and loaded._g.counts is None
    for contrast in [("condition", "trtA", "ctrl"), ("condition", "trtB", "trtA")]:
        pd.testing.assert_frame_equal(fit.results(contrast), loaded.results(contrast))
    pd.testing.assert_frame_equal(
        fit.results("condition_trtA_vs_ctrl", test="lrt", reduced="~ batch"),
        loaded.results("condition_trtA_vs_ctrl", test="lrt", reduced="~ batch"),
    )
    assert loaded._counts is not None  # the LRT's reduced fit read the counts back
    pd.testing.assert_frame_equal(fit.gene_table, loaded.gene_table)
    # shrinkage needs the counts: read back from the file
    again = dgeflow.load_fit(slim)
    shrunk = again.results(("condition", "trtA", "ctrl"), shrink="apeglm")
    pd.testing.assert_frame_equal(
        fit.results(("condition", "trtA", "ctrl"), shrink="apeglm"), shrunk
    )


def test_two_level_cooks_rule_after_reload(tmp_path):
    # one factor with two levels: DESeq2 keeps a Cook's outlier when 3+ counts exceed it
    rng = np.random.default_rng(11)
    n = 6
    samples = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3}, index=[f"s{i}" for i in range(n)])
    mu = rng.lognormal(5, 1, 200)
    counts = rng.negative_binomial(10, 10 / (10 + mu[:, None]), size=(200, n))
    counts[3, 0] = 40 * int(counts[3].max() + 1)
    frame = pd.DataFrame(counts, index=[f"g{i}" for i in range(200)], columns=samples.index)
    write_matrix(frame, tmp_path / "c.parquet")
    fit = dgeflow.fit(frame, samples, "~ g")
    fit.save(tmp_path / "fit.pkl", counts_path=tmp_path / "c.parquet")
    res = fit.results(("g", "b", "a"))
    assert np.isnan(res.loc["g3", "pvalue"])
    pd.testing.assert_frame_equal(
        res, dgeflow.load_fit(tmp_path / "fit.pkl").results(("g", "b", "a"))
    )


def test_fit_in_blocks_with_per_gene_normalization_factors():
    from dgeflow.simulate import simulate_nb

    counts, samples, _ = simulate_nb(500, 16, seed=3)
    rng = np.random.default_rng(0)
    nf = pd.DataFrame(
        np.exp(rng.normal(0, 0.2, counts.shape)), index=counts.index, columns=counts.columns
    )
    whole = dgeflow.fit(counts, samples, "~ batch + condition", normalization_factors=nf)
    # blocks of 100 genes: the moments start still uses every gene's factors (DESeq2's xim)
    blocks = dgeflow.fit(
        counts, samples, "~ batch + condition", normalization_factors=nf, block_elements=1600
    )
    contrast = ("condition", "treated", "control")
    a, b = whole.results(contrast), blocks.results(contrast)
    assert (a.isna() == b.isna()).all().all()
    np.testing.assert_allclose(b["pvalue"], a["pvalue"], rtol=1e-9)


def _study_with_an_outlier(n_genes: int = 400, seed: int = 4):
    """8 + 8 samples (DESeq2 replaces outliers in cells of 7+) and one wild count."""
    from dgeflow.simulate import simulate_nb

    counts, samples, _ = simulate_nb(n_genes, 16, n_batches=1, seed=seed)
    counts.iloc[7, 3] = 60 * int(counts.iloc[7].max() + 1)
    return counts, samples


def _exact_log10_cooks(fit) -> np.ndarray:
    """Every Cook's distance of a fit without outlier replacement, recomputed from its
    dispersions (genes with reads x samples, log10)."""
    from dgeflow.deseq2 import cooks as cooks_mod
    from dgeflow.deseq2.glm import fit_nb_glm

    disp = fit.dispersions
    has_reads = disp.notna().to_numpy()
    y = fit.counts.to_numpy(dtype=float)[has_reads]
    x = fit.design.matrix
    nf = np.broadcast_to(fit.size_factors.to_numpy(), y.shape)
    glm = fit_nb_glm(y, x, nf, disp.to_numpy()[has_reads])
    cooks = cooks_mod.cooks_distance(y, y / nf, glm.mu, glm.hat_diagonals, x)
    # the recomputation is the fit's: its per-gene maximum is DESeq2's maxCooks
    np.testing.assert_allclose(
        cooks.max(axis=1), fit.gene_table["maxCooks"].to_numpy()[has_reads], rtol=1e-10
    )
    with np.errstate(divide="ignore"):
        return np.log10(cooks)


def test_cooks_by_sample_is_within_a_bin_of_the_exact_quartiles():
    from dgeflow.deseq2.cooks import CooksHistogram
    from dgeflow.simulate import simulate_nb

    counts, samples, _ = simulate_nb(600, 12, seed=8)
    fit = dgeflow.fit(counts, samples, "~ batch + condition", min_replicates_for_replace=None)
    table = fit.cooks_by_sample()
    assert list(table.columns) == ["n_genes", "min", "q25", "median", "q75", "max"]
    assert table.index.name == "sample_id" and list(table.index) == list(counts.columns)
    exact = _exact_log10_cooks(fit)
    # all-zero genes (5% of the simulated ones) have no Cook's distance
    assert (table["n_genes"] == exact.shape[0]).all() and exact.shape[0] < len(counts)
    width = CooksHistogram.empty(1).bin_width
    assert width == pytest.approx(0.035)
    quartiles = np.quantile(exact, [0.25, 0.5, 0.75], axis=0).T
    got = table[["q25", "median", "q75"]].to_numpy()
    assert np.abs(got - quartiles).max() <= width
    assert np.abs(got - quartiles).max() > 0  # interpolated, not the exact values
    np.testing.assert_array_equal(table["min"], exact.min(axis=0))
    np.testing.assert_array_equal(table["max"], exact.max(axis=0))


def test_cooks_by_sample_is_before_replacement_and_independent_of_blocks(tmp_path):
    from dgeflow.deseq2 import cooks as cooks_mod

    counts, samples = _study_with_an_outlier()
    whole = dgeflow.fit(counts, samples, "~ condition")
    assert whole.gene_table["replace"].iloc[7] == 1  # the wild count was replaced
    blocks = dgeflow.fit(counts, samples, "~ condition", block_elements=16 * 50)
    np.testing.assert_array_equal(
        blocks._g.cooks_histogram.counts, whole._g.cooks_histogram.counts
    )
    pd.testing.assert_frame_equal(blocks.cooks_by_sample(), whole.cooks_by_sample())
    # DESeq2's cooks assay holds the first fit's distances: a fit without replacement has the
    # same, and the wild count's sample keeps its Cook's distance above the cutoff
    unreplaced = dgeflow.fit(counts, samples, "~ condition", min_replicates_for_replace=None)
    pd.testing.assert_frame_equal(unreplaced.cooks_by_sample(), whole.cooks_by_sample())
    exact = _exact_log10_cooks(unreplaced)
    np.testing.assert_array_equal(whole.cooks_by_sample()["max"], exact.max(axis=0))
    wild = counts.columns[3]
    cutoff = cooks_mod.cooks_cutoff(16, 2)
    assert whole.cooks_by_sample().loc[wild, "max"] > np.log10(cutoff)
    # and it survives a slim save
    counts_path = tmp_path / "counts.parquet"
    write_matrix(counts, counts_path)
    whole.save(tmp_path / "fit.pkl", counts_path=counts_path)
    pd.testing.assert_frame_equal(
        dgeflow.load_fit(tmp_path / "fit.pkl").cooks_by_sample(), whole.cooks_by_sample()
    )


def test_cooks_by_sample_of_a_fit_pickled_without_it(toy, tmp_path):
    import copy

    counts, samples = toy
    fit = dgeflow.fit(counts, samples, "~ condition")
    # a fit saved before the histogram existed: its gene fit has no such attribute
    fit._g = copy.copy(fit._g)
    del fit._g.__dict__["cooks_histogram"]
    fit.save(tmp_path / "old.pkl")
    loaded = dgeflow.load_fit(tmp_path / "old.pkl")
    assert "cooks_histogram" not in loaded._g.__dict__
    assert loaded.results(("condition", "trtA", "ctrl"))["pvalue"].notna().any()
    with pytest.raises(ValueError, match="fit the design again"):
        loaded.cooks_by_sample()


def test_filter_curve_of_results(toy):
    from dgeflow.deseq2.filtering import filter_curve

    counts, samples = toy
    fit = dgeflow.fit(counts, samples, "~ batch + condition")
    res = fit.results(("condition", "trtA", "ctrl"))
    curve = filter_curve(res)
    assert list(curve.columns) == [
        "theta",
        "mean_count_threshold",
        "rejections",
        "lowess_fit",
        "chosen",
    ]
    assert len(curve) == 50 and curve["theta"].is_monotonic_increasing
    assert curve["mean_count_threshold"].is_monotonic_increasing
    chosen = curve.loc[curve["chosen"]].iloc[0]
    assert curve["chosen"].sum() == 1
    assert chosen["theta"] == res.attrs["filter_theta"]
    assert chosen["mean_count_threshold"] == res.attrs["filter_threshold"]
    assert chosen["rejections"] == (res["padj"] < res.attrs["alpha"]).sum()
    # the first cut filters nothing but the all-zero genes: its rejections are plain BH's
    unfiltered = fit.results(("condition", "trtA", "ctrl"), independent_filtering=False)
    assert curve["rejections"].iloc[0] == (unfiltered["padj"] < 0.1).sum()
    assert unfiltered.attrs["filter_curve"] is None and filter_curve(unfiltered) is None
    # plain lists in attrs: tables still concatenate and merge
    other = fit.results(("condition", "trtB", "ctrl"))
    both = pd.concat([res, other], keys=["a", "b"])
    assert len(both) == 2 * len(res)
    assert len(res.merge(other, left_index=True, right_index=True)) == len(res)
