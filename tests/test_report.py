"""Tests of dgeflow.report.build on a small fake workflow output tree."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dgeflow import qc  # noqa: E402
from dgeflow.io.matrix import write_matrix
from dgeflow.io.tables import write_samples  # noqa: E402
from dgeflow.report import build as report

EVIL_SAMPLE = "<script>alert(1)</script>"
EVIL_GENE = "A&B<1>"
SAMPLES = ["S1", "S2", "S3", EVIL_SAMPLE]
CONFIG = {
    "counts": "counts.tsv",
    "samples": "samples.yaml",
    "design": "~ condition",
    "contrasts": [
        {
            "name": "treated_vs_control",
            "factor": "condition",
            "level": "treated",
            "reference": "control",
        }
    ],
    "outdir": "out",
    "de": {"alpha": 0.05, "lfc_threshold": 0},
}


def _tsv(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=False)


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path, dpi=20)
    plt.close(fig)


def _fake_tree(outdir: Path, with_lengths: bool = False) -> None:
    genes = ["g1", "g2", EVIL_GENE, "g4"]
    counts = pd.DataFrame({"gene_id": genes, **{s: [1, 2, 3, 4] for s in SAMPLES}})
    (outdir / "validation").mkdir(parents=True, exist_ok=True)
    write_matrix(counts.set_index("gene_id"), outdir / "validation" / "counts.parquet")
    sheet = pd.DataFrame(
        {"sample_id": SAMPLES, "condition": ["control", "control", "treated", "treated"]}
    )
    _tsv(outdir / "validation" / "samples.tsv", sheet)
    write_samples(sheet.set_index("sample_id"), outdir / "validation" / "samples.parquet")
    _tsv(
        outdir / "validation" / "summary.tsv",
        pd.DataFrame(
            {
                "check": ["counts integer", "samples match"],
                "status": ["ok", "ok"],
                "detail": ["all counts are integers", "4 samples"],
            }
        ),
    )
    methods = ["cpm", "tpm", "rpkm", "fpkm", "median_of_ratios", "tmm"]
    length_methods = {"tpm", "rpkm", "fpkm"}
    status = ["done" if with_lengths or m not in length_methods else "skipped" for m in methods]
    notes = ["" if s == "done" else "no gene lengths given" for s in status]
    _tsv(
        outdir / "normalized" / "methods.tsv",
        pd.DataFrame({"method": methods, "status": status, "note": notes}),
    )
    totals = pd.DataFrame(
        {
            "sample_id": SAMPLES,
            "cpm": [1e6] * 4,
            "median_of_ratios": [1000.5, 1100.25, 990.125, 1005.0],
            "tmm": [1e6, 1.01e6, 0.99e6, 1e6],
        }
    )
    if with_lengths:
        totals["tpm"] = 1e6
        totals["rpkm"] = [512.3, 488.1, 530.9, 470.2]
        totals["fpkm"] = totals["rpkm"]
    _tsv(outdir / "normalized" / "sample_totals.tsv", totals)
    _tsv(
        outdir / "qc" / "pca_variance.tsv",
        pd.DataFrame(
            {"pc": ["PC1", "PC2", "PC3", "PC4"], "variance_ratio": [0.45, 0.3, 0.15, 0.1]}
        ),
    )
    _tsv(
        outdir / "qc" / "pc_factor_association.tsv",
        pd.DataFrame(
            {
                "factor": ["condition"] * 4,
                "pc": ["PC1", "PC2", "PC3", "PC4"],
                "r2": [0.97, 0.01, 0.02, 0.0],
                "pvalue": [0.001, 0.9, 0.8, 0.99],
            }
        ),
    )
    corr = pd.DataFrame(np.full((4, 4), 0.95) + np.eye(4) * 0.05, index=SAMPLES, columns=SAMPLES)
    _tsv(outdir / "qc" / "sample_correlation_summary.tsv", qc.correlation_summary(corr))
    _tsv(
        outdir / "qc" / "sample_flags.tsv",
        pd.DataFrame(
            {
                "sample_id": [EVIL_SAMPLE],
                "flag": ["possible_swap"],
                "detail": [f"labelled condition=treated but sits with control ({EVIL_SAMPLE})"],
            }
        ),
    )
    _tsv(
        outdir / "qc" / "gene_filter.tsv",
        pd.DataFrame(
            {
                "contrast": ["treated_vs_control"] * 4,
                "category": ["all_zero", "cooks_outlier", "low_counts", "tested"],
                "n_genes": [1, 0, 1, 2],
                "detail": ["", "", "baseMean < 1.5", ""],
            }
        ),
    )
    _tsv(
        outdir / "de" / "deseq2" / "size_factors.tsv",
        pd.DataFrame({"sample_id": SAMPLES, "size_factor": [0.9, 1.1, 1.0, 1.0]}),
    )
    _tsv(
        outdir / "de" / "deseq2" / "treated_vs_control.tsv",
        pd.DataFrame(
            {
                "gene_id": genes,
                "baseMean": [0.0, 10.5, 200.123456, 3.0],
                "log2FoldChange": [np.nan, 1.5, -2.25, 0.1],
                "lfcSE": [np.nan, 0.3, 0.4, 0.5],
                "stat": [np.nan, 5.0, -5.6, 0.2],
                "pvalue": [np.nan, 1e-6, 2.5e-8, 0.8],
                "padj": [np.nan, 1e-5, 5e-8, np.nan],
            }
        ),
    )
    for png in (
        "qc/plots/pca.png",
        "qc/plots/scree.png",
        "qc/plots/correlation_heatmap.png",
        "de/deseq2/plots/dispersion.png",
        "de/deseq2/plots/treated_vs_control_ma.png",
        "de/deseq2/plots/treated_vs_control_volcano.png",
    ):
        _png(outdir / png)


@pytest.fixture
def html(tmp_path: Path) -> str:
    _fake_tree(tmp_path)
    return report.build_report(tmp_path, CONFIG)


def test_report_is_self_contained(html: str) -> None:
    assert html.lstrip().startswith("<!DOCTYPE html>")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.IGNORECASE)
    assert refs, "expected images and anchors"
    for ref in refs:
        assert ref.startswith(("data:image/png;base64,", "#")), ref
    assert "http://" not in html and "https://" not in html
    # scripts: the packed libraries and data (inert until unpacked) and the page's own code,
    # none loaded from a file or address
    scripts = re.findall(r"<script([^>]*)>", html, flags=re.IGNORECASE)
    assert scripts == [
        ' id="lib-plotly" type="application/octet-stream"',
        ' id="lib-datatables" type="application/octet-stream"',
        ' id="lib-datatables-css" type="application/octet-stream"',
        ' id="explore-data" type="application/octet-stream"',
        "",
    ]
    assert "<link" not in html.lower()
    # The four static plots are embedded and decode to PNG (MA and volcano are interactive in
    # the Explore section instead)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)


def test_user_names_are_escaped(html: str) -> None:
    assert EVIL_SAMPLE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL_GENE not in html
    assert "A&amp;B&lt;1&gt;" in html


def test_sections_present(html: str) -> None:
    for section in (
        "Overview",
        "Inputs &amp; validation",
        "Normalization",
        "Sample QC",
        "Gene-level QC",
        "Differential expression",
        "Methods &amp; versions",
    ):
        assert f">{section}</h2>" in html, section
    assert "PC1 (45%): condition (R²=0.97" in html
    assert "1 sample(s) flagged" in html
    assert "treated_vs_control" in html
    # Both significant genes are up/down once each at padj < 0.05.
    assert re.search(r"<b>1</b><span>up</span>", html)
    assert re.search(r"<b>1</b><span>down</span>", html)
    assert "numpy" in html and "Cook" in html


def test_numbers_right_aligned_and_rounded(html: str) -> None:
    assert '<td class="num ">200.1</td>' in html
    assert "200.123456" not in html
    assert '<td class="num ">2.500e-08</td>' in html


def test_skipped_methods_are_noted(html: str) -> None:
    assert "tpm was skipped: no gene lengths given." in html
    assert "No gene lengths were given" in html
    assert "RPKM/FPKM totals differ" not in html


def test_rpkm_totals_highlighted_when_present(tmp_path: Path) -> None:
    _fake_tree(tmp_path, with_lengths=True)
    (tmp_path / "validation" / "gene_lengths.tsv").write_text("gene_id\tlength\ng1\t100\n")
    html = report.build_report(tmp_path, CONFIG)
    assert "RPKM/FPKM totals differ between samples" in html
    assert 'class="num vary"' in html
    assert "was skipped" not in html


def test_missing_optional_outputs_render_as_notes(tmp_path: Path) -> None:
    outdir = tmp_path / "empty"
    outdir.mkdir()
    html = report.build_report(
        outdir,
        {
            **CONFIG,
            "contrasts": [{"factor": "condition", "level": "treated", "reference": "control"}],
        },
    )
    assert "Result table de/deseq2/condition_treated_vs_control.tsv not found." in html
    assert "qc/sample_flags.tsv not found." in html
    assert "Plot not available" in html


def test_format_number() -> None:
    assert report.format_number(1234567) == "1,234,567"
    assert report.format_number(0.123456) == "0.1235"
    assert report.format_number(float("nan")) == "NA"
    assert report.format_number(1.5e-10) == "1.500e-10"
    assert report.format_number(3.0) == "3"


def test_format_number_is_consistent_for_totals() -> None:
    # totals that are integers up to rounding read the same way
    assert report.format_number(1_000_000.0000001) == "1,000,000"
    assert report.format_number(999_999.99999) == "1,000,000"
    assert report.format_number(13_320.4) == "13,320"
    assert report.format_number(2.5e9) == "2.500e+09"


def test_long_per_sample_tables_show_their_first_rows_and_name_their_file() -> None:
    frame = pd.DataFrame({"sample_id": [f"S{i}" for i in range(600)], "size_factor": 1.0})
    table = report.frame_table(
        frame, max_rows=report.MAX_SAMPLE_ROWS, source="de/deseq2/size_factors.tsv"
    )
    assert len(table.rows) == report.MAX_SAMPLE_ROWS
    assert table.note == "Showing 500 of 600 rows; all of them are in de/deseq2/size_factors.tsv."
