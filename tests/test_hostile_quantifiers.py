"""Hostile quantifier inputs (issue #19): each gives a clean stop naming the file, the line or
sample and the fix, or exactly the counts of its clean equivalent. HTSeq-count folders with two
files for one sample; transcripts missing from tx2gene (always reported, an error above
'quantifications.max_unmapped_reads'); salmon, kallisto and RSEM files cut off, with missing,
NaN, infinite, negative or non-numeric values, empty, header only, or with transcripts that
differ between samples."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import dgeflow
from dgeflow.validate import check_inputs

SAMPLES = ["S1", "S2", "S3"]
SHEET = "S1: {c: a}\nS2: {c: b}\nS3: {c: a}\n"
TX2GENE = {"t1": "g1", "t2": "g1", "t3": "g2", "t4": "g2", "t5": "g3", "t6": "g3"}
# transcript -> (length, effective length)
LENGTHS = {
    "t1": (1000, 800.5),
    "t2": (500, 300.0),
    "t3": (2000, 1800.25),
    "t4": (700, 520.0),
    "t5": (1500, 1300.0),
    "t6": (900, 710.0),
}
HEADERS = {
    "salmon": ("Name\tLength\tEffectiveLength\tTPM\tNumReads\n", "quant.sf"),
    "kallisto": ("target_id\tlength\teff_length\test_counts\ttpm\n", "abundance.tsv"),
    "rsem": (
        "transcript_id\tgene_id\tlength\teffective_length\texpected_count\tTPM\tFPKM\tIsoPct\n",
        "isoforms.results",
    ),
}
# what the clean study's samples S1..S3 count per gene (sums of reads (k + 1) * 10 + 3 * i)
CLEAN = pd.DataFrame(
    {"S1": [30, 70, 110], "S2": [36, 76, 116], "S3": [42, 82, 122]},
    index=pd.Index(["g1", "g2", "g3"], name="gene_id"),
)
RERUN = "Fix: run salmon again for sample S2, or copy its quant.sf again in full: the file must be salmon's own, unedited output."  # noqa: E501


def _line(kind: str, tx: str, k: int, sample: int) -> str:
    length, eff = LENGTHS[tx]
    reads = (k + 1) * 10 + sample * 3
    tpm = reads * 2.5 + k
    if kind == "salmon":
        return f"{tx}\t{length}\t{eff}\t{tpm}\t{reads}\n"
    if kind == "kallisto":
        return f"{tx}\t{length}\t{eff}\t{reads}\t{tpm}\n"
    return f"{tx}\t{TX2GENE[tx]}\t{length}\t{eff}\t{reads}\t{tpm}\t1.0\t50.0\n"


def quant_text(sample: int, kind: str = "salmon", ids: Callable[[str], str] = str) -> str:
    """One sample's clean quantification file: six transcripts, reads (k + 1) * 10 + 3 * i."""
    lines = [_line(kind, tx, k, sample) for k, tx in enumerate(LENGTHS)]
    return HEADERS[kind][0] + "".join(
        ids(line.split("\t", 1)[0]) + "\t" + line.split("\t", 1)[1] for line in lines
    )


def study(
    tmp_path: Path,
    broken: Callable[[str], str] | None = None,
    *,
    kind: str = "salmon",
    tx2gene: str | None = None,
    gzipped: bool = False,
    ids: Callable[[str], str] = str,
    **settings: object,
):
    """check_inputs on three samples' quantifications; ``broken`` rewrites sample S2's text."""
    name = HEADERS[kind][1] + (".gz" if gzipped else "")
    for i, sample in enumerate(SAMPLES):
        (tmp_path / sample).mkdir(exist_ok=True)
        text = quant_text(i, kind, ids)
        if broken is not None and sample == "S2":
            text = broken(text)
        path = tmp_path / sample / name
        if gzipped:
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text, newline="")
    if tx2gene is None:
        tx2gene = "".join(f"{t}\t{g}\n" for t, g in TX2GENE.items())
    (tmp_path / "tx2gene.tsv").write_text(tx2gene)
    (tmp_path / "samples.yaml").write_text(SHEET)
    quantifications = {
        "type": kind,
        "files": str(tmp_path / "{sample}" / name),
        "tx2gene": str(tmp_path / "tx2gene.tsv"),
        **settings,
    }
    return check_inputs(None, tmp_path / "samples.yaml", "~ c", quantifications=quantifications)


def s2(tmp_path: Path, kind: str = "salmon") -> str:
    return f"{tmp_path / 'S2' / HEADERS[kind][1]} (sample S2)"


def tx2gene_line(result) -> tuple[str, str]:
    (line,) = [(c.status, c.detail) for c in result.checks if c.check == "tx2gene"]
    return line


# --- accepted: exactly the clean answer -----------------------------------------------------


def test_clean_study_counts_and_its_tx2gene_line(tmp_path):
    result = study(tmp_path)
    assert result.ok, result.problems
    pd.testing.assert_frame_equal(result.counts, CLEAN, check_dtype=False)
    assert tx2gene_line(result) == (
        "ok",
        f"all 6 quantified transcripts are in tx2gene {tmp_path / 'tx2gene.tsv'}: no reads "
        "left out",
    )


@pytest.mark.parametrize(
    "name, rewrite",
    [
        # readr, tximport's reader, skips blank lines
        ("blank lines", lambda t: t.replace("\nt3", "\n\nt3") + "\n"),
        ("CRLF line ends", lambda t: t.replace("\n", "\r\n")),
        # the same transcripts in another order give the same gene sums
        (
            "rows in another order",
            lambda t: t.splitlines(True)[0] + "".join(t.splitlines(True)[:0:-1]),
        ),
    ],
)
def test_harmless_variants_give_the_clean_counts(tmp_path, name, rewrite):
    result = study(tmp_path, rewrite)
    assert result.ok, result.problems
    pd.testing.assert_frame_equal(result.counts, CLEAN, check_dtype=False)
    (tmp_path / "clean").mkdir()
    clean = study(tmp_path / "clean")
    pd.testing.assert_frame_equal(result.tx_lengths, clean.tx_lengths)
    pd.testing.assert_series_equal(result.lengths, clean.lengths)


@pytest.mark.parametrize("kind", ["kallisto", "rsem"])
def test_kallisto_and_rsem_clean_counts(tmp_path, kind):
    result = study(tmp_path, kind=kind)
    assert result.ok, result.problems
    pd.testing.assert_frame_equal(result.counts, CLEAN, check_dtype=False)


# --- salmon files cut off, empty or with values tximport cannot use -------------------------


@pytest.mark.parametrize(
    "rewrite, expected",
    [
        (
            lambda t: t[:-4],  # cut in the middle of the last line's NumReads
            "the file ends in the middle of line 7 (no line end after "
            "'t6\\t900\\t710.0\\t162.5'): it is cut off.",
        ),
        (
            lambda t: t.rsplit("\t", 2)[0] + "\n",  # the last line lost two fields
            "tximport needs a transcript id and a number >= 0 in EffectiveLength, TPM, NumReads "
            "on every line; 2 value(s) are not: line 7 TPM '' (empty), line 7 NumReads '' "
            "(empty). Line 7 is the last: the file looks cut off there.",
        ),
        (
            lambda t: t.replace("\t33\n", "\tnan\n"),
            "tximport needs a transcript id and a number >= 0 in EffectiveLength, TPM, NumReads "
            "on every line; 1 value(s) are not: line 4 NumReads 'nan' (NaN).",
        ),
        (
            lambda t: t.replace("\t84.5\t", "\tinf\t"),
            "tximport needs a transcript id and a number >= 0 in EffectiveLength, TPM, NumReads "
            "on every line; 1 value(s) are not: line 4 TPM 'inf' (infinite).",
        ),
        (
            lambda t: t.replace("\t300.0\t", "\t-3\t"),
            "tximport needs a transcript id and a number >= 0 in EffectiveLength, TPM, NumReads "
            "on every line; 1 value(s) are not: line 3 EffectiveLength '-3' (negative).",
        ),
        (
            lambda t: t.replace("\t33\n", "\t33,5\n").replace("\t43\n", "\tNA\n"),
            "tximport needs a transcript id and a number >= 0 in EffectiveLength, TPM, NumReads "
            "on every line; 2 value(s) are not: line 4 NumReads '33,5' (not a number), "
            "line 5 NumReads 'NA' (NaN).",
        ),
        (lambda t: "", "the file is empty (not even a header line)."),
        (
            lambda t: t.splitlines(True)[0],
            "the file has a header (line 1) but no transcript lines.",
        ),
        (
            lambda t: t.replace("\t33\n", "\t33\t9\n"),
            "line 4 has 6 tab-separated fields where the header (line 1) has 5.",
        ),
        (
            # every line one field longer than the header: pandas would shift the columns
            lambda t: "".join(
                line[:-1] + "\tx\n" if i else line for i, line in enumerate(t.splitlines(True))
            ),
            "line 2 has 6 tab-separated fields where the header (line 1) has 5.",
        ),
        (
            lambda t: t + t.splitlines(True)[2],
            "transcript 't2' is on lines 3, 8 (1 transcript(s) are listed more than once); "
            "salmon writes each transcript once.",
        ),
    ],
    ids=[
        "cut mid-line",
        "last line short",
        "NaN",
        "inf",
        "negative",
        "text",
        "empty",
        "header only",
        "extra field",
        "extra field everywhere",
        "transcript twice",
    ],
)
def test_broken_salmon_file_stops_naming_file_line_and_fix(tmp_path, rewrite, expected):
    result = study(tmp_path, rewrite)
    assert result.problems == [f"{s2(tmp_path)}: {expected} {RERUN}"]


def test_missing_column_names_the_header(tmp_path):
    result = study(
        tmp_path, lambda t: "\n".join(x.rsplit("\t", 1)[0] for x in t.splitlines()) + "\n"
    )
    assert result.problems == [
        f"{s2(tmp_path)}: not a salmon quantification: the header (line 1) has no column "
        "NumReads (found Name, Length, EffectiveLength, TPM). Fix: give the quant.sf salmon "
        "writes, or the type of the quantifier that wrote this file."
    ]


def test_cut_off_gzip_names_the_last_whole_line(tmp_path):
    result = study(tmp_path, gzipped=True)
    assert result.ok, result.problems
    path = tmp_path / "S2" / "quant.sf.gz"
    # a file of many lines, cut in the middle of its gzip stream
    text = quant_text(1).splitlines(True)
    body = text[0] + "".join(text[1:] * 2000)
    data = gzip.compress(body.encode())
    path.write_bytes(data[: len(data) // 2])
    result = check_inputs(
        None,
        tmp_path / "samples.yaml",
        "~ c",
        quantifications={
            "files": str(tmp_path / "{sample}" / "quant.sf.gz"),
            "tx2gene": str(tmp_path / "tx2gene.tsv"),
        },
    )
    (problem,) = result.problems
    assert problem.startswith(
        f"{path} (sample S2): the gzip file is cut off or damaged after line "
    )
    assert "Compressed file ended before the end-of-stream marker was reached" in problem
    assert problem.endswith(RERUN)


def test_every_broken_file_is_reported_at_once(tmp_path):
    def broken(text: str) -> str:
        return text.replace("\t33\n", "\tnan\n")

    # S2 broken by the helper, S3 emptied here
    result = study(tmp_path, broken)
    (tmp_path / "S3" / "quant.sf").write_text("")
    result = check_inputs(
        None,
        tmp_path / "samples.yaml",
        "~ c",
        quantifications={
            "files": str(tmp_path / "{sample}" / "quant.sf"),
            "tx2gene": str(tmp_path / "tx2gene.tsv"),
        },
    )
    assert [p.split(":")[0] for p in result.problems] == [
        f"{tmp_path / 'S2' / 'quant.sf'} (sample S2)",
        f"{tmp_path / 'S3' / 'quant.sf'} (sample S3)",
    ]


# --- transcript sets that differ between samples --------------------------------------------


def test_file_cut_at_a_line_end_is_found_by_its_transcripts(tmp_path):
    result = study(tmp_path, lambda t: "".join(t.splitlines(True)[:-2]))
    s1 = tmp_path / "S1" / "quant.sf"
    assert result.problems == [
        f"{s2(tmp_path)}: its 4 transcripts are not the 6 of the 2 other files (as {s1} "
        "(sample S1)): 2 of theirs missing ('t5', 't6'); the file ends at line 5 where they go "
        "on with 't5': it looks cut off. Fix: quantify every sample against the same salmon "
        "index; run salmon again for sample S2, or copy its quant.sf again in full: the file "
        "must be salmon's own, unedited output."
    ]


def test_other_transcriptome_names_the_first_differing_line(tmp_path):
    result = study(tmp_path, lambda t: t.replace("t3\t", "t9\t"))
    (problem,) = result.problems
    assert problem.startswith(f"{s2(tmp_path)}: its 6 transcripts are not the 6 of ")
    assert (
        "1 of theirs missing ('t3'), 1 not in theirs ('t9'); line 4 holds 't9' where they "
        "have 't3'. Fix: quantify every sample against the same salmon index;" in problem
    )


# --- kallisto and RSEM ----------------------------------------------------------------------


def test_kallisto_without_pseudoaligned_reads_says_so(tmp_path):
    def no_reads(text: str) -> str:
        # what kallisto writes when no read pseudoaligned: est_counts 0, tpm -nan
        header, *rows = text.splitlines(True)
        return header + "".join("\t".join([*r.split("\t")[:3], "0", "-nan\n"]) for r in rows)

    result = study(tmp_path, no_reads, kind="kallisto")
    (problem,) = result.problems
    where = s2(tmp_path, "kallisto")
    assert problem == (
        f"{where}: tximport needs a transcript id and a number >= 0 in eff_length, tpm, "
        "est_counts on every line; 6 value(s) are not: line 2 tpm '-nan' (NaN), line 3 tpm "
        "'-nan' (NaN), line 4 tpm '-nan' (NaN), line 5 tpm '-nan' (NaN), line 6 tpm '-nan' "
        "(NaN) and 1 more. Every tpm is NaN and every est_counts 0: kallisto pseudoaligned no "
        "read of this sample (check its FASTQ files against the index, or leave the sample out "
        "of the sample sheet). Fix: run kallisto again for sample S2, or copy its abundance.tsv "
        "again in full: the file must be kallisto's own, unedited output."
    )


def test_rsem_negative_count_names_its_line(tmp_path):
    result = study(tmp_path, lambda t: t.replace("\t23\t", "\t-23\t"), kind="rsem")
    assert result.problems == [
        f"{s2(tmp_path, 'rsem')}: tximport needs a transcript id and a number >= 0 in "
        "effective_length, TPM, expected_count on every line; 1 value(s) are not: line 3 "
        "expected_count '-23' (negative). Fix: run rsem again for sample S2, or copy its "
        "isoforms.results again in full: the file must be rsem's own, unedited output."
    ]


# --- transcripts missing from tx2gene -------------------------------------------------------


def test_small_loss_is_a_warning_with_the_share_and_the_counts_of_the_rest(tmp_path):
    tx2gene = "".join(f"{t}\t{g}\n" for t, g in TX2GENE.items() if t != "t1")
    result = study(tmp_path, tx2gene=tx2gene, max_unmapped_reads=0.1)
    assert result.ok, result.problems
    status, detail = tx2gene_line(result)
    # t1 holds 10 + 13 + 16 = 39 of the 684 reads
    assert (status, detail) == (
        "warning",
        f"1 of the 6 quantified transcripts (16.67%) are not in tx2gene "
        f"{tmp_path / 'tx2gene.tsv'} and are left out, as tximport does, with 5.70% of the "
        "estimated reads (39 of 684, all samples); e.g. 't1'. Within "
        "'quantifications.max_unmapped_reads' (10.00%).",
    )
    assert result.counts.loc["g1"].tolist() == [20, 23, 26]  # t2 alone
    pd.testing.assert_frame_equal(
        result.counts.loc[["g2", "g3"]], CLEAN.loc[["g2", "g3"]], check_dtype=False
    )


def test_loss_above_the_default_stops_with_examples_and_the_fix(tmp_path):
    tx2gene = "".join(f"{t}\t{g}\n" for t, g in TX2GENE.items() if t != "t1")
    result = study(tmp_path, tx2gene=tx2gene)
    assert result.problems == [
        f"1 of the 6 quantified transcripts (16.67%) are not in tx2gene "
        f"{tmp_path / 'tx2gene.tsv'} and are left out, as tximport does, with 5.70% of the "
        "estimated reads (39 of 684, all samples); e.g. 't1'. That is more than "
        "'quantifications.max_unmapped_reads' (5.00%) allows. Fix: use the tx2gene/GTF of the "
        "same annotation (source and release) as the transcriptome the salmon index was built "
        "from; or, if these transcripts are meant to be left out (spike-ins, reporters), raise "
        "'quantifications.max_unmapped_reads'."
    ]


def test_version_suffix_only_is_said_and_ignore_tx_version_gives_the_clean_counts(tmp_path):
    result = study(tmp_path, ids=lambda tx: f"{tx}.3")
    (problem,) = result.problems
    assert problem.startswith("6 of the 6 quantified transcripts (100.00%) are not in tx2gene")
    assert (
        "e.g. 't1.3', 't2.3', 't3.3'. 6 of them differ from a tx2gene id only by the version "
        "suffix (e.g. 't1.3' quantified, 't1' in tx2gene)." in problem
    )
    assert (
        "Fix: set 'quantifications.ignore_tx_version: true' (tximport's ignoreTxVersion)"
        in problem
    )
    fixed = study(tmp_path, ids=lambda tx: f"{tx}.3", ignore_tx_version=True)
    assert fixed.ok, fixed.problems
    pd.testing.assert_frame_equal(fixed.counts, CLEAN, check_dtype=False)
    assert tx2gene_line(fixed)[0] == "ok"


def test_different_versions_are_called_different_releases(tmp_path):
    tx2gene = "".join(f"{t}.2\t{g}\n" for t, g in TX2GENE.items())
    result = study(tmp_path, ids=lambda tx: f"{tx}.3", tx2gene=tx2gene)
    (problem,) = result.problems
    assert "(e.g. 't1.3' quantified, 't1.2' in tx2gene)" in problem
    assert (
        "Fix: the version suffixes differ, so the annotation releases differ: use the "
        "tx2gene/GTF of the release the index was built from" in problem
    )


def test_gencode_headers_ask_for_salmon_gencode(tmp_path):
    result = study(
        tmp_path, ids=lambda tx: f"{tx}|{TX2GENE[tx]}|-|-|{tx}-201|X|100|protein_coding|"
    )
    (problem,) = result.problems
    assert (
        "6 of them are whole GENCODE FASTA headers (e.g. 't1|g1|-|-|t1-201|X|100|protein_coding|')"
        in problem
    )
    assert "Fix: build the salmon index with --gencode" in problem


def test_bad_threshold_is_a_config_error(tmp_path):
    result = study(tmp_path, max_unmapped_reads=1.5)
    assert result.problems == [
        "config key 'quantifications.max_unmapped_reads' is 1.5; use a fraction from 0 to 1 "
        "(default 0.05)."
    ]


def test_api_tximport_logs_the_loss(tmp_path, caplog):
    files = {}
    for i, sample in enumerate(SAMPLES):
        files[sample] = tmp_path / f"{sample}.sf"
        files[sample].write_text(quant_text(i))
    tx2gene = pd.Series({t: g for t, g in TX2GENE.items() if t != "t1"})
    with caplog.at_level(logging.WARNING, logger="dgeflow.io.tximport"):
        txi = dgeflow.tximport(files, tx2gene)
    assert caplog.messages == [
        "transcripts missing from tx2gene: 1 of 6 (5.70% of the estimated reads), left out, "
        "e.g. 't1'"
    ]
    assert txi.counts.loc["g1"].tolist() == [20, 23, 26]


# --- HTSeq-count folders: one file per sample -----------------------------------------------


def htseq_folder(tmp_path: Path, names: list[str], sheet: str = SHEET):
    folder = tmp_path / "htseq"
    folder.mkdir()
    for i, name in enumerate(names):
        text = f"g1\t{10 + i}\ng2\t{20 + i}\n__no_feature\t5\n"
        path = folder / name
        if name.endswith(".gz"):
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
    (tmp_path / "samples.yaml").write_text(sheet)
    return folder, check_inputs(folder, tmp_path / "samples.yaml", "~ c")


@pytest.mark.parametrize(
    "extra, first, second",
    [
        ("S1.counts", "S1.counts", "S1.txt"),
        ("S1.txt.gz", "S1.txt", "S1.txt.gz"),
    ],
)
def test_two_files_of_one_sample_stop_naming_both(tmp_path, extra, first, second):
    folder, result = htseq_folder(tmp_path, ["S1.txt", "S2.txt", "S3.txt", extra])
    assert result.problems == [
        f"counts file {str(folder)!r} could not be read: HTSeq files in {folder}: {first!r} and "
        f"{second!r} are both files of sample 'S1' (a file's name without "
        ".txt/.tsv/.tab/.counts/.htseq/.gz is its sample). Fix: keep one file per sample: "
        f"remove {second!r} or {first!r}, or move it out of the folder."
    ]


def test_names_differing_only_in_case_stop(tmp_path):
    folder, result = htseq_folder(tmp_path, ["S1.txt", "S2.txt", "S3.txt", "s1.txt"])
    assert result.problems == [
        f"counts file {str(folder)!r} could not be read: HTSeq files in {folder}: the files of "
        "'S1' ('S1.txt') and 's1' ('s1.txt') differ only in case; sample ids are matched "
        "exactly. Fix: keep one file per sample: remove or rename 's1.txt' or 'S1.txt' so "
        "that its name is its sample-sheet id."
    ]


def test_case_variants_that_are_both_sheet_ids_are_two_samples(tmp_path):
    sheet = SHEET + "s1: {c: b}\n"
    _, result = htseq_folder(tmp_path, ["S1.txt", "S2.txt", "S3.txt", "s1.txt"], sheet)
    assert result.ok, result.problems
    assert result.counts.loc["g1"].to_dict() == {"S1": 10, "S2": 11, "S3": 12, "s1": 13}


def test_two_files_matching_one_id_by_prefix_stop(tmp_path):
    folder, result = htseq_folder(tmp_path, ["S1_a.txt", "S1_b.txt", "S2.txt", "S3.txt"])
    assert result.problems == [
        f"counts file {str(folder)!r} could not be read: HTSeq files in {folder}: 'S1_a.txt', "
        "'S1_b.txt' all match sample 'S1' (a name that is no sample id matches the id it "
        "starts with); one per sample is needed. Fix: keep one per sample: remove or move out "
        "all but one of S1_a.txt, S1_b.txt, or give each its own sample-sheet id."
    ]


def test_matching_is_reported_file_by_file(tmp_path):
    _, result = htseq_folder(tmp_path, ["S1.htseq.txt", "S2_sorted.counts", "S3.txt.gz"])
    assert result.ok, result.problems
    notes = [c.detail for c in result.checks if c.check == "counts_format"]
    assert (
        "HTSeq files matched to samples: S1.htseq.txt -> S1, S2_sorted.counts -> S2, "
        "S3.txt.gz -> S3" in notes
    )
    assert result.counts.loc["g2"].tolist() == [20, 21, 22]


def test_gene_twice_in_an_htseq_file_names_its_lines(tmp_path):
    folder = tmp_path / "htseq"
    _, _ = htseq_folder(tmp_path, ["S1.txt", "S2.txt", "S3.txt"])
    (folder / "S2.txt").write_text("g1\t1\ng2\t2\ng1\t3\n")
    result = check_inputs(folder, tmp_path / "samples.yaml", "~ c")
    assert result.problems == [
        f"counts file {str(folder)!r} could not be read: {folder / 'S2.txt'}: gene 'g1' is on "
        "lines 1, 3; HTSeq-count writes each gene once. Fix: count again with htseq-count, or "
        "remove the repeated lines."
    ]


def test_two_files_of_one_sample_in_a_list_stop_too(tmp_path):
    folder, _ = htseq_folder(tmp_path, ["S1.txt", "S1.txt.gz", "S2.txt", "S3.txt"])
    files = [str(folder / n) for n in ("S1.txt", "S1.txt.gz", "S2.txt", "S3.txt")]
    result = check_inputs(files, tmp_path / "samples.yaml", "~ c")
    assert result.problems == [
        f"counts file {files[0]!r} could not be read: HTSeq files: 'S1.txt' and 'S1.txt.gz' "
        "are both files of sample 'S1' (a file's name without .txt/.tsv/.tab/.counts/.htseq/.gz "
        "is its sample). Fix: keep one file per sample: remove 'S1.txt.gz' or 'S1.txt', or "
        "leave it out of the list in 'counts'."
    ]


def test_a_line_of_written_nans_is_no_blank_line(tmp_path):
    # pandas would read 'nan' in every field as a blank row; it is a line to report
    result = study(tmp_path, lambda t: t + "nan\tnan\tnan\tnan\tnan\n")
    (problem,) = result.problems
    assert problem.startswith(
        f"{s2(tmp_path)}: tximport needs a transcript id and a number >= 0 in EffectiveLength, "
        "TPM, NumReads on every line; 3 value(s) are not: line 8 EffectiveLength 'nan' (NaN), "
        "line 8 TPM 'nan' (NaN), line 8 NumReads 'nan' (NaN)."
    )
