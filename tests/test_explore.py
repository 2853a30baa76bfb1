"""Tests of dgeflow.report.explore: the data behind the report's interactive part."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dgeflow.io.matrix import write_matrix
from dgeflow.io.tables import write_samples
from dgeflow.report import explore
from dgeflow.report.methods_text import methods_paragraph

CONTRAST = {"name": "t_vs_c", "factor": "condition", "level": "t", "reference": "c"}


def _tree(outdir: Path, n_genes: int = 60, n_samples: int = 8, seed: int = 1) -> pd.Index:
    rng = np.random.default_rng(seed)
    genes = pd.Index([f"g{i}" for i in range(n_genes)], name="gene_id")
    samples = [f"s{j}" for j in range(n_samples)]
    counts = pd.DataFrame(rng.poisson(50, size=(n_genes, n_samples)), index=genes, columns=samples)
    (outdir / "validation").mkdir(parents=True)
    write_matrix(counts, outdir / "validation" / "counts.parquet")
    sheet = pd.DataFrame(
        {"condition": ["c", "t"] * (n_samples // 2)}, index=pd.Index(samples, name="sample_id")
    )
    sheet.to_csv(outdir / "validation" / "samples.tsv", sep="\t")
    write_samples(sheet, outdir / "validation" / "samples.parquet")
    padj = np.linspace(1e-6, 1, n_genes)
    table = pd.DataFrame(
        {
            "baseMean": counts.mean(axis=1),
            "log2FoldChange": np.where(np.arange(n_genes) % 2, 1.5, -1.5),
            "pvalue": padj / 2,
            "padj": padj,
        },
        index=genes,
    )
    table.iloc[3, 2:] = np.nan  # an untested gene
    (outdir / "de" / "deseq2").mkdir(parents=True)
    table.to_csv(outdir / "de" / "deseq2" / "t_vs_c.tsv", sep="\t")
    return genes


def test_rounded_keeps_four_digits_and_turns_missing_into_null() -> None:
    assert explore.rounded([1.23456789, 0.000123456, np.nan, np.inf, None, 0]) == [
        1.235,
        0.0001235,
        None,
        None,
        None,
        0.0,
    ]


def test_pack_is_gzip_json_in_base64_without_markup() -> None:
    document = {"genes": ["</script><b>", "A&B"], "x": [1.5, None]}
    packed = explore.pack(document)
    assert set(packed) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    assert json.loads(gzip.decompress(base64.b64decode(packed))) == document


def test_document_aligns_every_result_column_to_the_genes(tmp_path: Path) -> None:
    genes = _tree(tmp_path)
    config = {"contrasts": [CONTRAST], "de": {"methods": ["deseq2"], "alpha": 0.1}}
    doc = explore.explore_document(tmp_path, config)
    assert doc["genes"] == list(genes)
    (result,) = doc["results"]
    assert result["key"] == "deseq2/t_vs_c"
    assert len(result["padj"]) == len(genes)
    assert result["padj"][3] is None and result["p"][3] is None
    assert result["n_significant"] == sum(p is not None and p < 0.1 for p in result["padj"])
    assert sum(result["p_histogram"]["counts"]) == len(genes) - 1
    # small study: per-sample counts for every gene, none summarized
    counts = doc["counts"]
    assert counts["per_sample_genes"] == list(range(len(genes)))
    assert counts["summaries"] == {}
    raw = pd.read_parquet(tmp_path / "validation" / "counts.parquet").set_index("gene_id")
    from dgeflow.normalize.size_factors import size_factors

    expected = np.log2(raw.to_numpy() / size_factors(raw.to_numpy()) + 0.5) * explore.COUNT_SCALE
    np.testing.assert_array_equal(np.array(counts["per_sample"]), np.rint(expected))


def test_counts_beyond_the_budget_keep_the_best_genes_per_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    genes = _tree(tmp_path, n_genes=60, n_samples=8)
    monkeypatch.setattr(explore, "PER_SAMPLE_VALUES", 80)  # 10 genes x 8 samples
    doc = explore.explore_document(tmp_path, {"contrasts": [CONTRAST], "de": {}})
    counts = doc["counts"]
    # padj rises with the gene number: the first ten tested genes are the best (g3 untested)
    assert counts["per_sample_genes"] == [0, 1, 2, *range(4, 11)]
    summary = counts["summaries"]["condition"]
    assert summary["levels"] == ["c", "t"] and summary["n"] == [4, 4]
    q = np.array(summary["q"])
    assert q.shape == (len(genes), 10)  # min, q1, median, q3, max per level
    assert (np.diff(q.reshape(len(genes), 2, 5), axis=2) >= 0).all()


def test_large_clouds_become_one_image_and_significant_genes_stay_points() -> None:
    rng = np.random.default_rng(2)
    n = explore.CLOUD_POINTS + 10
    x, y = rng.normal(size=n), rng.normal(size=n)
    significant = np.zeros(n, dtype=bool)
    significant[:5] = True
    layer = explore.scatter_layers(x, y, significant)
    assert layer["cloud_png"].startswith("data:image/png;base64,")
    assert layer["cloud_n"] == n - 5
    assert layer["x_range"][0] < x.min() and layer["x_range"][1] > x.max()
    small = explore.scatter_layers(x[:100], y[:100], significant[:100])
    assert "cloud_png" not in small


def test_overlap_counts_genes_in_exactly_each_combination() -> None:
    def result(label: str, padj: list[float | None]) -> dict:
        return {"label": label, "padj": padj, "lfc": [1.0] * 4, "alpha": 0.05, "lfc_threshold": 0}

    overlap = explore.overlap_data(
        [result("A", [0.01, 0.01, 0.5, None]), result("B", [0.01, 0.5, 0.01, 0.01])],
        pd.Index(["g1", "g2", "g3", "g4"]),
    )
    assert overlap["sizes"] == [2, 3]
    found = {tuple(i["members"]): i["n"] for i in overlap["intersections"]}
    assert found == {(True, True): 1, (True, False): 1, (False, True): 2}


def test_methods_paragraph_names_the_run_and_cites_what_it_used(tmp_path: Path) -> None:
    (tmp_path / "qc").mkdir()
    pd.DataFrame(
        {
            "contrast": ["t_vs_c"] * 4,
            "category": ["all_zero", "cooks_outlier", "low_counts", "tested"],
            "n_genes": [12, 3, 1500, 9000],
        }
    ).to_csv(tmp_path / "qc" / "gene_filter.tsv", sep="\t", index=False)
    config = {
        "design": "~ batch + condition",
        "contrasts": [CONTRAST],
        "de": {"methods": ["deseq2", "limma_voom"], "alpha": 0.05, "filter_alpha": 0.1},
        "qc": {"transform": "vst", "n_top_genes": 500},
    }
    paragraph = methods_paragraph(tmp_path, config)
    text = paragraph["text"]
    assert "~ batch + condition" in text
    assert "t_vs_c (condition: t vs c (log2 fold change > 0 = higher in t))" in text
    assert "1,500 were removed by independent filtering and 9,000 were tested" in text
    assert "voom precision weights" in text
    refs = paragraph["references"]
    assert any("DESeq2" in r for r in refs) and any("voom" in r for r in refs)
    assert not any("quasi-likelihood pipeline" in r for r in refs)  # edgeR did not run
    # every citation mark points at a listed reference
    marks = {int(m) for m in __import__("re").findall(r"\[(\d+)\]", text)}
    assert marks == set(range(1, len(refs) + 1))
