"""Tests of dgeflow.normalize: hand-checkable cases and agreement with R (edgeR, DESeq2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow import normalize as nm


@pytest.fixture
def small_counts() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [10, 0, 30, 60], "b": [20, 5, 15, 160]}, index=["g1", "g2", "g3", "g4"]
    )


@pytest.fixture
def small_lengths() -> pd.Series:
    return pd.Series({"g1": 1000, "g2": 500, "g3": 2000, "g4": 4000, "extra": 10})


def _max_rel_diff(ours: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Max relative difference over the entries where the reference is nonzero; zeros must
    match exactly."""
    ours = ours.loc[ref.index, ref.columns].to_numpy(dtype=float)
    ref_values = ref.to_numpy(dtype=float)
    nonzero = ref_values != 0
    assert np.all(ours[~nonzero] == 0)
    return float(np.max(np.abs(ours[nonzero] / ref_values[nonzero] - 1)))


# --- hand-checkable ---------------------------------------------------------------------------


def test_cpm_by_hand(small_counts: pd.DataFrame) -> None:
    result = nm.cpm(small_counts)
    assert result.loc["g1", "a"] == pytest.approx(10 / 100 * 1e6)
    assert result.loc["g4", "b"] == pytest.approx(160 / 200 * 1e6)
    np.testing.assert_allclose(result.sum(axis=0), 1e6)
    assert result.index.equals(small_counts.index)
    assert result.columns.equals(small_counts.columns)


def test_tpm_by_hand_and_sums(small_counts: pd.DataFrame, small_lengths: pd.Series) -> None:
    result = nm.tpm(small_counts, small_lengths)
    # sample a: reads per kb = 10, 0, 15, 15 -> total 40
    assert result.loc["g1", "a"] == pytest.approx(10 / 40 * 1e6)
    assert result.loc["g3", "a"] == pytest.approx(15 / 40 * 1e6)
    np.testing.assert_allclose(result.sum(axis=0), 1e6)


def test_rpkm_by_hand_and_fpkm_equal(small_counts: pd.DataFrame, small_lengths) -> None:
    result = nm.rpkm(small_counts, small_lengths)
    # g3 in b: 15 reads, 200 reads total (2e-4 million), 2 kb
    assert result.loc["g3", "b"] == pytest.approx(15 / (200 / 1e6) / 2)
    pd.testing.assert_frame_equal(nm.fpkm(small_counts, small_lengths), result)


def test_rpkm_totals_differ_between_samples_while_tpm_totals_are_1e6(
    small_counts: pd.DataFrame, small_lengths: pd.Series
) -> None:
    normalized = {m: nm.normalize(small_counts, m, small_lengths) for m in nm.LENGTH_METHODS}
    totals = nm.sample_totals(normalized)
    assert list(totals.columns) == list(nm.LENGTH_METHODS)
    assert totals.index.name == "sample_id"
    assert list(totals.index) == ["a", "b"]
    np.testing.assert_allclose(totals["tpm"], 1e6)
    assert abs(totals.loc["a", "rpkm"] - totals.loc["b", "rpkm"]) > 1e3


def test_median_of_ratios_by_hand() -> None:
    # sample b is exactly twice sample a: factors 1/sqrt(2) and sqrt(2)
    counts = pd.DataFrame({"a": [10, 20, 40], "b": [20, 40, 80]}, index=["x", "y", "z"])
    result = nm.median_of_ratios(counts)
    np.testing.assert_allclose(result["a"], counts["a"] * np.sqrt(2))
    np.testing.assert_allclose(result["a"], result["b"])


def test_tmm_factors_of_proportional_samples_are_one() -> None:
    counts = pd.DataFrame({"a": [10, 20, 40, 0], "b": [30, 60, 120, 0]}, index=list("wxyz"))
    factors = nm.tmm_factors(counts)
    np.testing.assert_allclose(factors, 1.0)
    np.testing.assert_allclose(nm.tmm(counts), nm.cpm(counts))


def test_tmm_corrects_composition() -> None:
    # one gene takes half of sample b's library: the other genes are really unchanged,
    # so TMM-scaled CPMs of those genes must agree between the samples
    rng = np.random.default_rng(3)
    base = rng.integers(50, 500, size=200)
    a = base.copy()
    b = base.copy()
    b[0] = base[1:].sum()
    counts = pd.DataFrame({"a": a, "b": b}, index=[f"g{i}" for i in range(200)])
    scaled = nm.tmm(counts)
    np.testing.assert_allclose(scaled["a"].iloc[1:], scaled["b"].iloc[1:], rtol=1e-12)
    factors = nm.tmm_factors(counts)
    assert np.prod(factors) == pytest.approx(1.0)


def test_normalize_dispatches_every_method(small_counts, small_lengths) -> None:
    for method in nm.NORMALIZATION_METHODS:
        result = nm.normalize(small_counts, method, small_lengths)
        assert result.shape == small_counts.shape
        assert method in nm.METHOD_NOTES
    assert set(nm.LENGTH_METHODS) <= set(nm.NORMALIZATION_METHODS)


def test_unknown_method_names_the_choices(small_counts) -> None:
    with pytest.raises(ValueError, match="unknown normalization method 'rlog'.*tmm"):
        nm.normalize(small_counts, "rlog")


@pytest.mark.parametrize("method", nm.LENGTH_METHODS)
def test_length_methods_need_lengths(small_counts, method: str) -> None:
    with pytest.raises(ValueError, match="needs gene lengths"):
        nm.normalize(small_counts, method)


def test_lengths_missing_for_some_genes_are_named(small_counts) -> None:
    partial = pd.Series({"g1": 1000, "g3": 2000})
    with pytest.raises(ValueError, match=r"missing for 2 of 4 genes \(g2, g4\)"):
        nm.tpm(small_counts, partial)


def test_nonpositive_length_is_an_error(small_counts, small_lengths) -> None:
    bad = small_lengths.copy()
    bad["g2"] = 0
    with pytest.raises(ValueError, match="positive.*g2"):
        nm.rpkm(small_counts, bad)


def test_lengths_as_dataframe(small_counts, small_lengths) -> None:
    frame = small_lengths.rename("length").to_frame()
    pd.testing.assert_frame_equal(nm.tpm(small_counts, frame), nm.tpm(small_counts, small_lengths))


def test_empty_sample_and_negative_counts_are_errors(small_counts) -> None:
    with_empty = small_counts.assign(empty=0)
    with pytest.raises(ValueError, match="zero for 1 sample.*empty"):
        nm.cpm(with_empty)
    negative = small_counts.copy()
    negative.iloc[0, 0] = -1
    with pytest.raises(ValueError, match="negative"):
        nm.cpm(negative)


# --- agreement with R -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mov10_counts(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "mov10" / "Mov10_full_counts.txt", sep="\t", index_col=0)


def test_tmm_factors_match_edger(shared_data: Path, mov10_counts: pd.DataFrame) -> None:
    ref = pd.read_csv(shared_data / "mov10/r_reference/edger_tmm_all_genes.csv", index_col=0)
    factors = nm.tmm_factors(mov10_counts)
    np.testing.assert_allclose(factors.loc[ref.index], ref["norm.factors"], rtol=1e-6)
    np.testing.assert_allclose(mov10_counts.sum(axis=0).loc[ref.index], ref["lib.size"])


def test_tmm_factors_on_filtered_genes_match_edger(
    shared_data: Path, mov10_counts: pd.DataFrame
) -> None:
    # filterByExpr genes with recomputed library sizes: a different reference/gene set
    keep = pd.read_csv(
        shared_data / "mov10/r_reference/edger_filterByExpr_keep.csv.gz", index_col=0
    )["keep"]
    ref = pd.read_csv(shared_data / "mov10/r_reference/edger_tmm_filtered.csv", index_col=0)
    factors = nm.tmm_factors(mov10_counts.loc[keep.index[keep.to_numpy(dtype=bool)]])
    np.testing.assert_allclose(factors.loc[ref.index], ref["norm.factors"], rtol=1e-6)


def test_tmm_cpm_matches_edger(shared_data: Path, mov10_counts: pd.DataFrame) -> None:
    ref = pd.read_csv(
        shared_data / "mov10/r_reference/edger_cpm_tmm_all_genes.csv.gz", index_col=0
    )
    assert _max_rel_diff(nm.tmm(mov10_counts), ref) < 1e-6


def test_median_of_ratios_matches_deseq2(shared_data: Path, mov10_counts: pd.DataFrame) -> None:
    ref = pd.read_csv(
        shared_data / "mov10/r_reference/deseq2_normalized_counts.csv.gz", index_col=0
    )
    assert _max_rel_diff(nm.median_of_ratios(mov10_counts), ref) < 1e-6


def test_rpkm_matches_edger_on_tximport_counts(shared_data: Path) -> None:
    # edgeR rpkm() of tximport's gene counts with the row-mean of tximport's per-sample lengths
    folder = shared_data / "tximport_geuvadis/r_reference"
    counts = pd.read_csv(folder / "txi_no_counts.csv.gz", index_col=0)
    lengths = pd.read_csv(folder / "gene_length_rowmean.csv.gz", index_col=0)["length"]
    ref = pd.read_csv(folder / "edger_rpkm_rowmean_length.csv.gz", index_col=0)
    assert _max_rel_diff(nm.rpkm(counts, lengths), ref) < 1e-6
    np.testing.assert_allclose(nm.tpm(counts, lengths).sum(axis=0), 1e6)


def test_rank_trim_equals_average_ranks_with_ties():
    """TMM's trim by partial sort keeps exactly the values whose average rank is in range."""
    from scipy.stats import rankdata

    from dgeflow.normalize.tmm import _ranks_within

    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 17, 200):
        for _ in range(20):
            values = rng.integers(0, 6, n).astype(float)  # many ties
            lo = np.floor(n * 0.3) + 1
            hi = n + 1 - lo
            ranks = rankdata(values)
            np.testing.assert_array_equal(
                _ranks_within(values, lo, hi), (ranks >= lo) & (ranks <= hi)
            )


def test_sample_totals_of_single_precision_matrices_round_to_6_digits(
    small_counts: pd.DataFrame, small_lengths: pd.Series
) -> None:
    tpm = nm.normalize(small_counts, "tpm", small_lengths).astype(np.float32)
    raw = nm.sample_totals({"tpm": tpm})
    rounded = nm.sample_totals({"tpm": tpm}, significant_digits=6)
    assert (rounded["tpm"] == 1e6).all()
    assert np.abs(raw["tpm"] - 1e6).max() < 1.0
