"""Readers of dgeflow.io on tiny files: separators, id columns, YAML and R-style sheets."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from dgeflow.io import (
    TableFormatError,
    read_counts,
    read_gene_lengths,
    read_sample_sheet,
    read_table,
    sniff_separator,
    write_table,
)


def test_sniff_separator_by_extension_and_content(tmp_path):
    tsv = tmp_path / "a.tsv"
    tsv.write_text("g,x\n")  # the extension wins over the content
    assert sniff_separator(tsv) == "\t"
    assert sniff_separator(tmp_path / "b.csv") == ","
    other = tmp_path / "counts.dat"
    other.write_text("gene\ts1\ts2\n")
    assert sniff_separator(other) == "\t"
    other.write_text("gene,s1,s2\n")
    assert sniff_separator(other) == ","


def test_read_counts_tsv_keeps_gene_ids_as_text(tmp_path):
    path = tmp_path / "counts.tsv"
    path.write_text("gene_id\tA\tB\n001\t1\t2\n1/2-SBSRNA4\t3\t4\n")
    counts = read_counts(path)
    assert list(counts.index) == ["001", "1/2-SBSRNA4"]
    assert counts.index.name == "gene_id"
    assert list(counts.columns) == ["A", "B"]
    assert counts.loc["001", "B"] == 2


def test_read_counts_csv_gzip_and_empty_first_header(tmp_path):
    path = tmp_path / "counts.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(",A,B\ng1,1,2\ng2,3,4\n")
    counts = read_counts(path)
    assert counts.shape == (2, 2)
    assert list(counts.columns) == ["A", "B"]


def test_read_counts_keeps_duplicate_sample_names(tmp_path):
    path = tmp_path / "counts.tsv"
    path.write_text("gene\tA\tA\ng1\t1\t2\n")
    assert list(read_counts(path).columns) == ["A", "A"]


def test_read_sample_sheet_yaml(tmp_path):
    path = tmp_path / "samples.yaml"
    path.write_text("S1: {treatment: control, age: 3}\nS2: {treatment: treated}\n")
    sheet = read_sample_sheet(path)
    assert list(sheet.index) == ["S1", "S2"]
    assert sheet.index.name == "sample_id"
    assert sheet.loc["S1", "treatment"] == "control"
    assert pd.isna(sheet.loc["S2", "age"])


def test_read_sample_sheet_yaml_keeps_duplicate_ids(tmp_path):
    path = tmp_path / "samples.yml"
    path.write_text("S1: {t: a}\nS1: {t: b}\n")
    assert list(read_sample_sheet(path).index) == ["S1", "S1"]


def test_read_sample_sheet_yaml_wrong_shape(tmp_path):
    path = tmp_path / "samples.yaml"
    path.write_text("- S1\n- S2\n")
    with pytest.raises(TableFormatError, match="mapping of sample id"):
        read_sample_sheet(path)
    path.write_text("S1: control\n")
    with pytest.raises(TableFormatError, match="should map to a dict"):
        read_sample_sheet(path)


def test_read_sample_sheet_r_style_tsv(tmp_path):
    # R's write.table(row.names=TRUE) leaves the first header field empty (mov10 meta file)
    path = tmp_path / "meta.txt"
    path.write_text("\tsampletype\tMOVexpr\nkd_2\tMOV10_knockdown\tlow\nctl_1\tcontrol\tnormal\n")
    sheet = read_sample_sheet(path)
    assert list(sheet.index) == ["kd_2", "ctl_1"]
    assert list(sheet.columns) == ["sampletype", "MOVexpr"]


def test_read_sample_sheet_csv(tmp_path):
    path = tmp_path / "samples.csv"
    path.write_text("sample,condition\nS1,a\nS2,b\n")
    assert read_sample_sheet(path).loc["S2", "condition"] == "b"


def test_read_gene_lengths_with_and_without_header(tmp_path):
    with_header = tmp_path / "lengths.tsv"
    with_header.write_text("gene_id\tlength\ng1\t1000\ng2\t250\n")
    lengths = read_gene_lengths(with_header)
    assert lengths.to_dict() == {"g1": 1000, "g2": 250}
    assert lengths.name == "length"
    bare = tmp_path / "lengths.csv"
    bare.write_text("g1,1000\ng2,abc\n")
    lengths = read_gene_lengths(bare)
    assert lengths["g1"] == 1000
    assert lengths["g2"] == "abc"  # kept for validation to report


def test_write_and_read_table_round_trip(tmp_path):
    frame = pd.DataFrame({"A": [1, 2]}, index=pd.Index(["007", "g2"], name="gene_id"))
    path = tmp_path / "sub" / "t.tsv"
    write_table(frame, path, "gene_id")
    assert path.read_text().splitlines()[0] == "gene_id\tA"
    back = read_table(path)
    assert list(back.index) == ["007", "g2"]
    assert back["A"].tolist() == [1, 2]


@pytest.mark.parametrize("suffix", [".parquet", ".tsv", ".tsv.gz"])
def test_matrix_round_trip(tmp_path, suffix):
    from dgeflow.io.matrix import iter_matrix_rows, matrix_shape, read_matrix, write_matrix

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.integers(0, 1000, size=(50, 4)),
        index=pd.Index([f"ENSG{i:05d}" for i in range(49)] + ["007"], name="gene_id"),
        columns=["S1", "S 2", "s-3", "<b>"],
    )
    path = tmp_path / f"m{suffix}"
    write_matrix(frame, path)
    back = read_matrix(path)
    # ids stay text (a leading-zero id is not a number), values and order unchanged
    assert list(back.index) == list(frame.index) and list(back.columns) == list(frame.columns)
    np.testing.assert_array_equal(back.to_numpy(), frame.to_numpy())
    assert matrix_shape(path) == (50, 4)
    if suffix == ".parquet":
        assert pd.api.types.is_integer_dtype(back.dtypes.iloc[0])
        assert read_matrix(path, columns=["s-3"]).columns.tolist() == ["s-3"]
        chunks = list(iter_matrix_rows(path))
        assert sum(len(c) for c in chunks) == 50
        # R, pandas and arrow read the same table: the id column first, then the samples
        assert pd.read_parquet(path).columns.tolist() == ["gene_id", *frame.columns]


def test_matrix_format_names_are_checked():
    from dgeflow.io.matrix import matrix_suffix

    assert matrix_suffix("tsv.gz") == ".tsv.gz"
    with pytest.raises(ValueError, match="parquet"):
        matrix_suffix("xlsx")


@pytest.mark.parametrize("suffix", [".parquet", ".tsv"])
def test_matrix_single_precision(tmp_path, suffix):
    from dgeflow.io.matrix import read_matrix, write_matrix

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.lognormal(3, 2, size=(30, 3)), columns=["a", "b", "c"])
    frame.index = pd.Index([f"g{i}" for i in range(30)], name="gene_id")
    path = tmp_path / f"m{suffix}"
    write_matrix(frame, path, single_precision=True)
    back = read_matrix(path).to_numpy(dtype=float)
    rel = np.abs(back - frame.to_numpy()) / frame.to_numpy()
    assert rel.max() < 1e-6 and rel.max() > 0  # 7 significant digits, not 16
