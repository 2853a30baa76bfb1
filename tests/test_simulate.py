"""Tests of dgeflow.simulate: shapes, determinism, the example's PCA structure, committed files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dgeflow import simulate
from dgeflow.normalize import median_of_ratios

FACTORS = ["strain", "sex", "treatment", "cage"]


@pytest.fixture(scope="module")
def example() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    return simulate.simulate_example()


def _true_labels(samples: pd.DataFrame) -> pd.DataFrame:
    """Undo the deliberate strain-label swap of the example sheet."""
    first, second = simulate.SWAPPED_SAMPLES
    true = samples.copy()
    true.loc[[first, second], "strain"] = samples.loc[[second, first], "strain"].to_numpy()
    return true


def _pca_scores(log_expression: np.ndarray, n_top: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Sample scores and variance ratios of a PCA on the ``n_top`` most variable genes."""
    top = np.argsort(-log_expression.var(axis=1, ddof=1))[:n_top]
    centered = log_expression[top] - log_expression[top].mean(axis=1, keepdims=True)
    u, singular, _ = np.linalg.svd(centered.T, full_matrices=False)
    return u * singular, singular**2 / np.sum(singular**2)


def _anova_r2(scores: np.ndarray, labels: pd.Series) -> np.ndarray:
    """One-way ANOVA R^2 of each score column on a categorical factor."""
    groups = labels.to_numpy()
    total = ((scores - scores.mean(axis=0)) ** 2).sum(axis=0)
    within = sum(
        ((scores[groups == g] - scores[groups == g].mean(axis=0)) ** 2).sum(axis=0)
        for g in np.unique(groups)
    )
    return 1.0 - within / total


def _pc_factor_r2(log_expression: np.ndarray, samples: pd.DataFrame) -> pd.DataFrame:
    scores, _ = _pca_scores(log_expression)
    return pd.DataFrame(
        {f: _anova_r2(scores[:, :4], samples[f]) for f in FACTORS},
        index=["PC1", "PC2", "PC3", "PC4"],
    )


# --- simulate_nb ------------------------------------------------------------------------------


def test_simulate_nb_shapes_and_design() -> None:
    counts, samples, truth = simulate.simulate_nb(3000, 12, n_batches=3, frac_de=0.2, seed=5)
    assert counts.shape == (3000, 12)
    assert np.issubdtype(counts.to_numpy().dtype, np.integer)
    assert (counts.to_numpy() >= 0).all()
    assert list(samples.index) == list(counts.columns)
    assert list(samples.columns) == ["batch", "condition"]
    assert truth.index.equals(counts.index)
    assert {"base_mean", "dispersion", "log2FoldChange", "is_de"} <= set(truth.columns)
    # conditions balanced overall and within every batch
    assert samples["condition"].value_counts().to_dict() == {"control": 6, "treated": 6}
    per_batch = samples.groupby("batch")["condition"].value_counts().unstack()
    assert per_batch.shape == (3, 2) and (per_batch == 2).all().all()
    # DE fraction, all-zero genes and plenty of low-count genes
    assert truth["is_de"].mean() == pytest.approx(0.2 * 0.95, abs=0.03)
    assert (truth.loc[~truth["is_de"], "log2FoldChange"] == 0).all()
    assert 0.03 < (counts.sum(axis=1) == 0).mean() < 0.10
    assert (counts.mean(axis=1) < 10).mean() > 0.2
    size_factors = np.array(list(samples.attrs["size_factors"].values()))
    assert size_factors.min() >= 0.6 and size_factors.max() <= 1.6


def test_simulate_nb_mean_and_dispersion_follow_the_truth() -> None:
    # one condition, one batch, many samples: moments of each gene match NB(mean, dispersion)
    counts, samples, truth = simulate.simulate_nb(400, 400, n_batches=1, frac_de=0.0, seed=2)
    sf = np.array(list(samples.attrs["size_factors"].values()))
    normalized = counts.to_numpy() / sf
    expressed = (truth["base_mean"] > 50).to_numpy()
    mean = normalized[expressed].mean(axis=1)
    np.testing.assert_allclose(mean, truth["base_mean"].to_numpy()[expressed], rtol=0.25)
    # dispersion trend: low-count genes are more dispersed than high-count genes
    disp = truth["dispersion"].to_numpy()
    base = truth["base_mean"].to_numpy()
    assert np.median(disp[(base > 1) & (base < 5)]) > 5 * np.median(disp[base > 1000])


def test_simulate_nb_is_deterministic() -> None:
    first = simulate.simulate_nb(500, 6, seed=11)
    second = simulate.simulate_nb(500, 6, seed=11)
    other = simulate.simulate_nb(500, 6, seed=12)
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not first[0].equals(other[0])


def test_simulate_nb_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_batches"):
        simulate.simulate_nb(10, 4, n_batches=5)
    with pytest.raises(ValueError, match="frac_de"):
        simulate.simulate_nb(10, 4, frac_de=1.5)


# --- simulate_example -------------------------------------------------------------------------


def test_example_layout(example) -> None:
    counts, samples, lengths = example
    assert counts.shape == (5000, 16)
    assert list(counts.columns) == [f"S{i:02d}" for i in range(1, 17)]
    assert list(samples.index) == list(counts.columns)
    assert list(samples.columns) == ["treatment", "sex", "strain", "cage"]
    assert lengths.index.equals(counts.index)
    assert lengths.min() >= 300 and lengths.max() <= 15000
    assert 1500 < lengths.median() < 2600
    true = _true_labels(samples)
    # balanced full factorial: two samples per strain x sex x treatment cell
    assert (true.groupby(["strain", "sex", "treatment"]).size() == 2).all()
    assert set(true["treatment"]) == {"control", "treated"}
    assert set(true["sex"]) == {"F", "M"}
    assert set(true["strain"]) == {"B6", "DBA"}
    # cages hold 4 samples each, balanced against every factor
    assert (true["cage"].value_counts() == 4).all() and true["cage"].nunique() == 4
    for factor in ["strain", "sex", "treatment"]:
        assert (pd.crosstab(true["cage"], true[factor]) == 2).all().all()
    # some all-zero genes, many low-count genes
    assert (counts.sum(axis=1) == 0).sum() > 50
    assert (counts.mean(axis=1) < 10).mean() > 0.15


def test_example_swapped_samples_are_one_per_strain_and_otherwise_alike(example) -> None:
    _, samples, _ = example
    first, second = simulate.SWAPPED_SAMPLES
    true = _true_labels(samples)
    assert true.loc[first, "strain"] != true.loc[second, "strain"]
    assert samples.loc[first, "strain"] == true.loc[second, "strain"]
    for factor in ["sex", "treatment"]:
        assert samples.loc[first, factor] == samples.loc[second, factor]
    # the sheet stays balanced, so the swap is invisible without looking at the counts
    assert samples["strain"].value_counts().to_dict() == {"B6": 8, "DBA": 8}


def test_example_pca_strain_pc1_sex_pc2_treatment_pc3(example) -> None:
    counts, samples, _ = example
    log_expression = np.log2(median_of_ratios(counts).to_numpy() + 1)
    r2 = _pc_factor_r2(log_expression, _true_labels(samples))
    assert r2.idxmax(axis=1).iloc[:3].tolist() == ["strain", "sex", "treatment"]
    assert r2.loc["PC1", "strain"] > 0.95
    assert r2.loc["PC2", "sex"] > 0.95
    assert r2.loc["PC3", "treatment"] > 0.9
    assert (r2["cage"].iloc[:3] < 0.1).all()
    _, variance = _pca_scores(log_expression)
    assert variance[2] > 1.3 * variance[3]  # treatment PC clearly above the noise


def test_example_pca_with_vst_shaped_transform(example) -> None:
    # DESeq2's closed-form VST for a parametric trend a + b / mean (near the simulated one):
    # noise is compressed at low counts, so the separation must be at least as clear
    counts, samples, _ = example
    q = median_of_ratios(counts).to_numpy()
    a, b = 0.02, 1.0
    vst = np.log2((1 + b + 2 * a * q + 2 * np.sqrt(a * q * (1 + b + a * q))) / (4 * a))
    r2 = _pc_factor_r2(vst, _true_labels(samples))
    assert r2.idxmax(axis=1).iloc[:3].tolist() == ["strain", "sex", "treatment"]
    assert r2.loc["PC3", "treatment"] > 0.95
    _, variance = _pca_scores(vst)
    assert variance[0] > 1.5 * variance[1] > 1.5**2 * variance[2]
    assert variance[2] > 5 * variance[3]


def test_example_swap_is_visible_on_pc1(example) -> None:
    counts, samples, _ = example
    scores, _ = _pca_scores(np.log2(median_of_ratios(counts).to_numpy() + 1))
    pc1 = pd.Series(scores[:, 0], index=samples.index)
    labelled = samples["strain"]
    # each swapped sample sits with the strain it was NOT labelled as
    group_means = pc1.groupby(labelled).median()
    for sample in simulate.SWAPPED_SAMPLES:
        own = group_means[labelled[sample]]
        other = group_means.drop(labelled[sample]).iloc[0]
        assert abs(pc1[sample] - other) < abs(pc1[sample] - own)


def test_example_is_deterministic(example) -> None:
    again = simulate.simulate_example()
    pd.testing.assert_frame_equal(example[0], again[0])
    pd.testing.assert_frame_equal(example[1], again[1])
    pd.testing.assert_series_equal(example[2], again[2])
    other = simulate.simulate_example(seed=1)
    assert not example[0].equals(other[0])


# --- written files ----------------------------------------------------------------------------


def test_write_example_round_trips(tmp_path: Path, example) -> None:
    paths = simulate.write_example(tmp_path)
    assert [p.name for p in paths] == ["counts.tsv", "samples.yaml", "gene_lengths.tsv"]
    counts, samples, lengths = example
    read_counts = pd.read_csv(tmp_path / "counts.tsv", sep="\t", index_col="gene_id")
    pd.testing.assert_frame_equal(read_counts, counts, check_dtype=False)
    sheet_text = (tmp_path / "samples.yaml").read_text()
    assert all(s in sheet_text.split("\n\n")[0] for s in simulate.SWAPPED_SAMPLES)
    assert sheet_text.startswith("# Simulated")
    sheet = yaml.safe_load(sheet_text)
    assert list(sheet) == list(samples.index)
    assert sheet["S01"] == samples.loc["S01"].to_dict()
    read_lengths = pd.read_csv(tmp_path / "gene_lengths.tsv", sep="\t", index_col="gene_id")
    assert list(read_lengths.columns) == ["length"]
    pd.testing.assert_series_equal(read_lengths["length"], lengths, check_dtype=False)


def test_committed_example_matches_simulator(tmp_path: Path, repo_root: Path) -> None:
    committed = repo_root / "example"
    simulate.write_example(tmp_path)
    for name in ["counts.tsv", "samples.yaml", "gene_lengths.tsv"]:
        assert (committed / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"example/{name} differs from the simulator's output; regenerate it with "
            "`python -m dgeflow.simulate example/`"
        )


def test_command_line_writes_the_files(tmp_path: Path, capsys) -> None:
    simulate.main([str(tmp_path / "out")])
    assert "counts.tsv" in capsys.readouterr().out
    assert (tmp_path / "out" / "samples.yaml").is_file()
