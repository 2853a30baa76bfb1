"""dgeflow.tximport against R's tximport 1.26.1 and DESeq2 1.38.3 on six GEUVADIS salmon
quantifications (../shared/data/tximport_geuvadis), and the GTF reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dgeflow
from dgeflow.io import TableFormatError, read_tx2gene
from dgeflow.io.annotation import gene_lengths, gene_table, read_gtf
from dgeflow.normalize.tx_lengths import deseq2_normalization_factors

QUANT = Path(__file__).parent / "data" / "quantifiers"


@pytest.fixture(scope="module")
def geuvadis(shared_data):
    d = shared_data / "tximport_geuvadis"
    runs = pd.read_csv(d / "samples.txt", sep=" ")["run"].tolist()
    files = {r: d / "salmon" / r / "quant.sf.gz" for r in runs}
    return d, files


def _max_rel(got: pd.DataFrame, ref: pd.DataFrame) -> float:
    got = got.loc[ref.index, ref.columns].to_numpy()
    ref = ref.to_numpy()
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12)))


def test_salmon_counts_abundance_length_equal_tximport(geuvadis):
    d, files = geuvadis
    txi = dgeflow.tximport(files, d / "tx2gene.gencode.v27.csv.gz", type="salmon")
    ref_dir = d / "r_reference"
    assert txi.counts.shape == (58288, 6)
    for attr, name in (("counts", "counts"), ("length", "length"), ("abundance", "abundance_tpm")):
        ref = pd.read_csv(ref_dir / f"txi_no_{name}.csv.gz", index_col=0)
        assert _max_rel(getattr(txi, attr), ref) < 1e-6, attr
    nf = deseq2_normalization_factors(txi.counts.round(), txi.length)
    ref = pd.read_csv(ref_dir / "deseq2_tximport_normalizationFactors.csv.gz", index_col=0)
    assert _max_rel(nf, ref) < 1e-6


@pytest.mark.parametrize("mode", ["scaledTPM", "lengthScaledTPM"])
def test_counts_from_abundance(geuvadis, mode):
    d, files = geuvadis
    txi = dgeflow.tximport(files, d / "tx2gene.gencode.v27.csv.gz", counts_from_abundance=mode)
    ref = pd.read_csv(d / "r_reference" / f"txi_{mode}_counts.csv.gz", index_col=0)
    assert _max_rel(txi.counts, ref) < 1e-6
    assert txi.counts_from_abundance == mode


def test_unknown_transcripts_are_a_clear_error(geuvadis, tmp_path):
    d, files = geuvadis
    tx2gene = pd.Series(["g1"], index=["ENST_NOT_THERE"])
    with pytest.raises(TableFormatError, match="none of the quantified transcripts"):
        dgeflow.tximport(files, tx2gene)


def test_gtf_exon_union_equals_featurecounts_length():
    exons = read_gtf(QUANT / "genes.gtf")
    # featureCounts 2.0.3 reported these lengths for the same GTF (featurecounts.txt)
    assert gene_lengths(exons).to_dict() == {"geneA": 200.0, "geneB": 250.0, "geneC": 300.0}
    assert gene_table(exons).loc["geneB", "gene_name"] == "BETA"
    tx2gene = read_tx2gene(QUANT / "genes.gtf")
    assert tx2gene["geneB.2"] == "geneB" and len(tx2gene) == 4


def test_gtf_with_a_broken_line_names_it(tmp_path):
    bad = tmp_path / "bad.gtf"
    bad.write_text('chr1\tx\texon\t1\t10\t.\t+\t.\tgene_id "g";\nchr1\texon\t1\n')
    with pytest.raises(TableFormatError, match="line 2: a GTF line has 9"):
        read_gtf(bad)


def test_deseq2_from_salmon_equals_deseqdatasetfromtximport(geuvadis):
    """dgeflow.fit(txi, ...) = R's DESeqDataSetFromTximport + DESeq + results: counts rounded,
    average transcript lengths as normalization factors (tests/r/make_tximport_references.R)."""
    d, files = geuvadis
    ref_dir = Path(__file__).parent / "data" / "r_reference" / "tximport"
    txi = dgeflow.tximport(files, d / "tx2gene.gencode.v27.csv.gz")
    samples = pd.DataFrame({"group": ["A"] * 3 + ["B"] * 3}, index=list(files))
    fit = dgeflow.fit(txi, samples, "~ group")
    summary = pd.read_csv(ref_dir / "deseq2_salmon_summary.csv").iloc[0]
    assert fit.trend.asympt_disp == pytest.approx(summary["asymptDisp"], rel=1e-8)
    assert fit.disp_prior_var == pytest.approx(summary["dispPriorVar"], rel=1e-8)
    res = fit.results(("group", "B", "A"))
    assert res.attrs["filter_threshold"] == pytest.approx(summary["filterThreshold"], rel=1e-9)
    assert int((res["padj"] < 0.05).sum()) == summary["n_padj_lt_0.05"]
    ref = pd.read_csv(ref_dir / "deseq2_salmon_B_vs_A.csv.gz", index_col=0)
    ours = res.loc[ref.index]
    for col in ("baseMean", "log2FoldChange", "pvalue", "padj"):
        assert (ours[col].isna() == ref[col].isna()).all(), col
        ok = ref[col].notna()
        rel = (ours.loc[ok, col] - ref.loc[ok, col]).abs() / ref.loc[ok, col].abs().clip(1e-300)
        assert rel.max() < 1e-6, col
    nf = fit.normalization_factors
    assert nf.shape == txi.counts.shape and not np.allclose(nf.iloc[:, 0], nf.iloc[0, 0])
    with pytest.raises(ValueError, match="per-gene normalization factors"):
        _ = fit.size_factors
    # the transformations take the per-gene factors too
    assert np.isfinite(fit.vst().to_numpy()).all()


def test_annotation_table_and_gtf(tmp_path):
    from dgeflow.io.annotation import read_annotation

    table, lengths = read_annotation(QUANT / "genes.gtf")
    assert table.loc["geneC", "gene_name"] == "GAMMA" and lengths["geneB"] == 250.0
    tsv = tmp_path / "ann.tsv"
    tsv.write_text("gene_id\tgene_name\ngeneA\tALPHA\n")
    table, lengths = read_annotation(tsv)
    assert table.loc["geneA", "gene_name"] == "ALPHA" and lengths is None
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tname\ngeneA\tALPHA\n")
    with pytest.raises(TableFormatError, match="needs columns gene_id and gene_name"):
        read_annotation(bad)


def test_validation_takes_gtf_names_and_lengths():
    from dgeflow.validate import check_inputs

    result = check_inputs(
        QUANT / "htseq", QUANT / "samples.yaml", "~ condition", annotation_path=QUANT / "genes.gtf"
    )
    assert result.ok, result.problems
    assert result.annotation.loc["geneA", "gene_name"] == "ALPHA"
    assert result.lengths.to_dict() == {"geneA": 200.0, "geneB": 250.0, "geneC": 300.0}


def test_kallisto_and_rsem_columns(tmp_path):
    """kallisto's abundance.tsv and RSEM's isoforms.results are read by their own columns; the
    gene values follow tximport's rules (sums; TPM-weighted mean effective length)."""
    tx2gene = pd.Series(["g1", "g1", "g2"], index=["t1", "t2", "t3"])
    kallisto, rsem = {}, {}
    for i, sample in enumerate(["a", "b"]):
        k = tmp_path / f"{sample}_abundance.tsv"
        k.write_text(
            "target_id\tlength\teff_length\test_counts\ttpm\n"
            f"t1\t1000\t800\t{10 + i}\t{100 + i}\n"
            f"t2\t500\t300\t5\t{50 - i}\n"
            "t3\t2000\t1800\t0\t0\n"
        )
        kallisto[sample] = k
        r = tmp_path / f"{sample}.isoforms.results"
        r.write_text(
            "transcript_id\tgene_id\tlength\teffective_length\texpected_count\tTPM\tFPKM\tIsoPct\n"
            f"t1\tg1\t1000\t800\t{10 + i}\t{100 + i}\t1\t50\n"
            f"t2\tg1\t500\t300\t5\t{50 - i}\t1\t50\n"
            "t3\tg2\t2000\t1800\t0\t0\t0\t0\n"
        )
        rsem[sample] = r
    for files, kind in ((kallisto, "kallisto"), (rsem, "rsem")):
        txi = dgeflow.tximport(files, tx2gene, type=kind)
        assert txi.counts.loc["g1", "b"] == 16 and txi.abundance.loc["g1", "a"] == 150
        assert txi.length.loc["g1", "a"] == pytest.approx((100 * 800 + 50 * 300) / 150)
        # no abundance anywhere: the mean of the transcript's effective lengths
        assert txi.length.loc["g2", "a"] == pytest.approx(1800)
    with pytest.raises(TableFormatError, match="not a salmon quantification"):
        dgeflow.tximport(kallisto, tx2gene, type="salmon")


def test_rpkm_with_mean_transcript_lengths_equals_edger(geuvadis):
    """TPM/RPKM of tximport data use each gene's mean average transcript length: edgeR's
    rpkm(counts, gene.length = rowMeans(txi$length)) in the references."""
    from dgeflow.normalize import rpkm

    d, files = geuvadis
    txi = dgeflow.tximport(files, d / "tx2gene.gencode.v27.csv.gz")
    ref_dir = d / "r_reference"
    lengths = pd.read_csv(ref_dir / "gene_length_rowmean.csv.gz", index_col=0).iloc[:, 0]
    ours = txi.length.mean(axis=1)
    assert (ours.loc[lengths.index] - lengths).abs().div(lengths).max() < 1e-8
    ref = pd.read_csv(ref_dir / "edger_rpkm_rowmean_length.csv.gz", index_col=0)
    assert _max_rel(rpkm(txi.counts, ours), ref) < 1e-6


def test_edger_from_salmon_with_length_offsets(geuvadis):
    """dgeflow.fit(txi, method="edger_ql") = tximport's edgeR recipe (lengths as offsets via
    scaleOffset, unrounded counts) + estimateDisp + glmQLFit + glmQLFTest in R."""
    d, files = geuvadis
    ref_dir = Path(__file__).parent / "data" / "r_reference" / "tximport"
    txi = dgeflow.tximport(files, d / "tx2gene.gencode.v27.csv.gz")
    samples = pd.DataFrame({"group": ["A"] * 3 + ["B"] * 3}, index=list(files))
    fit = dgeflow.fit(txi, samples, "~ group", method="edger_ql")
    summary = pd.read_csv(ref_dir / "edger_salmon_summary.csv").iloc[0]
    assert fit.dispersions.common == pytest.approx(summary["common"], rel=1e-8)
    assert int(fit.keep.sum()) == summary["n_tested"]
    res = fit.results(("group", "B", "A"))
    ref = pd.read_csv(ref_dir / "edger_salmon_B_vs_A.csv.gz", index_col=0)
    ours = res.loc[ref.index]
    np.testing.assert_allclose(ours["logFC"], ref["logFC"], atol=1e-6)
    for col in ("PValue", "FDR"):
        np.testing.assert_allclose(ours[col], ref[col], rtol=1e-5, err_msg=col)
    # voom takes the counts as they are
    voom = dgeflow.fit(txi, samples, "~ group", method="limma_voom")
    assert len(voom.results(("group", "B", "A"))) == int(voom.keep.sum())
