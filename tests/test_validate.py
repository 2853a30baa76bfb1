"""dgeflow.validate: every problem is reported, each naming the file, the item and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from dgeflow.contrasts import contrast_name
from dgeflow.validate import InputError, check_inputs, validate_inputs

SAMPLES = ["A1", "A2", "A3", "B1", "B2", "B3"]
CONTRAST = {"factor": "condition", "level": "treated", "reference": "control"}


def write_counts(path, rows=None, samples=SAMPLES, header="gene_id"):
    rows = rows or {
        "g1": [10, 12, 11, 30, 31, 29],
        "g2": [0, 1, 0, 2, 1, 0],
        "g3": [100, 90, 95, 101, 99, 100],
        "g4": [5, 6, 5, 50, 49, 51],
    }
    lines = ["\t".join([header, *samples])]
    lines += ["\t".join([gene, *map(str, values)]) for gene, values in rows.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_sheet(path, rows=None):
    rows = rows or {
        s: {"condition": "control" if s[0] == "A" else "treated", "sex": "F" if i % 2 else "M"}
        for i, s in enumerate(SAMPLES)
    }
    lines = []
    for sample, meta in rows.items():
        fields = ", ".join(f"{k}: {v}" for k, v in meta.items())
        lines.append(f"{sample}: {{{fields}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def study(tmp_path):
    return {
        "counts": write_counts(tmp_path / "counts.tsv"),
        "samples": write_sheet(tmp_path / "samples.yaml"),
    }


def problems_of(**kwargs) -> str:
    """Run validate_inputs expecting failure; return the full message."""
    args = {"design": "~ condition", "contrasts": [CONTRAST]} | kwargs
    with pytest.raises(InputError) as err:
        validate_inputs(
            args["counts"],
            args["samples"],
            args["design"],
            args["contrasts"],
            args.get("gene_lengths"),
            reduced=args.get("reduced"),
        )
    return str(err.value)


def test_valid_inputs_return_typed_tables_in_sheet_order(tmp_path):
    counts_path = write_counts(tmp_path / "counts.tsv", samples=list(reversed(SAMPLES)))
    sheet = write_sheet(tmp_path / "samples.yaml")
    lengths = tmp_path / "lengths.tsv"
    lengths.write_text("gene_id\tlength\ng1\t1000\ng2\t200\ng3\t50\ng4\t3000\ng_extra\t10\n")
    counts, samples, gene_lengths = validate_inputs(
        counts_path, sheet, "~ sex + condition", [CONTRAST], lengths
    )
    assert list(counts.columns) == SAMPLES
    assert list(samples.index) == SAMPLES
    assert counts.dtypes.unique().tolist() == ["int32"]  # int32 when the counts fit
    assert counts.loc["g1", "B3"] == 10  # columns were reordered, not relabelled
    assert list(gene_lengths.index) == ["g1", "g2", "g3", "g4"]


def test_summary_table_lists_checks(study):
    result = check_inputs(study["counts"], study["samples"], "~ condition", [CONTRAST])
    summary = result.summary()
    assert list(summary.columns) == ["check", "status", "detail"]
    assert set(summary["status"]) == {"ok"}
    assert {"counts_file", "samples_file", "count_values", "design", "contrasts"} <= set(
        summary["check"]
    )


def test_missing_files_are_all_reported(tmp_path):
    message = problems_of(counts=tmp_path / "nope.tsv", samples=tmp_path / "nope.yaml")
    assert "counts file" in message and "nope.tsv" in message and "does not exist" in message
    assert "samples file" in message and "nope.yaml" in message
    assert "Fix: set config key 'counts'" in message
    assert "Fix: set config key 'samples'" in message
    assert "2 problem(s)" in message


def test_unreadable_sample_sheet(study, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("S1: [unclosed\n")
    message = problems_of(counts=study["counts"], samples=bad)
    assert "bad.yaml" in message and "could not be read" in message and "Fix:" in message


def test_duplicate_gene_ids(study, tmp_path):
    counts = tmp_path / "dup.tsv"
    lines = ["gene_id\t" + "\t".join(SAMPLES)]
    lines += [f"{gene}\t" + "\t".join(["5"] * 6) for gene in ("g1", "g2", "g1", "g3")]
    counts.write_text("\n".join(lines) + "\n")
    message = problems_of(counts=counts, samples=study["samples"])
    assert "dup.tsv" in message and "duplicated gene id" in message and "'g1'" in message
    assert "Fix: make each gene id appear once" in message


def test_duplicate_sample_ids_in_counts_and_sheet(tmp_path):
    counts = write_counts(tmp_path / "c.tsv", samples=["A1", "A1", "A3", "B1", "B2", "B3"])
    sheet = tmp_path / "s.yaml"
    sheet.write_text(
        "\n".join(
            f"{s}: {{condition: {c}}}"
            for s, c in [("A1", "control"), ("A1", "control"), ("A3", "control")]
            + [("B1", "treated"), ("B2", "treated"), ("B3", "treated")]
        )
    )
    message = problems_of(counts=counts, samples=sheet)
    assert "c.tsv" in message and "duplicated sample column" in message and "'A1'" in message
    assert "s.yaml" in message and "more than once" in message
    assert "Fix: keep one entry per sample" in message


def test_bad_count_values_name_genes_samples_and_fix(study, tmp_path):
    rows = {
        "g1": [10, "x", 11, 30, 31, 29],
        "g2": [0, -1, 0, 2, 1, 0],
        "g3": [100, 90.5, 95, 101, 99, 100],
        "g4": [5, "", 5, 50, 49, 51],
    }
    counts = write_counts(tmp_path / "bad_counts.tsv", rows=rows)
    message = problems_of(counts=counts, samples=study["samples"])
    assert "bad_counts.tsv" in message
    assert "non-numeric value(s) (gene/sample: g1/A2)" in message
    assert "negative value(s) (gene/sample: g2/A2)" in message
    assert "non-integer value(s) (gene/sample: g3/A2)" in message
    assert "missing value(s) (gene/sample: g4/A2)" in message
    assert "Fix: use raw read counts" in message
    assert "Fix: use raw integer read counts" in message
    assert "Fix: fill in the count" in message


def test_rows_longer_than_header(study, tmp_path):
    path = tmp_path / "ragged.tsv"
    path.write_text("gene_id\tA1\ng1\t1\t2\n")
    message = problems_of(counts=path, samples=study["samples"])
    assert "ragged.tsv" in message and "more fields than the header" in message


def test_annotation_columns_are_recognized(study, tmp_path):
    path = tmp_path / "fc.tsv"
    path.write_text(
        "Geneid\tChr\t" + "\t".join(SAMPLES) + "\n"
        "g1\tchr1\t1\t2\t3\t4\t5\t6\ng2\tchr2\t1\t2\t3\t4\t5\t6\n"
    )
    message = problems_of(counts=path, samples=study["samples"])
    assert "'Chr'" in message and "annotation columns" in message


def test_many_bad_cells_are_summarized(study, tmp_path):
    rows = {f"g{i}": [-1] * 6 for i in range(10)}
    counts = write_counts(tmp_path / "neg.tsv", rows=rows)
    message = problems_of(counts=counts, samples=study["samples"])
    assert "60 negative value(s)" in message and "and 55 more" in message


def test_sheet_samples_missing_from_counts_suggest_spelling(study, tmp_path):
    rows = {s: {"condition": "control" if s[0] == "A" else "treated"} for s in SAMPLES}
    rows["B_3"] = rows.pop("B3")
    sheet = write_sheet(tmp_path / "typo.yaml", rows)
    message = problems_of(counts=study["counts"], samples=sheet)
    assert "typo.yaml" in message and "counts.tsv" in message
    assert "'B_3' (did you mean 'B3'?)" in message
    assert "Fix: correct the spelling" in message


def test_no_overlap_hints_at_naming(study, tmp_path):
    rows = {f"x{i}": {"condition": "a" if i < 3 else "b"} for i in range(6)}
    sheet = write_sheet(tmp_path / "other.yaml", rows)
    message = problems_of(counts=study["counts"], samples=sheet)
    assert "no sample id of sample sheet" in message and "transposed" in message


def test_count_columns_not_in_sheet_are_dropped_with_warning(study, tmp_path):
    rows = {s: {"condition": "control" if s[0] == "A" else "treated"} for s in SAMPLES[1:]}
    sheet = write_sheet(tmp_path / "subset.yaml", rows)
    result = check_inputs(study["counts"], sheet, "~ condition", [CONTRAST])
    assert result.ok
    assert list(result.counts.columns) == SAMPLES[1:]
    warning = result.summary().query("status == 'warning'")["detail"].str.cat()
    assert "'A1'" in warning and "left out" in warning


def test_design_terms_not_in_sheet(study):
    message = problems_of(
        counts=study["counts"], samples=study["samples"], design="~ sexx + condition"
    )
    assert "'sexx'" in message and "(did you mean 'sex'?)" in message
    assert "samples.yaml" in message and "columns: condition, sex" in message
    assert "Fix: add the column" in message


def test_design_syntax_error_is_reported_not_evaluated(study):
    message = problems_of(
        counts=study["counts"], samples=study["samples"], design="~ __import__('os')"
    )
    assert "config key 'design'" in message


def test_missing_metadata_in_design_column(study, tmp_path):
    rows = {
        s: {"condition": "control" if s[0] == "A" else "treated", "batch": "b1"} for s in SAMPLES
    }
    rows["B2"] = {"condition": "treated"}
    sheet = write_sheet(tmp_path / "holes.yaml", rows)
    message = problems_of(counts=study["counts"], samples=sheet, design="~ batch + condition")
    assert "holes.yaml" in message and "'batch'" in message and "'B2'" in message
    assert "Fix: fill in the value" in message


def test_single_level_design_factor(study, tmp_path):
    rows = {
        s: {"condition": "control" if s[0] == "A" else "treated", "batch": "b1"} for s in SAMPLES
    }
    sheet = write_sheet(tmp_path / "one.yaml", rows)
    message = problems_of(counts=study["counts"], samples=sheet, design="~ batch + condition")
    assert (
        "'batch' has the single level 'b1'" in message and "remove it from the design" in message
    )


def test_confounded_design(study, tmp_path):
    rows = {
        s: {"condition": "control" if s[0] == "A" else "treated", "group": s[0]} for s in SAMPLES
    }
    sheet = write_sheet(tmp_path / "conf.yaml", rows)
    message = problems_of(counts=study["counts"], samples=sheet, design="~ group + condition")
    assert "conf.yaml" in message and "not of full rank" in message


def test_no_residual_degrees_of_freedom(tmp_path):
    rows = {"g1": [1, 2], "g2": [3, 4]}
    counts = write_counts(tmp_path / "c.tsv", rows=rows, samples=["A1", "B1"])
    sheet = write_sheet(
        tmp_path / "s.yaml", {"A1": {"condition": "control"}, "B1": {"condition": "treated"}}
    )
    message = problems_of(counts=counts, samples=sheet)
    assert "no residual" in message and "add replicates" in message


def test_contrast_factor_not_in_design(study):
    contrast = {"factor": "sex", "level": "F", "reference": "M"}
    message = problems_of(counts=study["counts"], samples=study["samples"], contrasts=[contrast])
    assert "contrasts[1] (sex_F_vs_M)" in message and "not in the design" in message
    assert "Fix: add it to the design" in message


def test_contrast_factor_not_in_sheet(study):
    contrast = {"factor": "treatment", "level": "treated", "reference": "control"}
    message = problems_of(counts=study["counts"], samples=study["samples"], contrasts=[contrast])
    assert "factor 'treatment' is not a column of sample sheet" in message
    assert "samples.yaml" in message


def test_contrast_levels_misspelled(study):
    contrast = {"name": "tvc", "factor": "condition", "level": "treatd", "reference": "Control"}
    message = problems_of(counts=study["counts"], samples=study["samples"], contrasts=[contrast])
    assert "level 'treatd' is not a level of column 'condition'" in message
    assert "(did you mean 'treated'?)" in message
    assert "reference 'Control'" in message and "(did you mean 'control'?)" in message
    assert "levels: control, treated" in message and "Fix: use one of these levels" in message


def test_contrast_level_equals_reference_and_missing_keys(study):
    same = {"factor": "condition", "level": "control", "reference": "control"}
    partial = {"factor": "condition", "level": "treated"}
    message = problems_of(
        counts=study["counts"], samples=study["samples"], contrasts=[same, partial]
    )
    assert "level and reference are both 'control'" in message
    assert "contrasts[2]' lacks reference" in message


def test_contrast_names_unsafe_or_duplicated(study):
    unsafe = {"name": "a/b", **CONTRAST}
    dup1 = {"name": "x", **CONTRAST}
    dup2 = {"name": "x", **CONTRAST}
    message = problems_of(
        counts=study["counts"], samples=study["samples"], contrasts=[unsafe, dup1, dup2]
    )
    assert "name 'a/b' is used as a file name" in message and "'a_b'" in message
    assert "name 'x' is also used by contrasts[2]" in message


def test_contrast_on_numeric_column(study, tmp_path):
    rows = {
        s: {"condition": "control" if s[0] == "A" else "treated", "dose": i % 2}
        for i, s in enumerate(SAMPLES)
    }
    sheet = write_sheet(tmp_path / "num.yaml", rows)
    contrast = {"factor": "dose", "level": 1, "reference": 0}
    message = problems_of(
        counts=study["counts"], samples=sheet, design="~ dose + condition", contrasts=[contrast]
    )
    assert "column 'dose'" in message and "is numeric" in message and "quoted '1'" in message


def test_single_sample_level_is_a_warning(tmp_path):
    samples = ["A1", "A2", "A3", "B1"]
    rows = {"g1": [1, 2, 3, 4], "g2": [3, 4, 5, 6]}
    counts = write_counts(tmp_path / "c.tsv", rows=rows, samples=samples)
    sheet = write_sheet(
        tmp_path / "s.yaml",
        {s: {"condition": "control" if s[0] == "A" else "treated"} for s in samples},
    )
    result = check_inputs(counts, sheet, "~ condition", [CONTRAST])
    assert result.ok
    warning = result.summary().query("status == 'warning'")["detail"].str.cat()
    assert "'treated'" in warning and "single sample" in warning


def test_reduced_design_must_be_nested(study):
    message = problems_of(counts=study["counts"], samples=study["samples"], reduced="~ sex")
    assert "config key 'de.reduced'" in message and "not in the full design" in message


def test_qc_factors_must_be_sheet_columns(study):
    with pytest.raises(InputError, match=r"'qc.factors' names 'sexx'.*did you mean 'sex'"):
        validate_inputs(
            study["counts"], study["samples"], "~ condition", [CONTRAST], qc_factors=["sexx"]
        )


def test_gene_lengths_problems(study, tmp_path):
    lengths = tmp_path / "len.tsv"
    lengths.write_text("gene_id\tlength\ng1\t100\ng1\t120\ng2\t0\ng3\tNA\n")
    message = problems_of(counts=study["counts"], samples=study["samples"], gene_lengths=lengths)
    assert "len.tsv" in message
    assert "more than once: 'g1'" in message
    assert "length(s) <= 0 (genes 'g2')" in message
    assert "missing or non-numeric length(s) (genes 'g3')" in message
    assert "no length for 1 of the 4 genes" in message and "'g4'" in message
    assert "set gene_lengths: null" in message


def test_zero_library_is_an_error(study, tmp_path):
    rows = {g: [0, 1, 2, 3, 4, 5] for g in ("g1", "g2")}
    counts = write_counts(tmp_path / "zero.tsv", rows=rows)
    message = problems_of(counts=counts, samples=study["samples"])
    assert "'A1' have zero reads" in message and "Fix: remove them" in message


def test_every_problem_is_listed_together(tmp_path):
    rows = {"g1": [1, -1, 1, 1, 1, 1], "g2": [1, 1, 1, 1, 1, 1], "g2 ": [1] * 6}
    counts = write_counts(tmp_path / "c.tsv", rows=rows)
    sheet = write_sheet(tmp_path / "s.yaml")
    bad_contrast = {"factor": "condition", "level": "treatd", "reference": "control"}
    message = problems_of(counts=counts, samples=sheet, contrasts=[bad_contrast])
    assert "negative" in message and "duplicated gene id" in message and "'treatd'" in message
    assert message.startswith("input validation found 3 problem(s):")


def test_tsv_sheet_with_empty_first_header(study, tmp_path):
    sheet = tmp_path / "meta.txt"
    lines = ["\tcondition"] + [f"{s}\t{'control' if s[0] == 'A' else 'treated'}" for s in SAMPLES]
    sheet.write_text("\n".join(lines) + "\n")
    counts, samples, _ = validate_inputs(study["counts"], sheet, "~ condition", [CONTRAST])
    assert list(samples.index) == SAMPLES
    assert isinstance(counts, pd.DataFrame)


def test_contrast_name_derivation():
    assert contrast_name(CONTRAST) == "condition_treated_vs_control"
    assert contrast_name({"name": None, **CONTRAST}) == "condition_treated_vs_control"
    assert contrast_name({"factor": "g", "level": "a b", "reference": "c/d"}) == "g_a_b_vs_c_d"
    assert contrast_name({"name": "mine", **CONTRAST}) == "mine"


def test_mov10_inputs(shared_data):
    mov10 = shared_data / "mov10"
    contrasts = [
        {"factor": "sampletype", "level": "MOV10_overexpression", "reference": "control"},
        {"factor": "sampletype", "level": "MOV10_knockdown", "reference": "control"},
    ]
    counts, samples, lengths = validate_inputs(
        mov10 / "Mov10_full_counts.txt", mov10 / "Mov10_full_meta.txt", "~ sampletype", contrasts
    )
    assert counts.shape == (23368, 8)
    assert lengths is None
    assert set(samples["sampletype"]) == {"control", "MOV10_knockdown", "MOV10_overexpression"}
    # MOVexpr relabels sampletype: both in one design is confounded
    message = problems_of(
        counts=mov10 / "Mov10_full_counts.txt",
        samples=mov10 / "Mov10_full_meta.txt",
        design="~ MOVexpr + sampletype",
        contrasts=contrasts,
    )
    assert "not of full rank" in message


def test_numeric_group_labels_warn(tmp_path):
    from dgeflow.validate import check_inputs

    counts = tmp_path / "counts.tsv"
    counts.write_text("gene_id\tA\tB\tC\tD\ng1\t1\t2\t3\t4\ng2\t5\t6\t7\t8\n")
    sheet = tmp_path / "samples.yaml"
    sheet.write_text(
        "A: {cond: ctl, batch: 1}\nB: {cond: ctl, batch: 2}\n"
        "C: {cond: trt, batch: 1}\nD: {cond: trt, batch: 2}\n"
    )
    result = check_inputs(counts, sheet, "~ batch + cond")
    warnings = [c for c in result.checks if c.status == "warning"]
    assert any("'batch'" in c.detail and "continuous covariate" in c.detail for c in warnings)


def test_sheet_types_are_decided_once_from_what_the_user_wrote(tmp_path):
    """YAML text stays text (quoted numbers, 'NA', booleans as levels), numbers stay numbers,
    and ids are the exact strings written (01 is not 1)."""
    from dgeflow.io import read_sample_sheet
    from dgeflow.io.tables import read_samples, write_samples
    from dgeflow.validate.sheet import typed_sheet

    path = tmp_path / "samples.yaml"
    path.write_text(
        "01: {batch: '1', age: 30, note: 'NA', flag: true}\n"
        "02: {batch: '2', age: 41.5, note: x, flag: false}\n"
        "1.0: {batch: '3', age: null, note: y, flag: true}\n"
    )
    typed = typed_sheet(read_sample_sheet(path))
    assert typed.index.tolist() == ["01", "02", "1.0"]
    assert typed["batch"].tolist() == ["1", "2", "3"]
    assert pd.api.types.is_string_dtype(typed["batch"])
    assert typed["note"].tolist() == ["NA", "x", "y"]
    assert typed["flag"].tolist() == ["true", "false", "true"]  # the text, not Python's bool
    assert pd.api.types.is_float_dtype(typed["age"])
    assert typed["age"].iloc[:2].tolist() == [30.0, 41.5] and pd.isna(typed["age"].iloc[2])
    write_samples(typed, tmp_path / "samples.parquet")
    back = read_samples(tmp_path / "samples.parquet")
    pd.testing.assert_frame_equal(back, typed)
