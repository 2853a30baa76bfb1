"""Unit tests of dgeflow.qc on small synthetic log-expression matrices."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow import qc
from dgeflow.formula import FormulaError


def _design(n_per_cell: int = 2) -> pd.DataFrame:
    """A balanced strain x sex x treatment sample sheet (16 samples by default)."""
    rows = []
    for strain in ("A", "B"):
        for sex in ("female", "male"):
            for treatment in ("control", "treated"):
                for rep in range(n_per_cell):
                    rows.append(
                        {
                            "sample_id": f"{strain}_{sex[0]}_{treatment[0]}{rep + 1}",
                            "strain": strain,
                            "sex": sex,
                            "treatment": treatment,
                        }
                    )
    return pd.DataFrame(rows).set_index("sample_id")


def _expression(samples: pd.DataFrame, seed: int = 1, n_genes: int = 2000) -> pd.DataFrame:
    """Log-scale expression: strain moves many genes (PC1), sex a few genes strongly, treatment
    a moderate set; plus gene-level baseline and sample noise."""
    rng = np.random.default_rng(seed)
    baseline = rng.normal(8.0, 2.0, size=(n_genes, 1))
    x = baseline + rng.normal(0.0, 0.25, size=(n_genes, len(samples)))
    strain = (samples["strain"] == "B").to_numpy(dtype=float)
    sex = (samples["sex"] == "male").to_numpy(dtype=float)
    treated = (samples["treatment"] == "treated").to_numpy(dtype=float)
    x[:400] += rng.normal(0.0, 1.5, size=(400, 1)) * strain
    x[400:430] += rng.normal(0.0, 3.0, size=(30, 1)) * sex
    x[500:700] += rng.normal(0.0, 0.8, size=(200, 1)) * treated
    genes = [f"g{i}" for i in range(n_genes)]
    return pd.DataFrame(x, index=genes, columns=samples.index)


FACTORS = ["strain", "sex", "treatment"]


def test_top_variance_genes_orders_by_variance() -> None:
    x = pd.DataFrame({"s1": [0.0, 1.0, 5.0, 2.0], "s2": [0.0, 3.0, -5.0, 2.5]}, index=list("abcd"))
    assert list(qc.top_variance_genes(x, 2)) == ["c", "b"]
    assert len(qc.top_variance_genes(x, 10)) == 4


def test_pca_matches_centred_svd_and_variance_sums_to_one() -> None:
    samples = _design()
    x = _expression(samples)
    scores, ratio = qc.pca(x, n_components=4, ntop=500)
    assert list(scores.columns) == ["PC1", "PC2", "PC3", "PC4"]
    assert list(scores.index) == list(samples.index)
    assert ratio.sum() == pytest.approx(1.0)
    assert (np.diff(ratio.to_numpy()) <= 1e-12).all()
    # Same variance shares as a direct eigen-decomposition of the sample covariance.
    top = x.loc[qc.top_variance_genes(x, 500)].to_numpy().T
    centred = top - top.mean(axis=0)
    eig = np.sort(np.linalg.eigvalsh(centred @ centred.T))[::-1]
    np.testing.assert_allclose(ratio.to_numpy()[:4], eig[:4] / eig.sum(), rtol=1e-8)
    # Scores are centred, and their variance is the PC's variance.
    np.testing.assert_allclose(scores.mean().to_numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose((scores**2).sum().to_numpy(), eig[:4], rtol=1e-8)


def test_factor_driving_pc1_has_largest_r2_on_pc1() -> None:
    samples = _design()
    x = _expression(samples)
    scores, _ = qc.pca(x)
    assoc = qc.factor_pc_association(scores, samples, FACTORS)
    assert list(assoc.columns) == ["factor", "pc", "r2", "pvalue"]
    assert len(assoc) == 3 * 4
    pc1 = assoc[assoc["pc"] == "PC1"].set_index("factor")
    assert pc1["r2"].idxmax() == "strain"
    assert pc1.loc["strain", "r2"] > 0.9
    assert pc1.loc["strain", "pvalue"] < 1e-6
    best = qc.best_factor_per_pc(assoc)
    assert list(best.columns) == ["pc", "factor", "r2", "pvalue"]
    assert best.iloc[0]["factor"] == "strain"
    assert set(best["factor"].iloc[:3]) == {"strain", "sex", "treatment"}


def test_association_anova_and_regression_match_statsmodels_style_f_test() -> None:
    from scipy import stats

    scores = pd.DataFrame({"PC1": [1.0, 2.0, 3.0, 7.0, 8.0, 9.5]}, index=list("abcdef"))
    samples = pd.DataFrame(
        {"group": ["x", "x", "y", "y", "z", "z"], "dose": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]},
        index=list("abcdef"),
    )
    assoc = qc.factor_pc_association(scores, samples, ["group", "dose"]).set_index("factor")
    y = scores["PC1"].to_numpy()
    anova = stats.f_oneway(y[:2], y[2:4], y[4:])
    assert assoc.loc["group", "pvalue"] == pytest.approx(anova.pvalue)
    ss_between = sum(2 * (g.mean() - y.mean()) ** 2 for g in (y[:2], y[2:4], y[4:]))
    assert assoc.loc["group", "r2"] == pytest.approx(ss_between / ((y - y.mean()) ** 2).sum())
    slope = stats.linregress(samples["dose"], y)
    assert assoc.loc["dose", "r2"] == pytest.approx(slope.rvalue**2)
    assert assoc.loc["dose", "pvalue"] == pytest.approx(slope.pvalue)


def test_single_level_factor_is_untestable_not_an_error() -> None:
    scores = pd.DataFrame({"PC1": [1.0, 2.0, 3.0]}, index=list("abc"))
    samples = pd.DataFrame({"batch": ["b1", "b1", "b1"]}, index=list("abc"))
    assoc = qc.factor_pc_association(scores, samples, ["batch"])
    assert assoc["r2"].isna().all()
    assert qc.best_factor_per_pc(assoc)["factor"].isna().all()


def test_correlation_and_cluster_order_group_replicates() -> None:
    samples = _design()
    x = _expression(samples)
    corr = qc.sample_correlation(x)
    assert corr.shape == (16, 16)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    np.testing.assert_allclose(corr.to_numpy(), corr.to_numpy().T)
    order = qc.cluster_order(corr)
    assert sorted(order) == sorted(samples.index)
    # The strongest factor (strain) splits the dendrogram: each strain is contiguous.
    strains = samples.loc[order, "strain"].tolist()
    assert strains == sorted(strains) or strains == sorted(strains, reverse=True)
    ordered = qc.sample_correlation(x, ordered=True)
    assert list(ordered.index) == order == list(ordered.columns)


def test_low_correlation_sample_is_flagged_alone() -> None:
    samples = _design()
    x = _expression(samples)
    rng = np.random.default_rng(5)
    broken = samples.index[3]
    # A degraded library: most of its signal replaced by noise.
    x[broken] = 0.3 * x[broken] + rng.normal(5.0, 3.0, size=len(x))
    corr = qc.sample_correlation(x)
    flags = qc.flag_low_correlation(corr, min_correlation=0.8)
    assert list(flags["sample_id"]) == [broken]
    assert flags["flag"].eq("low_correlation").all()
    assert flags["median_correlation"].iloc[0] < 0.8
    assert qc.flag_low_correlation(qc.sample_correlation(_expression(samples))).empty


def test_constructed_sex_swap_is_flagged_and_nothing_else() -> None:
    samples = _design()
    x = _expression(samples)
    # Swap the sheet rows of a female and a male sample that share strain and treatment.
    female, male = "A_f_c1", "A_m_c2"
    swapped = samples.copy()
    swapped.loc[female, "sex"], swapped.loc[male, "sex"] = "male", "female"
    scores, _ = qc.pca(x)
    swaps = qc.flag_possible_swaps(scores, swapped, FACTORS)
    assert list(swaps.columns) == ["sample_id", "flag", "factor", "labelled", "closest", "detail"]
    assert sorted(swaps["sample_id"]) == sorted([female, male])
    assert set(swaps["factor"]) == {"sex"}
    row = swaps.set_index("sample_id").loc[female]
    assert (row["labelled"], row["closest"]) == ("male", "female")
    # The correctly labelled sheet gives no flags at all.
    assert qc.flag_possible_swaps(scores, samples, FACTORS).empty


def test_swap_across_strain_flags_only_the_pair() -> None:
    samples = _design()
    x = _expression(samples, seed=11)
    swapped = samples.copy()
    a, b = "A_f_t1", "B_m_c2"
    swapped.loc[[a, b]] = samples.loc[[b, a]].to_numpy()
    scores, _ = qc.pca(x)
    swaps = qc.flag_possible_swaps(scores, swapped, FACTORS)
    assert set(swaps["sample_id"]) == {a, b}
    # Both the strain and the sex labels disagree with the expression.
    assert {"strain", "sex"} <= set(swaps["factor"])


def test_factor_without_effect_never_flags() -> None:
    samples = _design()
    x = _expression(samples, seed=3)
    scores, _ = qc.pca(x)
    rng = np.random.default_rng(0)
    for _ in range(20):
        noisy = samples.copy()
        noisy["lane"] = rng.permutation(["L1"] * 8 + ["L2"] * 8)
        assert qc.flag_possible_swaps(scores, noisy, [*FACTORS, "lane"]).empty


def test_numeric_factor_is_ignored_for_swaps() -> None:
    samples = _design()
    samples["age"] = np.arange(len(samples), dtype=float)
    scores, _ = qc.pca(_expression(samples))
    assert qc.flag_possible_swaps(scores, samples, ["age"]).empty


def test_sample_flags_combines_both_kinds() -> None:
    samples = _design()
    x = _expression(samples)
    swapped = samples.copy()
    swapped.loc["B_f_c1", "sex"], swapped.loc["B_m_c1", "sex"] = "male", "female"
    rng = np.random.default_rng(2)
    x["A_m_t2"] = 0.3 * x["A_m_t2"] + rng.normal(5.0, 3.0, size=len(x))
    corr = qc.sample_correlation(x)
    scores, _ = qc.pca(x)
    flags = qc.sample_flags(corr, scores, swapped, FACTORS)
    assert list(flags.columns) == ["sample_id", "flag", "detail"]
    by_flag = flags.groupby("flag")["sample_id"].apply(set).to_dict()
    assert by_flag["low_correlation"] == {"A_m_t2"}
    assert by_flag["possible_swap"] == {"B_f_c1", "B_m_c1"}
    clean = qc.sample_flags(
        qc.sample_correlation(_expression(samples)),
        qc.pca(_expression(samples))[0],
        samples,
        FACTORS,
    )
    assert clean.empty
    assert list(clean.columns) == ["sample_id", "flag", "detail"]


def test_bundled_example_flags_exactly_the_swapped_pair() -> None:
    simulate = pytest.importorskip("dgeflow.simulate", reason="dgeflow.simulate not available")
    import dgeflow

    if not hasattr(dgeflow, "vst"):
        pytest.skip("dgeflow.vst not available")
    counts, samples, _ = simulate.simulate_example()
    x = dgeflow.vst(counts)
    scores, _ = qc.pca(x)
    factors = list(samples.columns)
    flags = qc.sample_flags(qc.sample_correlation(x), scores, samples, factors)
    assert sorted(flags["sample_id"]) == sorted(simulate.SWAPPED_SAMPLES)
    assert set(flags["flag"]) == {"possible_swap"}
    swaps = qc.flag_possible_swaps(scores, samples, factors)
    assert set(swaps["factor"]) == {"strain"}


def test_blockwise_sample_correlation_equals_corrcoef_over_finite_genes() -> None:
    samples = _design()
    x = _expression(samples)
    x.iloc[7, 3] = np.nan  # a gene with a missing value is left out, as in corrcoef of the rest
    x.iloc[40, 0] = -np.inf
    kept = x.drop(index=x.index[[7, 40]])
    expected = np.corrcoef(kept.to_numpy().T)
    for block_elements in (16 * 3, 1 << 24):  # three genes a block, and all at once
        corr = qc.sample_correlation(x, block_elements=block_elements)
        np.testing.assert_allclose(corr.to_numpy(), expected, rtol=0, atol=1e-12)


def test_correlation_summary_names_each_samples_closest_and_worst() -> None:
    ids = ["a", "b", "c"]
    corr = pd.DataFrame(
        [[1.0, 0.9, 0.5], [0.9, 1.0, 0.7], [0.5, 0.7, 1.0]], index=ids, columns=ids
    )
    summary = qc.correlation_summary(corr).set_index("sample_id")
    assert summary["closest sample"].tolist() == ["b", "a", "b"]
    np.testing.assert_allclose(summary["min r"], [0.5, 0.7, 0.5])
    np.testing.assert_allclose(summary["median r to others"], [0.7, 0.8, 0.6])
    np.testing.assert_allclose(summary["r to closest"], [0.9, 0.9, 0.7])


def test_correlation_heatmap_of_thousands_of_samples_is_one_ordered_image(tmp_path) -> None:
    from dgeflow.report import plots

    n = plots.MAX_CLUSTERMAP_SAMPLES + 200
    rng = np.random.default_rng(3)
    groups = np.repeat(["a", "b"], n // 2)
    x = pd.DataFrame(
        rng.normal(size=(100, n)) + np.where(groups == "a", -1.0, 1.0) * rng.normal(size=(100, 1)),
        columns=[f"s{i}" for i in range(n)],
    )
    sheet = pd.DataFrame({"group": groups}, index=x.columns)
    figure = plots.correlation_heatmap(qc.sample_correlation(x, ordered=True), sheet, ["group"])
    images = [im for ax in figure.axes for im in ax.get_images()]
    assert [im.get_array().shape for im in images] == [(n, n), (1, n, 4)]
    # the clustering order puts each group in one run of the factor bar
    bar = images[1].get_array()[0]
    assert (np.abs(np.diff(bar, axis=0)).sum(axis=1) > 0).sum() == 1
    plots.save_figure(figure, tmp_path / "heatmap.png")
    assert (tmp_path / "heatmap.png").stat().st_size > 10_000


# ---------------------------------------------------------------------------------------------
# batch-aware PCA: remove_nuisance against limma's removeBatchEffect

R_REFERENCE = Path(__file__).parent / "data" / "r_reference"
# design, kept factor and the reference written by tests/r/make_remove_batch_effect.R
REMOVE_BATCH_CASES = {
    "sex_strain_age": ("~ sex + strain + age + treatment", "treatment"),
    "strain": ("~ strain + treatment", "treatment"),
    "keep_strain": ("~ sex + strain + age + treatment", "strain"),
    "interaction_kept": ("~ sex + age + strain * treatment", "treatment"),
    "sex_by_strain": ("~ sex * strain + treatment", "treatment"),
    "aliased": ("~ strain + line + treatment", "treatment"),
}


def _remove_batch_input() -> tuple[pd.DataFrame, pd.DataFrame]:
    x = pd.read_csv(R_REFERENCE / "remove_batch_effect_input.tsv", sep="\t", index_col=0)
    samples = pd.read_csv(R_REFERENCE / "remove_batch_effect_samples.tsv", sep="\t", index_col=0)
    # the R script's relabelled copy of strain, whose columns are aliased
    samples["line"] = samples["strain"].map({"B6": "L1", "C3H": "L3", "DBA": "L2"})
    return x, samples


@pytest.mark.parametrize("case", list(REMOVE_BATCH_CASES))
def test_remove_nuisance_equals_limma_remove_batch_effect(case: str) -> None:
    x, samples = _remove_batch_input()
    design, keep = REMOVE_BATCH_CASES[case]
    expected = pd.read_csv(R_REFERENCE / f"remove_batch_effect_{case}.tsv", sep="\t", index_col=0)
    # small blocks: the result must not depend on them
    corrected = qc.remove_nuisance(x, samples, design, keep, block_elements=50 * 14)
    assert list(corrected.index) == list(expected.index)
    assert list(corrected.columns) == list(expected.columns)
    np.testing.assert_allclose(corrected.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-10)


def test_nuisance_terms_are_every_term_without_the_kept_factor() -> None:
    assert qc.nuisance_terms("~ sex + strain + treatment", "treatment") == ["sex", "strain"]
    assert qc.nuisance_terms("~ sex + strain * treatment", "treatment") == ["sex", "strain"]
    assert qc.nuisance_terms("~ sex * strain + treatment", "treatment") == [
        "sex",
        "strain",
        "sex:strain",
    ]
    assert qc.nuisance_terms("~ treatment", "treatment") == []
    with pytest.raises(FormulaError, match="not in the design"):
        qc.nuisance_terms("~ sex + treatment", "strain")


def test_remove_nuisance_keeps_levels_dtype_and_the_order_of_samples() -> None:
    x, samples = _remove_batch_input()
    # the sample sheet in another order, with an extra sample: aligned on x's columns
    extra = pd.DataFrame(
        {"sex": ["F"], "strain": ["B6"], "treatment": ["control"], "age": [9.0], "line": ["L1"]},
        index=["S99"],
    )
    sheet = pd.concat([samples.iloc[::-1], extra])
    design = "~ sex + strain + age + treatment"
    corrected = qc.remove_nuisance(x, sheet, design, "treatment")
    expected = qc.remove_nuisance(x, samples, design, "treatment")
    np.testing.assert_array_equal(corrected.to_numpy(), expected.to_numpy())
    single = qc.remove_nuisance(x.astype(np.float32), samples, design, "treatment")
    assert (single.dtypes == np.float32).all()
    np.testing.assert_allclose(single.to_numpy(), expected.to_numpy(), atol=1e-5)
    # nothing to remove: the values come back unchanged
    unchanged = qc.remove_nuisance(x, samples, "~ treatment", "treatment")
    np.testing.assert_array_equal(unchanged.to_numpy(), x.to_numpy())
    with pytest.raises(ValueError, match="no row in the sample sheet"):
        qc.remove_nuisance(x, samples.iloc[1:], design, "treatment")
    broken = x.copy()
    broken.iloc[7, 3] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        qc.remove_nuisance(broken, samples, design, "treatment")


def test_remove_nuisance_and_corrected_pca_hold_one_block_not_a_float64_copy() -> None:
    samples = _design(n_per_cell=8)  # 64 samples
    x = _expression(samples, n_genes=20000).astype(np.float32)  # 5 MB; 10 MB as float64
    design = "~ strain + sex + treatment"
    block = 1 << 14  # 128 kB per float64 temporary
    tracemalloc.start()
    try:
        corrected = qc.remove_nuisance(x, samples, design, "treatment", block_elements=block)
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        qc.corrected_pca(x, samples, design, "treatment", ntop=500, block_elements=block)
        _, peak_pca = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = corrected.to_numpy().nbytes
    assert peak < output + 1_000_000
    # a few blocks, then the PCA of the 500 selected genes (about 1.5 MB): no 10 MB copy
    assert peak_pca - held < 3_000_000


def test_corrected_pca_is_the_pca_of_the_corrected_matrix() -> None:
    samples = _design()
    x = _expression(samples)
    design = "~ strain + sex + treatment"
    scores, ratio = qc.corrected_pca(x, samples, design, "treatment", n_components=3, ntop=300)
    corrected = qc.remove_nuisance(x, samples, design, "treatment")
    expected_scores, expected_ratio = qc.pca(corrected, n_components=3, ntop=300)
    np.testing.assert_allclose(scores.to_numpy(), expected_scores.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(ratio.to_numpy(), expected_ratio.to_numpy(), atol=1e-12)
    assert list(scores.index) == list(samples.index)


def test_corrected_pca_tables_let_the_kept_factor_lead_pc1() -> None:
    samples = _design()
    x = _expression(samples)
    raw_scores, _ = qc.pca(x)
    raw = qc.factor_pc_association(raw_scores, samples, FACTORS)
    assert raw.set_index(["pc", "factor"]).loc[("PC1", "strain"), "r2"] > 0.9  # strain leads
    scores, variance = qc.corrected_pca_tables(
        x,
        samples,
        "~ strain + sex + treatment",
        ["treatment", "treatment", "strain"],
        n_components=4,
        ntop=500,
    )
    assert list(scores.columns) == [*qc.CORRECTED_PCA_COLUMNS, "PC1", "PC2", "PC3", "PC4"]
    assert list(variance.columns) == qc.CORRECTED_VARIANCE_COLUMNS
    # a factor named by several contrasts is computed once
    assert list(scores["kept_factor"].unique()) == ["treatment", "strain"]
    assert (scores.groupby("kept_factor").size() == len(samples)).all()
    by_factor = scores.set_index("kept_factor")
    assert set(by_factor.loc["treatment", "removed"]) == {"strain + sex"}
    assert set(by_factor.loc["strain", "removed"]) == {"sex + treatment"}
    assert set(scores["note"]) == {""}
    for factor in ("treatment", "strain"):
        block = by_factor.loc[factor].set_index("sample_id")[["PC1"]]
        pc1 = qc.factor_pc_association(block, samples, FACTORS).set_index("factor")["r2"]
        assert pc1.idxmax() == factor and pc1[factor] > 0.9
        ratios = variance.loc[variance["kept_factor"] == factor, "variance_ratio"]
        assert ratios.sum() == pytest.approx(1.0)
    # a design of the kept factor alone: written all the same, equal to the raw PCA, with a note
    alone, alone_variance = qc.corrected_pca_tables(x, samples, "~ treatment", ["treatment"])
    assert set(alone["removed"]) == {"none"} and set(alone["note"]) == {qc.NOTHING_REMOVED_NOTE}
    raw_ratio = qc.pca(x)[1]
    np.testing.assert_allclose(
        alone.set_index("sample_id")[raw_scores.columns].to_numpy(), raw_scores.to_numpy()
    )
    np.testing.assert_allclose(alone_variance["variance_ratio"], raw_ratio.to_numpy())
