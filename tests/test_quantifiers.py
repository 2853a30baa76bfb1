"""Counts as quantifiers write them (dgeflow.io.quantifiers) and their validation: a featureCounts
output made by the real featureCounts 2.0.3 (tests/data/quantifiers/make_featurecounts.sh),
an nf-core/rnaseq merged table and HTSeq-count files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dgeflow.io import TableFormatError
from dgeflow.io.quantifiers import (
    detect_format,
    match_names,
    read_count_input,
    read_featurecounts,
    read_htseq,
    read_nfcore,
)
from dgeflow.validate import check_inputs

DATA = Path(__file__).parent / "data" / "quantifiers"
SAMPLES = ["S1", "S2", "S3"]


def test_formats_are_detected_from_content():
    assert detect_format(DATA / "featurecounts.txt") == "featurecounts"
    assert detect_format(DATA / "salmon.merged.gene_counts.tsv") == "nfcore"
    assert detect_format(DATA / "htseq") == "htseq"
    assert detect_format(Path(__file__).parents[1] / "example" / "counts.tsv") == "matrix"


def test_featurecounts_real_output():
    got = read_featurecounts(DATA / "featurecounts.txt", SAMPLES)
    assert list(got.counts.columns) == SAMPLES  # BAM paths matched to sheet ids
    assert got.counts.loc["geneB"].tolist() == [17, 17, 11]
    # multi-exon genes: Length is the union of exon lengths
    assert got.lengths.to_dict() == {"geneA": 200.0, "geneB": 250.0, "geneC": 300.0}
    assert any("S1.Aligned.sortedByCoord.out -> S1" in n for n in got.notes)


def test_featurecounts_ambiguous_names_are_an_error():
    with pytest.raises(TableFormatError, match="could be sample 'S1', 'S1.Aligned'"):
        match_names(["S1.Aligned.sorted"], ["S1", "S1.Aligned"], "featureCounts file x")


def test_nfcore_table_rounds_estimates_and_keeps_names():
    got = read_nfcore(DATA / "salmon.merged.gene_counts.tsv")
    assert got.counts.loc["geneB", "S2"] == 17 and got.counts.loc["geneC", "S3"] == 6
    assert got.gene_names["geneA"] == "ALPHA"
    assert any("3 non-integer estimates rounded" in n for n in got.notes)


def test_htseq_folder_drops_summary_rows():
    got = read_htseq(DATA / "htseq", SAMPLES)
    assert list(got.counts.index) == ["geneA", "geneB", "geneC"]
    assert got.counts["S2"].tolist() == [20, 22, 6]
    assert any("__no_feature 306" in n for n in got.notes)


def test_htseq_file_with_a_header_is_refused(tmp_path):
    bad = tmp_path / "S1.txt"
    bad.write_text("gene\tcount\textra\ngeneA\t1\t2\n")
    with pytest.raises(TableFormatError, match="two tab-separated columns"):
        read_htseq([bad])


@pytest.mark.parametrize("name", ["featurecounts.txt", "salmon.merged.gene_counts.tsv", "htseq"])
def test_validation_reads_every_format(name):
    result = check_inputs(DATA / name, DATA / "samples.yaml", "~ condition")
    assert result.ok, result.problems
    assert list(result.counts.columns) == SAMPLES
    assert result.counts.dtypes.map(pd.api.types.is_integer_dtype).all()
    notes = [c.detail for c in result.checks if c.check == "counts_format"]
    assert notes and result.count_format == detect_format(DATA / name)
    if name == "featurecounts.txt":
        assert result.lengths is not None and result.lengths["geneC"] == 300


def test_featurecounts_as_a_plain_matrix_gives_one_clear_message():
    result = check_inputs(
        DATA / "featurecounts.txt", DATA / "samples.yaml", "~ condition", counts_format="matrix"
    )
    assert not result.ok
    assert any("featurecounts.txt" in p for p in result.problems)


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="counts_format must be one of"):
        read_count_input(DATA / "featurecounts.txt", "bam")


def test_htseq_file_list_in_validation(tmp_path):
    from dgeflow.validate import check_inputs

    sheet = tmp_path / "samples.yaml"
    sheet.write_text("S1: {g: a}\nS2: {g: b}\nS3: {g: a}\n")
    files = [str(DATA / "htseq" / f"{s}.htseq.counts") for s in SAMPLES]
    result = check_inputs(files, sheet, "~ g")
    assert result.ok, result.problems
    assert list(result.counts.columns) == SAMPLES
    assert result.count_format == "htseq"
    missing = check_inputs([*files[:2], str(tmp_path / "S3.counts")], sheet, "~ g")
    assert not missing.ok
    message = " ".join(missing.problems)
    assert "1 of the 3 HTSeq-count files" in message and "S3.counts" in message
